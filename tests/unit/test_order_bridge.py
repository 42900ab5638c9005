"""The orders EventBridge bus: an event as EventBridge hands it to Lambda (source switchboard.orders, a detail-type of
the documented schema, the generic body as detail) becomes an OrderEvent from `eventbridge`; the intake answers it
with a small dict, and raises when it is refused, so Lambda's retries and the on-failure destination keep it.

The event's envelope is EventBridge's ("Amazon EventBridge events", fields version, id, detail-type, source, account,
time, region, resources, detail)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from switchboard.errors import MalformedPayload
from switchboard.orders import bridge
from switchboard.orders.events import OrderEventType, OrderSource
from switchboard.orders.intake import accept_order_event
from switchboard.orders.queue import OrderEventQueue, read

E = OrderEventType
NOW = datetime(2026, 12, 3, 0, 0, tzinfo=UTC)
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/switchboard-dev-OrderEventsQueue.fifo"
DETAIL: dict[str, Any] = {
    "shop": "min-store",
    "event_id": "evt_01J",
    "type": "shipment.in_transit",
    "occurred_at": "2026-12-03T09:00:00+09:00",
    "order": {"id": "A-1042", "customer": {"phone": "+821012345678", "name": "김민준"}},
    "shipment": {"id": "S-1", "carrier": "CJ대한통운"},
}


def bus_event(detail: dict[str, Any], detail_type: str = "shipment.in_transit", **envelope: Any) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": detail_type,
        "source": "switchboard.orders",
        "account": "111122223333",
        "time": "2026-12-03T00:00:05Z",
        "region": "ap-northeast-2",
        "resources": [],
        "detail": detail,
        **envelope,
    }


class SentMessages:
    """The SQS client of an OrderEventQueue: keeps what it was sent."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def send_message(self, **message: Any) -> dict[str, Any]:
        self.messages.append(message)
        return {"MessageId": f"m-{len(self.messages)}"}


def accept(event: dict[str, Any], seen: set[str] | None = None) -> tuple[dict[str, Any], SentMessages]:
    sqs = SentMessages()
    known = seen or set()
    answer = accept_order_event(
        event,
        secrets_of=lambda source: pytest.fail("the bus needs no secret: IAM decided who may put events"),
        queue=OrderEventQueue(sqs, QUEUE_URL),
        seen=lambda key: key in known,
        now=NOW,
    )
    return answer, sqs


def test_a_bus_event_becomes_the_shops_event_from_eventbridge():
    event = bridge.parse(bus_event(DETAIL))
    assert (event.source, event.shop, event.event_id, event.type) == (
        OrderSource.EVENTBRIDGE,
        "min-store",
        "evt_01J",
        E.SHIPMENT_IN_TRANSIT,
    )
    assert (event.order_key, event.dedup_key) == ("eventbridge#min-store#A-1042", "eventbridge#min-store#evt_01J")
    assert event.order.customer.name == "김민준"


def test_the_detail_type_may_carry_the_type_alone_or_say_order_event():
    # Given the type only as detail-type
    without_type = {key: value for key, value in DETAIL.items() if key != "type"}
    assert bridge.parse(bus_event(without_type, "shipment.delivered")).type is E.SHIPMENT_DELIVERED
    # Given the generic "Order Event" with the type in the detail
    assert bridge.parse(bus_event(DETAIL, "Order Event")).type is E.SHIPMENT_IN_TRANSIT
    # Given "Order Event" without a type anywhere: the type is missing
    with pytest.raises(MalformedPayload, match="type"):
        bridge.parse(bus_event(without_type, "Order Event"))


@pytest.mark.parametrize(
    ("event", "refusal"),
    [
        (bus_event(DETAIL, "shipment.delivered"), "different event types"),
        (bus_event(DETAIL, "OrderShipped"), "detail-type"),
        (bus_event(DETAIL, source="aws.partner/shopify.com"), "source"),
        (bus_event("not an object"), "detail"),  # type: ignore[arg-type]
        (bus_event({**DETAIL, "shop": ""}), "detail.shop"),
        (bus_event({**DETAIL, "occurred_at": "2026-12-03T09:00:00"}), "occurred_at"),
    ],
    ids=["types disagree", "unknown detail-type", "another source", "detail not an object", "empty shop", "naive time"],
)
def test_an_event_off_the_schema_is_refused_saying_why(event, refusal):
    with pytest.raises(MalformedPayload, match=refusal):
        bridge.parse(event)


def test_without_its_own_id_shop_and_time_the_event_takes_eventbridges_and_the_default_shop():
    bare = {key: value for key, value in DETAIL.items() if key not in ("event_id", "shop", "occurred_at")}
    event = bridge.parse(bus_event(bare))
    assert (event.event_id, event.shop, event.occurred_at) == (
        "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "default",
        datetime(2026, 12, 3, 0, 0, 5, tzinfo=UTC),
    )


def test_the_intake_queues_a_bus_event_and_answers_a_repeat_as_a_duplicate():
    # Given an event put on the bus
    answer, sqs = accept(bus_event(DETAIL))
    # Then it is queued, without a secret read (the bus is IAM's)
    assert answer == {"accepted": True}
    assert read(sqs.messages[0]["MessageBody"]).source is OrderSource.EVENTBRIDGE
    # When the shop puts it again after it was processed
    answer, sqs = accept(bus_event(DETAIL), seen={"eventbridge#min-store#evt_01J"})
    # Then it is a duplicate and nothing is queued
    assert (answer, sqs.messages) == ({"duplicate": True}, [])


def test_the_intake_raises_for_a_refused_bus_event_so_it_is_kept_for_the_team():
    with pytest.raises(MalformedPayload):
        accept(bus_event({**DETAIL, "order": {}}))


def test_an_http_request_is_never_taken_for_a_bus_event():
    assert not bridge.is_bus_event({"requestContext": {}, "detail-type": "x", "source": "switchboard.orders"})
    assert bridge.is_bus_event(bus_event(DETAIL))
