"""POST /orders/events: any shop backend (Cafe24, a home-grown system) posts its order and shipment events, signed.

The proof is Stripe's scheme ("Verify signatures manually", https://docs.stripe.com/webhooks#verify-manually), the
one Switchboard's own SLA webhooks use (sla/notify.py):

    X-Switchboard-Timestamp: <unix seconds>
    X-Switchboard-Signature: v1=<hex HMAC-SHA256(signing key, "<timestamp>." + raw body)>

The timestamp is signed with the body, and one more than 5 minutes from our clock either way is refused, so a
captured request cannot be replayed later. Several `v1=` values, comma-separated, are accepted: a shop signs with its
old and new key while it moves to the new one. The secret (OrdersSecretArn) holds

    {"signing_key": "<current>", "signing_keys": ["<still accepted while senders move over>"], "shop": "<name>",
     "accounts": {"<another shop>": {"signing_key": "...", "signing_keys": [...]}}}

The key that proves a request names the shop whose events they are: the top-level keys are `shop` (else
"default"), each entry under "accounts" the shop it is filed under. A body never names its own shop here.

The body (docs/notifications.md, "The generic endpoint"): `GenericOrderEventBody`. The shapes may grow, so fields
Switchboard does not know are ignored at every level; those it knows keep their meaning and are checked, and a 400
lists every problem found, each with its field and never the value posted.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from switchboard.errors import InvalidSignature, MalformedPayload
from switchboard.http_request import WebhookRequest, read_json
from switchboard.orders.events import (
    MAX_ID_CHARS,
    OrderCustomer,
    OrderEvent,
    OrderEventType,
    OrderInfo,
    OrderSource,
    ShipmentInfo,
)
from switchboard.proof import ChannelSecrets, every_account, same_secret

TIMESTAMP_HEADER = "x-switchboard-timestamp"
SIGNATURE_HEADER = "x-switchboard-signature"
SIGNATURE_SCHEME = "v1"
# Stripe's default tolerance between a signature's timestamp and the receiver's clock (stripe-python, Webhook).
TOLERANCE_SECONDS = 300
# One event: its fields are bounded (orders/events.py) to a few KB; unknown fields a shop adds fit many times over.
MAX_BODY_BYTES = 64 * 1024
MAX_SIGNATURES = 10
MAX_KEYS = 5  # per shop: the current key and a few still accepted while senders move over
MIN_KEY_CHARS = 32  # a shorter "key" is a password, not a key: never accepted
DEFAULT_SHOP = "default"
MAX_SHOP_CHARS = 255
MAX_PROBLEMS = 10
# Shop events happen in Unix time: an instant outside these years is a mistake, and one near datetime's ends cannot
# even be moved to UTC (OverflowError) by the processor and the scheduler that compare it with the clock.
EARLIEST_YEAR, LATEST_YEAR = 1970, 2999


def plausible_instant(value: datetime) -> datetime:
    """An instant with an offset that converts to UTC within EARLIEST_YEAR..LATEST_YEAR; ValueError otherwise."""
    try:
        year = value.astimezone(UTC).year
    except OverflowError:
        year = 0
    if not EARLIEST_YEAR <= year <= LATEST_YEAR:
        raise ValueError(f"a time between the years {EARLIEST_YEAR} and {LATEST_YEAR} is expected")
    return value


Instant = Annotated[AwareDatetime, AfterValidator(plausible_instant)]


class _Customer(OrderCustomer):
    model_config = ConfigDict(frozen=True, extra="ignore")


class _Order(OrderInfo):
    model_config = ConfigDict(frozen=True, extra="ignore")

    placed_at: Instant | None = None
    customer: _Customer = Field(default_factory=_Customer)


class _Shipment(ShipmentInfo):
    model_config = ConfigDict(frozen=True, extra="ignore")

    # Compared with the clock to find a late delivery: a time without an offset would be a guess.
    promised_delivery_at: Instant | None = None


class GenericOrderEventBody(BaseModel):
    """What a shop posts (and puts on the bus as `detail`): the fields of `OrderEvent` the shop knows."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: str = Field(
        min_length=1, max_length=MAX_ID_CHARS, description="Unique within the shop; send it again on a retry"
    )
    type: OrderEventType
    occurred_at: Instant
    order: _Order
    shipment: _Shipment | None = None
    provider_status: str | None = Field(
        default=None, max_length=64, description="The shop's or its carrier's own word for it (an AfterShip tag)"
    )


def sign(body: bytes, key: str, timestamp: int | str) -> str:
    """The X-Switchboard-Signature value for `body` sent at `timestamp` (Unix seconds): what a shop's code computes."""
    digest = hmac.new(key.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_SCHEME}={digest}"


def verify(request: WebhookRequest, secrets: ChannelSecrets, *, now: datetime) -> str:
    """The shop whose key signed the request; InvalidSignature for a missing, stale or wrong proof. Every key is
    tried against every signature offered, so the time taken does not tell which came close."""
    stamp = (request.header(TIMESTAMP_HEADER) or "").strip()
    # Bounded: Unix seconds have 10 digits until 2286.
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 11:
        raise InvalidSignature("X-Switchboard-Timestamp must be the time of signing in Unix seconds")
    if abs(now.timestamp() - int(stamp)) > TOLERANCE_SECONDS:
        raise InvalidSignature(f"X-Switchboard-Timestamp is more than {TOLERANCE_SECONDS // 60} minutes from now")
    offered = _offered_signatures(request.header(SIGNATURE_HEADER))
    if not offered:
        raise InvalidSignature("X-Switchboard-Signature must hold v1=<hex HMAC-SHA256>")
    shops = signing_keys_by_shop(secrets)
    if not shops:
        raise InvalidSignature("no signing key is configured for POST /orders/events")
    proven: str | None = None
    for shop, keys in shops:
        for key in keys:
            expected = sign(request.body, key, stamp)
            if any([same_secret(expected, candidate) for candidate in offered]) and proven is None:
                proven = shop
    if proven is None:
        raise InvalidSignature("X-Switchboard-Signature does not match the timestamp and body")
    return proven


def signing_keys_by_shop(secrets: ChannelSecrets) -> list[tuple[str, list[str]]]:
    """Each shop and the keys that may sign its events (`signing_key`, then `signing_keys`); shops without a usable
    key are left out."""
    shops: list[tuple[str, list[str]]] = []
    for account_id, account in every_account(secrets):
        shop = account_id if account_id is not None else str(account.get("shop") or DEFAULT_SHOP)
        if account_id is not None:
            # An account's keys are its own: the top-level ones are another shop's.
            account = _own_settings(secrets, account_id)
        earlier = account.get("signing_keys")
        listed = [account.get("signing_key"), *(earlier[:MAX_KEYS] if isinstance(earlier, list) else [])]
        keys = [k for k in dict.fromkeys(listed) if isinstance(k, str) and len(k) >= MIN_KEY_CHARS][:MAX_KEYS]
        if keys and 0 < len(shop) <= MAX_SHOP_CHARS:
            shops.append((shop, keys))
    return shops


def parse(body: bytes, *, shop: str) -> OrderEvent:
    """The posted body as an OrderEvent of `shop`; MalformedPayload listing every problem (field and what is wrong)."""
    document = read_json(body)
    if not isinstance(document, dict):
        raise MalformedPayload("the body must be a JSON object: an order event")
    return event_of(document, source=OrderSource.GENERIC, shop=shop)


def event_of(document: Mapping[str, Any], *, source: OrderSource, shop: str) -> OrderEvent:
    """A generic body (posted, or an EventBridge event's detail) as the OrderEvent of `shop` from `source`."""
    try:
        posted = GenericOrderEventBody.model_validate(document)
    except ValidationError as exc:
        raise invalid_event(exc) from None
    return OrderEvent(
        source=source,
        shop=shop,
        event_id=posted.event_id,
        type=posted.type,
        occurred_at=posted.occurred_at,
        order=OrderInfo.model_validate(posted.order.model_dump()),
        shipment=ShipmentInfo.model_validate(posted.shipment.model_dump()) if posted.shipment else None,
        provider_status=posted.provider_status,
    )


def invalid_event(exc: ValidationError) -> MalformedPayload:
    """A 400 that says what to fix: every problem's field and pydantic's words for it. The values posted are left out
    (they are the customer's phone, email and name)."""
    problems = [
        {"field": ".".join(str(part) for part in error["loc"]) or "body", "problem": str(error["msg"])[:400]}
        for error in exc.errors(include_url=False, include_input=False)[:MAX_PROBLEMS]
    ]
    summary = "; ".join(f"{problem['field']}: {problem['problem']}" for problem in problems[:3])
    more = f" (and {exc.error_count() - 3} more)" if exc.error_count() > 3 else ""
    error = MalformedPayload(f"not an order event: {summary}{more}")
    error.details["problems"] = problems
    return error


def _offered_signatures(header: str | None) -> list[str]:
    """The v1 values of X-Switchboard-Signature ("v1=<hex>,v1=<hex>"); other schemes are not ours."""
    offered = []
    for part in (header or "")[:2048].split(",")[:MAX_SIGNATURES]:
        scheme, _, value = part.strip().partition("=")
        if scheme == SIGNATURE_SCHEME and value:
            offered.append(f"{SIGNATURE_SCHEME}={value.strip()}")
    return offered


def _own_settings(secrets: ChannelSecrets, account_id: str) -> Mapping[str, Any]:
    accounts = secrets.get("accounts")
    own = accounts.get(account_id) if isinstance(accounts, Mapping) else None
    return own if isinstance(own, Mapping) else {}
