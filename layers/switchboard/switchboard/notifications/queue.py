"""NotificationQueue (SQS standard): the ids of notifications due to send, for NotificationSenderFunction.

Standard, not FIFO: notifications to different customers have no order to keep, a sale day's burst spreads over as
many senders as the pacer allows, and a repeat is harmless because the sender's claim (store/notifications.py) lets
one sender have a notification at a time. What the queue loses, the scheduler finds in ByNotifyDue.
"""

from __future__ import annotations

import json

from switchboard.errors import EnqueueFailed
from switchboard.queue import SQS_BATCH_LIMIT

# SQS: DelaySeconds is 0 to 900 (15 minutes) per message ("SendMessageBatchRequestEntry", DelaySeconds).
MAX_DELAY_SECONDS = 900


def notification_body(notification_id: str) -> str:
    return json.dumps({"notification_id": notification_id})


def notification_id_of_body(body: str) -> str:
    """The id a queue message names; ValueError for a body that names none (never ours)."""
    document = json.loads(body)
    notification_id = document.get("notification_id") if isinstance(document, dict) else None
    if not isinstance(notification_id, str) or not notification_id or len(notification_id) > 128:
        raise ValueError("a notification queue message names its notification")
    return notification_id


class NotificationQueue:
    def __init__(self, sqs_client, queue_url: str) -> None:
        self._sqs = sqs_client
        self._url = queue_url

    def send(self, ids: list[str], delay_seconds: int = 0) -> None:
        """Queues the notifications for the sender, visible after `delay_seconds` (0..900: a longer wait is the
        scheduler's, which finds the notification in ByNotifyDue when it is due). EnqueueFailed when SQS refused
        some: they stay due in the table, so a caller may log it and leave them to the scheduler."""
        delay = max(0, min(int(delay_seconds), MAX_DELAY_SECONDS))
        unique = list(dict.fromkeys(ids))
        failed = 0
        for start in range(0, len(unique), SQS_BATCH_LIMIT):
            batch = unique[start : start + SQS_BATCH_LIMIT]
            response = self._sqs.send_message_batch(
                QueueUrl=self._url,
                Entries=[
                    {"Id": str(index), "MessageBody": notification_body(notification_id), "DelaySeconds": delay}
                    for index, notification_id in enumerate(batch)
                ],
            )
            failed += len(response.get("Failed") or [])
        if failed:
            raise EnqueueFailed(f"{failed} of {len(unique)} notifications were not queued")
