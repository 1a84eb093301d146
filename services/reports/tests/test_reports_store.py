"""One contract for both review stores: what the Learning Review reads back after redeliveries,
late messages, concurrent assemblies and restarts, and what the lists and cross-incident queries
find. SQLite always runs; MongoDB runs where a MongoDB answers (the skip reason says why not)."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from majorops.reports.adapters.mongo import MongoReviewStore
from majorops.reports.adapters.sqlite import SqliteReviewStore
from majorops.reports.domain.document import Narrative
from majorops.reports.domain.follow_up import AlertFire, AlertKey
from majorops.reports.domain.listing import ActionItemRecord, ReviewListing
from majorops.reports.domain.timeline import ReviewStatus
from majorops.reports.ports import ActionItemQuery, ReviewQuery, ReviewStore, StoredNarrative, StoredReview
from majorops.shared.decisions import AfterActionDecision, Requirement
from majorops.shared.escalations import Escalation
from majorops.shared.events import Severity, validate_event
from majorops.shared.storage.eventlog import StoredEvent

OpenStore = Callable[[], Awaitable[ReviewStore]]


@pytest.fixture(params=["sqlite", "mongodb"])
async def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[OpenStore]:
    """Opens the same store again on each call (a restart); every opened store is closed afterwards."""
    opened: list[ReviewStore] = []
    if request.param == "sqlite":
        path = tmp_path / "reports.sqlite3"

        async def open_sqlite() -> ReviewStore:
            store = await SqliteReviewStore.open(path)
            opened.append(store)
            return store

        yield open_sqlite
    else:
        url: str = request.getfixturevalue("mongodb_url")
        database = f"reports_test_{uuid.uuid4().hex[:10]}"

        async def open_mongo() -> ReviewStore:
            store = await MongoReviewStore.open(url, database)
            opened.append(store)
            return store

        yield open_mongo
        if opened:
            mongo = opened[0]
            assert isinstance(mongo, MongoReviewStore)
            await mongo.client.drop_database(database)
    for store in opened:
        await store.close()


@pytest.fixture
async def store(open_store: OpenStore) -> ReviewStore:
    return await open_store()


def stored(
    incident: str, event_id: str, time: str, arrival: int, type_: str = "majorops.timeline.logged"
) -> StoredEvent:
    data: dict[str, Any] = {"text": f"note {event_id}"}
    if type_ == "majorops.incident.declared":
        data = {"title": "Checkout latency", "severity": "critical"}
    event = validate_event(
        {
            "specversion": "1.0",
            "id": event_id,
            "source": "test",
            "type": type_,
            "time": time,
            "subject": incident,
            "data": data,
        }
    )
    return StoredEvent.from_event(event, arrival)


def decision(incident: str, revision: int, requirement: str = "mandatory") -> AfterActionDecision:
    return AfterActionDecision.model_validate(
        {
            "incident_id": incident,
            "revision": revision,
            "requirement": requirement,
            "reasons": [{"rule": "critical_any_duration", "text": f"revision {revision}"}],
            "severity": "critical",
        }
    )


def escalation(incident: str, kind: str, level: int, fired_at: str) -> Escalation:
    return Escalation.model_validate(
        {
            "escalation_id": f"{incident}:{kind}:{level}",
            "incident_id": incident,
            "kind": kind,
            "level": level,
            "due_at": "2026-11-21T12:00:00Z",
            "fired_at": fired_at,
            "notify": {"role": "mim", "person": "Dana Reyes"},
            "message": f"{kind} level {level}",
        }
    )


async def test_the_same_event_twice_is_stored_once(store: ReviewStore, unique_id: str) -> None:
    event = stored(unique_id, f"{unique_id}-1", "2026-11-20T09:14:00Z", arrival=1)
    assert await store.append_event(event) is True
    # A redelivery (even with a later stream sequence) changes nothing.
    again = stored(unique_id, f"{unique_id}-1", "2026-11-20T09:14:00Z", arrival=7)
    assert await store.append_event(again) is False
    events = await store.events_for(unique_id)
    assert [(e.event_id, e.arrival) for e in events] == [(f"{unique_id}-1", 1)]
    assert events[0].event().data == {"text": f"note {unique_id}-1"}


async def test_events_come_back_by_time_then_arrival(store: ReviewStore, unique_id: str) -> None:
    # Offsets differ on purpose: 10:30+02:00 is 08:30Z, earlier than 09:00Z.
    for event_id, time, arrival in [
        ("late", "2026-11-20T09:00:00Z", 1),
        ("tie-second", "2026-11-20T08:45:00Z", 5),
        ("offset", "2026-11-20T10:30:00+02:00", 3),
        ("tie-first", "2026-11-20T08:45:00Z", 4),
    ]:
        assert await store.append_event(stored(unique_id, event_id, time, arrival))
    await store.append_event(stored(f"{unique_id}-other", "elsewhere", "2026-11-20T08:00:00Z", 2))
    ids = [e.event_id for e in await store.events_for(unique_id)]
    assert ids == ["offset", "tie-first", "tie-second", "late"]


@pytest.mark.parametrize("arrival_order", [[1, 2, 3], [3, 1, 2], [2, 3, 1, 3, 2]])
async def test_the_highest_decision_revision_wins_whatever_the_arrival_order(
    store: ReviewStore, unique_id: str, arrival_order: list[int]
) -> None:
    requirement = {1: "not_required", 2: "recommended", 3: "mandatory"}
    highest_so_far = 0
    for revision in arrival_order:
        became_latest = await store.save_decision(decision(unique_id, revision, requirement[revision]))
        assert became_latest is (revision > highest_so_far)
        highest_so_far = max(highest_so_far, revision)
    latest = await store.latest_decision(unique_id)
    assert latest is not None
    assert latest.revision == 3
    assert latest.requirement == "mandatory"
    assert latest.reasons[0].text == "revision 3"


async def test_no_decision_yet(store: ReviewStore, unique_id: str) -> None:
    assert await store.latest_decision(unique_id) is None


async def test_escalations_are_unique_by_id_and_ordered_by_firing(store: ReviewStore, unique_id: str) -> None:
    level2 = escalation(unique_id, "after_action_not_scheduled", 2, "2026-11-22T12:00:00Z")
    level1 = escalation(unique_id, "after_action_not_scheduled", 1, "2026-11-21T12:00:03Z")
    assert await store.save_escalation(level2) is True
    assert await store.save_escalation(level1) is True
    assert await store.save_escalation(level1) is False
    kept = await store.escalations_for(unique_id)
    assert [e.escalation_id for e in kept] == [level1.escalation_id, level2.escalation_id]
    assert kept[0].notify.person == "Dana Reyes"
    assert await store.escalations_for(f"{unique_id}-none") == []


async def test_an_incident_is_known_from_any_of_its_records(store: ReviewStore, unique_id: str) -> None:
    assert await store.knows_incident(unique_id) is False
    await store.save_decision(decision(unique_id, 1))
    assert await store.knows_incident(unique_id) is True
    await store.save_escalation(escalation(f"{unique_id}-e", "mtm_recommended", 1, "2026-11-20T11:14:00Z"))
    assert await store.knows_incident(f"{unique_id}-e") is True
    await store.append_event(stored(f"{unique_id}-v", "ev", "2026-11-20T09:00:00Z", 1))
    assert await store.knows_incident(f"{unique_id}-v") is True


async def test_everything_survives_a_restart(open_store: OpenStore, unique_id: str) -> None:
    first = await open_store()
    assert await first.ping() is True
    await first.append_event(stored(unique_id, "e1", "2026-11-20T09:00:00Z", 1, "majorops.incident.declared"))
    await first.save_decision(decision(unique_id, 2))
    await first.save_escalation(escalation(unique_id, "mtm_recommended", 1, "2026-11-20T11:00:00Z"))
    await first.close()

    second = await open_store()
    assert [e.event_id for e in await second.events_for(unique_id)] == ["e1"]
    latest = await second.latest_decision(unique_id)
    assert latest is not None and latest.revision == 2
    assert await second.save_decision(decision(unique_id, 1)) is False
    assert len(await second.escalations_for(unique_id)) == 1


# --- the narrative ---------------------------------------------------------------------------


async def test_a_narrative_is_saved_only_over_the_version_its_editor_read(
    store: ReviewStore, unique_id: str
) -> None:
    assert await store.narrative_for(unique_id) == StoredNarrative(None, 0)
    first = Narrative(root_cause="The incident was caused by pool exhaustion.")
    assert await store.save_narrative(unique_id, first, expected_version=0) == 1
    # A second editor who also read version 0 loses, and changes nothing.
    assert await store.save_narrative(unique_id, Narrative(went_well=["paging"]), expected_version=0) is None
    second = first.model_copy(update={"went_well": ["Failover held"]})
    assert await store.save_narrative(unique_id, second, expected_version=1) == 2
    assert await store.save_narrative(unique_id, first, expected_version=1) is None
    kept = await store.narrative_for(unique_id)
    assert kept.version == 2
    assert kept.narrative == second


# --- materialised reviews ----------------------------------------------------------------------

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def listing(
    incident: str,
    *,
    status: str = "draft",
    requirement: str | None = "mandatory",
    next_deadline: datetime | None = None,
    title: str = "Checkout latency",
    escalation_level: int = 0,
) -> ReviewListing:
    return ReviewListing(
        incident_id=incident,
        title=title,
        severity=Severity.CRITICAL,
        requirement=Requirement(requirement) if requirement else None,
        status=ReviewStatus(status),
        next_deadline=next_deadline,
        updated_at=NOW,
        next_deadline_name="schedule_by" if next_deadline else None,
        escalation_level=escalation_level,
        escalations_fired=escalation_level,
    )


def review_doc(
    line: ReviewListing, etag: str = '"e1"', repeat_of: tuple[str, ...] = (), version: int = 0
) -> StoredReview:
    return StoredReview(
        listing=line,
        document={"incident_id": line.incident_id, "summary": {"title": line.title}, "etag_was": etag},
        etag=etag,
        narrative_version=version,
        repeat_of=repeat_of,
    )


def item(
    incident: str,
    item_id: str,
    *,
    due_at: datetime | None = None,
    completed_at: datetime | None = None,
    title: str = "Add a pool alert",
) -> ActionItemRecord:
    return ActionItemRecord(
        incident_id=incident,
        item_id=item_id,
        title=title,
        owner="SRE lead",
        due=due_at.isoformat() if due_at else None,
        due_at=due_at,
        status="completed" if completed_at else "open",
        completed_at=completed_at,
    )


async def save(store: ReviewStore, review: StoredReview, items: list[ActionItemRecord] | None = None) -> None:
    generation = await store.mark_changed(review.listing.incident_id)
    assert await store.save_review(review, items or [], generation) is True


async def test_a_review_is_stale_from_a_change_until_an_assembly_of_that_change_is_saved(
    store: ReviewStore, unique_id: str
) -> None:
    assert await store.review(unique_id) is None
    first = await store.mark_changed(unique_id)
    second = await store.mark_changed(unique_id)
    assert second > first
    assert unique_id in await store.stale_reviews(1000)
    # An assembly that read before the second change: saved (it is newer), but still stale.
    assert await store.save_review(review_doc(listing(unique_id), '"old"'), [], first) is True
    stored = await store.review(unique_id)
    assert stored is not None and stored.stale and stored.etag == '"old"'
    assert await store.save_review(review_doc(listing(unique_id), '"new"'), [], second) is True
    stored = await store.review(unique_id)
    assert stored is not None and not stored.stale and stored.etag == '"new"'
    assert unique_id not in await store.stale_reviews(1000)


async def test_an_older_assembly_never_overwrites_a_newer_one(store: ReviewStore, unique_id: str) -> None:
    older = await store.mark_changed(unique_id)
    newer = await store.mark_changed(unique_id)
    newest_items = [item(unique_id, "AI-1", title="newest")]
    assert await store.save_review(review_doc(listing(unique_id), '"newer"'), newest_items, newer) is True
    stale_items = [item(unique_id, "AI-1", title="stale"), item(unique_id, "AI-9")]
    assert await store.save_review(review_doc(listing(unique_id), '"older"'), stale_items, older) is False
    stored = await store.review(unique_id)
    assert stored is not None and stored.etag == '"newer"'
    assert [(i.item_id, i.title) for i in await store.action_items_of(unique_id)] == [("AI-1", "newest")]


async def test_a_stored_review_reads_back_whole(open_store: OpenStore, unique_id: str) -> None:
    store = await open_store()
    line = listing(unique_id, next_deadline=datetime(2026, 11, 21, 12, 0, tzinfo=UTC), escalation_level=2)
    await save(store, review_doc(line, '"abc"', repeat_of=("INC-1", "INC-2"), version=3))
    listed = await store.list_reviews(ReviewQuery(now=NOW, limit=1000))
    assert [r for r in listed if r.incident_id == unique_id] == [line]
    await store.close()
    stored = await (await open_store()).review(unique_id)
    assert stored is not None
    assert stored.listing == line
    assert stored.document == {
        "incident_id": unique_id,
        "summary": {"title": "Checkout latency"},
        "etag_was": '"abc"',
    }
    assert (stored.etag, stored.narrative_version, stored.repeat_of) == ('"abc"', 3, ("INC-1", "INC-2"))


async def test_the_reviews_linking_an_earlier_one_are_found(store: ReviewStore, unique_id: str) -> None:
    earlier = f"{unique_id}-earlier"
    await save(store, review_doc(listing(f"{unique_id}-b"), repeat_of=(earlier,)))
    await save(store, review_doc(listing(f"{unique_id}-a"), repeat_of=(earlier, f"{unique_id}-x")))
    assert await store.incidents_repeating(earlier) == [f"{unique_id}-a", f"{unique_id}-b"]
    # Re-assembled without the link: no longer found.
    await save(store, review_doc(listing(f"{unique_id}-b")))
    assert await store.incidents_repeating(earlier) == [f"{unique_id}-a"]


async def test_reviews_are_listed_by_filter_and_paged_by_incident_id(
    store: ReviewStore, unique_id: str
) -> None:
    past, future = NOW - timedelta(hours=1), NOW + timedelta(hours=1)
    rows = {
        "a": listing(f"{unique_id}-a", next_deadline=past),
        "b": listing(f"{unique_id}-b", status="published", next_deadline=None),
        "c": listing(f"{unique_id}-c", requirement="optional", next_deadline=future),
        "d": listing(f"{unique_id}-d", requirement=None, next_deadline=NOW),
        "e": listing(f"{unique_id}-e", status="published", requirement="optional", next_deadline=past),
    }
    for line in rows.values():
        await save(store, review_doc(line))
    await store.mark_changed(f"{unique_id}-never-assembled")

    async def ids(**filters: Any) -> list[str]:
        found = await store.list_reviews(ReviewQuery(now=NOW, limit=1000, **filters))
        return [
            r.incident_id.removeprefix(f"{unique_id}-") for r in found if r.incident_id.startswith(unique_id)
        ]

    assert await ids() == ["a", "b", "c", "d", "e"]
    assert await ids(status=ReviewStatus.PUBLISHED) == ["b", "e"]
    assert await ids(requirement=Requirement.OPTIONAL) == ["c", "e"]
    assert await ids(status=ReviewStatus.DRAFT, requirement=Requirement.MANDATORY) == ["a"]
    assert await ids(overdue=True) == ["a", "d", "e"]  # due exactly now counts as overdue
    assert await ids(overdue=False) == ["b", "c"]
    assert await ids(after=f"{unique_id}-b") == ["c", "d", "e"]
    page = await store.list_reviews(ReviewQuery(now=NOW, limit=2, after=f"{unique_id}-"))
    assert [r.incident_id for r in page] == [f"{unique_id}-a", f"{unique_id}-b"]
    found = await store.list_reviews(ReviewQuery(now=NOW, limit=1, after=f"{unique_id}-b"))
    assert found[0] == rows["c"]


async def test_action_items_follow_their_review_and_are_queried_across_incidents(
    store: ReviewStore, unique_id: str
) -> None:
    past, future = NOW - timedelta(days=1), NOW + timedelta(days=1)
    one, two = f"{unique_id}-1", f"{unique_id}-2"
    await save(
        store, review_doc(listing(one)), [item(one, "AI-2", due_at=past), item(one, "AI-1", due_at=future)]
    )
    await save(
        store,
        review_doc(listing(two)),
        [item(two, "AI-1", due_at=past, completed_at=past), item(two, "AI-3"), item(two, "AI-4", due_at=NOW)],
    )
    assert [i.item_id for i in await store.action_items_of(one)] == ["AI-1", "AI-2"]
    assert (await store.action_items_of(one))[1] == item(one, "AI-2", due_at=past)

    async def keys(**filters: Any) -> list[tuple[str, str]]:
        rows = await store.list_action_items(ActionItemQuery(now=NOW, limit=1000, **filters))
        return [(r.incident_id[-1], r.item_id) for r in rows if r.incident_id.startswith(unique_id)]

    everything = [("1", "AI-1"), ("1", "AI-2"), ("2", "AI-1"), ("2", "AI-3"), ("2", "AI-4")]
    assert await keys() == everything
    assert await keys(open=True) == [("1", "AI-1"), ("1", "AI-2"), ("2", "AI-3"), ("2", "AI-4")]
    assert await keys(open=False) == [("2", "AI-1")]
    assert await keys(overdue=True) == [("1", "AI-2"), ("2", "AI-4")]
    assert await keys(open=True, overdue=False) == [("1", "AI-1"), ("2", "AI-3")]
    assert await keys(after=(one, "AI-2")) == everything[2:]

    # Re-assembled with one item fewer (and one changed): the table follows.
    await save(store, review_doc(listing(one)), [item(one, "AI-1", due_at=future, completed_at=NOW)])
    assert [(i.item_id, i.status) for i in await store.action_items_of(one)] == [("AI-1", "completed")]


# --- alert fires across incidents ------------------------------------------------------------


def alert_fire(
    event_id: str,
    incident: str,
    at: datetime,
    alert: str = "DbPoolSaturated",
    service: str | None = "checkout",
) -> AlertFire:
    return AlertFire(event_id=event_id, incident_id=incident, alert_name=alert, service=service, fired_at=at)


async def test_alert_fires_are_indexed_once_and_found_by_alert_service_and_window(
    store: ReviewStore, unique_id: str
) -> None:
    alert = f"Alert-{unique_id}"
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    fires = [
        alert_fire(f"{unique_id}-1", "INC-A", t0, alert),
        alert_fire(f"{unique_id}-2", "INC-B", t0 + timedelta(days=3), alert),
        alert_fire(f"{unique_id}-3", "INC-C", t0 + timedelta(days=5), alert, service=None),
        alert_fire(f"{unique_id}-4", "INC-D", t0 + timedelta(days=6), alert, service="payments"),
        alert_fire(f"{unique_id}-5", "INC-E", t0 + timedelta(days=40), alert),
    ]
    for fire in fires:
        assert await store.record_alert_fire(fire) is True
    assert await store.record_alert_fire(fires[0]) is False

    checkout = AlertKey(alert, "checkout")
    found = await store.alert_fires([checkout], after=t0, until=t0 + timedelta(days=30))
    assert found == [fires[1]]  # strictly after the start, up to and including the end
    both = await store.alert_fires(
        [checkout, AlertKey(alert, None)], after=t0 - timedelta(seconds=1), until=t0 + timedelta(days=40)
    )
    assert [f.event_id for f in both] == [f"{unique_id}-{n}" for n in (1, 2, 3, 5)]
    assert await store.alert_fires([], after=t0, until=t0) == []


async def test_a_new_fire_finds_the_published_reviews_whose_completed_items_it_may_question(
    store: ReviewStore, unique_id: str
) -> None:
    alert = f"Alert-{unique_id}"
    done = datetime(2026, 11, 1, tzinfo=UTC)
    published, draft, unrelated = f"{unique_id}-pub", f"{unique_id}-draft", f"{unique_id}-other"
    for incident in (published, draft, unrelated):
        await store.record_alert_fire(
            alert_fire(
                f"{incident}-fire",
                incident,
                done - timedelta(days=1),
                alert if incident != unrelated else "Other",
            )
        )
    await save(
        store,
        review_doc(listing(published, status="published")),
        [item(published, "AI-1", completed_at=done)],
    )
    await save(store, review_doc(listing(draft)), [item(draft, "AI-1", completed_at=done)])
    await save(
        store,
        review_doc(listing(unrelated, status="published")),
        [item(unrelated, "AI-1", completed_at=done)],
    )

    key = AlertKey(alert, "checkout")
    assert await store.incidents_to_recheck(key, done + timedelta(days=10)) == [published]
    assert await store.incidents_to_recheck(key, done + timedelta(days=30)) == [published]
    assert await store.incidents_to_recheck(key, done + timedelta(days=30, seconds=1)) == []
    assert await store.incidents_to_recheck(key, done) == []  # a fire before the completion questions nothing
    assert await store.incidents_to_recheck(AlertKey(alert, "payments"), done + timedelta(days=1)) == []


async def test_a_reviews_table_from_before_the_escalation_levels_gets_them_by_assembling_again(
    tmp_path: Path,
) -> None:
    """Upgrading a SQLite file: the list's new columns are added and every stored review is marked
    changed, so the assembler fills them; two replicas opening it at once both start."""
    path = tmp_path / "reports.sqlite3"
    with sqlite3.connect(path) as old:
        old.executescript(
            """
            CREATE TABLE reviews (
                incident_id TEXT PRIMARY KEY, generation INTEGER NOT NULL DEFAULT 0,
                assembled_generation INTEGER NOT NULL DEFAULT 0, stale INTEGER NOT NULL DEFAULT 1,
                etag TEXT, narrative_version INTEGER NOT NULL DEFAULT 0, status TEXT, requirement TEXT,
                severity TEXT, title TEXT, next_deadline TEXT, updated_at TEXT, document TEXT
            );
            INSERT INTO reviews VALUES
                ('INC-OLD', 1, 1, 0, '"e"', 0, 'draft', 'mandatory', 'critical', 'Old', NULL,
                 '2026-11-27T12:00:00Z', '{}');
            """
        )
    first, second = await asyncio.gather(SqliteReviewStore.open(path), SqliteReviewStore.open(path))
    try:
        assert await first.stale_reviews(10) == ["INC-OLD"]
        [old_line] = await second.list_reviews(ReviewQuery(now=NOW))
        assert (old_line.incident_id, old_line.escalation_level, old_line.next_deadline_name) == (
            "INC-OLD",
            0,
            None,
        )
        generation = await first.mark_changed("INC-OLD")
        line = listing("INC-OLD", next_deadline=NOW, escalation_level=3)
        assert await first.save_review(review_doc(line), [], generation) is True
        assert await second.list_reviews(ReviewQuery(now=NOW)) == [line]
        assert await first.stale_reviews(10) == []
    finally:
        await first.close()
        await second.close()
