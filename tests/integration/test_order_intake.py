"""The shop events' intake on moto: through the deployed routes and function (template.yaml, its secrets and
OrderEventsQueue, SQS FIFO), and the intake alone against a queue and a table: verified events are answered at once
and queued one message group per order, deduplicated by the event's id; an event whose record exists is a duplicate;
a bad proof or body leaves nothing queued and nothing in the table."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from switchboard.errors import MalformedPayload
from switchboard.orders import generic
from switchboard.orders.events import OrderEventType, OrderSource
from switchboard.orders.intake import accept_order_event
from switchboard.orders.queue import OrderEventQueue, deduplication_id, group_id, read
from switchboard.store.table import key_part
from tests.support.lambda_events import HttpResponse, http_api_event
from tests.support.stack import InProcessStack

E = OrderEventType
SHOP = "min-store.myshopify.com"
ORDER_ID = 5101234567890
# Shopify's REST Fulfillment resource, as fulfillments/create delivers it.
FULFILLMENT: dict[str, Any] = {
    "id": 4512345678901,
    "order_id": ORDER_ID,
    "name": "#1042.1",
    "status": "success",
    "shipment_status": "in_transit",
    "created_at": "2026-12-02T10:00:00+09:00",
    "tracking_company": "CJ대한통운",
    "tracking_number": "6543210987",
    "tracking_url": "https://trace.cjlogistics.com/next/tracking.html?wblNo=6543210987",
    "email": "min@example.com",
    "destination": {"first_name": "민준", "last_name": "김", "phone": "+821012345678"},
}
GENERIC_EVENT: dict[str, Any] = {
    "event_id": "evt_01J",
    "type": "shipment.out_for_delivery",
    "occurred_at": "2026-12-03T09:00:00+09:00",
    "order": {"id": "A-1042", "number": "1042", "customer": {"phone": "+821012345678", "name": "김민준"}},
    "shipment": {"id": "S-1", "carrier": "CJ대한통운"},
}


def shopify_headers(stack: InProcessStack, body: bytes, *, event_id: str, secret: str | None = None) -> dict[str, str]:
    key = secret if secret is not None else stack.channel_secrets["shopify"]["client_secret"]
    return {
        "Content-Type": "application/json",
        # Computed here as Shopify documents it, not with the code under test.
        "X-Shopify-Hmac-Sha256": base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode(),
        "X-Shopify-Topic": "fulfillments/create",
        "X-Shopify-Shop-Domain": SHOP,
        "X-Shopify-Event-Id": event_id,
        "X-Shopify-API-Version": "2025-07",
    }


def post_shopify(
    stack: InProcessStack, payload: dict[str, Any], *, event_id: str = "evt-shopify-1", secret: str | None = None
) -> HttpResponse:
    body = json.dumps(payload, ensure_ascii=False).encode()
    headers = shopify_headers(stack, body, event_id=event_id, secret=secret)
    return stack.http("POST", "/webhooks/shopify", headers=headers, body=body)


def post_generic(stack: InProcessStack, document: dict[str, Any], *, key: str | None = None) -> HttpResponse:
    body = json.dumps(document, ensure_ascii=False).encode()
    stamp = int(time.time())
    signing_key = key if key is not None else stack.channel_secrets["orders"]["signing_key"]
    headers = {
        "Content-Type": "application/json",
        "X-Switchboard-Timestamp": str(stamp),
        "X-Switchboard-Signature": generic.sign(body, signing_key, stamp),
    }
    return stack.http("POST", "/orders/events", headers=headers, body=body)


def queued(stack: InProcessStack) -> list[dict[str, Any]]:
    """Every message on OrderEventsQueue (received and deleted), with its FIFO attributes."""
    url = stack.queue_url_of("OrderEventsQueue")
    messages: list[dict[str, Any]] = []
    while True:
        received = stack.sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["MessageGroupId", "MessageDeduplicationId"]
        ).get("Messages", [])
        if not received:
            return messages
        for message in received:
            stack.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        messages.extend(received)


def order_items(stack: InProcessStack) -> list[dict[str, Any]]:
    return [item for item in stack.table_items() if item["pk"]["S"].startswith(("ORDEREVENT#", "ORDER#"))]


def record_processed(stack: InProcessStack, dedup_key: str) -> None:
    """What the processor writes once it applied an event: its record (store/orders.py key table)."""
    stack.dynamodb.put_item(
        TableName=stack.table_name,
        Item={"pk": {"S": f"ORDEREVENT#{key_part(dedup_key)}"}, "sk": {"S": "ORDEREVENT"}},
    )


def test_a_signed_shopify_fulfillment_is_accepted_and_queued_in_its_orders_group(stack):
    # When Shopify delivers a new fulfillment, in transit
    answer = post_shopify(stack, FULFILLMENT)
    # Then it is accepted at once, nothing is written to the table, and one message waits on the FIFO queue
    assert (answer.status, answer.json()) == (202, {"accepted": True})
    assert order_items(stack) == []
    (message,) = queued(stack)
    event = read(message["Body"])
    assert (event.source, event.shop, event.type, event.order.id) == (
        OrderSource.SHOPIFY,
        SHOP,
        E.SHIPMENT_IN_TRANSIT,
        str(ORDER_ID),
    )
    assert (event.order.customer.name, event.order.customer.phone) == ("김민준", "+821012345678")
    # And its group is the order's, its deduplication id the event's
    assert message["Attributes"]["MessageGroupId"] == group_id(f"shopify#{SHOP}#{ORDER_ID}")
    assert message["Attributes"]["MessageDeduplicationId"] == deduplication_id(event.dedup_key)


def test_a_redelivery_of_a_processed_event_is_a_duplicate_and_one_still_queued_is_queued_once(stack):
    # Given Shopify delivered the event twice before the processor ran
    first, second = post_shopify(stack, FULFILLMENT), post_shopify(stack, FULFILLMENT)
    # Then both were accepted (no record yet), and the FIFO queue holds it once
    assert [first.status, second.status] == [202, 202]
    (message,) = queued(stack)
    # When the processor has recorded it and Shopify retries once more
    record_processed(stack, read(message["Body"]).dedup_key)
    third = post_shopify(stack, FULFILLMENT)
    # Then the retry is answered as a duplicate and nothing is queued
    assert (third.status, third.json()) == (200, {"duplicate": True})
    assert queued(stack) == []


def test_two_events_of_one_order_share_its_group_and_another_order_has_its_own(stack):
    post_shopify(stack, FULFILLMENT, event_id="evt-a")
    post_shopify(stack, {**FULFILLMENT, "shipment_status": "delivered"}, event_id="evt-b")
    post_shopify(stack, {**FULFILLMENT, "id": 4512345678999, "order_id": 5109999999999}, event_id="evt-c")
    groups = [message["Attributes"]["MessageGroupId"] for message in queued(stack)]
    assert len(groups) == 3 and groups[0] == groups[1] != groups[2]


@pytest.mark.parametrize("door", ["shopify", "generic"])
def test_a_forged_event_leaves_nothing_queued_and_nothing_stored(stack, door):
    # Given an event signed with a key that is not the stack's
    if door == "shopify":
        answer = post_shopify(stack, FULFILLMENT, secret="shpss_not_the_apps_secret")
    else:
        answer = post_generic(stack, GENERIC_EVENT, key="k" * 40)
    # Then it is refused as unauthenticated, and nothing is queued or stored
    assert (answer.status, answer.json()["error"]) == (401, "invalid_signature")
    assert queued(stack) == []
    assert order_items(stack) == []


def test_a_signed_generic_event_is_accepted_and_a_malformed_one_is_told_what_is_wrong(stack):
    answer = post_generic(stack, GENERIC_EVENT)
    assert (answer.status, answer.json()) == (202, {"accepted": True})
    (message,) = queued(stack)
    assert read(message["Body"]).order_key == "generic#default#A-1042"

    answer = post_generic(stack, {**GENERIC_EVENT, "type": "shipment.lost"})
    assert answer.status == 400
    assert [problem["field"] for problem in answer.json()["problems"]] == ["type"]
    assert queued(stack) == []


def test_an_event_on_the_orders_bus_is_queued_and_a_refused_one_raises(stack):
    bus_event = {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "shipment.out_for_delivery",
        "source": "switchboard.orders",
        "account": "111122223333",
        "time": "2026-12-03T00:00:05Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {**GENERIC_EVENT, "shop": "min-store"},
    }
    # When EventBridge invokes the intake with the event
    assert stack.invoke("OrderWebhookFunction", bus_event) == {"accepted": True}
    # Then it is queued as the bus's
    (message,) = queued(stack)
    assert read(message["Body"]).dedup_key == "eventbridge#min-store#evt_01J"
    # And an event off the schema raises (Lambda retries it, then its on-failure destination keeps it)
    with pytest.raises(MalformedPayload, match="detail-type"):
        stack.invoke("OrderWebhookFunction", {**bus_event, "detail-type": "Shipment Moved"})
    assert queued(stack) == []


def test_the_intake_alone_reads_the_documented_event_record_to_tell_a_duplicate(stack):
    # Given the intake on the stack's queue and table, and the event's record at its documented key
    queue = OrderEventQueue(stack.sqs, stack.queue_url_of("OrderEventsQueue"))
    orders = stack.repositories().orders
    record_processed(stack, "generic#default#evt_01J")
    body = json.dumps(GENERIC_EVENT, ensure_ascii=False).encode()
    now = datetime.now(UTC)
    stamp = int(now.timestamp())
    key = stack.channel_secrets["orders"]["signing_key"]
    request = http_api_event(
        method="POST",
        path="/orders/events",
        route_key="POST /orders/events",
        headers={"X-Switchboard-Timestamp": str(stamp), "X-Switchboard-Signature": generic.sign(body, key, stamp)},
        body=body,
    )
    # When the shop posts that event again
    answer = accept_order_event(
        request,
        secrets_of=lambda source: stack.channel_secrets["orders"],
        queue=queue,
        seen=orders.event_seen,
        now=now,
    )
    # Then it is a duplicate: GetItem found the record, and nothing is queued
    assert (answer["statusCode"], json.loads(answer["body"])) == (200, {"duplicate": True})
    assert queued(stack) == []
