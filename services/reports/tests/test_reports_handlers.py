"""Reports' use cases on the embedded store, with a hand-written publisher: what people editing,
tracking and publishing a review would notice, and what is poison on the streams."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest

from majorops.reports.adapters.sqlite import SqliteReviewStore
from majorops.reports.commands import ActionItemChanges, NarrativeEdit, NewActionItem
from majorops.reports.handlers.action_items import (
    complete_action_item,
    create_action_item,
    update_action_item,
)
from majorops.reports.handlers.consume import DECISION, ESCALATION, EVENT, apply_event, record
from majorops.reports.handlers.emit import Accepted
from majorops.reports.handlers.materialise import (
    assemble_stale,
    decode_cursor,
    list_action_items,
    list_reviews,
    read_review,
)
from majorops.reports.handlers.narrative import edit_narrative, etag_matches
from majorops.reports.handlers.publication import AlreadyPublished, publish_review
from majorops.reports.ports import ActionItemQuery, ReportsPorts, ReviewQuery, StoredReview
from majorops.shared.events import CloudEvent, validate_event
from majorops.shared.outcomes import PoisonMessage, UnacknowledgedPublish
from majorops.shared.problems import Problem

EDITOR = "editor"
"""The name of the write token a change is made with (recorded as the event's ``authid``)."""
INC = "INC-7"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


class RecordingPublisher:
    """A fake of :class:`~majorops.reports.ports.EventPublisher`: keeps what was published, or
    refuses like a JetStream that does not answer."""

    def __init__(self) -> None:
        self.published: list[CloudEvent] = []
        self.answering = True
        self.sequence = 1000

    async def publish(self, event: CloudEvent) -> int:
        if not self.answering:
            raise UnacknowledgedPublish("publish to majorops.events.x not acknowledged: timeout")
        self.published.append(event)
        self.sequence += 1
        return self.sequence


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def ports(tmp_path: Path) -> AsyncIterator[ReportsPorts]:
    store = await SqliteReviewStore.open(tmp_path / "reports.sqlite3")
    try:
        yield ReportsPorts(store=store, publisher=RecordingPublisher(), clock=Clock())
    finally:
        await store.close()


def publisher_of(ports: ReportsPorts) -> RecordingPublisher:
    assert isinstance(ports.publisher, RecordingPublisher)
    return ports.publisher


def envelope(event_id: str = "e1", incident: str = INC, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "specversion": "1.0",
        "id": event_id,
        "source": "test",
        "type": "majorops.incident.declared",
        "time": "2026-11-20T09:14:00Z",
        "subject": incident,
        "data": {"title": "Checkout latency", "severity": "P1"},
    }
    return base | overrides


def ev(incident: str, event_id: str, type_: str, time: str, **data: Any) -> dict[str, Any]:
    return envelope(event_id, incident, type=f"majorops.{type_}", time=time, data=data)


async def record_all(ports: ReportsPorts, *bodies: dict[str, Any]) -> None:
    for arrival, body in enumerate(bodies, start=1):
        await record(EVENT, body, ports, arrival)


async def review_of(ports: ReportsPorts, incident: str = INC) -> StoredReview:
    stored = await read_review(incident, ports)
    assert stored is not None
    return stored


T = TypeVar("T")


def ok(result: T | Problem) -> T:
    assert not isinstance(result, Problem), result.as_dict()
    return result


def problem(result: object) -> Problem:
    assert isinstance(result, Problem), result
    return result


ESCALATION_BODY = {
    "escalation_id": f"{INC}:mtm_recommended:1",
    "incident_id": INC,
    "kind": "mtm_recommended",
    "level": 1,
    "due_at": "2026-11-20T11:14:00Z",
    "fired_at": "2026-11-20T11:14:02Z",
    "notify": {"role": "mim", "person": "Dana Reyes"},
    "message": "Consider a Major Technical Meeting",
}


# --- consuming ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        ["not", "an", "object"],
        envelope(type="majorops.incident.declard"),
        envelope(time="yesterday"),
        envelope(data={"title": "x", "severity": "urgent"}),
    ],
    ids=["array", "unknown-type", "bad-time", "bad-severity"],
)
async def test_an_invalid_event_is_poison_and_stores_nothing(ports: ReportsPorts, body: Any) -> None:
    with pytest.raises(PoisonMessage, match="invalid event envelope"):
        await record(EVENT, body, ports, 1)
    assert await read_review(INC, ports) is None


async def test_a_deployment_added_type_is_kept_when_configured(ports: ReportsPorts) -> None:
    body = envelope(type="majorops.change.rolled_back", data={"change": "CHG-1"})
    with pytest.raises(PoisonMessage):
        await record(EVENT, body, ports, 1)
    extended = ReportsPorts(
        ports.store, ports.publisher, extra_types=frozenset({"majorops.change.rolled_back"})
    )
    assert await record(EVENT, body, extended, 1) is True


async def test_a_redelivered_event_is_recorded_once(ports: ReportsPorts) -> None:
    assert await record(EVENT, envelope(), ports, 1) is True
    assert await record(EVENT, envelope(), ports, 2) is False
    assert len((await review_of(ports)).document["timeline"]) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"incident_id": INC, "revision": 0, "requirement": "mandatory"},
        {"incident_id": INC, "revision": 1, "requirement": "maybe"},
        "mandatory",
    ],
    ids=["revision-0", "unknown-requirement", "not-an-object"],
)
async def test_an_invalid_decision_is_poison(ports: ReportsPorts, body: Any) -> None:
    with pytest.raises(PoisonMessage, match="invalid After Action decision"):
        await record(DECISION, body, ports)


async def test_an_invalid_escalation_is_poison(ports: ReportsPorts) -> None:
    with pytest.raises(PoisonMessage, match="invalid escalation"):
        await record(ESCALATION, {k: v for k, v in ESCALATION_BODY.items() if k != "fired_at"}, ports)


async def test_an_unknown_incident_has_no_review(ports: ReportsPorts) -> None:
    assert await read_review(INC, ports) is None


async def test_a_review_is_reassembled_for_every_change_it_is_read_after(ports: ReportsPorts) -> None:
    await record(EVENT, envelope(), ports, 1)
    first = await review_of(ports)
    assert first.document["after_action"]["requirement"] is None
    for revision, requirement in [(2, "mandatory"), (1, "not_required")]:
        await record(
            DECISION,
            {
                "incident_id": INC,
                "revision": revision,
                "requirement": requirement,
                "reasons": [{"rule": "critical_any_duration", "text": "Critical"}],
                "deadlines": {"schedule_by": "2026-11-21T13:00:00+01:00"},
            },
            ports,
        )
    await record(ESCALATION, ESCALATION_BODY, ports)
    await record(ESCALATION, ESCALATION_BODY, ports)
    second = await review_of(ports)
    assert second.etag != first.etag
    assert second.document["after_action"]["requirement"] == "mandatory"
    assert second.document["after_action"]["deadlines"]["schedule_by"] == "2026-11-21T12:00:00Z"
    assert [e["escalation_id"] for e in second.document["escalations"]] == [f"{INC}:mtm_recommended:1"]
    assert second.listing.next_deadline == datetime(2026, 11, 21, 12, tzinfo=UTC)
    # Nothing changed since: the same review, the same ETag, no new "updated" time.
    ports.clock.now += timedelta(hours=1)  # type: ignore[attr-defined]
    await ports.store.mark_changed(INC)
    third = await review_of(ports)
    assert (third.etag, third.listing.updated_at) == (second.etag, second.listing.updated_at)


async def test_the_background_assembler_brings_the_list_up_to_date(ports: ReportsPorts) -> None:
    await record_all(ports, envelope("a", "INC-1"), envelope("b", "INC-2"))
    assert await assemble_stale(ports) == 2
    assert await assemble_stale(ports) == 0
    rows = await ports.store.list_reviews(ReviewQuery(now=NOW))
    assert [(r.incident_id, r.title) for r in rows] == [
        ("INC-1", "Checkout latency"),
        ("INC-2", "Checkout latency"),
    ]


# --- the narrative -------------------------------------------------------------------------


async def test_an_edit_needs_the_etag_of_the_review_it_was_made_on(ports: ReportsPorts) -> None:
    await record(EVENT, envelope(), ports, 1)
    read = await review_of(ports)
    patch = NarrativeEdit(root_cause="The incident was caused by pool exhaustion.")
    assert problem(await edit_narrative(INC, patch, None, ports, author=EDITOR)).status == 428
    conflict = problem(await edit_narrative(INC, patch, '"not-it"', ports, author=EDITOR))
    assert conflict.status == 412 and conflict.extensions["current_etag"] == read.etag
    edited = ok(await edit_narrative(INC, patch, read.etag, ports, author=EDITOR))
    assert edited.document["root_cause"]["text"] == "The incident was caused by pool exhaustion."
    assert edited.etag != read.etag
    assert (await review_of(ports)).etag == edited.etag


async def test_two_editors_of_the_same_review_the_second_is_refused(ports: ReportsPorts) -> None:
    await record(EVENT, envelope(), ports, 1)
    read = await review_of(ports)
    ok(await edit_narrative(INC, NarrativeEdit(went_well=["Failover held"]), read.etag, ports, author=EDITOR))
    second = problem(
        await edit_narrative(
            INC, NarrativeEdit(went_well=["Paging was fast"]), read.etag, ports, author=EDITOR
        )
    )
    assert second.status == 412
    assert (await review_of(ports)).document["went_well"] == ["Failover held"]


async def test_a_patch_replaces_the_sections_given_and_null_returns_one_to_the_record(
    ports: ReportsPorts,
) -> None:
    await record_all(
        ports,
        envelope(),
        ev(
            INC,
            "rc",
            "rootcause.identified",
            "2026-11-20T10:00:00Z",
            fingerprint="db-pool",
            summary="Pool ran dry",
        ),
    )
    etag = (await review_of(ports)).etag
    first = ok(
        await edit_narrative(
            INC,
            NarrativeEdit(root_cause="The incident was caused by pool exhaustion.", went_well=["Paging"]),
            etag,
            ports,
            author=EDITOR,
        )
    )
    second = ok(
        await edit_narrative(
            INC,
            NarrativeEdit.model_validate({"learning_statements": ["Runbook step 4 fixed by SRE lead"]}),
            first.etag,
            ports,
            author=EDITOR,
        )
    )
    assert second.document["root_cause"]["text"] == "The incident was caused by pool exhaustion."
    assert second.document["went_well"] == ["Paging"]
    back = ok(
        await edit_narrative(
            INC, NarrativeEdit.model_validate({"root_cause": None}), second.etag, ports, author=EDITOR
        )
    )
    assert back.document["root_cause"]["text"] == "Pool ran dry"
    assert back.document["learning_statements"] == ["Runbook step 4 fixed by SRE lead"]


async def test_an_empty_patch_or_an_unknown_incident_changes_nothing(ports: ReportsPorts) -> None:
    assert problem(await edit_narrative(INC, NarrativeEdit(), "*", ports, author=EDITOR)).status == 404
    await record(EVENT, envelope(), ports, 1)
    empty = problem(await edit_narrative(INC, NarrativeEdit(), "*", ports, author=EDITOR))
    assert empty.status == 422 and "root_cause" in empty.errors[0].message
    assert (await ports.store.narrative_for(INC)).version == 0


@pytest.mark.parametrize(
    ("header", "matches"),
    [
        ('"abc"', True),
        ('"x", "abc"', True),
        ("*", True),
        ('W/"abc"', False),
        ('"abcd"', False),
        ("abc", False),
    ],
)
def test_if_match_compares_strongly(header: str, matches: bool) -> None:
    assert etag_matches(header, '"abc"') is matches


# --- action items --------------------------------------------------------------------------


async def test_a_created_item_is_published_as_a_valid_event_and_shown_at_once(ports: ReportsPorts) -> None:
    await record(EVENT, envelope(), ports, 1)
    accepted = ok(
        await create_action_item(
            INC,
            NewActionItem(title="Add a pool alert", owner="SRE lead", due="2026-12-01"),
            ports,
            author=EDITOR,
        )
    )
    assert isinstance(accepted, Accepted)
    (event,) = publisher_of(ports).published
    assert validate_event(event.to_wire()) == event
    assert (event.id, event.type, event.source, event.subject) == (
        accepted.event_id,
        "majorops.actionitem.created",
        "majorops/reports",
        INC,
    )
    assert event.time == "2026-11-27T12:00:00Z"
    item_id = event.data["item_id"]
    assert item_id.startswith("AI-") and len(item_id) == 11
    assert accepted.item == {
        "item_id": item_id,
        "title": "Add a pool alert",
        "owner": "SRE lead",
        "due": "2026-12-01",
        "status": "open",
        "completed_at": None,
    }
    review = await review_of(ports)
    assert [(i["item_id"], i["title"]) for i in review.document["action_items"]] == [
        (item_id, "Add a pool alert")
    ]
    page = await list_action_items(ActionItemQuery(now=NOW), ports)
    assert [(r.incident_id, r.item_id) for r in page.items] == [(INC, item_id)]


async def declare_with_a_pool_alert_item(ports: ReportsPorts) -> None:
    """The incident declared, and given action item AI-7 "Add a pool alert" by the editor."""
    await record(EVENT, envelope(), ports, 1)
    ok(
        await create_action_item(
            INC, NewActionItem(item_id="AI-7", title="Add a pool alert"), ports, author=EDITOR
        )
    )


async def test_an_item_id_is_taken_once(ports: ReportsPorts) -> None:
    await declare_with_a_pool_alert_item(ports)
    again = problem(
        await create_action_item(
            INC, NewActionItem(item_id="AI-7", title="Something else"), ports, author=EDITOR
        )
    )
    assert again.status == 409
    assert len(publisher_of(ports).published) == 1


async def test_update_and_complete_an_item(ports: ReportsPorts) -> None:
    await declare_with_a_pool_alert_item(ports)
    updated = ok(
        await update_action_item(
            INC, "AI-7", ActionItemChanges(owner="DBA lead", due="2026-12-01"), ports, author=EDITOR
        )
    )
    assert isinstance(updated, Accepted) and updated.item is not None
    assert (updated.item["owner"], updated.item["due"], updated.item["title"]) == (
        "DBA lead",
        "2026-12-01",
        "Add a pool alert",
    )
    assert publisher_of(ports).published[-1].data == {
        "item_id": "AI-7",
        "owner": "DBA lead",
        "due": "2026-12-01",
    }
    done = ok(await complete_action_item(INC, "AI-7", ports, author=EDITOR))
    assert isinstance(done, Accepted) and done.item is not None and done.item["status"] == "completed"
    item = (await review_of(ports)).document["action_items"][0]
    assert (item["owner"], item["status"], item["completed_at"]) == (
        "DBA lead",
        "completed",
        "2026-11-27T12:00:00Z",
    )
    again = problem(await complete_action_item(INC, "AI-7", ports, author=EDITOR))
    assert again.status == 409 and "already" in again.title


async def test_unknown_incidents_and_items_are_404_and_publish_nothing(ports: ReportsPorts) -> None:
    assert (
        problem(await create_action_item(INC, NewActionItem(title="x"), ports, author=EDITOR)).status == 404
    )
    await record(EVENT, envelope(), ports, 1)
    assert (
        problem(
            await update_action_item(INC, "AI-404", ActionItemChanges(owner="x"), ports, author=EDITOR)
        ).status
        == 404
    )
    assert problem(await complete_action_item(INC, "AI-404", ports, author=EDITOR)).status == 404
    assert publisher_of(ports).published == []


async def test_an_unacknowledged_publish_is_a_503_and_changes_nothing(ports: ReportsPorts) -> None:
    await record(EVENT, envelope(), ports, 1)
    before = await review_of(ports)
    publisher_of(ports).answering = False
    refused = problem(
        await create_action_item(INC, NewActionItem(title="Add a pool alert"), ports, author=EDITOR)
    )
    assert refused.status == 503 and "not acknowledged" in refused.detail
    assert problem(await publish_review(INC, ports, author=EDITOR)).status == 503
    assert (await review_of(ports)).etag == before.etag


# --- publication ---------------------------------------------------------------------------


async def test_publication_is_refused_while_a_lint_error_remains(ports: ReportsPorts) -> None:
    await record_all(
        ports,
        envelope(),
        ev(INC, "mim", "role.assigned", "2026-11-20T09:15:00Z", role="mim", person="Dana Reyes"),
        ev(INC, "ai", "actionitem.created", "2026-11-20T11:00:00Z", item_id="AI-1", title="Add a pool alert"),
    )
    etag = (await review_of(ports)).etag
    etag = ok(
        await edit_narrative(
            INC, NarrativeEdit(root_cause="Dana Reyes restarted the pool."), etag, ports, author=EDITOR
        )
    ).etag
    refused = problem(await publish_review(INC, ports, author=EDITOR))
    assert refused.status == 409
    codes = sorted(f["code"] for f in refused.extensions["findings"])
    assert codes == ["action_item_missing_due", "action_item_missing_owner", "name_in_root_cause"]
    assert all(f["severity"] == "error" for f in refused.extensions["findings"])
    assert publisher_of(ports).published == []

    ok(
        await edit_narrative(
            INC,
            NarrativeEdit(root_cause="The incident was caused by pool exhaustion."),
            etag,
            ports,
            author=EDITOR,
        )
    )
    ok(
        await update_action_item(
            INC, "AI-1", ActionItemChanges(owner="SRE lead", due="2026-12-01"), ports, author=EDITOR
        )
    )
    accepted = ok(await publish_review(INC, ports, author=EDITOR))
    assert isinstance(accepted, Accepted)
    assert publisher_of(ports).published[-1].type == "majorops.review.published"
    review = await review_of(ports)
    assert review.document["status"] == "published"
    assert review.document["published_at"] == "2026-11-27T12:00:00Z"

    again = ok(await publish_review(INC, ports, author=EDITOR))
    assert isinstance(again, AlreadyPublished) and again.event_id == accepted.event_id


# --- beyond one incident -------------------------------------------------------------------


def decision(incident: str, revision: int, **fields: Any) -> dict[str, Any]:
    return {"incident_id": incident, "revision": revision, "requirement": "mandatory"} | fields


async def test_a_repeat_links_the_earlier_review_and_follows_its_open_items(ports: ReportsPorts) -> None:
    await record_all(
        ports,
        envelope("a1", "INC-A", data={"title": "Checkout slow", "severity": "high"}),
        ev(
            "INC-A",
            "a2",
            "actionitem.created",
            "2026-11-20T11:00:00Z",
            item_id="AI-1",
            title="Raise the pool",
        ),
        ev("INC-A", "a3", "actionitem.created", "2026-11-20T11:01:00Z", item_id="AI-2", title="Pool alert"),
        envelope("b1", "INC-B", data={"title": "Checkout down", "severity": "low"}),
    )
    await record(DECISION, decision("INC-B", 1, repeat_of=["INC-A"]), ports)
    await assemble_stale(ports)
    earlier = (await review_of(ports, "INC-B")).document["earlier_reviews"]
    assert [(e["incident_id"], e["title"], e["status"], e["link"]) for e in earlier] == [
        ("INC-A", "Checkout slow", "draft", "/v1/reviews/INC-A")
    ]
    assert [i["item_id"] for i in earlier[0]["open_action_items"]] == ["AI-1", "AI-2"]

    # Completing an earlier item marks the repeat's review: it no longer lists it.
    await record(
        EVENT, ev("INC-A", "a4", "actionitem.completed", "2026-11-22T10:00:00Z", item_id="AI-1"), ports, 9
    )
    await assemble_stale(ports)  # INC-A first; that marks INC-B
    await assemble_stale(ports)
    earlier = (await review_of(ports, "INC-B")).document["earlier_reviews"]
    assert [i["item_id"] for i in earlier[0]["open_action_items"]] == ["AI-2"]


async def test_an_alert_firing_again_after_a_completion_flags_the_published_review(
    ports: ReportsPorts,
) -> None:
    alert = {"alert_name": "DbPoolSaturated", "service": "checkout"}
    await record_all(
        ports,
        ev("INC-A", "a0", "alert.fired", "2026-11-01T09:00:00Z", **alert),
        envelope("a1", "INC-A"),
        ev(
            "INC-A",
            "a2",
            "actionitem.created",
            "2026-11-01T11:00:00Z",
            item_id="AI-1",
            title="Raise the pool",
            owner="DBA lead",
            due="2026-11-10",
        ),
        ev("INC-A", "a3", "review.published", "2026-11-03T10:00:00Z"),
        ev("INC-A", "a4", "actionitem.completed", "2026-11-05T10:00:00Z", item_id="AI-1"),
    )
    await assemble_stale(ports)
    assert (await review_of(ports, "INC-A")).document["effectiveness"] == []
    # Another incident fires the same alert on the same service 9 days after the completion.
    await record(EVENT, ev("INC-C", "c1", "alert.fired", "2026-11-14T10:00:00Z", **alert), ports, 10)
    assert "INC-A" in await ports.store.stale_reviews(100)
    (finding,) = (await review_of(ports, "INC-A")).document["effectiveness"]
    assert (finding["item_id"], finding["recurred_in"], finding["recurred_at"]) == (
        "AI-1",
        "INC-C",
        "2026-11-14T10:00:00Z",
    )


async def test_lists_page_with_a_cursor_and_refuse_a_forged_one(ports: ReportsPorts) -> None:
    await record_all(ports, *(envelope(f"e{n}", f"INC-{n}") for n in range(5)))
    await assemble_stale(ports)
    seen: list[str] = []
    cursor: str | None = None
    while True:
        after = decode_cursor(cursor, 1) if cursor else None
        assert not isinstance(after, Problem)
        page = await list_reviews(ReviewQuery(now=NOW, limit=2, after=after[0] if after else None), ports)
        seen += [row.incident_id for row in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [f"INC-{n}" for n in range(5)]
    for forged in ("not-a-cursor!", "WyJhIiwiYiJd", "e30"):
        bad = decode_cursor(forged, 1)
        assert isinstance(bad, Problem) and bad.status == 422 and bad.errors[0].field == "cursor"


async def test_apply_event_is_what_the_api_uses_to_read_its_own_write(ports: ReportsPorts) -> None:
    event = validate_event(envelope())
    assert await apply_event(event, 5, ports) is True
    assert await apply_event(event, 5, ports) is False  # the consumer's copy later
    assert [e.arrival for e in await ports.store.events_for(INC)] == [5]
