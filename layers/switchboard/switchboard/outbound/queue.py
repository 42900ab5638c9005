"""The outbound FIFO queue between the outbox and the channel sender: one message group per conversation, so
one customer's replies go out in the order they were accepted, while other customers' go out in parallel."""

from __future__ import annotations

import hashlib
import json

from switchboard.errors import EnqueueFailed
from switchboard.models import SendAttempt, sortable_time
from switchboard.queue import SQS_BATCH_LIMIT, group_id_of


def attempt_body(attempt: SendAttempt) -> str:
    return json.dumps({"attempt_id": attempt.id})


def attempt_id_of_body(body: str) -> str:
    document = json.loads(body)
    attempt_id = document.get("attempt_id") if isinstance(document, dict) else None
    if not isinstance(attempt_id, str) or not attempt_id:
        raise ValueError("an outbound queue message names its attempt")
    return attempt_id


class OutboundQueue:
    def __init__(self, sqs_client, queue_url: str) -> None:
        self._sqs = sqs_client
        self._url = queue_url

    def enqueue(self, attempts: list[SendAttempt]) -> None:
        """Queues attempts for the sender. The deduplication id is the attempt and when it became due, so the
        sweep's re-enqueue of an attempt still queued a minute later is not dropped as a repeat of a lost one."""
        for start in range(0, len(attempts), SQS_BATCH_LIMIT):
            batch = attempts[start : start + SQS_BATCH_LIMIT]
            response = self._sqs.send_message_batch(
                QueueUrl=self._url,
                Entries=[
                    {
                        "Id": str(index),
                        "MessageBody": attempt_body(attempt),
                        "MessageGroupId": group_id_of(attempt.conversation_key),
                        "MessageDeduplicationId": hashlib.sha256(
                            f"{attempt.id}\x1f{sortable_time(attempt.due_at)}".encode()
                        ).hexdigest(),
                    }
                    for index, attempt in enumerate(batch)
                ],
            )
            if response.get("Failed"):
                raise EnqueueFailed(f"{len(response['Failed'])} of {len(batch)} attempts were not queued")

    def delay(self, receipt_handle: str, seconds: int) -> None:
        """Makes a message the sender gives back visible again only after `seconds` (the provider's
        Retry-After or our back-off); its conversation's later replies wait behind it, in order."""
        self._sqs.change_message_visibility(
            QueueUrl=self._url, ReceiptHandle=receipt_handle, VisibilityTimeout=max(0, min(seconds, 43_200))
        )

    def release(self, receipt_handles: list[str]) -> None:
        """Makes messages the sender did not try visible again now (ChangeMessageVisibilityBatch, 10 at most a call)."""
        for start in range(0, len(receipt_handles), SQS_BATCH_LIMIT):
            self._sqs.change_message_visibility_batch(
                QueueUrl=self._url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                    for index, handle in enumerate(receipt_handles[start : start + SQS_BATCH_LIMIT])
                ],
            )
