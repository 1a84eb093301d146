"""Reminders on JetStream: publishing notices exactly once, and knowing when its record is complete."""

from __future__ import annotations

from collections.abc import Sequence

import structlog
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from majorops.reminders.plan import Notice, NoticeCategory
from majorops.shared import nats_access, subjects
from majorops.shared.jetstream import DeadLetter, publish_acked, publish_acked_batch, stored_with_msg_id
from majorops.shared.telemetry import Telemetry

log = structlog.get_logger(__name__)


class JetStreamNoticePublisher:
    """:class:`~majorops.reminders.ports.NoticePublisher`: ``Nats-Msg-Id`` = notice id, acks awaited.

    With the service's telemetry, each notice JetStream stores counts in
    ``majorops_escalations_total{kind,level}`` or ``majorops_heads_ups_total{kind}``, and is
    published in the trace of the incident's last handled message when that was a moment ago (see
    :class:`~majorops.shared.tracing.RecentTraces`)."""

    def __init__(self, js: JetStreamContext, telemetry: Telemetry | None = None) -> None:
        self.js = js
        self.telemetry = telemetry

    async def publish(self, notices: Sequence[Notice]) -> None:
        telemetry = self.telemetry
        parents = [telemetry.traces.parent_for(n.incident_id) if telemetry else None for n in notices]
        if len(notices) == 1:
            n = notices[0]
            acks = [await publish_acked(self.js, n.subject, n.payload, n.notice_id, parent=parents[0])]
        elif notices:
            # Pipelined: one round trip for the whole batch, so a burst of due levels is not late.
            acks = await publish_acked_batch(
                self.js, [(n.subject, n.payload, n.notice_id) for n in notices], parents=parents
            )
        else:
            return
        if telemetry is not None:
            for notice, ack in zip(notices, acks, strict=True):
                if not ack.duplicate:
                    count_notice(telemetry, notice)

    async def in_stream(self, notice: Notice) -> bool:
        """Whether the notice's subject (a handful of messages: levels × items of one kind of one
        incident) holds its ``Nats-Msg-Id`` (:func:`~majorops.shared.jetstream.stored_with_msg_id`).

        Needed beyond JetStream's two-minute duplicate window, where a second publish would no longer
        be dropped; only limits on the stream (none are configured) could make this miss a message.
        """
        found = await stored_with_msg_id(
            self.js, subjects.ESCALATIONS_STREAM, notice.subject, notice.notice_id
        )
        return found is not None


class JetStreamRecordFreshness:
    """:class:`~majorops.reminders.ports.RecordFreshness` from the durable consumers' ack floors.

    A durable's ack floor is the stream sequence up to which every message was acknowledged, i.e.
    stored (or dead-lettered) by some replica. The record of an incident is complete when the last
    message of the incident on each stream is at or below the floor. When a consumer has nothing
    pending at all, one request answers for every incident.

    Policy's durable is asked first: policy acknowledges an event only once the decision that
    includes it is published, so policy's floor past the incident's last event means the decisions
    stream holds the decision of every event JetStream has. Without it a decision lagging behind the
    events (policy stalled on its store, paused, restarting) could fire a deadline the events have
    already moved: a meeting rescheduled later moves ``draft_due`` later, and the old one must not
    fire. Where no policy consumes (no ``policy-events`` durable, or nobody fetching from it and
    nothing of it unacknowledged), or the NATS user may not read it (a warning), the record is
    checked as before.
    """

    def __init__(self, js: JetStreamContext, service: str, policy: str | None = nats_access.POLICY) -> None:
        self.js = js
        self.sources = (
            (subjects.EVENTS_STREAM, subjects.durable_name(service, subjects.EVENTS_STREAM), _events_of),
            (
                subjects.DECISIONS_STREAM,
                subjects.durable_name(service, subjects.DECISIONS_STREAM),
                _decisions_of,
            ),
        )
        self.policy_durable = (
            None if policy is None else subjects.durable_name(policy, subjects.EVENTS_STREAM)
        )

    async def complete(self, incident_ids: Sequence[str]) -> set[str]:
        complete = set(incident_ids)
        if self.policy_durable is not None:
            complete = await self._decided(complete)
        for stream, durable, subject_of in self.sources:
            try:
                info = await self.js.consumer_info(stream, durable)
            except NotFoundError:
                return set()  # not consuming yet: nothing is known to be complete
            if not info.num_pending and not info.num_ack_pending:
                continue
            floor = info.ack_floor.stream_seq if info.ack_floor and info.ack_floor.stream_seq else 0
            for incident_id in sorted(complete):
                try:
                    last = await self.js.get_msg(stream, subject=subject_of(incident_id))
                except NotFoundError:
                    continue  # nothing of this incident on that stream
                if last.seq is not None and last.seq > floor:
                    complete.discard(incident_id)
        return complete

    async def _decided(self, incident_ids: set[str]) -> set[str]:
        """The incidents whose every event policy has decided on (its decision is published)."""
        assert self.policy_durable is not None
        try:
            info = await self.js.consumer_info(subjects.EVENTS_STREAM, self.policy_durable)
        except NotFoundError:
            return incident_ids  # no policy consumes here: nothing to wait for
        except (NatsError, TimeoutError) as exc:
            log.warning("freshness.policy_unknown", durable=self.policy_durable, error=repr(exc))
            return incident_ids
        if not info.num_pending and not info.num_ack_pending:
            return incident_ids  # policy has decided on everything
        if not info.num_ack_pending and not info.num_waiting:
            # Nobody holds or asks for policy's messages: no policy runs (a deployment without it,
            # a test of reminders alone). Waiting for it would hold back every escalation.
            return incident_ids
        floor = info.ack_floor.stream_seq if info.ack_floor and info.ack_floor.stream_seq else 0
        decided = set(incident_ids)
        for incident_id in sorted(incident_ids):
            try:
                last = await self.js.get_msg(subjects.EVENTS_STREAM, subject=_events_of(incident_id))
            except NotFoundError:
                continue
            if last.seq is not None and last.seq > floor:
                decided.discard(incident_id)
        return decided


def count_notice(telemetry: Telemetry, notice: Notice) -> None:
    """One published notice in the metrics: its kind is the subject's last token, an escalation's
    level the last part of its id (``<incident>:<kind>[:<item>]:<level>``)."""
    kind = notice.subject.rsplit(".", 1)[-1]
    if notice.category is NoticeCategory.ESCALATION:
        telemetry.escalation_published(kind, notice.notice_id.rsplit(":", 1)[-1])
    else:
        telemetry.heads_up_published(kind)


def _events_of(incident_id: str) -> str:
    return f"{subjects.EVENTS_ROOT}.{incident_id}.>"


def _decisions_of(incident_id: str) -> str:
    return subjects.decision_subject(incident_id)


async def publish_dead_letter(
    js: JetStreamContext, letter: DeadLetter, msg_id: str, telemetry: Telemetry | None = None
) -> None:
    """Put a dead letter on ``majorops.deadletter.<service>``, acknowledged, once per ``msg_id``
    (counted as ``majorops_dead_letters_total{reason="webhook"}``)."""
    ack = await publish_acked(js, subjects.deadletter_subject(letter.service), letter.to_json(), msg_id)
    if telemetry is not None and not ack.duplicate:
        telemetry.dead_lettered("webhook")
