"""Policy's store adapters (SQLite and MongoDB) keep the same record: each event once, in event-time order,
the latest decision per incident by compare-and-set, and the fingerprint index of repeat incidents."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from majorops.policy.adapters.mongo import MongoPolicyStore
from majorops.policy.adapters.sqlite import SqlitePolicyStore
from majorops.policy.bootstrap import store_from_settings
from majorops.policy.config import PolicySettings
from majorops.policy.domain.repeats import RootCauseSighting
from majorops.policy.ports import IncidentState, IndexedRootCause, PolicyStore, StoredDecision
from majorops.shared.decisions import DecisionContent
from majorops.shared.storage.sqlite import EVENTS_SCHEMA, SqliteDatabase, SqliteEventLog
from majorops.shared.testing import store_places, stored_note
from majorops.shared.testkit import opened

StoreFactory = Callable[[], PolicyStore]


@pytest.fixture(params=["sqlite", "mongodb"])
async def new_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StoreFactory]:
    """Makes stores on one and the same place, so a test can close one and reopen another."""
    mongodb_url = functools.partial(request.getfixturevalue, "mongodb_url")
    async with store_places(
        request.param, "policy", tmp_path, SqlitePolicyStore, MongoPolicyStore, mongodb_url
    ) as factory:
        yield factory


@pytest.fixture
async def store(new_store: StoreFactory) -> AsyncIterator[PolicyStore]:
    """A store of each kind, open for the test and closed after it."""
    async with opened(new_store()) as store:
        yield store


async def test_an_event_is_stored_once_whatever_its_redeliveries(store: PolicyStore) -> None:
    assert await store.append_event(stored_note("INC-1", "e-1", "2026-11-20T09:00:00Z", 1)) is True
    assert await store.append_event(stored_note("INC-1", "e-1", "2026-11-20T09:00:00Z", 5)) is False
    [only] = await store.events_for("INC-1")
    assert (only.event_id, only.arrival) == ("e-1", 1)
    assert only.envelope["data"] == {"text": "note e-1"}


async def test_events_come_back_in_event_time_order_ties_by_arrival(store: PolicyStore) -> None:
    # Arrival order differs from event time on purpose: late events are normal.
    await store.append_event(stored_note("INC-1", "late", "2026-11-20T11:00:00+02:00", 1))
    await store.append_event(stored_note("INC-1", "tie-b", "2026-11-20T09:30:00Z", 3))
    await store.append_event(stored_note("INC-1", "tie-a", "2026-11-20T09:30:00Z", 2))
    await store.append_event(stored_note("INC-1", "first", "2026-11-20T08:59:59.5Z", 4))
    await store.append_event(stored_note("INC-2", "other", "2026-11-20T08:00:00Z", 5))
    assert [e.event_id for e in await store.events_for("INC-1")] == ["first", "late", "tie-a", "tie-b"]
    assert await store.incident_ids() == ["INC-1", "INC-2"]
    assert await store.events_for("INC-unknown") == []


async def test_the_record_survives_a_restart(new_store: StoreFactory) -> None:
    first = new_store()
    await first.open()
    await first.append_event(stored_note("INC-1", "e-1", "2026-11-20T09:00:00Z", 1))
    await first.close()
    second = new_store()
    await second.open()
    try:
        assert await second.append_event(stored_note("INC-1", "e-1", "2026-11-20T09:00:00Z", 2)) is False
        assert [e.event_id for e in await second.events_for("INC-1")] == ["e-1"]
    finally:
        await second.close()


def test_mongodb_is_used_when_its_url_is_set(tmp_path: Path) -> None:
    embedded = store_from_settings(PolicySettings(data_dir=tmp_path, mongodb_url=None))
    assert isinstance(embedded, SqlitePolicyStore)
    assert embedded.database.path == tmp_path / "policy.sqlite3"
    production = store_from_settings(
        PolicySettings(mongodb_url="mongodb://db.example:27017", mongodb_database="ops")
    )
    assert isinstance(production, MongoPolicyStore)
    assert production.database_name == "ops_policy"


# --- decisions, event counts and the fingerprint index --------------------------------------------


def decision_content(incident: str, requirement: str = "not_required") -> DecisionContent:
    return DecisionContent.model_validate({"incident_id": incident, "requirement": requirement})


async def test_event_counts_and_positions_follow_the_order_events_were_stored(
    store: PolicyStore,
) -> None:
    assert await store.incident_state("INC-1") == IncidentState("INC-1", 0, None)
    await store.append_event(stored_note("INC-1", "late", "2026-11-20T11:00:00Z", 1))
    await store.append_event(stored_note("INC-1", "early", "2026-11-20T09:00:00Z", 2))
    await store.append_event(stored_note("INC-2", "other", "2026-11-20T09:00:00Z", 3))
    await store.append_event(stored_note("INC-1", "late", "2026-11-20T11:00:00Z", 4))  # duplicate
    await store.append_event(stored_note("INC-1", "middle", "2026-11-20T10:00:00Z", 5))
    assert (await store.incident_state("INC-1")).event_count == 3
    assert (await store.incident_state("INC-2")).event_count == 1
    everything, position = await store.events_stored_after("INC-1", 0)
    assert [e.event_id for e in everything] == ["late", "early", "middle"]
    assert position == 3
    rest, position = await store.events_stored_after("INC-1", 2)
    # A store without an insertion order may also return events before the position.
    rest_ids = [e.event_id for e in rest]
    assert "middle" in rest_ids
    assert set(rest_ids) <= {"late", "early", "middle"}
    assert position == 3


async def test_a_decision_revision_is_stored_by_compare_and_set_then_marked_published(
    store: PolicyStore,
) -> None:
    await store.append_event(stored_note("INC-1", "e-1", "2026-11-20T09:00:00Z", 1))
    first = decision_content("INC-1")
    assert await store.save_decision("INC-1", first, 0, 1) is True
    assert await store.save_decision("INC-1", decision_content("INC-1", "optional"), 0, 1) is False
    state = await store.incident_state("INC-1")
    assert state.decision == StoredDecision("INC-1", 1, first, published=False)
    assert await store.unpublished_decisions() == [StoredDecision("INC-1", 1, first, published=False)]
    await store.mark_published("INC-1", 1)
    assert (await store.incident_state("INC-1")).decision == StoredDecision("INC-1", 1, first, True)
    assert await store.unpublished_decisions() == []
    second = decision_content("INC-1", "mandatory")
    assert await store.save_decision("INC-1", second, 1, 1) is True
    await store.mark_published("INC-1", 1)  # an old revision's mark changes nothing
    assert (await store.incident_state("INC-1")).decision == StoredDecision("INC-1", 2, second, False)


async def test_two_replicas_racing_for_the_same_revision_one_wins(new_store: StoreFactory) -> None:
    a, b = new_store(), new_store()
    await a.open()
    await b.open()
    try:
        await a.append_event(stored_note("INC-1", "e-1", "2026-11-20T09:00:00Z", 1))
        await a.save_decision("INC-1", decision_content("INC-1"), 0, 1)
        won = [
            await a.save_decision("INC-1", decision_content("INC-1", "optional"), 1, 1),
            await b.save_decision("INC-1", decision_content("INC-1", "mandatory"), 1, 1),
        ]
        assert won == [True, False]
        state = await b.incident_state("INC-1")
        assert state.decision is not None
        assert (state.decision.revision, state.decision.content.requirement) == (2, "optional")
    finally:
        await a.close()
        await b.close()


async def test_sqlite_refuses_a_decision_derived_from_a_stale_event_count(tmp_path: Path) -> None:
    store = SqlitePolicyStore(tmp_path / "policy.sqlite3")
    await store.open()
    try:
        await store.append_event(stored_note("INC-1", "e-1", "2026-11-20T09:00:00Z", 1))
        await store.append_event(stored_note("INC-1", "e-2", "2026-11-20T09:01:00Z", 2))
        assert await store.save_decision("INC-1", decision_content("INC-1"), 0, 1) is False
        assert await store.save_decision("INC-1", decision_content("INC-1"), 0, 2) is True
    finally:
        await store.close()


async def test_the_fingerprint_index_keeps_the_entry_derived_from_the_most_events(
    store: PolicyStore,
) -> None:
    t1 = datetime(2026, 11, 1, 10, 0, 0, 123456, tzinfo=UTC)
    t2 = datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert (await store.incident_state("INC-1")).root_cause is None
    assert await store.index_root_cause(RootCauseSighting("INC-1", "db-pool", t1), 3) is True
    assert await store.index_root_cause(RootCauseSighting("INC-2", "db-pool", t2), 2) is True
    assert (await store.incident_state("INC-1")).root_cause == IndexedRootCause(
        RootCauseSighting("INC-1", "db-pool", t1), None
    )
    # A replica whose view of INC-1 is behind (2 events) cannot overwrite the entry.
    assert await store.index_root_cause(RootCauseSighting("INC-1", "dns", t2), 2) is False
    assert sorted(await store.root_causes_with(["db-pool"]), key=lambda s: s.incident_id) == [
        RootCauseSighting("INC-1", "db-pool", t1),
        RootCauseSighting("INC-2", "db-pool", t2),
    ]
    # A corrected root cause remembers the fingerprint it replaced.
    assert await store.index_root_cause(RootCauseSighting("INC-1", "dns", t2), 4) is True
    assert (await store.incident_state("INC-1")).root_cause == IndexedRootCause(
        RootCauseSighting("INC-1", "dns", t2), "db-pool"
    )
    assert await store.index_root_cause(RootCauseSighting("INC-1", "dns", t1), 5) is True
    assert (await store.incident_state("INC-1")).root_cause == IndexedRootCause(
        RootCauseSighting("INC-1", "dns", t1), "db-pool"
    )
    assert await store.root_causes_with(["dns"]) == [RootCauseSighting("INC-1", "dns", t1)]
    assert await store.root_causes_with([]) == []


async def test_a_sqlite_store_of_an_older_policy_gets_its_event_counts_on_open(tmp_path: Path) -> None:
    path = tmp_path / "policy.sqlite3"
    older = SqliteDatabase(path, [EVENTS_SCHEMA])
    await older.open()
    log = SqliteEventLog(older)
    for n, incident in enumerate(["INC-1", "INC-2", "INC-1"], start=1):
        await log.append(stored_note(incident, f"e-{n}", f"2026-11-20T09:0{n}:00Z", n))
    await older.close()
    store = SqlitePolicyStore(path)
    await store.open()
    try:
        assert (await store.incident_state("INC-1")).event_count == 2
        await store.append_event(stored_note("INC-1", "e-4", "2026-11-20T09:00:00Z", 4))
        events, position = await store.events_stored_after("INC-1", 0)
        assert ([e.event_id for e in events], position) == (["e-1", "e-3", "e-4"], 3)
    finally:
        await store.close()
    again = SqlitePolicyStore(path)  # opening again changes nothing
    await again.open()
    try:
        assert (await again.incident_state("INC-1")).event_count == 3
    finally:
        await again.close()
