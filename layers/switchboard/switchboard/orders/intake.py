"""The intake of shop events (OrderWebhookFunction), whichever door they come through:

    POST /webhooks/shopify (orders/shopify.py) | POST /orders/events (orders/generic.py) | the orders bus (orders/bridge.py)
      -> verify: 401, nothing read or written (the bus: IAM already decided who may put events)
      -> parse: 400 naming each problem; a verified Shopify delivery that tells the customer nothing: 200 {"ignored": true}
      -> the event's record exists (GetItem through `seen`): 200 {"duplicate": true}, nothing queued
      -> SendMessage to OrderEventsQueue: 202 {"accepted": true}

Nothing is written to the table here: the processor records each event once (proactive/order_events.py). A duplicate is
told by the event's record, written when the event is applied, so a copy arriving while the first is still queued is
accepted twice; the queue's deduplication and the record's condition apply it once.

Our faults are never answered as the shop's: a queue that refuses is 503, and a table or secret that cannot be read
raises (500), so Shopify and the shop's backend retry. A bus event has no HTTP answer: a refused one is logged and
raised, so Lambda's retries and the function's on-failure destination keep it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from switchboard.errors import MethodNotAllowed, NotFound, SwitchboardError
from switchboard.http import error_response, json_response
from switchboard.http_request import WebhookRequest, check_body_size
from switchboard.observability import logger, metrics
from switchboard.orders import bridge, generic, shopify
from switchboard.orders.events import OrderEvent, OrderSource
from switchboard.orders.queue import OrderEventQueue
from switchboard.proof import ChannelSecrets

SecretsOf = Callable[[OrderSource], ChannelSecrets]
Seen = Callable[[str], bool]


@dataclass(frozen=True)
class Door:
    source: OrderSource
    route_key: str
    max_body_bytes: int

    @property
    def path(self) -> str:
        return self.route_key.partition(" ")[2]


SHOPIFY_DOOR = Door(OrderSource.SHOPIFY, "POST /webhooks/shopify", shopify.MAX_BODY_BYTES)
GENERIC_DOOR = Door(OrderSource.GENERIC, "POST /orders/events", generic.MAX_BODY_BYTES)
DOORS = (SHOPIFY_DOOR, GENERIC_DOOR)


def accept_order_event(
    event: Mapping[str, Any], *, secrets_of: SecretsOf, queue: OrderEventQueue, seen: Seen, now: datetime
) -> dict[str, Any]:
    """Serves both HTTP routes (API Gateway HTTP API, payload 2.0) and the orders bus (EventBridge events)."""
    if bridge.is_bus_event(event):
        return accept_bus_event(event, queue=queue, seen=seen)
    door = door_of(event)
    try:
        if door is None:
            raise NotFound("no order event route here: POST /webhooks/shopify or POST /orders/events")
        request = WebhookRequest.from_http_api_event(event)
        if request.method != "POST":
            raise MethodNotAllowed(f"{request.method} is not served here: POST the event")
        order_event = _verified_event(door, request, secrets_of(door.source), now)
        if order_event is None:
            metrics.add_metric(name="OrderEventsIgnored", unit="Count", value=1)
            return json_response(200, {"ignored": True})
        if _enqueued(order_event, queue=queue, seen=seen):
            return json_response(202, {"accepted": True})
        return json_response(200, {"duplicate": True})
    except SwitchboardError as error:
        _rejected(door.source.value if door else "unknown", error)
        return error_response(error)


def accept_bus_event(event: Mapping[str, Any], *, queue: OrderEventQueue, seen: Seen) -> dict[str, Any]:
    """One event from the orders bus: {"accepted": true} or {"duplicate": true}; raises when refused or not queued."""
    try:
        return {"accepted": True} if _enqueued(bridge.parse(event), queue=queue, seen=seen) else {"duplicate": True}
    except SwitchboardError as error:
        _rejected(OrderSource.EVENTBRIDGE.value, error)
        raise


def door_of(event: Mapping[str, Any]) -> Door | None:
    """The route the request came by: API Gateway's routeKey, else the path (a stage's name may prefix it)."""
    route_key = event.get("routeKey")
    path = str(event.get("rawPath") or "")
    for door in DOORS:
        if route_key == door.route_key or (route_key in (None, "$default") and path.endswith(door.path)):
            return door
    return None


def _verified_event(door: Door, request: WebhookRequest, secrets: ChannelSecrets, now: datetime) -> OrderEvent | None:
    # Refused before a byte is hashed or parsed: no shop sends more (each door's MAX_BODY_BYTES says why).
    check_body_size(request.body, door.max_body_bytes)
    if door is SHOPIFY_DOOR:
        shopify.verify(request, secrets)
        return shopify.parse(request, received_at=now)
    shop = generic.verify(request, secrets, now=now)
    return generic.parse(request.body, shop=shop)


def _enqueued(event: OrderEvent, *, queue: OrderEventQueue, seen: Seen) -> bool:
    """Queues the event unless its record says it was processed already (False: a duplicate)."""
    if seen(event.dedup_key):
        metrics.add_metric(name="OrderEventsDuplicate", unit="Count", value=1)
        return False
    queue.send(event)
    metrics.add_metric(name="OrderEventsAccepted", unit="Count", value=1)
    # DEBUG: the metric counts them; ids and types only, never the customer.
    logger.debug(
        "order event accepted",
        extra={"source": event.source.value, "shop": event.shop, "event_id": event.event_id, "type": event.type.value},
    )
    return True


def _rejected(door: str, error: SwitchboardError) -> None:
    # The messages name headers and fields, never their values: nothing of the customer is logged.
    logger.warning("order event rejected", extra={"door": door, "error": error.code, "reason": error.message})
    metrics.add_metric(name=f"WebhookRejected_{error.code}", unit="Count", value=1)
