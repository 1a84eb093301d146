"""Reminders' store adapters (SQLite and MongoDB): events once, the newest decision per incident, the
schedule (due incidents, plans stored at their version) and the outbox (each notice id claimed once)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from majorops.reminders.adapters.mongo import MongoRemindersStore
from majorops.reminders.adapters.sqlite import SqliteRemindersStore
from majorops.reminders.bootstrap import store_from_settings
from majorops.reminders.config import RemindersSettings
from majorops.reminders.plan import Notice, NoticeCategory
from majorops.reminders.ports import DueIncident, RemindersStore, StoredPlan
from majorops.shared.decisions import AfterActionDecision, Requirement
from majorops.shared.testing import mandatory_decision, store_places, stored_note
from majorops.shared.testkit import opened

StoreFactory = Callable[[], RemindersStore]


def decision(incident: str, revision: int, requirement: str = "mandatory") -> AfterActionDecision:
    return mandatory_decision(
        incident,
        revision,
        requirement=requirement,
        reasons=[{"rule": "critical_any_duration", "text": "Critical (P1) incident"}],
        duration_seconds=8100,
        customer_impact=True,
        declared_at="2026-11-20T09:45:00Z",
    )


@pytest.fixture(params=["sqlite", "mongodb"])
async def new_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StoreFactory]:
    """Makes stores on one and the same place, so a test can close one and reopen another."""
    mongodb_url = functools.partial(request.getfixturevalue, "mongodb_url")
    async with store_places(
        request.param, "reminders", tmp_path, SqliteRemindersStore, MongoRemindersStore, mongodb_url
    ) as factory:
        yield factory


@pytest.fixture
async def store(new_store: StoreFactory) -> AsyncIterator[RemindersStore]:
    async with opened(new_store()) as store:
        yield store


async def test_events_are_stored_once_in_event_time_order(store: RemindersStore) -> None:
    assert await store.append_event(stored_note("INC-1", "late", "2026-11-20T12:00:00Z", 1)) is True
    assert await store.append_event(stored_note("INC-1", "early", "2026-11-20T09:00:00Z", 2)) is True
    assert await store.append_event(stored_note("INC-1", "late", "2026-11-20T12:00:00Z", 3)) is False
    assert await store.append_event(stored_note("INC-2", "other", "2026-11-20T10:00:00Z", 4)) is True
    assert [(e.event_id, e.arrival) for e in await store.events_for("INC-1")] == [("early", 2), ("late", 1)]
    assert await store.incident_ids() == ["INC-1", "INC-2"]


async def test_the_highest_revision_is_kept_whatever_the_arrival_order(store: RemindersStore) -> None:
    assert await store.latest_decision("INC-1") is None
    assert await store.save_decision(decision("INC-1", 2, "recommended")) is True
    assert await store.save_decision(decision("INC-1", 4)) is True
    assert await store.save_decision(decision("INC-1", 3, "optional")) is False
    assert await store.save_decision(decision("INC-1", 4)) is False
    assert await store.save_decision(decision("INC-2", 1, "not_required")) is True
    latest = await store.latest_decision("INC-1")
    assert latest == decision("INC-1", 4)
    assert latest is not None and latest.requirement is Requirement.MANDATORY
    # Every field of the contract survives the round trip; one it does not name is refused (issue 20).
    assert latest.model_dump(mode="json") == decision("INC-1", 4).model_dump(mode="json")
    with pytest.raises(ValidationError, match="mim"):
        AfterActionDecision.model_validate({**latest.model_dump(mode="json"), "mim": "Dana Reyes"})
    other = await store.latest_decision("INC-2")
    assert other is not None and other.requirement is Requirement.NOT_REQUIRED


async def test_the_record_survives_a_restart(new_store: StoreFactory) -> None:
    first = new_store()
    await first.open()
    await first.append_event(stored_note("INC-1", "e-1", "2026-11-20T09:00:00Z", 1))
    await first.save_decision(decision("INC-1", 5))
    await first.close()
    second = new_store()
    await second.open()
    try:
        assert [e.event_id for e in await second.events_for("INC-1")] == ["e-1"]
        assert await second.save_decision(decision("INC-1", 4)) is False
        assert await second.latest_decision("INC-1") == decision("INC-1", 5)
    finally:
        await second.close()


def test_mongodb_is_used_when_its_url_is_set(tmp_path: Path) -> None:
    embedded = store_from_settings(RemindersSettings(data_dir=tmp_path, mongodb_url=None))
    assert isinstance(embedded, SqliteRemindersStore)
    assert embedded.database.path == tmp_path / "reminders.sqlite3"
    production = store_from_settings(
        RemindersSettings(mongodb_url="mongodb://db.example:27017", mongodb_database="ops")
    )
    assert isinstance(production, MongoRemindersStore)
    assert production.database_name == "ops_reminders"


# --- the schedule and the outbox ----------------------------------------------------------------

T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def notice(notice_id: str, incident: str = "INC-1") -> Notice:
    return Notice(
        notice_id=notice_id,
        incident_id=incident,
        category=NoticeCategory.ESCALATION,
        subject=f"majorops.escalations.{incident}.after_action_not_scheduled",
        payload=f'{{"escalation_id": "{notice_id}", "message": "Caf\u00e9 \u2014 schedule it"}}'.encode(),
        due_at=T0 + timedelta(microseconds=123_456),
    )


def plan(incident: str, version: int, next_fire_at: datetime | None, pending: int = 1) -> StoredPlan:
    return StoredPlan(incident, version, next_fire_at, '[{"kind": "x"}]', pending, "interval=2s", T0)


async def test_a_changed_incident_is_due_until_planned_at_its_version(store: RemindersStore) -> None:
    assert await store.earliest_fire_at() is None
    await store.mark_changed("INC-1", T0)
    await store.mark_changed("INC-2", T0 + SECOND)
    await store.mark_changed("INC-1", T0 + 5 * SECOND)  # a later mark never delays it
    assert await store.incidents_due(T0 + SECOND, 10) == [DueIncident("INC-1", 2), DueIncident("INC-2", 1)]
    assert await store.incidents_due(T0, 10) == [DueIncident("INC-1", 2)]
    assert await store.incidents_due(T0 + SECOND, 1) == [DueIncident("INC-1", 2)]

    saved = await store.save_plans([plan("INC-1", 2, T0 + 60 * SECOND, pending=2), plan("INC-2", 7, None)])
    assert saved == {"INC-1"}  # INC-2 is at version 1: that plan was made from another record
    assert await store.incidents_due(T0 + 59 * SECOND, 10) == [DueIncident("INC-2", 1)]
    assert await store.save_plans([plan("INC-2", 1, None, pending=0)]) == {"INC-2"}
    assert await store.earliest_fire_at() == T0 + 60 * SECOND
    assert await store.pending_obligations() == 2
    assert await store.incidents_due(T0 + 60 * SECOND, 10) == [DueIncident("INC-1", 2)]

    await store.mark_changed("INC-2", T0 + 2 * SECOND)
    assert await store.earliest_fire_at() == T0 + 2 * SECOND
    await store.postpone("INC-2", 1, T0 + 90 * SECOND)  # stale version: no effect
    assert await store.earliest_fire_at() == T0 + 2 * SECOND
    await store.postpone("INC-2", 2, T0 + 90 * SECOND)
    assert await store.earliest_fire_at() == T0 + 60 * SECOND


async def test_incidents_never_planned_under_these_settings_are_marked_at_start(
    store: RemindersStore,
) -> None:
    await store.append_event(stored_note("INC-1", "e-1", "2026-11-20T09:00:00Z", 1))
    await store.append_event(stored_note("INC-2", "e-2", "2026-11-20T09:00:00Z", 2))
    await store.save_decision(decision("INC-3", 1))
    assert await store.mark_unplanned("interval=2s", T0) == 3
    due = await store.incidents_due(T0, 10)
    assert sorted(d.incident_id for d in due) == ["INC-1", "INC-2", "INC-3"]
    await store.save_plans([plan(d.incident_id, d.version, None, 0) for d in due])
    assert await store.mark_unplanned("interval=2s", T0) == 0
    assert await store.mark_unplanned("interval=86400s", T0) == 3
    assert len(await store.incidents_due(T0, 10)) == 3


async def test_a_notice_id_is_claimed_once_whoever_races_for_it(new_store: StoreFactory) -> None:
    replicas = [new_store(), new_store()]
    for replica in replicas:
        await replica.open()
    try:
        notices = [notice(f"INC-1:after_action_not_scheduled:{n}") for n in range(1, 61)]
        won = await asyncio.gather(
            replicas[0].claim_notices(notices, T0, "a"), replicas[1].claim_notices(notices[::-1], T0, "b")
        )
        assert won[0] | won[1] == {n.notice_id for n in notices}
        assert won[0] & won[1] == set()
        assert await replicas[0].claim_notices(notices[:1], T0, "a") == set()
        assert await replicas[1].sent_notice_ids("INC-1") == {n.notice_id for n in notices}
        assert await replicas[1].sent_notice_ids("INC-2") == set()
    finally:
        for replica in replicas:
            await replica.close()


async def test_a_claimed_notice_stays_pending_with_its_exact_bytes_until_published(
    new_store: StoreFactory,
) -> None:
    first = new_store()
    await first.open()
    await first.claim_notices([notice("INC-1:a:1"), notice("INC-1:a:2")], T0, "a")
    await first.claim_notices([notice("INC-2:a:1", "INC-2")], T0 + 10 * SECOND, "a")
    await first.close()

    second = new_store()  # after a crash and restart
    await second.open()
    try:
        assert await second.pending_notices(T0, 10) == []  # none claimed before T0
        pending = await second.pending_notices(T0 + SECOND, 10)
        assert pending == [notice("INC-1:a:1"), notice("INC-1:a:2")]
        await second.mark_published(["INC-1:a:1"], T0 + 2 * SECOND)
        assert await second.pending_notices(T0 + 60 * SECOND, 10) == [
            notice("INC-1:a:2"),
            notice("INC-2:a:1", "INC-2"),
        ]
        assert await second.sent_notice_ids("INC-1") == {"INC-1:a:1", "INC-1:a:2"}
    finally:
        await second.close()


async def test_the_first_webhook_outcome_is_kept(store: RemindersStore) -> None:
    assert await store.webhook_outcome("INC-1:a:1", "k1") is None
    await store.save_webhook_outcome("INC-1:a:1", "k1", "delivered", T0)
    await store.save_webhook_outcome("INC-1:a:1", "k1", "dead_lettered", T0)
    assert await store.webhook_outcome("INC-1:a:1", "k1") == "delivered"
    assert await store.webhook_outcome("INC-1:a:1", "k2") is None


async def test_a_webhook_never_gets_a_lower_level_of_an_obligation_after_a_higher_one(
    store: RemindersStore,
) -> None:
    obligation = "INC-1:after_action_not_scheduled"
    assert await store.webhook_level(obligation, "k1") is None
    assert await store.claim_webhook_level(obligation, "k1", 1, T0)
    assert await store.claim_webhook_level(obligation, "k1", 3, T0)
    assert not await store.claim_webhook_level(obligation, "k1", 2, T0)
    assert await store.claim_webhook_level(obligation, "k1", 3, T0)  # a redelivery of level 3
    assert await store.webhook_level(obligation, "k1") == 3
    assert await store.claim_webhook_level(obligation, "k2", 2, T0)  # each webhook on its own
    assert await store.webhook_level(obligation, "k2") == 2


async def test_of_two_levels_claimed_at_once_the_higher_one_stays(store: RemindersStore) -> None:
    obligation = "INC-2:after_action_not_held"
    results = await asyncio.gather(
        *(store.claim_webhook_level(obligation, "k1", level, T0) for level in (3, 2, 1, 3, 2))
    )
    assert results[0] is True
    assert await store.webhook_level(obligation, "k1") == 3
