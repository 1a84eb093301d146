"""Declarative webhook mappings: any sender's webhook as CloudEvents, without code.

A mapping is a small JSON document (the format, every key and examples: docs/webhook-mappings.md).
It says, with paths into the sender's payload (:mod:`majorops.ingest.domain.jsonpath`), what kind
of event the sender reports (``kind``) and, for each kind we take, which of our event types it
becomes (``events``), and how to get each envelope attribute and ``data`` field. A kind the mapping
has no rule for is *ignored*, with the reason in the answer: senders post whatever their
subscription includes, and refusing it would only make them retry, then give up on the webhook.

The event id is derived from the sender's own event id (``id``), the mapping's name and our type,
so a retried delivery is a duplicate. Every event made is validated as ``/v1/events`` validates an
envelope; a problem is reported at the path of the payload the value came from.

Pure: parsing a mapping document (:mod:`.mapping_reader`) into the model (:mod:`.mapping_model`)
and applying it to a payload (:mod:`.mapping_payload`); reading the files is ingest's.
"""

# Each module's ``__all__``, from where these names have always been imported.
from majorops.ingest.domain.mapping_model import *  # noqa: F403
from majorops.ingest.domain.mapping_payload import *  # noqa: F403
from majorops.ingest.domain.mapping_reader import *  # noqa: F403
