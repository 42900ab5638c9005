"""The one model every shop event becomes, whichever door it came through (docs/notifications.md, "The status
mapping"): Shopify's webhooks, the signed generic endpoint and the EventBridge bus all yield an `OrderEvent`."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_ID_CHARS = 128
MAX_NAME_CHARS = 200
MAX_URL_CHARS = 2048


class OrderEventType(StrEnum):
    ORDER_PLACED = "order.placed"
    ORDER_PAID = "order.paid"
    ORDER_CANCELLED = "order.cancelled"
    SHIPMENT_CREATED = "shipment.created"
    SHIPMENT_IN_TRANSIT = "shipment.in_transit"
    SHIPMENT_OUT_FOR_DELIVERY = "shipment.out_for_delivery"
    SHIPMENT_ATTEMPTED_DELIVERY = "shipment.attempted_delivery"
    SHIPMENT_DELIVERED = "shipment.delivered"
    SHIPMENT_FAILURE = "shipment.failure"
    SHIPMENT_DELAYED = "shipment.delayed"
    SHIPMENT_READY_FOR_PICKUP = "shipment.ready_for_pickup"
    RETURN_RECEIVED = "return.received"
    REFUND_ISSUED = "refund.issued"

    @property
    def is_shipment(self) -> bool:
        return self.value.startswith("shipment.")


class OrderSource(StrEnum):
    SHOPIFY = "shopify"
    GENERIC = "generic"  # POST /orders/events
    EVENTBRIDGE = "eventbridge"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OrderCustomer(_Model):
    """Who the order is for, as the shop knows them: how Switchboard finds (or makes) the contact."""

    id: str | None = Field(default=None, max_length=MAX_ID_CHARS, description="The shop's own customer id")
    phone: str | None = Field(default=None, max_length=32, description="E.164, e.g. +821012345678")
    email: str | None = Field(default=None, max_length=320)
    name: str | None = Field(default=None, max_length=MAX_NAME_CHARS)
    locale: str | None = Field(default=None, max_length=35, description="BCP 47, e.g. ko-KR")
    timezone: str | None = Field(default=None, max_length=64, description="IANA, e.g. Asia/Seoul")


class OrderInfo(_Model):
    id: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    number: str | None = Field(default=None, max_length=MAX_ID_CHARS, description="What the customer calls it")
    placed_at: datetime | None = None
    customer: OrderCustomer = Field(default_factory=OrderCustomer)
    total: str | None = Field(default=None, max_length=32, description="Decimal as text, e.g. 59000")
    currency: str | None = Field(default=None, max_length=3)


class ShipmentInfo(_Model):
    id: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    carrier: str | None = Field(default=None, max_length=MAX_NAME_CHARS)
    tracking_number: str | None = Field(default=None, max_length=MAX_ID_CHARS)
    tracking_url: str | None = Field(default=None, max_length=MAX_URL_CHARS)
    promised_delivery_at: datetime | None = None

    @field_validator("tracking_url")
    @classmethod
    def _web_url(cls, value: str | None) -> str | None:
        # It is put into messages to customers: only a web link, never javascript: or a local path.
        if value is not None and not value.lower().startswith(("https://", "http://")):
            raise ValueError("tracking_url must be an http(s) URL")
        return value


class OrderEvent(_Model):
    """One shop event, normalized. `event_id` is unique per source and shop: the deduplication key."""

    source: OrderSource
    shop: str = Field(
        min_length=1, max_length=255, description="The shop's domain (Shopify) or the account name of the key"
    )
    event_id: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    type: OrderEventType
    occurred_at: datetime
    order: OrderInfo
    shipment: ShipmentInfo | None = None
    # What the provider called it (Shopify's topic and FulfillmentEventStatus): for the audit and the docs' table.
    provider_status: str | None = Field(default=None, max_length=64)

    @field_validator("occurred_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("occurred_at needs a time zone offset")
        return value

    @property
    def order_key(self) -> str:
        """The order across sources: the shop's order id within the shop."""
        return f"{self.source.value}#{self.shop}#{self.order.id}"

    @property
    def dedup_key(self) -> str:
        return f"{self.source.value}#{self.shop}#{self.event_id}"


AcceptResult = Literal["accepted", "duplicate"]
