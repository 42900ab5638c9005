"""How the agents' API shows a contact's orders and the notifications sent about them (GET /contacts/{id}/orders,
GET /contacts/{id}/notifications, and the requester's recent orders on GET /tickets/{id}): the facts an agent
answers "where is my order?" with, apart from the state the order processor keeps (orders/state.py), so that
either can change without the other."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from switchboard.models import NotifyChannel
from switchboard.notifications.models import Category, ChannelTry, Notification, NotificationState
from switchboard.orders.events import OrderEventType, OrderSource
from switchboard.orders.state import OrderState, ShipmentState

# The ticket read shows the requester's newest orders, at most this many: what an agent glances at beside the
# customer's message (the whole history is GET /contacts/{contact_id}/orders).
REQUESTER_ORDERS = 5


class ShipmentView(BaseModel):
    id: str
    status: OrderEventType = Field(description="The shipment.* event it last moved to, e.g. shipment.in_transit")
    carrier: str | None
    tracking_number: str | None
    tracking_url: str | None
    promised_delivery_at: datetime | None = Field(description="When the shop promised delivery")
    delivered_at: datetime | None
    updated_at: datetime = Field(description="When the shop's event that last moved it happened")


class OrderView(BaseModel):
    order_key: str = Field(description="<source>#<shop>#<order id>: the order across shops and sources")
    source: OrderSource
    shop: str
    order_id: str
    number: str | None = Field(description="What the customer calls the order, e.g. 1042")
    status: OrderEventType | None = Field(description="The order.*, return.* or refund.* event it last moved to")
    placed_at: datetime | None
    shipments: list[ShipmentView] = Field(description="In the order the shop's events first named them")
    updated_at: datetime


class OrderPage(BaseModel):
    orders: list[OrderView] = Field(description="The contact's orders, newest first")
    next_cursor: str | None = Field(description="Pass back as `cursor` for the next page; null on the last one")


class NotificationView(BaseModel):
    id: str
    order_key: str
    order_id: str
    order_number: str | None
    event_type: OrderEventType = Field(description="What it told the customer, e.g. shipment.out_for_delivery")
    category: Category
    state: NotificationState = Field(description="queued, sending, sent, unknown, skipped or failed")
    channel: NotifyChannel | None = Field(description="The channel that finally carried it")
    delivery_status: str | None = Field(description="From the provider's receipts: sent, delivered, read, failed")
    deferred_reason: str | None = Field(description="Why a queued one waits: quiet_hours, paced or retry")
    due_at: datetime = Field(description="When it is (or was) due to be sent")
    created_at: datetime
    tries: list[ChannelTry] = Field(description="Each channel tried, in order, and what came of it")
    ticket_id: str | None = Field(description="The open ticket it was also posted on")


class NotificationPage(BaseModel):
    notifications: list[NotificationView] = Field(description="The contact's notifications, newest first")
    next_cursor: str | None = Field(description="Pass back as `cursor` for the next page; null on the last one")


def order_view(order: OrderState) -> OrderView:
    return OrderView(
        order_key=order.order_key,
        source=order.source,
        shop=order.shop,
        order_id=order.order_id,
        number=order.number,
        status=order.status,
        placed_at=order.placed_at,
        shipments=[shipment_view(shipment) for shipment in order.shipments.values()],
        updated_at=order.updated_at,
    )


def shipment_view(shipment: ShipmentState) -> ShipmentView:
    return ShipmentView.model_validate(shipment.model_dump(include=set(ShipmentView.model_fields)))


def notification_view(notification: Notification) -> NotificationView:
    # The view's fields are the notification's, but for `tries` (its tries_by_channel, as the API names them).
    fields = notification.model_dump(include=set(NotificationView.model_fields))
    return NotificationView.model_validate({**fields, "tries": notification.tries_by_channel})
