"""Shopify's order webhooks: the proof over the raw body, every topic and FulfillmentEventStatus onto Switchboard's
event types, who the order is for, and the intake's answers (verify before anything is read; ignored, duplicate,
accepted).

The signature vector was computed with `openssl dgst -sha256 -hmac hush -binary | base64` over VECTOR_BODY,
independently of the code under test ("hush" is the secret of Shopify's old Python verification example). Shopify
publishes no (secret, body, digest) triple of its own: its pages show a header value alone
(https://help.shopify.com/en/api/reference/events/webhook, 2019-04: "X-Shopify-Hmac-Sha256:
XWmrwMey6OsLMeiZKwP4FppHH3cmAiiJJAweH5Jo4bM="), without the secret and body that made it.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.errors import InvalidSignature, MalformedPayload
from switchboard.http_request import WebhookRequest
from switchboard.orders import shopify
from switchboard.orders.events import OrderEvent, OrderEventType, OrderSource
from switchboard.orders.intake import accept_order_event
from switchboard.orders.queue import OrderEventQueue, read
from tests.support.hostile import deep_nesting, huge_numbers, random_json
from tests.support.lambda_events import HttpResponse, http_api_event

E = OrderEventType
NOW = datetime(2026, 12, 3, 0, 0, tzinfo=UTC)
SECRET = "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"
SHOP = "min-store.myshopify.com"
EVENT_ID = "98880550-7158-44d4-b7cd-2c97c8a091b5"
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/switchboard-dev-OrderEventsQueue.fifo"

VECTOR_SECRET = "hush"
VECTOR_BODY = (
    b'{"id":820982911946154508,"email":"jon@example.com","name":"#9999","order_number":9999,'
    b'"created_at":"2021-12-31T19:00:00-05:00"}'
)
VECTOR_DIGEST = "nh8mW1OoTjtUtezOoT/eAwi//J0fgkffM2U8dkM88r8="

# Shaped like Shopify's REST Admin Order resource, as the orders/* topics deliver it.
ORDER: dict[str, Any] = {
    "id": 5101234567890,
    "name": "#1042",
    "order_number": 1042,
    "email": "min@example.com",
    "phone": "+82 10-1234-5678",
    "created_at": "2026-12-01T20:11:00+09:00",
    "updated_at": "2026-12-01T20:12:00+09:00",
    "cancelled_at": None,
    "customer_locale": "ko",
    "currency": "KRW",
    "current_total_price": "59000",
    "customer": {"id": 7700, "email": "min@example.com", "phone": None, "first_name": "민준", "last_name": "김"},
    "shipping_address": {"first_name": "민준", "last_name": "김", "phone": "010-1234-5678", "country_code": "KR"},
}
# The Fulfillment resource, as fulfillments/create and fulfillments/update deliver it.
FULFILLMENT: dict[str, Any] = {
    "id": 4512345678901,
    "order_id": 5101234567890,
    "name": "#1042.1",
    "status": "success",
    "shipment_status": None,
    "created_at": "2026-12-02T10:00:00+09:00",
    "updated_at": "2026-12-02T10:00:00+09:00",
    "tracking_company": "CJ대한통운",
    "tracking_number": None,
    "tracking_numbers": ["6543210987"],
    "tracking_url": None,
    "tracking_urls": ["https://trace.cjlogistics.com/next/tracking.html?wblNo=6543210987"],
    "email": "min@example.com",
    "destination": {"first_name": "민준", "last_name": "김", "phone": "+821012345678", "country_code": "KR"},
}
# The FulfillmentEvent resource, as fulfillment_events/create delivers it.
FULFILLMENT_EVENT: dict[str, Any] = {
    "id": 944956395,
    "fulfillment_id": 4512345678901,
    "order_id": 5101234567890,
    "shop_id": 690933842,
    "status": "in_transit",
    "message": "Package left the hub",
    "happened_at": "2026-12-03T09:00:00+09:00",
    "estimated_delivery_at": "2026-12-04T18:00:00+09:00",
    "created_at": "2026-12-03T09:01:00+09:00",
    "updated_at": "2026-12-03T09:01:00+09:00",
}
REFUND: dict[str, Any] = {"id": 509562969, "order_id": 5101234567890, "created_at": "2026-12-05T10:00:00+09:00"}


def encoded(payload: dict[str, Any] | bytes) -> bytes:
    return payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()


def headers(topic: str, body: bytes, *, secret: str = SECRET, **more: str) -> dict[str, str]:
    return {
        "x-shopify-topic": topic,
        "x-shopify-shop-domain": SHOP,
        "x-shopify-event-id": EVENT_ID,
        "x-shopify-webhook-id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        "x-shopify-triggered-at": "2026-12-03T00:00:00.123456789Z",
        "x-shopify-hmac-sha256": shopify.signature_of(secret, body),
        **{name.replace("_", "-"): value for name, value in more.items()},
    }


def request(topic: str, payload: dict[str, Any] | bytes, **more: str) -> WebhookRequest:
    body = encoded(payload)
    return WebhookRequest(
        method="POST", path="/webhooks/shopify", headers=headers(topic, body, **more), query={}, body=body
    )


def parsed(topic: str, payload: dict[str, Any] | bytes, **more: str) -> OrderEvent | None:
    return shopify.parse(request(topic, payload, **more), received_at=NOW)


def event(topic: str, payload: dict[str, Any] | bytes, **more: str) -> OrderEvent:
    order_event = parsed(topic, payload, **more)
    assert order_event is not None
    return order_event


class SentMessages:
    """The SQS client of an OrderEventQueue: keeps what it was sent."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def send_message(self, **message: Any) -> dict[str, Any]:
        self.messages.append(message)
        return {"MessageId": f"m-{len(self.messages)}"}


def deliver(
    topic: str, body: bytes, *, signed_with: str = SECRET, seen: set[str] | None = None, **more: str
) -> tuple[HttpResponse, SentMessages]:
    sqs = SentMessages()
    lambda_event = http_api_event(
        method="POST",
        path="/webhooks/shopify",
        route_key="POST /webhooks/shopify",
        headers={"content-type": "application/json", **headers(topic, body, secret=signed_with, **more)},
        body=body,
    )
    known = seen or set()
    response = accept_order_event(
        lambda_event,
        secrets_of=lambda source: {"client_secret": SECRET} if source is OrderSource.SHOPIFY else {},
        queue=OrderEventQueue(sqs, QUEUE_URL),
        seen=lambda key: key in known,
        now=NOW,
    )
    return HttpResponse.of(response), sqs


# -- the proof -------------------------------------------------------------------------------------


def test_the_signature_is_base64_hmac_sha256_of_the_raw_body_under_the_client_secret():
    # Given the vector computed with openssl, apart from this code
    # When Switchboard computes the header for the same secret and bytes
    # Then it is the same value
    assert shopify.signature_of(VECTOR_SECRET, VECTOR_BODY) == VECTOR_DIGEST


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed here")
def test_openssl_computes_the_same_signature_for_a_korean_body():
    # Given a body with Korean text, as Shopify sends it (UTF-8 bytes)
    body = encoded(FULFILLMENT)
    # When openssl computes Shopify's header over those bytes
    digest = subprocess.run(
        ["openssl", "dgst", "-sha256", "-hmac", SECRET, "-binary"], input=body, capture_output=True, check=True
    ).stdout
    # Then Switchboard's value is the same
    assert shopify.signature_of(SECRET, body) == base64.b64encode(digest).decode()


def test_a_delivery_signed_with_the_client_secret_is_verified():
    shopify.verify(request("orders/create", ORDER), {"client_secret": SECRET})


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        (lambda r: r.model_copy(update={"body": r.body.replace(b"5101234567890", b"5101234567891")}), "does not match"),
        (lambda r: r.model_copy(update={"headers": {**r.headers, "x-shopify-hmac-sha256": ""}}), "missing"),
        (
            lambda r: r.model_copy(update={"headers": {**r.headers, "x-shopify-hmac-sha256": "A" * 44}}),
            "does not match",
        ),
    ],
    ids=["tampered body", "no signature", "forged signature"],
)
def test_a_delivery_without_a_genuine_signature_is_refused(change, refusal):
    # Given an order delivery whose body or signature is not what Shopify signed
    forged = change(request("orders/create", ORDER))
    # When it is verified
    with pytest.raises(InvalidSignature) as refused:
        shopify.verify(forged, {"client_secret": SECRET})
    # Then it is refused, and the refusal says why without quoting anything
    assert refusal in refused.value.message


def test_a_secret_rotated_within_the_hour_still_verifies_until_it_is_removed():
    # Given a delivery Shopify still signs with the previous secret, an hour after the rotation at most
    signed_before = request("orders/create", ORDER, secret="shpss_previous_secret_value_0000000")
    # When the new secret is current and the previous one is still listed
    shopify.verify(signed_before, {"client_secret": SECRET, "client_secrets": ["shpss_previous_secret_value_0000000"]})
    # Then it is verified, and once the previous one is removed it is not
    with pytest.raises(InvalidSignature):
        shopify.verify(signed_before, {"client_secret": SECRET})


def test_a_shop_with_its_own_custom_app_is_proven_by_its_own_secret_only():
    # Given a shop configured with its own app's secret beside the public app's
    secrets = {"client_secret": SECRET, "accounts": {SHOP: {"client_secret": "shpss_custom_app_of_min_store_000"}}}
    # When a delivery for that shop is signed with the public app's secret
    # Then it is refused: the public app does not speak for that shop
    with pytest.raises(InvalidSignature):
        shopify.verify(request("orders/create", ORDER), secrets)
    # And one signed with the shop's own secret is verified
    shopify.verify(request("orders/create", ORDER, secret="shpss_custom_app_of_min_store_000"), secrets)


def test_without_a_configured_secret_nothing_verifies():
    with pytest.raises(InvalidSignature, match="no client secret"):
        shopify.verify(request("orders/create", ORDER), {})


# -- the mapping -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("orders/create", E.ORDER_PLACED),
        ("orders/paid", E.ORDER_PAID),
        ("orders/cancelled", E.ORDER_CANCELLED),
    ],
)
def test_each_order_topic_becomes_its_event_type(topic, expected):
    assert event(topic, ORDER).type is expected


def test_a_refund_becomes_refund_issued_on_its_order():
    # Given Shopify's refunds/create for order 5101234567890
    refund = event("refunds/create", REFUND)
    # Then it is refund.issued on that order, naming no customer (the order's contact is known from before)
    assert (refund.type, refund.order.id, refund.order.customer.phone) == (E.REFUND_ISSUED, "5101234567890", None)
    assert refund.occurred_at == datetime.fromisoformat("2026-12-05T10:00:00+09:00")


@pytest.mark.parametrize(("status", "expected"), sorted(shopify.FULFILLMENT_EVENT_STATUSES.items()))
def test_every_fulfillment_event_status_maps_as_the_table_says(status, expected):
    # Given a fulfillment event with the status, in the REST payload's lower case and the GraphQL enum's upper case
    for spelling in (status, status.upper()):
        # When it is parsed
        order_event = parsed("fulfillment_events/create", {**FULFILLMENT_EVENT, "status": spelling})
        # Then it becomes the table's type, or nothing at all (acknowledged, never queued)
        assert (order_event.type if order_event else None) is expected


def test_the_table_covers_every_value_of_shopifys_enum():
    # Shopify's FulfillmentEventStatus (Admin GraphQL, 2026-01) and the unstable API's PICKED_UP.
    documented = {
        "ATTEMPTED_DELIVERY", "CARRIER_PICKED_UP", "CONFIRMED", "DELAYED", "DELIVERED", "FAILURE", "IN_TRANSIT",
        "LABEL_PRINTED", "LABEL_PURCHASED", "OUT_FOR_DELIVERY", "READY_FOR_PICKUP", "PICKED_UP",
    }  # fmt: skip
    assert {status.upper() for status in shopify.FULFILLMENT_EVENT_STATUSES} == documented


def test_a_fulfillment_event_is_a_step_of_its_fulfillment_with_the_promised_date():
    # Given Shopify's fulfillment_events/create: in transit, estimated for the 4th
    in_transit = event("fulfillment_events/create", FULFILLMENT_EVENT)
    # Then it is that shipment's in_transit, when it happened, with the carrier's estimate as the promised date
    assert in_transit.type is E.SHIPMENT_IN_TRANSIT
    assert in_transit.shipment is not None and in_transit.shipment.id == "4512345678901"
    assert in_transit.shipment.promised_delivery_at == datetime.fromisoformat("2026-12-04T18:00:00+09:00")
    assert in_transit.occurred_at == datetime.fromisoformat("2026-12-03T09:00:00+09:00")
    assert (in_transit.order.id, in_transit.provider_status) == (
        "5101234567890",
        "fulfillment_events/create:in_transit",
    )


def test_a_new_fulfillment_is_a_shipment_created_with_its_carrier_and_tracking():
    # Given fulfillments/create with its tracking in Shopify's lists and no shipment status yet
    created = event("fulfillments/create", FULFILLMENT)
    # Then it is shipment.created, with the carrier, the first tracking number and URL, for order 1042
    assert created.type is E.SHIPMENT_CREATED
    assert created.shipment is not None
    assert (created.shipment.carrier, created.shipment.tracking_number, created.shipment.tracking_url) == (
        "CJ대한통운",
        "6543210987",
        "https://trace.cjlogistics.com/next/tracking.html?wblNo=6543210987",
    )
    assert (created.order.id, created.order.number) == ("5101234567890", "1042")
    # And the customer is who it ships to
    assert (created.order.customer.name, created.order.customer.phone, created.order.customer.email) == (
        "김민준",
        "+821012345678",
        "min@example.com",
    )


@pytest.mark.parametrize(
    ("topic", "shipment_status", "status", "expected"),
    [
        ("fulfillments/create", "in_transit", "success", E.SHIPMENT_IN_TRANSIT),
        ("fulfillments/create", "picked_up", "success", E.SHIPMENT_CREATED),
        ("fulfillments/create", None, "cancelled", None),
        ("fulfillments/update", "delivered", "success", E.SHIPMENT_DELIVERED),
        ("fulfillments/update", "OUT_FOR_DELIVERY", "success", E.SHIPMENT_OUT_FOR_DELIVERY),
        ("fulfillments/update", None, "success", E.SHIPMENT_CREATED),
        ("fulfillments/update", "picked_up", "success", None),
        ("fulfillments/update", "some_future_status", "success", None),
        ("fulfillments/update", "delivered", "cancelled", None),
        ("fulfillments/update", "in_transit", "failure", None),
    ],
)
def test_a_fulfillment_topic_maps_by_its_shipment_status(topic, shipment_status, status, expected):
    # Given a fulfillment in some state
    payload = {**FULFILLMENT, "shipment_status": shipment_status, "status": status}
    # When it is parsed
    order_event = parsed(topic, payload)
    # Then a mapped status is its step; a new fulfillment without one is created; an update without one refreshes the
    # tracking facts as created (never news twice); an unmapped update, a cancelled or failed fulfillment: nothing
    assert (order_event.type if order_event else None) is expected


def test_a_topic_switchboard_does_not_map_is_ignored_before_its_body_is_read():
    assert parsed("products/update", b"not even json") is None


# -- who the order is for --------------------------------------------------------------------------


def test_an_order_names_its_customer_the_korean_way_with_the_phone_for_notifications():
    # Given orders/create of a Korean customer (locale ko), phone typed with spaces and dashes
    placed = event("orders/create", ORDER)
    customer = placed.order.customer
    # Then the name is family name first with no space, the phone E.164, and the shop's customer id kept
    assert (customer.id, customer.name, customer.phone, customer.email, customer.locale) == (
        "7700",
        "김민준",
        "+821012345678",
        "min@example.com",
        "ko",
    )
    assert (placed.order.number, placed.order.total, placed.order.currency) == ("1042", "59000", "KRW")
    assert placed.order.placed_at == datetime.fromisoformat("2026-12-01T20:11:00+09:00")


def test_an_english_name_is_first_then_last_and_a_national_number_is_not_guessed():
    # Given an order in English whose only phones are national numbers
    order = {
        **ORDER,
        "customer_locale": "en-US",
        "phone": None,
        "customer": {"id": 1, "first_name": "Jon", "last_name": "Snow", "phone": "555-625-1199"},
    }
    customer = event("orders/create", order).order.customer
    # Then the name reads "Jon Snow", and no phone is offered: "010-1234-5678" could be any country's
    assert (customer.name, customer.phone) == ("Jon Snow", None)


@pytest.mark.parametrize(
    ("first", "last", "locale", "expected"),
    [
        ("민준", "김", "ko-KR", "김민준"),
        ("민준", "김", None, "김민준"),
        ("Minjun", "Kim", "ko", "KimMinjun"),
        ("Minjun", "Kim", "en", "Minjun Kim"),
        ("민준", None, "ko", "민준"),
        (None, None, "ko", None),
    ],
)
def test_display_names(first, last, locale, expected):
    assert shopify.display_name(first, last, locale) == expected


def test_a_name_longer_than_the_model_takes_is_cut_not_refused():
    long_name = {**ORDER, "customer": {**ORDER["customer"], "first_name": "민" * 500}}
    assert len(event("orders/create", long_name).order.customer.name or "") == 200


def test_a_tracking_link_that_is_not_a_web_address_is_left_out():
    sneaky = {**FULFILLMENT, "tracking_urls": ["javascript:alert(1)"]}
    shipment = event("fulfillments/create", sneaky).shipment
    assert shipment is not None and shipment.tracking_url is None


# -- deduplication and time ------------------------------------------------------------------------


def test_a_redelivery_is_the_same_event_and_another_topic_of_the_same_action_is_not():
    # Given one merchant action (checkout) producing orders/create and orders/paid under one X-Shopify-Event-Id
    placed, placed_again = event("orders/create", ORDER), event("orders/create", ORDER)
    paid = event("orders/paid", ORDER)
    # Then a redelivery of orders/create has its deduplication key, and orders/paid has its own
    assert placed.dedup_key == placed_again.dedup_key == f"shopify#{SHOP}#orders/create:5101234567890:{EVENT_ID}"
    assert paid.dedup_key != placed.dedup_key
    # And both are the same order
    assert placed.order_key == paid.order_key == f"shopify#{SHOP}#5101234567890"


def test_without_an_event_id_the_delivery_id_deduplicates_and_without_either_it_is_malformed():
    no_event_id = event("orders/create", ORDER, x_shopify_event_id="")
    assert no_event_id.event_id == "orders/create:5101234567890:b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"
    with pytest.raises(MalformedPayload, match="X-Shopify-Event-Id"):
        parsed("orders/create", ORDER, x_shopify_event_id="", x_shopify_webhook_id="")


def test_a_payment_happened_when_shopify_triggered_its_delivery():
    # The REST Order has no paid-at time; X-Shopify-Triggered-At (nanoseconds and Z) is the closest
    assert event("orders/paid", ORDER).occurred_at == datetime(2026, 12, 3, 0, 0, 0, 123456, tzinfo=UTC)


def test_a_time_outside_unix_time_is_not_taken_and_the_next_best_is():
    # Given a fulfillment event whose happened_at could not be moved to UTC
    odd = {**FULFILLMENT_EVENT, "happened_at": "0001-01-01T00:00:00+14:00"}
    # Then when Shopify triggered its delivery is when it happened
    assert event("fulfillment_events/create", odd).occurred_at == datetime(2026, 12, 3, 0, 0, 0, 123456, tzinfo=UTC)


def test_a_cancellation_happened_at_cancelled_at():
    cancelled = {**ORDER, "cancelled_at": "2026-12-02T08:00:00+09:00"}
    assert event("orders/cancelled", cancelled).occurred_at == datetime.fromisoformat("2026-12-02T08:00:00+09:00")


@pytest.mark.parametrize(
    ("topic", "payload", "field"),
    [
        ("orders/create", {**ORDER, "id": None}, "id"),
        ("fulfillments/create", {**FULFILLMENT, "order_id": "🙂" * 200}, "order_id"),
        ("fulfillment_events/create", {**FULFILLMENT_EVENT, "fulfillment_id": None}, "fulfillment_id"),
        ("refunds/create", {"id": 1}, "order_id"),
    ],
)
def test_a_payload_without_its_ids_is_malformed_and_the_error_names_the_field(topic, payload, field):
    with pytest.raises(MalformedPayload) as refused:
        parsed(topic, payload)
    assert f"{field} is missing" in refused.value.message and "🙂" not in refused.value.message


def test_a_body_that_is_not_a_json_object_or_a_delivery_without_its_shop_is_malformed():
    with pytest.raises(MalformedPayload):
        parsed("orders/create", b"[1, 2]")
    with pytest.raises(MalformedPayload, match="X-Shopify-Shop-Domain"):
        parsed("orders/create", ORDER, x_shopify_shop_domain="")


# -- through the intake ----------------------------------------------------------------------------


def test_a_genuine_delivery_is_accepted_and_queued_per_order():
    # Given Shopify's fulfillment event, signed
    response, sqs = deliver("fulfillment_events/create", encoded(FULFILLMENT_EVENT))
    # Then it is accepted, and one message is queued in its order's group
    assert (response.status, response.json()) == (202, {"accepted": True})
    (message,) = sqs.messages
    queued = read(message["MessageBody"])
    assert (queued.source, queued.type, queued.order.id) == (
        OrderSource.SHOPIFY,
        E.SHIPMENT_IN_TRANSIT,
        "5101234567890",
    )
    assert message["QueueUrl"] == QUEUE_URL


def test_a_forged_delivery_is_refused_before_its_body_is_read():
    # Given a body that is not even JSON, signed with a secret that is not ours
    response, sqs = deliver("orders/create", b"{not json", signed_with="not-the-secret")
    # Then the answer is 401 (not 400: nothing was parsed), and nothing is queued
    assert (response.status, response.json()["error"]) == (401, "invalid_signature")
    assert sqs.messages == []


def test_a_verified_delivery_that_tells_the_customer_nothing_is_acknowledged_and_not_queued():
    response, sqs = deliver("fulfillment_events/create", encoded({**FULFILLMENT_EVENT, "status": "picked_up"}))
    assert (response.status, response.json()) == (200, {"ignored": True})
    assert sqs.messages == []


def test_an_event_already_processed_is_answered_as_a_duplicate_and_not_queued_again():
    # Given the event's record exists (the processor applied it)
    processed = {f"shopify#{SHOP}#orders/create:5101234567890:{EVENT_ID}"}
    # When Shopify retries it
    response, sqs = deliver("orders/create", encoded(ORDER), seen=processed)
    # Then it is answered as a duplicate and nothing is queued
    assert (response.status, response.json()) == (200, {"duplicate": True})
    assert sqs.messages == []


def test_a_body_over_the_cap_is_refused_before_it_is_hashed():
    response, sqs = deliver("orders/create", b" " * (shopify.MAX_BODY_BYTES + 1), signed_with="whatever")
    assert (response.status, response.json()["error"]) == (413, "payload_too_large")
    assert sqs.messages == []


# -- hostile payloads ------------------------------------------------------------------------------

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=80),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)


@st.composite
def mutated_payloads(draw: st.DrawFn) -> bytes:
    """A real payload of some topic with some of its fields replaced by anything JSON can hold."""
    payload = draw(st.sampled_from([ORDER, FULFILLMENT, FULFILLMENT_EVENT, REFUND]))
    changes = draw(st.dictionaries(st.sampled_from(sorted(payload)), _json_values, max_size=4))
    return encoded({**payload, **changes})


@settings(max_examples=300, deadline=None)
@given(
    topic=st.sampled_from(shopify.TOPICS),
    body=st.one_of(mutated_payloads(), random_json, deep_nesting, huge_numbers),
)
def test_any_signed_body_is_an_event_an_acknowledgement_or_a_400_never_a_crash(topic, body):
    # Given any body at all, signed with the app's secret, under a topic Switchboard maps
    # When it is delivered
    response, sqs = deliver(topic, body)
    # Then it is queued (202), acknowledged without queueing (200), or refused as malformed (400, 413 past the cap)
    assert response.status in (200, 202, 400, 413), response
    assert len(sqs.messages) == (1 if response.status == 202 else 0)
