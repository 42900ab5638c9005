"""OrderEventsQueue, between the intake and the processor: SQS FIFO, one message group per order, so one order's
events are applied in the order they were accepted while other orders' go in parallel (template.yaml: high
throughput FIFO, deduplication per message group).

| attribute              | value                                                                                     |
|------------------------|-------------------------------------------------------------------------------------------|
| MessageGroupId         | sha256(order_key) in hex (64 characters): a shop's order id is neither bounded nor in the characters SQS allows ("alphanumeric and punctuation", at most 128) |
| MessageDeduplicationId | sha256(dedup_key) in hex: the same event accepted twice within SQS's 5 minutes is queued once; the event's record in the table catches every later copy (proactive/order_events.py) |
| MessageBody            | the OrderEvent as JSON                                                                    |
"""

from __future__ import annotations

import hashlib

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from switchboard.errors import EnqueueFailed
from switchboard.orders.events import OrderEvent


class UndecodableOrderEvent(ValueError):
    """A queued body that is not an OrderEvent. Its text is kept out of the error: it names a customer."""


def group_id(order_key: str) -> str:
    return hashlib.sha256(order_key.encode("utf-8", "surrogatepass")).hexdigest()


def deduplication_id(dedup_key: str) -> str:
    return hashlib.sha256(dedup_key.encode("utf-8", "surrogatepass")).hexdigest()


def encode(event: OrderEvent) -> str:
    # SQS refuses a body holding U+FFFE or U+FFFF, which JSON writes raw; escaped, they decode to the same text.
    return event.model_dump_json().replace("\ufffe", "\\ufffe").replace("\uffff", "\\uffff")


def read(record_body: str | bytes) -> OrderEvent:
    """The OrderEvent a queued body holds (what the processor reads); UndecodableOrderEvent naming the fields."""
    try:
        return OrderEvent.model_validate_json(record_body)
    except ValidationError as exc:
        fields = sorted({".".join(map(str, error["loc"])) for error in exc.errors()})[:5]
        raise UndecodableOrderEvent(
            f"queued order event does not decode ({exc.error_count()} errors at {fields})"
        ) from None


class OrderEventQueue:
    def __init__(self, sqs_client, queue_url: str) -> None:
        self._sqs = sqs_client
        self._url = queue_url

    def send(self, event: OrderEvent) -> None:
        """Queues one event, or raises EnqueueFailed (503) so the shop delivers it again: SQS's deduplication and the
        event's record make that safe."""
        try:
            self._sqs.send_message(
                QueueUrl=self._url,
                MessageBody=encode(event),
                MessageGroupId=group_id(event.order_key),
                MessageDeduplicationId=deduplication_id(event.dedup_key),
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "?")
            raise EnqueueFailed(f"the event could not be queued ({code}); send it again") from exc
        except BotoCoreError as exc:
            raise EnqueueFailed(f"the event could not be queued ({type(exc).__name__}); send it again") from exc

    read = staticmethod(read)
