"""Shop events, notification rules and a notification queue for the order and scheduler tests, on moto, at chosen
instants (the processor and the scheduler take the time as a parameter; the store's clock is the test's)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from switchboard.notifications.models import (
    ChannelTemplates,
    DelayDetection,
    EventRule,
    NotificationRules,
    Senders,
)
from switchboard.notifications.queue import NotificationQueue, notification_id_of_body
from switchboard.orders.events import OrderCustomer, OrderEvent, OrderEventType, OrderInfo, OrderSource, ShipmentInfo

T0 = datetime(2026, 12, 3, 0, 0, tzinfo=UTC)  # 09:00 in Seoul
PROMISED = T0 + timedelta(days=1, hours=9)  # 2026-12-04 18:00 in Seoul
E = OrderEventType

MINJUN = OrderCustomer(
    id="cus_77",
    phone="+821012345678",
    email="Min@Example.com",
    name="김민준",
    locale="ko-KR",
    timezone="Asia/Seoul",
)


class Clock:
    """The test's clock: each step of an order's life sets it; the store reads it for when a write happens."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def sms_templates(word: str) -> dict[str, ChannelTemplates]:
    return {
        "ko": ChannelTemplates(sms=f"[{{shop_name}}] {{order_number}} {word} ({{status}})"),
        "en": ChannelTemplates(sms=f"[{{shop_name}}] order {{order_number}}: {word} ({{status}})"),
    }


def rules(
    *notifying: OrderEventType,
    delay: DelayDetection | None = None,
    senders: Senders | None = None,
    version: int = 1,
) -> NotificationRules:
    """Rules where the given event types notify by SMS (every shipment event and the refund when none are given)."""
    types = notifying or (*(t for t in OrderEventType if t.is_shipment), E.REFUND_ISSUED)
    return NotificationRules(
        version=version,
        rules=tuple(EventRule(event_type=t, templates=sms_templates(t.value)) for t in types),
        shop_name="민준상회",
        delay_detection=delay or DelayDetection(),
        senders=senders or Senders(sms_from="+15005550006"),
    )


def shop_event(
    event_type: OrderEventType,
    *,
    event_id: str | None = None,
    order_id: str = "A-1042",
    at: datetime = T0,
    customer: OrderCustomer = MINJUN,
    shipment: str | None = "S-1",
    promised: datetime | None = None,
) -> OrderEvent:
    """A generic-endpoint event for order `order_id` (shipment events name shipment `shipment`)."""
    return OrderEvent(
        source=OrderSource.GENERIC,
        shop="minjun-shop",
        event_id=event_id or f"evt-{order_id}-{event_type.value}-{at.isoformat()}",
        type=event_type,
        occurred_at=at,
        order=OrderInfo(
            id=order_id, number=order_id.split("-")[-1], placed_at=T0 - timedelta(days=2), customer=customer
        ),
        shipment=ShipmentInfo(
            id=shipment,
            carrier="CJ대한통운",
            tracking_number="6543210987",
            tracking_url="https://trace.example.com/6543210987",
            promised_delivery_at=promised,
        )
        if event_type.is_shipment and shipment
        else None,
    )


def sqs_record(event: OrderEvent, message_id: str) -> dict[str, Any]:
    return {"messageId": message_id, "body": event.model_dump_json(), "attributes": {"ApproximateReceiveCount": "1"}}


class QueueProbe:
    """A NotificationQueue over a queue of its own, and what was sent to it."""

    def __init__(self, sqs, name: str = "notifications-under-test") -> None:
        self._sqs = sqs
        self.url = sqs.create_queue(QueueName=name)["QueueUrl"]
        self.queue = NotificationQueue(sqs, self.url)

    def taken(self) -> list[str]:
        """The notification ids queued since the last look (received and deleted)."""
        ids: list[str] = []
        while True:
            response = self._sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            messages = response.get("Messages", [])
            if not messages:
                return ids
            for message in messages:
                ids.append(notification_id_of_body(message["Body"]))
                self._sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])


class BrokenQueue:
    """A queue whose every send fails, as SQS refusing or the function dying before it."""

    def __init__(self) -> None:
        self.tries = 0

    def send(self, ids: list[str], delay_seconds: int = 0) -> None:
        self.tries += 1
        raise ConnectionError("the queue is unreachable (injected)")


def items(stack, prefix: str) -> list[dict[str, Any]]:
    """Every item whose pk starts with `prefix`, as plain values (a Scan: for assertions only)."""
    found = []
    for item in stack.table_items():
        if item["pk"]["S"].startswith(prefix):
            found.append({name: TypeDeserializer().deserialize(value) for name, value in item.items()})
    return found


def due_entries(stack) -> list[tuple[str, str]]:
    """Every (pk, sk) in ByNotifyDue, whatever its bucket (a Scan of the index: for assertions only)."""
    found = stack.dynamodb.scan(TableName=stack.table_name, IndexName="ByNotifyDue")["Items"]
    return sorted((item["pk"]["S"], item["sk"]["S"]) for item in found)
