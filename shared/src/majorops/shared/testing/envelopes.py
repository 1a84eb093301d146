"""Events as a producer sends them, built for tests: envelopes, numbered runs, a builder of one
incident's events, and a Hypothesis strategy of valid ones."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import KW_ONLY, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from majorops.shared.events import EVENT_TYPE_PREFIX, CloudEvent, validate_event

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy


# --- envelopes and decisions -----------------------------------------------------------------------


def iso(moment: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``, as producers write times."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def event_type(kind: str) -> str:
    """The full event type of ``kind``, given with or without its ``majorops.`` prefix."""
    return kind if kind.startswith(EVENT_TYPE_PREFIX) else EVENT_TYPE_PREFIX + kind


def event_envelope(
    incident: str,
    event_id: str,
    type_: str,
    time: str | datetime,
    data: dict[str, Any] | None = None,
    source: str = "pagerduty/prod",
) -> dict[str, Any]:
    """A CloudEvents envelope as a producer posts it (``type_`` with or without its ``majorops.``
    prefix; ``time`` as written, or a datetime written as :func:`iso` does)."""
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": source,
        "type": event_type(type_),
        "time": time if isinstance(time, str) else iso(time),
        "subject": incident,
        "data": data if data is not None else {},
    }


def unique_event_id(incident: str) -> str:
    """A fresh event id of ``incident``: unique across tests that share one nats-server (whose
    duplicate window would drop a second ``e-1`` as a redelivery of the first)."""
    return f"{incident}-{uuid.uuid4().hex[:8]}"


def declared_envelope(incident: str, event_id: str, **data: Any) -> dict[str, Any]:
    """``incident.declared`` as a producer posts it: P1 "Checkout latency" at 09:14 on the example
    day; keywords replace (or add) data fields."""
    declared = {"title": "Checkout latency", "severity": "P1", **data}
    return event_envelope(incident, event_id, "majorops.incident.declared", "2026-11-20T09:14:00Z", declared)


def step_envelope(incident: str, n: int, type_: str = "majorops.timeline.logged") -> dict[str, Any]:
    """The ``n``-th of a run of valid events of one incident, for tests that count them: id
    ``<incident>-e<n>``, at 09:<n mod 60> on the example day; a timeline entry ``step <n>`` by
    default, a P1 declaration for ``incident.declared``, no data for the other types."""
    data: dict[str, Any] = {}
    if type_ == "majorops.timeline.logged":
        data = {"text": f"step {n}"}
    elif type_ == "majorops.incident.declared":
        data = declared_envelope(incident, "")["data"]
    return event_envelope(incident, f"{incident}-e{n}", type_, f"2026-11-20T09:{n % 60:02d}:00Z", data)


EXAMPLE_START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
"""09:00 UTC on the day of CONTRACT §3's example incident (when its first alert fired)."""

EventTime = datetime | str | float
"""When an event happened, as a test gives it: an aware datetime, an RFC 3339 string (kept as
written), or a number of minutes after the builder's ``start``."""


@dataclass
class IncidentEvents:
    """Events of one incident as a producer sends them, built for tests.

    ``events("role.assigned", at, role="mim", person="Dana Reyes")`` (or the data as a dict after
    ``at``) is the event as ingest accepts it: validated and normalised, never hand-constructed;
    :meth:`envelope` is the JSON a producer posts. ``kind`` is the event type with or without its
    ``majorops.`` prefix. Event ids are ``<prefix>-1``, ``<prefix>-2``, … in the order built; with
    ``content_ids`` they are derived from the event's content, so the same event built twice is the
    same event (as a redelivery is); with ``unique_ids`` they are :func:`unique_event_id`.
    ``incident`` and ``event_id`` may be given per event.
    """

    incident: str = "INC-1042"
    _: KW_ONLY
    prefix: str = "e"
    source: str = "tests"
    start: datetime = EXAMPLE_START
    content_ids: bool = False
    unique_ids: bool = False
    built: int = field(default=0, init=False)
    """How many events this builder made (the number in the last ``<prefix>-<n>`` id)."""

    def __call__(self, *args: Any, **kwargs: Any) -> CloudEvent:
        """The validated event, built from the arguments of :meth:`envelope`."""
        return validate_event(self.envelope(*args, **kwargs))

    def envelope(
        self,
        kind: str,
        at: EventTime,
        data: dict[str, Any] | None = None,
        /,
        *,
        incident: str | None = None,
        event_id: str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """The envelope as a producer posts it, not validated (a test may make it invalid)."""
        self.built += 1
        body = {**(data or {}), **fields}
        subject = incident or self.incident
        type_ = event_type(kind)
        time = self.time(at)
        if event_id is None and self.content_ids:
            content = json.dumps([type_, time, body, subject], sort_keys=True, default=str)
            event_id = hashlib.sha256(content.encode()).hexdigest()[:16]
        elif event_id is None and self.unique_ids:
            event_id = unique_event_id(subject)
        return event_envelope(
            subject, event_id or f"{self.prefix}-{self.built}", type_, time, body, self.source
        )

    def time(self, at: EventTime) -> str:
        """``at`` as the envelope's ``time``."""
        if isinstance(at, str):
            return at
        if isinstance(at, datetime):
            return iso(at)
        return iso(self.start + timedelta(minutes=at))


def event_kinds_and_data(times: SearchStrategy[datetime]) -> SearchStrategy[tuple[str, dict[str, Any]]]:
    """Hypothesis: the type (short) and valid data of one event of an incident, of every type a
    service folds; ``times`` draws the times the data names (meetings, RCA dues). A few values per
    field, so that histories repeat them: the same item, vendor or fingerprint several times."""
    from hypothesis import strategies as st

    severities = st.sampled_from(["critical", "high", "medium", "low", "P1", "p2", "P3", "p4"])
    items = st.sampled_from(["AI-1", "AI-2", "AI-3"])
    vendors = st.sampled_from(["Acme Cloud", "acme cloud ", "DNSCo"])
    stamps = times.map(iso)
    no_data = [
        "incident.confirmed",
        "incident.mitigated",
        "incident.resolved",
        "incident.closed",
        "afteraction.held",
        "review.published",
    ]
    return st.one_of(
        st.tuples(
            st.just("alert.fired"),
            st.fixed_dictionaries(
                {"alert_name": st.just("HighLatency")},
                optional={"customer_count": st.integers(0, 3), "external_impact": st.booleans()},
            ),
        ),
        st.tuples(
            st.just("incident.declared"),
            st.fixed_dictionaries(
                {"title": st.sampled_from(["Checkout latency", "Checkout down"]), "severity": severities},
                optional={"customer_impact": st.booleans()},
            ),
        ),
        st.tuples(
            st.just("incident.updated"),
            st.one_of(
                st.fixed_dictionaries({"severity": severities}),
                st.fixed_dictionaries({"customer_impact": st.booleans()}),
                st.fixed_dictionaries({"title": st.sampled_from(["Checkout down", None])}),
            ),
        ),
        st.tuples(st.sampled_from(no_data), st.just({})),
        st.tuples(
            st.just("rootcause.identified"),
            st.fixed_dictionaries(
                {"fingerprint": st.sampled_from(["db-pool-exhaustion", "dns-ttl"])},
                optional={"unusual": st.booleans()},
            ),
        ),
        st.tuples(
            st.sampled_from(["afteraction.scheduled", "afteraction.rescheduled"]),
            st.fixed_dictionaries({"meeting_at": stamps}),
        ),
        st.tuples(
            st.just("actionitem.created"),
            st.fixed_dictionaries(
                {"item_id": items, "title": st.sampled_from(["Fix pool", "Alarm"])},
                optional={"owner": st.just("@dreyes"), "due": st.just("2026-12-01")},
            ),
        ),
        st.tuples(
            st.just("actionitem.updated"),
            st.one_of(
                st.fixed_dictionaries(
                    {"item_id": items, "owner": st.sampled_from(["@dreyes", "@kim", None])}
                ),
                st.fixed_dictionaries({"item_id": items, "due": st.sampled_from(["2026-12-15", None])}),
                st.fixed_dictionaries({"item_id": items, "title": st.sampled_from(["Fix pool", None])}),
            ),
        ),
        st.tuples(st.just("actionitem.completed"), st.fixed_dictionaries({"item_id": items})),
        st.tuples(
            st.just("vendor.engaged"),
            st.fixed_dictionaries(
                {"vendor": vendors}, optional={"response_sla_minutes": st.sampled_from([15, 30])}
            ),
        ),
        st.tuples(st.just("vendor.responded"), st.fixed_dictionaries({"vendor": vendors})),
        st.tuples(st.just("vendor.rca_committed"), st.fixed_dictionaries({"vendor": vendors, "due": stamps})),
        st.tuples(
            st.just("vendor.rca_received"),
            st.fixed_dictionaries({"vendor": vendors}, optional={"url": st.just("https://rca.example/1")}),
        ),
        st.tuples(
            st.just("role.assigned"),
            st.fixed_dictionaries(
                {
                    "role": st.sampled_from(["mim", "MIM ", "technical_recovery_lead"]),
                    "person": st.sampled_from(["Dana Reyes", "@kpatel"]),
                }
            ),
        ),
        st.tuples(
            st.just("timeline.logged"),
            st.fixed_dictionaries({"text": st.just("note")}, optional={"by": st.just("@oncall")}),
        ),
        st.tuples(
            st.just("track.opened"),
            st.fixed_dictionaries(
                {"track": st.sampled_from(["db", "app"])}, optional={"lead": st.just("Lee Wong")}
            ),
        ),
        st.tuples(
            st.just("role.assigned"),
            st.fixed_dictionaries(
                {
                    "role": st.sampled_from(["sme", "track_lead"]),
                    "person": st.sampled_from(["Ana Silva", "Mo Chen"]),
                    "track": st.sampled_from(["db", "app"]),
                }
            ),
        ),
        st.tuples(
            st.just("status.posted"),
            st.fixed_dictionaries(
                {"audience": st.sampled_from(["public", "internal"]), "text": st.just("update")}
            ),
        ),
        st.tuples(
            st.just("mtm.held"),
            st.fixed_dictionaries(
                {},
                optional={
                    "action_items": st.lists(
                        st.fixed_dictionaries(
                            {"title": st.sampled_from(["Add pool alarm", "Runbook"])},
                            optional={"owner": st.just("@sam"), "due": st.just("2026-12-05")},
                        ),
                        max_size=2,
                    )
                },
            ),
        ),
    )
