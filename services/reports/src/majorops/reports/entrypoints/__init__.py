"""Reports over HTTP: one ``APIRouter`` per resource (:mod:`.reviews`, :mod:`.action_items`,
:mod:`.probes`) taking the ports it acts through as FastAPI dependencies (:mod:`.dependencies`);
the bodies of the answers (:mod:`.response_models`); how answers are made and failures become
problem documents (:mod:`.responses`); strict JSON request bodies (:mod:`.json_body_guard`); what
the OpenAPI document declares beyond FastAPI's own (:mod:`.openapi`)."""
