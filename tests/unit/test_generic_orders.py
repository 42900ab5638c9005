"""POST /orders/events: Stripe's signature scheme over "<timestamp>." + body with a 5-minute window and several keys,
the body of the issue (unknown fields ignored, every problem listed), and the copy-paste signing examples of the docs
run as they are written, in Python and with curl and openssl, against the intake on 127.0.0.1.

The signature vector was computed with `openssl dgst -sha256 -hmac <key> -hex` over "<timestamp>.<body>",
independently of the code under test.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.errors import InvalidSignature, MalformedPayload
from switchboard.http_request import WebhookRequest
from switchboard.orders import generic
from switchboard.orders.events import OrderEventType, OrderSource
from switchboard.orders.intake import accept_order_event
from switchboard.orders.queue import OrderEventQueue, read
from tests.support.hostile import deep_nesting, huge_numbers, random_json
from tests.support.lambda_events import HttpResponse, http_api_event

E = OrderEventType
KEY = "whsk_8f2c1e0b7a6d5c4b3a2f1e0d9c8b7a6f"
NEXT_KEY = "whsk_0a1b2c3d4e5f60718293a4b5c6d7e8f9"
NOW = datetime(2025, 12, 3, 1, 0, tzinfo=UTC)  # 1764723600
STAMP = int(NOW.timestamp())
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/switchboard-dev-OrderEventsQueue.fifo"

VECTOR_BODY = b'{"event_id":"evt_01J","type":"shipment.in_transit"}'
VECTOR_SIGNATURE = "v1=b83aa633ae0013eceafddbb5ae2be6a06a1b85b7ee17c926995ff42329c17784"

# The issue's example, as a shop posts it.
EXAMPLE: dict[str, Any] = {
    "event_id": "evt_01JEXAMPLE",
    "type": "shipment.in_transit",
    "occurred_at": "2026-12-03T09:00:00+09:00",
    "order": {
        "id": "A-1042",
        "number": "1042",
        "placed_at": "2026-12-01T20:11:00+09:00",
        "customer": {
            "id": "cus_77",
            "phone": "+821012345678",
            "email": "min@example.com",
            "name": "김민준",
            "locale": "ko-KR",
            "timezone": "Asia/Seoul",
        },
    },
    "shipment": {
        "id": "S-1",
        "carrier": "CJ대한통운",
        "tracking_number": "6543210987",
        "tracking_url": "https://trace.cjlogistics.com/next/tracking.html?wblNo=6543210987",
        "promised_delivery_at": "2026-12-04T18:00:00+09:00",
    },
}

# docs/notifications.md, "The generic endpoint", as /tmp/brief/h2-signing.md gives it: run below as written.
PYTHON_EXAMPLE = '''
import hashlib
import hmac
import json
import time
import urllib.request

API = "https://abc123.execute-api.ap-northeast-2.amazonaws.com"  # your ApiBaseUrl
SIGNING_KEY = "..."  # signing_key of the orders secret


def send_order_event(event: dict) -> dict:
    """POST one event, signed; answers {"accepted": true} (202) or {"duplicate": true} (200)."""
    body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    timestamp = str(int(time.time()))
    digest = hmac.new(SIGNING_KEY.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(
        f"{API}/orders/events",
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-Switchboard-Timestamp": timestamp,
            "X-Switchboard-Signature": f"v1={digest}",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)
'''
# The curl example after its first line (which sets API and KEY).
CURL_EXAMPLE = """
ts=$(date +%s)
sig=$( { printf '%s.' "$ts"; cat event.json; } | openssl dgst -sha256 -hmac "$KEY" -hex | sed 's/^.* //')
curl -sS -X POST "$API/orders/events" -H 'Content-Type: application/json' \\
  -H "X-Switchboard-Timestamp: $ts" -H "X-Switchboard-Signature: v1=$sig" --data-binary @event.json
"""


def body_of(document: dict[str, Any] | bytes) -> bytes:
    return document if isinstance(document, bytes) else json.dumps(document, ensure_ascii=False).encode()


def signed(body: bytes, *, timestamp: int | str = STAMP, signature: str | None = None) -> WebhookRequest:
    return WebhookRequest(
        method="POST",
        path="/orders/events",
        headers={
            "x-switchboard-timestamp": str(timestamp),
            "x-switchboard-signature": signature if signature is not None else generic.sign(body, KEY, timestamp),
        },
        query={},
        body=body,
    )


class SentMessages:
    """The SQS client of an OrderEventQueue: keeps what it was sent."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def send_message(self, **message: Any) -> dict[str, Any]:
        self.messages.append(message)
        return {"MessageId": f"m-{len(self.messages)}"}


def post(
    body: bytes, request_headers: dict[str, str], *, sqs: SentMessages, now: datetime, secrets: dict[str, Any]
) -> HttpResponse:
    lambda_event = http_api_event(
        method="POST", path="/orders/events", route_key="POST /orders/events", headers=request_headers, body=body
    )
    return HttpResponse.of(
        accept_order_event(
            lambda_event,
            secrets_of=lambda source: secrets if source is OrderSource.GENERIC else {},
            queue=OrderEventQueue(sqs, QUEUE_URL),
            seen=lambda key: False,
            now=now,
        )
    )


def deliver(document: dict[str, Any] | bytes, **signing: Any) -> tuple[HttpResponse, SentMessages]:
    body = body_of(document)
    request = signed(body, **signing)
    sqs = SentMessages()
    response = post(
        body, {"content-type": "application/json", **request.headers}, sqs=sqs, now=NOW, secrets={"signing_key": KEY}
    )
    return response, sqs


# -- the proof -------------------------------------------------------------------------------------


def test_the_signature_is_hex_hmac_sha256_of_timestamp_dot_body():
    # Given the vector computed with openssl, apart from this code
    # Then Switchboard's signature of the same timestamp and body is the same
    assert generic.sign(VECTOR_BODY, KEY, 1764723600) == VECTOR_SIGNATURE


def test_a_request_signed_with_the_key_now_names_the_secrets_shop():
    body = body_of(EXAMPLE)
    assert generic.verify(signed(body), {"signing_key": KEY, "shop": "min-store"}, now=NOW) == "min-store"
    assert generic.verify(signed(body), {"signing_key": KEY}, now=NOW) == "default"


@pytest.mark.parametrize("skew", [timedelta(seconds=-300), timedelta(seconds=300), timedelta(0)])
def test_a_timestamp_within_five_minutes_either_way_is_accepted(skew):
    generic.verify(signed(VECTOR_BODY), {"signing_key": KEY}, now=NOW + skew)


@pytest.mark.parametrize("skew", [timedelta(seconds=-301), timedelta(seconds=301), timedelta(days=2)])
def test_a_timestamp_more_than_five_minutes_away_is_refused_even_when_signed(skew):
    # Given a request genuinely signed at STAMP, replayed (or sent from a clock gone wrong)
    # When it arrives more than 5 minutes away from its timestamp
    # Then it is refused
    with pytest.raises(InvalidSignature, match="5 minutes"):
        generic.verify(signed(VECTOR_BODY), {"signing_key": KEY}, now=NOW + skew)


@pytest.mark.parametrize(
    "timestamp", ["", "17647236OO", "-1764723600", "1764723600.5", "99999999999999999999", "١٧٦٤٧٢٣٦٠٠"]
)
def test_a_timestamp_that_is_not_unix_seconds_is_refused(timestamp):
    with pytest.raises(InvalidSignature):
        generic.verify(
            signed(VECTOR_BODY, timestamp=timestamp, signature=VECTOR_SIGNATURE), {"signing_key": KEY}, now=NOW
        )


def test_the_timestamp_is_signed_with_the_body():
    # Given a genuine signature, moved to a fresher timestamp to get past the window
    moved = signed(VECTOR_BODY, timestamp=STAMP + 600, signature=VECTOR_SIGNATURE)
    # Then the signature no longer matches
    with pytest.raises(InvalidSignature, match="does not match"):
        generic.verify(moved, {"signing_key": KEY}, now=NOW + timedelta(seconds=600))


def test_while_rotating_either_key_and_either_of_two_signatures_verifies():
    old_signature = generic.sign(VECTOR_BODY, KEY, STAMP)
    new_signature = generic.sign(VECTOR_BODY, NEXT_KEY, STAMP)
    rotating = {"signing_key": NEXT_KEY, "signing_keys": [KEY]}
    # A sender still on the old key, one on the new key, and one sending both signatures
    for header in (old_signature, new_signature, f"{old_signature}, {new_signature}", f"v0=abc,{new_signature}"):
        generic.verify(signed(VECTOR_BODY, signature=header), rotating, now=NOW)
    # Once the old key is removed, its signature alone is refused
    with pytest.raises(InvalidSignature):
        generic.verify(signed(VECTOR_BODY, signature=old_signature), {"signing_key": NEXT_KEY}, now=NOW)


def test_each_shop_is_proven_by_its_own_key_and_a_body_cannot_claim_another_shop():
    # Given two shops with their own keys
    secrets = {"signing_key": KEY, "shop": "min-store", "accounts": {"cafe24-shop": {"signing_key": NEXT_KEY}}}
    # When cafe24-shop signs an event whose body says it is min-store's
    body = body_of({**EXAMPLE, "shop": "min-store"})
    request = signed(body, signature=generic.sign(body, NEXT_KEY, STAMP))
    # Then the key decides: the event is cafe24-shop's
    shop = generic.verify(request, secrets, now=NOW)
    assert shop == "cafe24-shop"
    assert generic.parse(body, shop=shop).order_key == "generic#cafe24-shop#A-1042"


@pytest.mark.parametrize(
    "secrets", [{}, {"signing_key": ""}, {"signing_key": "too-short-to-be-a-key"}, {"signing_keys": "not a list"}]
)
def test_without_a_usable_key_nothing_verifies(secrets):
    with pytest.raises(InvalidSignature, match="no signing key"):
        generic.verify(signed(VECTOR_BODY), secrets, now=NOW)


@pytest.mark.parametrize("header", ["", "v1=", "sha256=" + "0" * 64, VECTOR_SIGNATURE.upper(), "v1=" + "0" * 64])
def test_a_missing_malformed_or_wrong_signature_is_refused(header):
    with pytest.raises(InvalidSignature):
        generic.verify(signed(VECTOR_BODY, signature=header), {"signing_key": KEY}, now=NOW)


# -- the body --------------------------------------------------------------------------------------


def test_the_issues_example_becomes_the_shops_order_event_with_every_field_kept():
    event = generic.parse(body_of(EXAMPLE), shop="min-store")
    assert (event.source, event.shop, event.event_id, event.type) == (
        OrderSource.GENERIC,
        "min-store",
        "evt_01JEXAMPLE",
        E.SHIPMENT_IN_TRANSIT,
    )
    assert event.occurred_at == datetime(2026, 12, 3, 0, 0, tzinfo=UTC)
    customer = event.order.customer
    assert (customer.id, customer.phone, customer.email, customer.name, customer.locale, customer.timezone) == (
        "cus_77",
        "+821012345678",
        "min@example.com",
        "김민준",
        "ko-KR",
        "Asia/Seoul",
    )
    assert event.shipment is not None
    assert (event.shipment.id, event.shipment.carrier, event.shipment.tracking_number) == (
        "S-1",
        "CJ대한통운",
        "6543210987",
    )
    assert event.shipment.promised_delivery_at == datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    assert (event.order_key, event.dedup_key) == ("generic#min-store#A-1042", "generic#min-store#evt_01JEXAMPLE")


def test_fields_switchboard_does_not_know_are_ignored_at_every_level():
    # Given the example with fields of a later version of the scheme, at the top and inside
    grown = {
        **EXAMPLE,
        "schema_version": 2,
        "order": {**EXAMPLE["order"], "channel": "app", "customer": {**EXAMPLE["order"]["customer"], "tier": "gold"}},
        "shipment": {**EXAMPLE["shipment"], "weight_grams": 1200},
    }
    # Then it is the same event
    assert generic.parse(body_of(grown), shop="min-store") == generic.parse(body_of(EXAMPLE), shop="min-store")


def test_every_problem_is_listed_with_its_field_and_no_value_is_echoed():
    # Given an event with an unknown type, a time without an offset, no order id and a script for a tracking link
    broken = {
        **EXAMPLE,
        "type": "shipment.teleported",
        "occurred_at": "2026-12-03T09:00:00",
        "order": {**EXAMPLE["order"], "id": ""},
        "shipment": {**EXAMPLE["shipment"], "tracking_url": "javascript:alert('+821012345678')"},
    }
    # When it is parsed
    with pytest.raises(MalformedPayload) as refused:
        generic.parse(body_of(broken), shop="min-store")
    # Then the error names each field and what is wrong, and quotes nothing posted
    problems = refused.value.details["problems"]
    assert [problem["field"] for problem in problems] == ["type", "occurred_at", "order.id", "shipment.tracking_url"]
    assert "order.placed" in problems[0]["problem"]  # the allowed types are listed
    assert "+821012345678" not in json.dumps(problems) + refused.value.message


@pytest.mark.parametrize(
    "promised", ["2026-12-04T18:00:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "1969-07-20T20:17Z"]
)
def test_a_promised_date_without_an_offset_or_outside_unix_time_is_refused(promised):
    # Given a promised date the scheduler could not compare with its clock (no offset, or not movable to UTC)
    odd = {**EXAMPLE, "shipment": {**EXAMPLE["shipment"], "promised_delivery_at": promised}}
    # Then the event is refused, naming that field
    with pytest.raises(MalformedPayload) as refused:
        generic.parse(body_of(odd), shop="min-store")
    assert [p["field"] for p in refused.value.details["problems"]] == ["shipment.promised_delivery_at"]


@pytest.mark.parametrize("body", [b"[]", b'"event"', b"{", b"\xff\xfe"])
def test_a_body_that_is_not_a_json_object_is_malformed(body):
    with pytest.raises(MalformedPayload):
        generic.parse(body, shop="min-store")


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=80),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
_times = st.datetimes(timezones=st.timezones()).map(lambda moment: moment.isoformat())


@st.composite
def mutated_examples(draw: st.DrawFn) -> bytes:
    """The issue's example with some fields, at the top or inside, replaced by anything JSON can hold or any time."""
    document = json.loads(json.dumps(EXAMPLE))
    for path in draw(st.lists(st.sampled_from(_PATHS), max_size=4)):
        *parents, name = path
        holder = document
        for parent in parents:
            holder = holder.setdefault(parent, {}) if isinstance(holder, dict) else {}
        if isinstance(holder, dict):
            holder[name] = draw(st.one_of(_json_values, _times))
    return body_of(document)


_PATHS = [
    ("event_id",), ("type",), ("occurred_at",), ("order",), ("shipment",), ("order", "id"), ("order", "placed_at"),
    ("order", "customer"), ("order", "customer", "phone"), ("order", "customer", "name"), ("shipment", "id"),
    ("shipment", "tracking_url"), ("shipment", "promised_delivery_at"),
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(body=st.one_of(mutated_examples(), random_json, deep_nesting, huge_numbers))
def test_any_body_is_an_event_the_processor_can_use_or_a_400(body):
    # Given any body a shop's code might post
    try:
        event = generic.parse(body, shop="min-store")
    except MalformedPayload:
        return  # Then it is refused as malformed, or else:
    # it survives the queue unchanged, and each of its instants converts to UTC for the scheduler's clock
    assert read(OrderEventQueue.read(event.model_dump_json()).model_dump_json()) == event
    moments = [
        event.occurred_at,
        event.order.placed_at,
        event.shipment.promised_delivery_at if event.shipment else None,
    ]
    assert all(moment.astimezone(UTC).year >= 1970 for moment in moments if moment is not None)


# -- through the intake ----------------------------------------------------------------------------


def test_a_signed_event_is_accepted_and_queued_and_a_bad_one_is_answered_with_its_problems():
    response, sqs = deliver(EXAMPLE)
    assert (response.status, response.json()) == (202, {"accepted": True})
    assert read(sqs.messages[0]["MessageBody"]) == generic.parse(body_of(EXAMPLE), shop="default")

    response, sqs = deliver({**EXAMPLE, "order": {"number": "1042"}})
    assert response.status == 400
    assert response.json()["error"] == "malformed_payload"
    assert response.json()["problems"] == [{"field": "order.id", "problem": "Field required"}]
    assert sqs.messages == []


def test_a_stale_request_is_refused_before_its_body_is_read():
    response, sqs = deliver(b"{not json", timestamp=STAMP - 3600)
    assert (response.status, response.json()["error"]) == (401, "invalid_signature")
    assert sqs.messages == []


# -- the copy-paste examples, run as written -------------------------------------------------------


class _IntakeOnLoopback(BaseHTTPRequestHandler):
    """POST /orders/events on 127.0.0.1, answered by the intake at the real time (the examples sign with it)."""

    sqs: SentMessages

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        kept = {n: v for n, v in self.headers.items() if n.lower().startswith(("x-switchboard", "content-type"))}
        response = post(body, kept, sqs=self.sqs, now=datetime.now(UTC), secrets={"signing_key": KEY})
        payload = response.body.encode()
        self.send_response(response.status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def intake_url() -> Iterator[tuple[str, SentMessages]]:
    sqs = SentMessages()
    handler = type("Handler", (_IntakeOnLoopback,), {"sqs": sqs})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", sqs
    server.shutdown()
    server.server_close()


def test_the_python_signing_example_works_as_written(intake_url):
    url, sqs = intake_url
    # Given the docs' Python example, pointed at the intake with the orders signing key
    example: dict[str, Any] = {}
    exec(PYTHON_EXAMPLE, example)  # the documented example is the code under test
    example.update(API=url, SIGNING_KEY=KEY)
    # When a shop sends the issue's example with it
    answer = example["send_order_event"](EXAMPLE)
    # Then the event is accepted and queued as the shop's
    assert answer == {"accepted": True}
    assert read(sqs.messages[0]["MessageBody"]).event_id == "evt_01JEXAMPLE"


@pytest.mark.skipif(not (shutil.which("openssl") and shutil.which("curl")), reason="needs openssl and curl")
def test_the_curl_and_openssl_signing_example_works_as_written(intake_url, tmp_path: Path):
    url, sqs = intake_url
    # Given the event in a file, and the docs' curl lines with API and KEY set
    (tmp_path / "event.json").write_bytes(json.dumps(EXAMPLE, ensure_ascii=False, indent=2).encode() + b"\n")
    script = f"API={url}; KEY='{KEY}'\n" + CURL_EXAMPLE
    # When they are run
    ran = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=30, check=True)
    # Then the event is accepted: the bytes signed are the bytes sent, newlines and Korean included
    assert json.loads(ran.stdout) == {"accepted": True}
    assert read(sqs.messages[0]["MessageBody"]).shipment.carrier == "CJ대한통운"  # type: ignore[union-attr]
