"""The outbox sweep (every minute): queues again each attempt still unsettled a minute after it became due (or
after its sender's lease ran out).

This is what makes a 202 a promise. The reply API writes the attempt and then queues it; if that process dies
between the two, or SQS refuses the message, or a retry's queue message is lost, the attempt is still in the
outbox, and this sweep finds it through the sparse ByOutboxDue index, which holds unsettled attempts only: its
reads are proportional to what is overdue, never to the tickets or to the replies ever sent. A sender that
died holding an attempt leaves it there under its lease's end; once queued again, the claim sees it was
interrupted and resends it only where that is safe."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from switchboard.observability import logger, metrics
from switchboard.outbound.queue import OutboundQueue
from switchboard.store.outbox import OutboxRepository

# An attempt is queued when accepted and sent within seconds; one still queued a minute after it was due lost
# its queue message (or waits behind its conversation's earlier reply, where a second message is harmless:
# the claim sends it once).
GRACE = timedelta(minutes=1)
MAX_PER_RUN = 500


@dataclass(frozen=True)
class SweepReport:
    requeued: int


def sweep_outbox(outbox: OutboxRepository, queue: OutboundQueue, *, now: datetime) -> SweepReport:
    overdue = outbox.due_attempts(until=now - GRACE, limit=MAX_PER_RUN)
    if overdue:
        queue.enqueue(overdue)
        logger.warning("queued again attempts whose queue message was lost", extra={"count": len(overdue)})
    metrics.add_metric(name="OutboxRequeued", unit="Count", value=len(overdue))
    return SweepReport(requeued=len(overdue))
