"""Reports over HTTP: one ``APIRouter`` per resource (:mod:`.reviews`, :mod:`.action_items`,
:mod:`.probes`) taking the ports it acts through as FastAPI dependencies (:mod:`.dependencies`);
how answers are made and failures become problem documents (:mod:`.answers`); what the OpenAPI
document declares beyond FastAPI's own (:mod:`.openapi`)."""
