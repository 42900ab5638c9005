"""An order and its shipments as Switchboard last knew them, and the one rule that moves them: forward only.

Shops send events late, twice and out of order (Shopify retries a webhook 8 times over 4 hours; carriers scan
parcels in batches), so `apply` decides for every event whether it moves the order and whether it is news for the
customer. A stale event changes nothing and notifies nothing: `shipment.in_transit` after `shipment.delivered`
sends nothing, and a shipment never moves backward.

The order's own status (`order.*`, `return.*`, `refund.*`) moves by rank alone; the shops' clocks do not matter:

| rank | status            | note                                                                           |
|------|-------------------|--------------------------------------------------------------------------------|
| 1    | order.placed      | not news once a shipment exists (an order confirmation after "shipped" is stale) |
| 2    | order.paid        | same                                                                           |
| 3    | order.cancelled   | terminal for placed/paid: a later `order.paid` is stale                        |
| 4    | return.received   | after a delivery, or a cancellation of an order partly shipped                 |
| 5    | refund.issued     | last: a cancellation arriving after the refund is stale                        |

A shipment moves by rank, and within the last mile by time (`occurred_at`):

| rank | status                                                        | moves to                               |
|------|---------------------------------------------------------------|----------------------------------------|
| 0    | shipment.delayed (only while nothing else is known about it)  | anything                               |
| 1    | shipment.created                                              | a higher rank                          |
| 2    | shipment.in_transit                                           | a higher rank                          |
| 3    | shipment.out_for_delivery, .attempted_delivery, .ready_for_pickup | a higher rank, or another status of rank 3 that occurred later |
| 4    | shipment.failure                                              | shipment.delivered only                |
| 5    | shipment.delivered                                            | nothing: terminal                      |

- The last mile loops: a carrier that missed the customer (`attempted_delivery`) goes out again the next day
  (`out_for_delivery`), or leaves the parcel at a pickup point (`ready_for_pickup`); Shopify's
  FulfillmentEventStatus reports each step. Within rank 3 a different status moves the shipment only when it
  occurred after the step it replaces; an older one is stale.
- `failure` gives way only to `delivered`: a carrier that reported a failed delivery sometimes delivers after all,
  and the customer should hear it; an `in_transit` after a failure is noise.
- A higher rank always moves forward, whatever its `occurred_at` (a `delivered` scanned before a late
  `in_transit` is still delivered). A same-or-lower rank that occurred before the shipment's `updated_at` is
  stale; a newer one is not news either (the same status repeated, or a step backward), but its shipment facts
  (carrier, tracking number and URL, promised date) are kept, since they are the shop's newest word.
- `shipment.delayed` is a notice, not a step: it never changes the rank. It is news once per shipment, while the
  parcel is still on its way (not delivered, failed or waiting at a pickup point), unless it occurred before the
  shipment's `updated_at`.

The delay watch (`ShipmentState.delay_apology_due`): a shipment with a promised delivery date is watched, and the
scheduler apologizes once when the date (plus the rules' grace) passes without a delivery (`delay_due_at`). The
watch is armed when a promised date becomes known or moves later (a new promise), and disarmed by delivery, by the
shop's own `shipment.delayed` that brings no new promise (the customer was told), and by the apology itself
(`delay_apologized`).

Two clocks: `ShipmentState.updated_at` is the latest `occurred_at` among the events that moved the shipment (the
shop's clock); `OrderState.first_seen_at`/`updated_at` are Switchboard's (`now`). `OrderState.version` belongs to
the store, which writes the order on it; `apply` never changes it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from switchboard.orders.events import OrderCustomer, OrderEvent, OrderEventType, OrderSource, ShipmentInfo

MAX_SHIPMENTS = 20  # an order's shipments tracked; more are ignored (the item stays far below 400 KB)

E = OrderEventType

_ORDER_RANK: dict[OrderEventType, int] = {
    E.ORDER_PLACED: 1,
    E.ORDER_PAID: 2,
    E.ORDER_CANCELLED: 3,
    E.RETURN_RECEIVED: 4,
    E.REFUND_ISSUED: 5,
}
_LAST_MILE = 3
_SHIPMENT_RANK: dict[OrderEventType, int] = {
    E.SHIPMENT_DELAYED: 0,
    E.SHIPMENT_CREATED: 1,
    E.SHIPMENT_IN_TRANSIT: 2,
    E.SHIPMENT_OUT_FOR_DELIVERY: _LAST_MILE,
    E.SHIPMENT_ATTEMPTED_DELIVERY: _LAST_MILE,
    E.SHIPMENT_READY_FOR_PICKUP: _LAST_MILE,
    E.SHIPMENT_FAILURE: 4,
    E.SHIPMENT_DELIVERED: 5,
}
# Where a parcel still travels towards the customer: a delay means something, and the promised date is watched.
ON_THE_WAY = frozenset(
    {E.SHIPMENT_DELAYED, E.SHIPMENT_CREATED, E.SHIPMENT_IN_TRANSIT, E.SHIPMENT_OUT_FOR_DELIVERY,
     E.SHIPMENT_ATTEMPTED_DELIVERY}
)  # fmt: skip


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ShipmentState(_Model):
    id: str
    status: OrderEventType = Field(
        description="The shipment.* event type it last moved to (shipment.delayed only while nothing else is known)"
    )
    carrier: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    promised_delivery_at: datetime | None = None
    delivered_at: datetime | None = None
    updated_at: datetime = Field(description="The latest occurred_at among the events that moved it")
    delay_apology_due: bool = Field(
        default=False, description="Its promised date is watched: the scheduler apologizes once if it passes"
    )
    delayed_at: datetime | None = Field(
        default=None, description="occurred_at of the shop's shipment.delayed: news once per shipment"
    )


class OrderState(_Model):
    order_key: str
    source: OrderSource
    shop: str
    order_id: str
    number: str | None = None
    placed_at: datetime | None = None
    contact_id: str | None = Field(default=None, description="None when the event named nobody we can reach")
    customer: OrderCustomer = Field(default_factory=OrderCustomer)
    status: OrderEventType | None = Field(
        default=None, description="The order.* / return.* / refund.* it last moved to"
    )
    shipments: dict[str, ShipmentState] = Field(default_factory=dict)
    first_seen_at: datetime
    updated_at: datetime
    version: int = 0


class Applied(_Model):
    """What one event did to an order: the state after it, and whether it is news worth telling the customer
    (False for a stale or repeated step: in_transit after delivered changes nothing and sends nothing)."""

    state: OrderState
    news: bool
    reason: str = Field(default="", description="Why it is not news, for the log and the tests")
    shipment_id: str | None = Field(default=None, description="The shipment a shipment.* event was applied to")


def apply(state: OrderState | None, event: OrderEvent, *, contact_id: str | None, now: datetime) -> Applied:
    """The order after `event`, and whether the event is news. `state` None: the event's order is new to us, and
    this first event creates it. `contact_id` is the contact the processor resolved for the event's customer (an
    order keeps the contact it has when None); the link is no fact of the event, so even a stale event updates it.
    Pure: the same inputs give the same result, and an event that changes nothing returns `state` as it was."""
    order = state if state is not None else _new_order(event, now)
    if contact_id is not None and order.contact_id != contact_id:
        order = order.model_copy(update={"contact_id": contact_id, "updated_at": now})
    if event.type.is_shipment:
        return _apply_to_shipment(order, event, now)
    return _apply_to_order(order, event, now)


def delay_due_at(state: OrderState, grace_minutes: int) -> datetime | None:
    """When the scheduler should apologize for a late delivery: the earliest promised date plus the grace among the
    shipments still on their way with an armed watch; None when nothing is watched (no timer in ByNotifyDue)."""
    due = [s.promised_delivery_at for s in _watched(state) if s.promised_delivery_at is not None]
    return min(due) + timedelta(minutes=grace_minutes) if due else None


def overdue_shipments(state: OrderState, grace_minutes: int, now: datetime) -> list[ShipmentState]:
    """The watched shipments whose promised date plus the grace has passed at `now`, the most overdue first: what
    the scheduler's apology is about (the first one's facts go into the message)."""
    grace = timedelta(minutes=grace_minutes)
    late = [(s.promised_delivery_at, s) for s in _watched(state) if s.promised_delivery_at is not None]
    return [s for promised, s in sorted(late, key=lambda pair: (pair[0], pair[1].id)) if promised + grace <= now]


def delay_apologized(state: OrderState, grace_minutes: int, now: datetime) -> OrderState:
    """The order after the scheduler apologized at `now`: the watch of every overdue shipment is disarmed (a later
    promise arms it again), and the others keep theirs."""
    overdue = {s.id for s in overdue_shipments(state, grace_minutes, now)}
    if not overdue:
        return state
    shipments = {
        sid: s.model_copy(update={"delay_apology_due": False}) if sid in overdue else s
        for sid, s in state.shipments.items()
    }
    return state.model_copy(update={"shipments": shipments, "updated_at": now})


def _watched(state: OrderState) -> list[ShipmentState]:
    return [
        s
        for s in state.shipments.values()
        if s.delay_apology_due and s.promised_delivery_at is not None and s.status in ON_THE_WAY
    ]


def _new_order(event: OrderEvent, now: datetime) -> OrderState:
    return OrderState(
        order_key=event.order_key,
        source=event.source,
        shop=event.shop,
        order_id=event.order.id,
        number=event.order.number,
        placed_at=event.order.placed_at or event.occurred_at,
        customer=event.order.customer,
        first_seen_at=now,
        updated_at=now,
    )


def _with_order_facts(order: OrderState, event: OrderEvent, now: datetime) -> OrderState:
    """The order's number, placing time and customer as the event names them (what it leaves out stays)."""
    customer_update = {name: value for name, value in event.order.customer if value is not None}
    update: dict[str, object] = {}
    if event.order.number is not None and event.order.number != order.number:
        update["number"] = event.order.number
    if event.order.placed_at is not None and event.order.placed_at != order.placed_at:
        update["placed_at"] = event.order.placed_at
    customer = order.customer.model_copy(update=customer_update)
    if customer != order.customer:
        update["customer"] = customer
    return order.model_copy(update={**update, "updated_at": now}) if update else order


def _apply_to_order(order: OrderState, event: OrderEvent, now: datetime) -> Applied:
    rank = _ORDER_RANK[event.type]
    current = _ORDER_RANK[order.status] if order.status is not None else 0
    if rank <= current:
        reason = "repeated" if event.type is order.status else f"stale: the order is already {order.status}"
        return Applied(state=order, news=False, reason=reason)
    moved = _with_order_facts(order, event, now).model_copy(update={"status": event.type, "updated_at": now})
    if event.type in (E.ORDER_PLACED, E.ORDER_PAID) and order.shipments:
        return Applied(state=moved, news=False, reason="stale: the order already ships")
    return Applied(state=moved, news=True)


def _shipment_id(order: OrderState, event: OrderEvent) -> str:
    """The shipment an event is about: the one it names; an event naming none is about the order's only shipment,
    or the order as one parcel (its id) when it has none or several."""
    if event.shipment is not None:
        return event.shipment.id
    if len(order.shipments) == 1:
        return next(iter(order.shipments))
    return event.order.id


def _apply_to_shipment(order: OrderState, event: OrderEvent, now: datetime) -> Applied:
    shipment_id = _shipment_id(order, event)
    current = order.shipments.get(shipment_id)
    if current is None and len(order.shipments) >= MAX_SHIPMENTS:
        return Applied(state=order, news=False, reason="too many shipments", shipment_id=shipment_id)
    if current is None:
        current = ShipmentState(id=shipment_id, status=E.SHIPMENT_DELAYED, updated_at=event.occurred_at)
        fresh = True
    else:
        fresh = False
    if event.type is E.SHIPMENT_DELAYED:
        shipment, news, reason = _delayed(current, event, fresh)
    else:
        shipment, news, reason = _step(current, event, fresh)
    if shipment is None:
        return Applied(state=order, news=False, reason=reason, shipment_id=shipment_id)
    order = _with_order_facts(order, event, now)
    if shipment != order.shipments.get(shipment_id):
        order = order.model_copy(update={"shipments": {**order.shipments, shipment_id: shipment}, "updated_at": now})
    return Applied(state=order, news=news, reason=reason, shipment_id=shipment_id)


def _moves(current: ShipmentState, event_type: OrderEventType, occurred_at: datetime, fresh: bool) -> bool:
    if fresh:
        return True
    rank, current_rank = _SHIPMENT_RANK[event_type], _SHIPMENT_RANK[current.status]
    if rank > current_rank:
        return True
    # The last mile loops (another attempt the next day, a pickup point after a missed delivery): by time.
    return rank == current_rank == _LAST_MILE and event_type is not current.status and occurred_at > current.updated_at


def _step(current: ShipmentState, event: OrderEvent, fresh: bool) -> tuple[ShipmentState | None, bool, str]:
    """The shipment after a status event (None: stale, nothing changes), whether it is news, and why not."""
    if _moves(current, event.type, event.occurred_at, fresh):
        moved = current.model_copy(
            update={
                "status": event.type,
                "updated_at": max(current.updated_at, event.occurred_at),
                "delivered_at": event.occurred_at if event.type is E.SHIPMENT_DELIVERED else current.delivered_at,
            }
        )
        shipment = _with_shipment_facts(moved, event.shipment, newer=event.occurred_at >= current.updated_at)
        if event.type is E.SHIPMENT_DELIVERED:
            shipment = shipment.model_copy(update={"delay_apology_due": False})
        return shipment, True, ""
    if event.occurred_at < current.updated_at:
        return None, False, f"stale: the shipment is already {current.status}"
    reason = "repeated" if event.type is current.status else f"backward: the shipment is already {current.status}"
    return _with_shipment_facts(current, event.shipment, newer=True), False, reason


def _delayed(current: ShipmentState, event: OrderEvent, fresh: bool) -> tuple[ShipmentState | None, bool, str]:
    """The shipment after the shop's own delay notice: news once while the parcel is on its way."""
    if not fresh and event.occurred_at < current.updated_at:
        return None, False, f"stale: the shipment moved to {current.status} after it"
    if current.status not in ON_THE_WAY:
        return None, False, f"not news: the shipment is {current.status}"
    if current.delayed_at is not None:
        return _with_shipment_facts(current, event.shipment, newer=True), False, "repeated: the delay was told"
    # The shop's notice tells the customer (the watch is disarmed: our apology would say it again), unless it
    # brings a later promise, which _with_shipment_facts watches.
    told = current.model_copy(update={"delayed_at": event.occurred_at, "delay_apology_due": False})
    return _with_shipment_facts(told, event.shipment, newer=True), True, ""


def _with_shipment_facts(shipment: ShipmentState, info: ShipmentInfo | None, *, newer: bool) -> ShipmentState:
    """The shipment with the carrier, tracking and promised date the event carries, when they are the shop's newest
    word (`newer`); a promised date becoming known, or later, arms the delay watch while the parcel is on its way."""
    if info is None or not newer:
        return shipment
    update: dict[str, object] = {
        name: value
        for name, value in (
            ("carrier", info.carrier),
            ("tracking_number", info.tracking_number),
            ("tracking_url", info.tracking_url),
        )
        if value is not None
    }
    promised = info.promised_delivery_at
    if promised is not None and promised != shipment.promised_delivery_at:
        update["promised_delivery_at"] = promised
        known = shipment.promised_delivery_at
        if (known is None or promised > known) and shipment.status in ON_THE_WAY:
            update["delay_apology_due"] = True
    return shipment.model_copy(update=update) if update else shipment
