"""The inbound FIFO queue between webhooks and the ticket writer."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from pydantic import ValidationError

from switchboard.errors import EnqueueFailed
from switchboard.models import INBOUND_EVENT, QueuedEvent

SQS_BATCH_LIMIT = 10
_GROUP_ID_SAFE = re.compile(r"^[A-Za-z0-9!-/:-@\[-`{-~]{1,128}$")


def message_group_id(event: QueuedEvent) -> str:
    """One group per conversation: SQS FIFO keeps one customer's messages in order, others run in parallel."""
    key = event.conversation_key
    return key if _GROUP_ID_SAFE.match(key) else "h:" + hashlib.sha256(key.encode()).hexdigest()


def deduplication_id(event: QueuedEvent) -> str:
    """Channel + provider id: a redelivery within SQS's 5-minute window is dropped by the queue itself."""
    return hashlib.sha256(event.dedup_key.encode()).hexdigest()


# SQS refuses a body with any character outside #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF.
# JSON already escapes control characters; the noncharacters U+FFFE and U+FFFF would go out raw.
_SQS_REFUSED = re.compile("[\ufffe\uffff]")


def encode(event: QueuedEvent) -> str:
    return _SQS_REFUSED.sub(lambda found: f"\\u{ord(found.group()):04x}", event.model_dump_json())


class UndecodableEvent(ValueError):
    """A queued body that is not an inbound event. Its text is kept out of the error: it may hold a message."""


def decode(body: str | bytes) -> QueuedEvent:
    try:
        return INBOUND_EVENT.validate_json(body)
    except ValidationError as exc:
        # pydantic's message quotes the input (customer text, phone numbers); logs must not.
        fields = sorted({".".join(map(str, error["loc"])) for error in exc.errors()})[:5]
        raise UndecodableEvent(f"queued event does not decode ({exc.error_count()} errors at {fields})") from None


class InboundQueue:
    def __init__(self, sqs_client, queue_url: str) -> None:
        self._sqs = sqs_client
        self._url = queue_url

    def send(self, events: Sequence[QueuedEvent]) -> None:
        """Enqueues every event or raises EnqueueFailed, so the provider redelivers; dedup makes that safe."""
        for start in range(0, len(events), SQS_BATCH_LIMIT):
            chunk = events[start : start + SQS_BATCH_LIMIT]
            response = self._sqs.send_message_batch(
                QueueUrl=self._url,
                Entries=[
                    {
                        "Id": str(index),
                        "MessageBody": encode(event),
                        "MessageGroupId": message_group_id(event),
                        "MessageDeduplicationId": deduplication_id(event),
                    }
                    for index, event in enumerate(chunk)
                ],
            )
            if response.get("Failed"):
                codes = sorted({failure.get("Code", "?") for failure in response["Failed"]})
                raise EnqueueFailed(f"{len(response['Failed'])} events were not enqueued ({', '.join(codes)})")
