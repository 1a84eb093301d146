"""Ingest's entry points: the HTTP routes (``/v1/events``, the webhooks, the probes) and the
``majorops.ingest`` NATS request subscriber — each thin: read, call the runtime's use case, answer."""
