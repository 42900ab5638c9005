"""The EventBridge door: shops already on AWS put their events on the stack's orders bus (`<stack>-orders`), and its
rule (source `switchboard.orders`) invokes the intake with each event as EventBridge delivers it:

    {"version": "0", "id": "<EventBridge's id>", "source": "switchboard.orders", "account": "...", "time": "...",
     "detail-type": "shipment.in_transit", "detail": {<the body of POST /orders/events>, "shop": "min-store"}}

The detail-type schema (PutEvents `DetailType`, up to 128 characters; AWS, "PutEventsRequestEntry",
https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEventsRequestEntry.html):

| detail-type                       | detail                                                                    |
|-----------------------------------|---------------------------------------------------------------------------|
| one of the 13 event types         | the generic body; its `type` may be left out, and must agree if present   |
| `Order Event`                     | the generic body with its `type`                                          |

`detail` is the generic body (orders/generic.py, `GenericOrderEventBody`), plus `shop` (1 to 255 characters; else
"default") when one bus carries several shops. It may leave out `event_id` (then EventBridge's own `id` is the event's
id: a PutEvents call the shop repeats is then a new event, so a shop that retries sends its own `event_id`) and
`occurred_at` (then the event's `time`).

No signature: who may put events on the bus is IAM's decision (`events:PutEvents` on it, granted to the shop's role
or, from another account, by the bus's resource policy), and only events on this bus reach the rule. There is no
HTTP answer to give: a refused or failed event raises, so Lambda's asynchronous retries and the function's on-failure
destination keep it (the rule's own dead-letter queue takes only events EventBridge could not hand to Lambda).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from switchboard.errors import MalformedPayload
from switchboard.orders.events import MAX_ID_CHARS, OrderEvent, OrderEventType, OrderSource
from switchboard.orders.generic import DEFAULT_SHOP, MAX_SHOP_CHARS, event_of

SOURCE = "switchboard.orders"
ORDER_EVENT_DETAIL_TYPE = "Order Event"
DETAIL_TYPES = (ORDER_EVENT_DETAIL_TYPE, *(event_type.value for event_type in OrderEventType))


def is_bus_event(event: Mapping[str, Any]) -> bool:
    """An EventBridge event (its `detail-type` and `source`), not an API Gateway request."""
    return "detail-type" in event and "source" in event and "requestContext" not in event


def parse(event: Mapping[str, Any]) -> OrderEvent:
    """The bus event as an OrderEvent from `eventbridge`; MalformedPayload listing what is wrong."""
    if event.get("source") != SOURCE:
        raise MalformedPayload(f"source must be {SOURCE}")
    detail_type = event.get("detail-type")
    if detail_type not in DETAIL_TYPES:
        raise MalformedPayload(f"detail-type must be {ORDER_EVENT_DETAIL_TYPE!r} or one of the 13 event types")
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise MalformedPayload("detail must be an order event: the JSON object POST /orders/events takes")
    document = dict(detail)
    if detail_type != ORDER_EVENT_DETAIL_TYPE:
        if document.setdefault("type", detail_type) != detail_type:
            raise MalformedPayload("detail.type and detail-type name different event types")
    if "event_id" not in document and isinstance(event.get("id"), str):
        document["event_id"] = event["id"][:MAX_ID_CHARS]
    if "occurred_at" not in document and event.get("time"):
        document["occurred_at"] = event["time"]
    return event_of(document, source=OrderSource.EVENTBRIDGE, shop=_shop_of(document))


def _shop_of(detail: Mapping[str, Any]) -> str:
    shop = detail.get("shop", DEFAULT_SHOP)
    if not isinstance(shop, str) or not 0 < len(shop.strip()) <= MAX_SHOP_CHARS:
        raise MalformedPayload(f"detail.shop must be a shop's name of 1 to {MAX_SHOP_CHARS} characters")
    return shop.strip()
