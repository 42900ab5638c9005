"""Shopify's order and fulfillment webhooks (POST /webhooks/shopify): the proof, and each topic as an `OrderEvent`.

The proof. "Each HTTPS delivery includes a base64-encoded HMAC signature in the X-Shopify-Hmac-SHA256 header,
generated using your app's client secret and the raw request body" (Shopify, "Verify webhook deliveries",
https://shopify.dev/docs/apps/build/webhooks/verify-deliveries): computed here over the bytes as received (a
re-serialized body would not match) and compared in constant time. After a rotation "it can take up to an hour for
the HMAC digest to be generated using the new secret" (same page), so the secret may list earlier ones:

    {"client_secret": "<current>", "client_secrets": ["<previous>"],
     "accounts": {"other-shop.myshopify.com": {"client_secret": "<that shop's custom app>"}}}

A shop under "accounts" (a custom app made in that shop's admin has its own secret) is proven by its own secrets
only; every other shop by the top-level ones (a public app's one client secret).

The headers read (Shopify, "Webhooks delivery structure", https://shopify.dev/docs/apps/build/webhooks/delivery-structure):
`X-Shopify-Topic` ("The topic name"), `X-Shopify-Shop-Domain` ("The myshopify.com domain of the store that triggered
the event"), `X-Shopify-Event-Id` ("A unique ID shared across all deliveries produced by the same merchant action";
"the same value across more than one webhook indicates a duplicate", "Ignore duplicate webhooks",
https://shopify.dev/docs/apps/build/webhooks/ignore-duplicates), `X-Shopify-Webhook-Id` ("A unique composite key per
delivery", used when no event id came) and `X-Shopify-Triggered-At` ("Timestamp of when Shopify triggered the
delivery"). One merchant action can produce several deliveries under one event id (an order created and paid at
checkout: orders/create and orders/paid; one action fulfilling two fulfillment orders), so an event's id here is
topic + resource id + that event id: a retried delivery, or a second subscription to the topic, repeats all three.

The topics and what they become (docs/notifications.md, "The status mapping"):

| topic                       | payload (REST Admin resource)   | becomes                                                    |
|-----------------------------|---------------------------------|------------------------------------------------------------|
| orders/create               | Order                           | order.placed                                               |
| orders/paid                 | Order                           | order.paid                                                 |
| orders/cancelled            | Order                           | order.cancelled                                            |
| refunds/create              | Refund (order_id)               | refund.issued                                              |
| fulfillments/create         | Fulfillment                     | its shipment_status mapped, else shipment.created          |
| fulfillments/update         | Fulfillment                     | its shipment_status mapped; none: shipment.created (the carrier or tracking changed; never news twice) |
| fulfillment_events/create   | FulfillmentEvent                | its status mapped                                          |

A verified delivery that maps to nothing (another topic, a status `FULFILLMENT_EVENT_STATUSES` maps to None or does
not list, a cancelled or failed fulfillment) is acknowledged and never queued: Shopify would otherwise retry it for
hours, and it tells the customer nothing.

Customer data is never logged; errors name fields, never their values.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from switchboard.errors import InvalidSignature, MalformedPayload
from switchboard.http_request import WebhookRequest, read_json
from switchboard.orders.events import (
    MAX_ID_CHARS,
    MAX_NAME_CHARS,
    MAX_URL_CHARS,
    OrderCustomer,
    OrderEvent,
    OrderEventType,
    OrderInfo,
    OrderSource,
    ShipmentInfo,
)
from switchboard.orders.generic import plausible_instant
from switchboard.proof import ChannelSecrets, same_secret

HMAC_HEADER = "x-shopify-hmac-sha256"
TOPIC_HEADER = "x-shopify-topic"
SHOP_HEADER = "x-shopify-shop-domain"
EVENT_ID_HEADER = "x-shopify-event-id"
WEBHOOK_ID_HEADER = "x-shopify-webhook-id"
TRIGGERED_AT_HEADER = "x-shopify-triggered-at"
# An order with hundreds of line items, each with its properties, discounts and tax lines, runs to hundreds of KB.
# Hashing and parsing 2 MiB takes milliseconds; API Gateway passes up to 10 MB and Lambda 6 MB.
MAX_BODY_BYTES = 2 * 1024 * 1024
MAX_SECRETS = 5  # the current client secret and a few earlier ones, while Shopify moves to the new one
MAX_SHOP_CHARS = 255
MAX_STATUS_CHARS = 64

E = OrderEventType

# Shopify's FulfillmentEventStatus (Admin GraphQL enum, https://shopify.dev/docs/api/admin-graphql/latest/enums/FulfillmentEventStatus),
# which REST payloads (a Fulfillment's `shipment_status`, a FulfillmentEvent's `status`) write in lower case: the one
# table. CONFIRMED is "the default value when no other information is available"; a label purchased or printed is a
# parcel being prepared: all three say the shipment exists. CARRIER_PICKED_UP ("the carrier has successfully
# collected the fulfillment", new in API version 2025-10, https://shopify.dev/changelog/new-carrier-picked-up-fulfillment-status)
# starts the journey. PICKED_UP is in the Customer API and the Admin API's unstable version only ("The fulfillment was
# successfully picked up"), as are the Customer API's newer values: ignored, never guessed, until Admin documents them.
FULFILLMENT_EVENT_STATUSES: dict[str, OrderEventType | None] = {
    "confirmed": E.SHIPMENT_CREATED,
    "label_purchased": E.SHIPMENT_CREATED,
    "label_printed": E.SHIPMENT_CREATED,
    "carrier_picked_up": E.SHIPMENT_IN_TRANSIT,
    "in_transit": E.SHIPMENT_IN_TRANSIT,
    "out_for_delivery": E.SHIPMENT_OUT_FOR_DELIVERY,
    "attempted_delivery": E.SHIPMENT_ATTEMPTED_DELIVERY,
    "ready_for_pickup": E.SHIPMENT_READY_FOR_PICKUP,
    "delayed": E.SHIPMENT_DELAYED,
    "delivered": E.SHIPMENT_DELIVERED,
    "failure": E.SHIPMENT_FAILURE,
    "picked_up": None,
}

ORDER_TOPICS: dict[str, OrderEventType] = {
    "orders/create": E.ORDER_PLACED,
    "orders/paid": E.ORDER_PAID,
    "orders/cancelled": E.ORDER_CANCELLED,
}
REFUND_TOPIC = "refunds/create"
FULFILLMENT_CREATED = "fulfillments/create"
FULFILLMENT_UPDATED = "fulfillments/update"
FULFILLMENT_EVENT_CREATED = "fulfillment_events/create"
TOPICS = (*ORDER_TOPICS, REFUND_TOPIC, FULFILLMENT_CREATED, FULFILLMENT_UPDATED, FULFILLMENT_EVENT_CREATED)
# A Fulfillment's own `status` (pending, open, success, cancelled, error, failure; REST Admin API, Fulfillment): a
# fulfillment cancelled, or whose request failed, ships nothing, whatever its shipment_status says.
_FULFILLMENTS_THAT_SHIP_NOTHING = frozenset({"cancelled", "error", "failure"})
# When each topic's event happened, by the payload's own field; else X-Shopify-Triggered-At, else when it came.
_OCCURRED_AT_FIELD = {
    "orders/create": "created_at",
    "orders/paid": None,  # the REST Order has no paid-at time: the delivery's trigger is closest
    "orders/cancelled": "cancelled_at",
    REFUND_TOPIC: "created_at",
    FULFILLMENT_CREATED: "created_at",
    FULFILLMENT_UPDATED: "updated_at",
    FULFILLMENT_EVENT_CREATED: "happened_at",
}
_E164 = re.compile(r"\+[1-9][0-9]{7,14}")
_PHONE_SEPARATORS = str.maketrans("", "", " -().")


def verify(request: WebhookRequest, secrets: ChannelSecrets) -> None:
    """Raises InvalidSignature unless X-Shopify-Hmac-Sha256 is the HMAC of the raw body under one of the shop's
    client secrets. Every secret is tried, so the time taken does not tell which one came close."""
    presented = (request.header(HMAC_HEADER) or "").strip()
    if not presented:
        raise InvalidSignature("missing X-Shopify-Hmac-Sha256 header")
    candidates = client_secrets_of(secrets, request.header(SHOP_HEADER))
    if not candidates:
        raise InvalidSignature("no client secret is configured for Shopify")
    matches = [same_secret(signature_of(secret, request.body), presented) for secret in candidates]
    if not any(matches):
        raise InvalidSignature("X-Shopify-Hmac-Sha256 does not match the body")


def signature_of(client_secret: str, body: bytes) -> str:
    """What Shopify puts in X-Shopify-Hmac-Sha256: base64 of HMAC-SHA256(client secret, raw body)."""
    return base64.b64encode(hmac.new(client_secret.encode(), body, hashlib.sha256).digest()).decode()


def client_secrets_of(secrets: ChannelSecrets, shop: str | None) -> list[str]:
    """The secrets that may have signed a delivery for `shop`: its own under "accounts" when it has some, else the
    top-level ones; each the current `client_secret`, then the earlier `client_secrets`."""
    accounts = secrets.get("accounts")
    own = accounts.get((shop or "").strip().lower()) if isinstance(accounts, Mapping) else None
    holder = own if isinstance(own, Mapping) else secrets
    earlier = holder.get("client_secrets")
    listed = [holder.get("client_secret"), *(earlier[:MAX_SECRETS] if isinstance(earlier, list) else [])]
    return [secret for secret in dict.fromkeys(s for s in listed if isinstance(s, str) and s)][:MAX_SECRETS]


def parse(request: WebhookRequest, *, received_at: datetime) -> OrderEvent | None:
    """The delivery as an OrderEvent, or None when Shopify tells of nothing the customer hears about. Raises
    MalformedPayload (naming the field, never its value) when the headers or the payload are not Shopify's."""
    topic = (request.header(TOPIC_HEADER) or "").strip().lower()
    if not topic:
        raise MalformedPayload("missing X-Shopify-Topic header")
    shop = _shop_of(request)
    if topic not in TOPICS:
        return None
    payload = read_json(request.body)
    if not isinstance(payload, dict):
        raise MalformedPayload(f"not a Shopify {topic} payload: the body is not a JSON object")
    mapped = _event_type(topic, payload)
    if mapped is None:
        return None
    event_type, provider_status = mapped
    occurred_at = _occurred_at(topic, payload, request.header(TRIGGERED_AT_HEADER)) or received_at
    try:
        return OrderEvent(
            source=OrderSource.SHOPIFY,
            shop=shop,
            event_id=_event_id(request, topic, _required_id(payload, "id", topic)),
            type=event_type,
            occurred_at=occurred_at,
            order=_order_of(topic, payload),
            shipment=_shipment_of(topic, payload),
            provider_status=provider_status[:MAX_STATUS_CHARS],
        )
    except ValidationError as exc:
        # Every field is bounded before it gets here; this is a shape no Shopify payload has.
        fields = sorted({".".join(map(str, error["loc"])) for error in exc.errors()})[:5]
        raise MalformedPayload(f"not a Shopify {topic} payload: unusable {', '.join(fields)}") from None


def status_type(status: str | None) -> OrderEventType | None:
    """A FulfillmentEventStatus in either spelling (IN_TRANSIT, in_transit) as an event type; None when the table
    maps it to nothing or does not list it."""
    if not status or len(status) > MAX_STATUS_CHARS:
        return None
    return FULFILLMENT_EVENT_STATUSES.get(status.strip().lower())


def display_name(first: str | None, last: str | None, locale: str | None) -> str | None:
    """The customer's name as they write it: family name first and no space in Korean ("김" + "민준" -> "김민준"),
    for a Korean locale or a name in Hangul; "first last" otherwise."""
    first, last = _clipped(first, MAX_NAME_CHARS), _clipped(last, MAX_NAME_CHARS)
    if first and last:
        korean = _is_korean(locale) or (_is_hangul(first) and _is_hangul(last))
        name = f"{last}{first}" if korean else f"{first} {last}"
    else:
        name = first or last or ""
    return name[:MAX_NAME_CHARS] or None


def _shop_of(request: WebhookRequest) -> str:
    shop = (request.header(SHOP_HEADER) or "").strip().lower()
    if not shop:
        raise MalformedPayload("missing X-Shopify-Shop-Domain header")
    if len(shop) > MAX_SHOP_CHARS:
        raise MalformedPayload(f"X-Shopify-Shop-Domain is longer than {MAX_SHOP_CHARS} characters")
    return shop


def _event_type(topic: str, payload: Mapping[str, Any]) -> tuple[OrderEventType, str] | None:
    """What the topic and the payload's status say happened, and Shopify's own words for it; None for nothing."""
    if topic in ORDER_TOPICS:
        return ORDER_TOPICS[topic], topic
    if topic == REFUND_TOPIC:
        return E.REFUND_ISSUED, topic
    if topic == FULFILLMENT_EVENT_CREATED:
        status = _text(payload.get("status"), MAX_STATUS_CHARS)
        mapped = status_type(status)
        return (mapped, f"{topic}:{status}") if mapped else None
    if (_text(payload.get("status"), MAX_STATUS_CHARS) or "").lower() in _FULFILLMENTS_THAT_SHIP_NOTHING:
        return None
    shipment_status = _text(payload.get("shipment_status"), MAX_STATUS_CHARS)
    if shipment_status is None:
        return E.SHIPMENT_CREATED, topic
    mapped = status_type(shipment_status)
    if mapped is None:
        # A fulfillment made is a shipment created whatever Shopify calls its state; an update to a state the table
        # does not map is not guessed at.
        return (E.SHIPMENT_CREATED, f"{topic}:{shipment_status}") if topic == FULFILLMENT_CREATED else None
    return mapped, f"{topic}:{shipment_status}"


def _event_id(request: WebhookRequest, topic: str, resource_id: str) -> str:
    shopify_event = _text(request.header(EVENT_ID_HEADER), MAX_ID_CHARS) or _text(
        request.header(WEBHOOK_ID_HEADER), MAX_ID_CHARS
    )
    if not shopify_event:
        raise MalformedPayload("missing X-Shopify-Event-Id header")
    event_id = f"{topic}:{resource_id}:{shopify_event}"
    # Within OrderEvent's bound whatever the ids: a longer one is hashed (the same delivery, the same hash).
    return event_id if len(event_id) <= MAX_ID_CHARS else "sha256:" + hashlib.sha256(event_id.encode()).hexdigest()


def _order_of(topic: str, payload: Mapping[str, Any]) -> OrderInfo:
    if topic in ORDER_TOPICS:
        return OrderInfo(
            id=_required_id(payload, "id", topic),
            number=_order_number(_text(payload.get("name"), MAX_ID_CHARS)) or _text(payload.get("order_number"), 32),
            placed_at=_instant(payload.get("created_at")),
            customer=_order_customer(payload),
            total=_text(payload.get("current_total_price"), 32) or _text(payload.get("total_price"), 32),
            currency=_currency(payload.get("currency")),
        )
    order_id = _required_id(payload, "order_id", topic)
    if topic in (FULFILLMENT_CREATED, FULFILLMENT_UPDATED):
        # A fulfillment is named after its order: "#1001.1" is the first of order #1001 (REST Admin API, Fulfillment).
        name = _text(payload.get("name"), MAX_ID_CHARS)
        return OrderInfo(
            id=order_id,
            number=_order_number(name.rpartition(".")[0] if name and "." in name else name),
            customer=_fulfillment_customer(payload),
        )
    # A FulfillmentEvent and a Refund name their order and nothing of the customer: the order's contact is known
    # from its earlier events.
    return OrderInfo(id=order_id)


def _shipment_of(topic: str, payload: Mapping[str, Any]) -> ShipmentInfo | None:
    if topic == FULFILLMENT_EVENT_CREATED:
        return ShipmentInfo(
            id=_required_id(payload, "fulfillment_id", topic),
            promised_delivery_at=_instant(payload.get("estimated_delivery_at")),
        )
    if topic not in (FULFILLMENT_CREATED, FULFILLMENT_UPDATED):
        return None
    numbers = payload.get("tracking_numbers")
    urls = payload.get("tracking_urls")
    return ShipmentInfo(
        id=_required_id(payload, "id", topic),
        carrier=_clipped(payload.get("tracking_company"), MAX_NAME_CHARS),
        tracking_number=_text(payload.get("tracking_number"), MAX_ID_CHARS)
        or (_text(numbers[0], MAX_ID_CHARS) if isinstance(numbers, list) and numbers else None),
        tracking_url=_web_url(payload.get("tracking_url"))
        or (_web_url(urls[0]) if isinstance(urls, list) and urls else None),
        promised_delivery_at=_instant(payload.get("estimated_delivery_at")),
    )


def _order_customer(order: Mapping[str, Any]) -> OrderCustomer:
    """Who an Order is for: its customer (id, name), the phone it gave for notifications (else the customer's, else
    the shipping address's), its email (else the customer's), and `customer_locale`."""
    customer = _object(order, "customer")
    shipping = _object(order, "shipping_address")
    locale = _text(order.get("customer_locale"), 35)
    first, last = (
        _clipped(customer.get("first_name"), MAX_NAME_CHARS),
        _clipped(customer.get("last_name"), MAX_NAME_CHARS),
    )
    if not first and not last:
        first = _clipped(shipping.get("first_name"), MAX_NAME_CHARS)
        last = _clipped(shipping.get("last_name"), MAX_NAME_CHARS)
    return OrderCustomer(
        id=_text(customer.get("id"), MAX_ID_CHARS),
        phone=_first_e164(order.get("phone"), customer.get("phone"), shipping.get("phone")),
        email=_email(order.get("email")) or _email(order.get("contact_email")) or _email(customer.get("email")),
        name=display_name(first, last, locale),
        locale=locale,
    )


def _fulfillment_customer(fulfillment: Mapping[str, Any]) -> OrderCustomer:
    """A Fulfillment's `email` and its `destination` (the address it ships to: name and phone)."""
    destination = _object(fulfillment, "destination")
    return OrderCustomer(
        phone=_first_e164(destination.get("phone")),
        email=_email(fulfillment.get("email")),
        name=display_name(destination.get("first_name"), destination.get("last_name"), None),
    )


def _occurred_at(topic: str, payload: Mapping[str, Any], triggered_at: str | None) -> datetime | None:
    field = _OCCURRED_AT_FIELD.get(topic)
    return (
        (_instant(payload.get(field)) if field else None)
        or _instant(triggered_at)
        or _instant(payload.get("updated_at"))
        or _instant(payload.get("created_at"))
    )


def _required_id(payload: Mapping[str, Any], field: str, topic: str) -> str:
    value = _text(payload.get(field), MAX_ID_CHARS)
    if value is None:
        raise MalformedPayload(f"not a Shopify {topic} payload: {field} is missing or not an id")
    return value


def _text(value: Any, limit: int) -> str | None:
    """A string or integer field as text, trimmed; None when absent, empty, another type, or longer than `limit`
    (an identifier cut short would name something else)."""
    if isinstance(value, int) and not isinstance(value, bool):
        # A number of hundreds of digits is no id (and str() refuses one of thousands).
        value = str(value) if value.bit_length() <= 256 else None
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value if value and len(value) <= limit else None


def _clipped(value: Any, limit: int) -> str | None:
    """A descriptive text (a name, a carrier) cut to `limit` rather than dropped."""
    if not isinstance(value, str):
        return None
    return value.strip()[:limit].strip() or None


def _object(payload: Mapping[str, Any], field: str) -> Mapping[str, Any]:
    value = payload.get(field)
    return value if isinstance(value, dict) else {}


def _instant(value: Any) -> datetime | None:
    """An ISO 8601 time with an offset (Shopify's "2024-03-07T15:50:00-05:00") in a plausible year, else None: a
    time without one is ambiguous, and no field of a payload is worth refusing the delivery for."""
    if not isinstance(value, str) or not value or len(value) > 64:
        return None
    try:
        instant = datetime.fromisoformat(value.strip())
        return plausible_instant(instant) if instant.tzinfo is not None else None
    except ValueError:
        return None


def _first_e164(*phones: Any) -> str | None:
    """The first phone that is an E.164 number once the separators people type are dropped: only such a number finds
    the contact (PHONE#<E.164>) and reaches them. A national number ("010-1234-5678") is not guessed at."""
    for phone in phones:
        if isinstance(phone, str) and len(phone) <= 32:
            number = phone.strip().translate(_PHONE_SEPARATORS)
            if _E164.fullmatch(number):
                return number
    return None


def _email(value: Any) -> str | None:
    address = _text(value, 320)
    return address if address and "@" in address else None


def _currency(value: Any) -> str | None:
    code = _text(value, 3)
    return code if code and len(code) == 3 else None


def _web_url(value: Any) -> str | None:
    url = _text(value, MAX_URL_CHARS)
    return url if url and url.lower().startswith(("https://", "http://")) else None


def _order_number(name: str | None) -> str | None:
    """What the customer calls the order: its name without Shopify's default "#" ("#1001" -> "1001"; a shop's own
    prefix, "KR-1001", stays)."""
    number = name[1:] if name and name.startswith("#") else name
    return number or None


def _is_korean(locale: str | None) -> bool:
    language = (locale or "").strip().lower().replace("_", "-")
    return language == "ko" or language.startswith("ko-")


def _is_hangul(text: str) -> bool:
    # Hangul syllables (U+AC00-U+D7A3): a name written in them is written family name first.
    return all("\uac00" <= char <= "\ud7a3" for char in text)
