"""The CloudEvents 1.0 envelope every event travels in (CONTRACT §1), and who wrote it."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictStr

from majorops.shared.events.data import EVENT_DATA_MODELS, EVENT_TYPE_PREFIX, EventData, NoData
from majorops.shared.events.fields import Timestamp, parse_rfc3339

INCIDENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
EVENT_ID_MAX_LENGTH = 128


def _check_id(value: str) -> str:
    """An event id is sent as the ``Nats-Msg-Id`` header: a line break in it would end the header
    (and could add one), and NATS trims white space around a header value, so ``' a'`` and ``'a'``
    would be one message to JetStream's duplicate window but two ids to everyone else."""
    bad = next((c for c in value if unicodedata.category(c) in ("Cc", "Zl", "Zp")), None)
    if bad is not None:
        raise ValueError(
            f"must not contain control characters or line breaks (U+{ord(bad):04X} found): "
            "the id is sent as the Nats-Msg-Id header"
        )
    if value != value.strip():
        raise ValueError(
            "must not begin or end with white space: the Nats-Msg-Id header drops it, so the id "
            "would name another event"
        )
    return value


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 envelope in structured JSON mode (CONTRACT §1).

    ``data`` holds the normalised data (severity aliases mapped, extra fields kept). Extension
    attributes of the envelope are kept as extra fields.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    specversion: Literal["1.0"]
    id: Annotated[StrictStr, Field(min_length=1, max_length=EVENT_ID_MAX_LENGTH), AfterValidator(_check_id)]
    source: Annotated[StrictStr, Field(min_length=1)]
    type: Annotated[
        StrictStr,
        Field(
            description="One of the event types of CONTRACT §1, or one this deployment added on purpose",
            json_schema_extra={"pattern": r"^majorops\.[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)+$"},
        ),
    ]
    time: Timestamp
    subject: Annotated[StrictStr, Field(pattern=INCIDENT_ID_PATTERN)]
    datacontenttype: Literal["application/json"] | None = None
    data: dict[str, Any] = Field(default_factory=dict)

    @property
    def incident_id(self) -> str:
        return self.subject

    @cached_property
    def occurred_at(self) -> datetime:
        """When the thing happened (``time``), as an aware datetime."""
        return parse_rfc3339(self.time)

    @property
    def short_type(self) -> str:
        return self.type.removeprefix(EVENT_TYPE_PREFIX)

    def typed_data(self) -> EventData:
        """The ``data`` parsed into its type's model (free-form for deployment-added types)."""
        model = EVENT_DATA_MODELS.get(self.type, NoData)
        return model.model_validate(self.data)

    def to_wire(self) -> dict[str, Any]:
        """The envelope as JSON-ready dict, as published to JetStream."""
        return self.model_dump(mode="json", exclude_none=False, exclude_unset=True)

    def written_by(self, authtype: str, authid: str) -> CloudEvent:
        """This event with the CloudEvents Auth Context extension saying who wrote it."""
        return self.model_copy(update={"authtype": authtype, "authid": authid})

    @property
    def author(self) -> str | None:
        """The ``authid`` the system recorded (the name of the token that sent or made the event)."""
        value = (self.model_extra or {}).get("authid")
        return value if isinstance(value, str) else None


AUTH_ATTRIBUTES = ("authtype", "authid", "authclaims")
"""The CloudEvents Auth Context extension (cloudevents/spec ``extensions/authcontext.md``): who wrote
an event. Set by the system from the credentials of the request, never taken from a sender."""
AUTH_API_KEY = "api_key"
"""``authtype`` of an event sent or made with one of our named tokens (``authid`` is its name)."""
AUTH_SERVICE_ACCOUNT = "service_account"
"""``authtype`` of an event that came over NATS (``authid`` ``nats``: NATS permissions decide who
may request ``majorops.ingest``)."""
