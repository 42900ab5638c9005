"""The channel sender's SQS batch: each record names one attempt. The outbound queue is FIFO, and Lambda's rule
for FIFO batches with ReportBatchItemFailures is to stop at the first failure and return it with every record
after it, so no reply overtakes an earlier one of its conversation (Lambda developer guide, "Handling errors
for an SQS event source": "... stop processing messages after the first failure and return all failed and
unprocessed messages in batchItemFailures"). The unprocessed ones are made visible again at once."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from switchboard.models import utc_now
from switchboard.observability import logger
from switchboard.outbound.queue import OutboundQueue, attempt_id_of_body
from switchboard.outbound.sender import ChannelSender


def send_batch(
    event: Mapping[str, Any], *, sender: ChannelSender, queue: OutboundQueue, now: Callable[[], datetime] = utc_now
) -> dict[str, Any]:
    failures: list[dict[str, str]] = []
    unprocessed: list[str] = []
    for record in event.get("Records") or []:
        if failures:
            failures.append({"itemIdentifier": record["messageId"]})
            unprocessed.append(record["receiptHandle"])
            continue
        try:
            attempt_id = attempt_id_of_body(record["body"])
        except ValueError:
            # Not ours to send (written by hand into the queue): dropping it loses no reply, the outbox has them all.
            logger.error("outbound queue message names no attempt; dropped")
            continue
        try:
            report = sender.send(attempt_id, now=now())
        except Exception:  # noqa: BLE001 - whatever failed, the queue redelivers the attempt
            logger.exception("sending an attempt failed; the queue redelivers it", extra={"attempt": attempt_id})
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        if report.result == "retry":
            queue.delay(record["receiptHandle"], report.retry_in_seconds or 1)
            failures.append({"itemIdentifier": record["messageId"]})
    if unprocessed:
        # Given back untried, they would wait out the queue's visibility timeout (6 minutes): other
        # conversations' replies go again at once, and FIFO still holds each one behind its group's earlier.
        queue.release(unprocessed)
    return {"batchItemFailures": failures}
