"""Policy's decision publisher: ``majorops.decisions.<incident_id>`` on JetStream.

Each revision is published with ``Nats-Msg-Id`` = ``<incident_id>:<revision>``, and only if the
subject does not hold it yet. JetStream's duplicate window (two minutes) alone would not do: a
revision left unpublished by a crash may be re-sent long after, and a replica stalled between its
compare-and-set and its publish could append an old revision after a newer one. So each publish
first reads the subject's last message (a direct get) and is sent with
``Nats-Expected-Last-Subject-Sequence`` = that message's sequence: the stream appends it only if
nothing reached the subject meanwhile, which makes "append revision r after r − 1, once" atomic
across every replica.
"""

from __future__ import annotations

import json

from nats.js import JetStreamContext
from nats.js.errors import APIError, NotFoundError

from majorops.shared import subjects
from majorops.shared.decisions import AfterActionDecision
from majorops.shared.jetstream import publish_acked
from majorops.shared.outcomes import UnacknowledgedPublish
from majorops.shared.telemetry import Telemetry

EXPECTED_LAST_SUBJECT_SEQUENCE = "Nats-Expected-Last-Subject-Sequence"
WRONG_LAST_SEQUENCE = 10071
"""JetStream's error code when the expected last sequence no longer holds."""
MAX_PUBLISH_ATTEMPTS = 5


def decision_msg_id(incident_id: str, revision: int) -> str:
    """The ``Nats-Msg-Id`` of one revision: the same revision is the same message."""
    return f"{incident_id}:{revision}"


def _lost_the_race(exc: UnacknowledgedPublish) -> bool:
    cause = exc.__cause__
    return isinstance(cause, APIError) and cause.err_code == WRONG_LAST_SEQUENCE


class JetStreamDecisionPublisher:
    """:class:`~majorops.policy.ports.DecisionPublisher` on a JetStream context.

    With the service's telemetry, each revision it appends counts in ``majorops_decisions_total``
    and is published in the trace of the incident's last handled event (see
    :class:`~majorops.shared.tracing.RecentTraces`)."""

    def __init__(self, js: JetStreamContext, telemetry: Telemetry | None = None) -> None:
        self.js = js
        self.telemetry = telemetry

    async def publish(self, decision: AfterActionDecision) -> bool:
        subject = subjects.decision_subject(decision.incident_id)
        payload = decision.model_dump_json().encode()
        msg_id = decision_msg_id(decision.incident_id, decision.revision)
        telemetry = self.telemetry
        parent = telemetry.traces.parent_for(decision.incident_id) if telemetry is not None else None
        for _ in range(MAX_PUBLISH_ATTEMPTS):
            last_revision, last_sequence = await self._last_on(subject)
            if last_revision >= decision.revision:
                return False
            try:
                ack = await publish_acked(
                    self.js,
                    subject,
                    payload,
                    msg_id,
                    headers={EXPECTED_LAST_SUBJECT_SEQUENCE: str(last_sequence)},
                    parent=parent,
                )
            except UnacknowledgedPublish as exc:
                if _lost_the_race(exc):  # another replica published on the subject: look again
                    continue
                raise
            if ack.duplicate:
                return False
            if telemetry is not None:
                telemetry.decision_published(decision.requirement)
            return True
        raise UnacknowledgedPublish(
            f"{subject} changed under each of {MAX_PUBLISH_ATTEMPTS} attempts to publish revision "
            f"{decision.revision}"
        )

    async def _last_on(self, subject: str) -> tuple[int, int]:
        """The revision and stream sequence of the subject's last message; (0, 0) when it has none."""
        try:
            last = await self.js.get_last_msg(subjects.DECISIONS_STREAM, subject, direct=True)
        except NotFoundError:
            return 0, 0
        if not last.data or last.seq is None:
            return 0, 0
        return int(json.loads(last.data)["revision"]), last.seq
