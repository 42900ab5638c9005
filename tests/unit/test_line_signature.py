"""LINE's x-line-signature: base64 of HMAC-SHA256 over the raw body, keyed by the channel secret; the
body's `destination` chooses which channel's secret when several LINE channels share the webhook.

Scheme: https://developers.line.biz/en/docs/messaging-api/receiving-messages/#verifying-signatures
Vector: line/line-bot-sdk-python, tests/test_signature.py (secret "channel_secret", body "bodybodybodybody").
"""

import hashlib
import hmac

import pytest

from switchboard.channels.line import ADAPTER, sign
from switchboard.errors import InvalidSignature
from switchboard.http_request import WebhookRequest
from switchboard.queue import InboundQueue
from switchboard.webhooks import handle_webhook_event
from tests.support.drivers.line import (
    BOT_USER_ID,
    SAMPLE_CHANNEL_SECRET,
    LineDriver,
    encode,
    line_signature,
    message_event,
    text_message,
    user_source,
    webhook,
)
from tests.support.fakes import RecordingSqs
from tests.support.lambda_events import HttpResponse, http_api_event
from tests.support.paths import provider_fixture

LINE = LineDriver()
SAMPLE = provider_fixture("line", "text-and-image.json")
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/switchboard-dev-InboundQueue.fifo"
SECOND_BOT = "U0c5b1a2f3e4d5c6b7a8998877665544b"
TWO_CHANNELS = {
    "channel_secret": SAMPLE_CHANNEL_SECRET,
    "channel_access_token": "default-token",
    "accounts": {SECOND_BOT: {"channel_secret": "second-channel-secret", "channel_access_token": "second-token"}},
}


def deliver(body: bytes, signature: str | None, secrets=LINE.secrets) -> tuple[HttpResponse, RecordingSqs]:
    headers = {"content-type": "application/json"} | ({"x-line-signature": signature} if signature is not None else {})
    event = http_api_event(
        method="POST", path=LINE.webhook_path, route_key=f"POST {LINE.webhook_path}", headers=headers, body=body
    )
    sqs = RecordingSqs()
    response = handle_webhook_event(event, adapter=ADAPTER, queue=InboundQueue(sqs, QUEUE_URL), secrets=lambda: secrets)
    return HttpResponse.of(response), sqs


def customer_text(destination: str, text: str = "환불 문의드립니다") -> bytes:
    event = message_event(
        text_message("556677889900112233", text), source=user_source("U" + "a" * 32), timestamp=1749416383000
    )
    return encode(webhook(event, destination=destination))


def test_official_sdk_vector():
    assert sign(b"bodybodybodybody", "channel_secret") == "/gg9a+LvFevTH1sd7XCQycD7tsWclCsInj7MhBHxN7k="


def test_signature_over_the_exact_body_is_accepted_and_its_events_enqueued():
    # Given LINE's SDK sample signed with the channel secret
    # When it is delivered
    response, sqs = deliver(SAMPLE, line_signature(SAMPLE))
    # Then both of its message events are on the queue
    assert (response.status, response.json()) == (200, {"received": 2})
    assert [message.message_type for message in sqs.sent] == ["text", "image"]


def test_tampered_body_is_refused():
    tampered = SAMPLE.replace(b"Hello, world", b"Hello, World")

    response, sqs = deliver(tampered, line_signature(SAMPLE))

    assert (response.status, response.json()["error"]) == (401, "invalid_signature")
    assert sqs.batches == []


def test_signature_made_with_another_secret_is_refused():
    response, sqs = deliver(SAMPLE, line_signature(SAMPLE, "someone-elses-secret"))

    assert response.json() == {"error": "invalid_signature", "message": "signature does not match the body"}
    assert sqs.batches == []


@pytest.mark.parametrize("signature", [None, ""])
def test_missing_signature_is_refused(signature):
    response, sqs = deliver(SAMPLE, signature)

    assert response.json() == {"error": "invalid_signature", "message": "missing x-line-signature header"}
    assert sqs.batches == []


def test_hex_digest_instead_of_base64_is_refused():
    hex_digest = hmac.new(SAMPLE_CHANNEL_SECRET.encode(), SAMPLE, hashlib.sha256).hexdigest()

    assert deliver(SAMPLE, hex_digest)[0].status == 401


def test_without_a_configured_channel_secret_nothing_is_accepted():
    response, _ = deliver(SAMPLE, line_signature(SAMPLE, ""), secrets={"channel_access_token": "t"})

    assert response.json() == {
        "error": "invalid_signature",
        "message": "no channel secret is configured for this channel",
    }


def test_second_channel_is_verified_with_its_own_secret_and_files_under_its_bot():
    # Given a second LINE channel configured under "accounts", and a message sent to it
    body = customer_text(SECOND_BOT)
    # When LINE delivers it signed with that channel's secret
    response, sqs = deliver(body, line_signature(body, "second-channel-secret"), secrets=TWO_CHANNELS)
    # Then it is accepted and filed under that channel
    assert response.status == 200
    assert [message.channel_account_id for message in sqs.sent] == [SECOND_BOT]


def test_naming_another_channel_does_not_borrow_the_default_secret():
    # Given a body that names the second channel but is signed with the default channel's secret
    body = customer_text(SECOND_BOT)
    # When it is delivered, it is refused: the destination chose the second channel's secret
    response, sqs = deliver(body, line_signature(body), secrets=TWO_CHANNELS)
    assert response.status == 401
    assert sqs.batches == []


def test_default_channel_still_verifies_when_several_are_configured():
    body = customer_text(BOT_USER_ID)

    response, sqs = deliver(body, line_signature(body), secrets=TWO_CHANNELS)

    assert response.status == 200
    assert [message.channel_account_id for message in sqs.sent] == [BOT_USER_ID]


@pytest.mark.parametrize("body", [b"", b"not json", b"[]", b'{"destination": 7}', b"[" * 50_000])
def test_unreadable_bodies_are_verified_before_they_are_read(body):
    # Given a body no JSON reader makes sense of, signed by one of two configured channels
    request = WebhookRequest(
        method="POST", path="/webhooks/line", headers={"x-line-signature": line_signature(body)}, query={}, body=body
    )
    second = request.model_copy(update={"headers": {"x-line-signature": line_signature(body, "second-channel-secret")}})
    forged = request.model_copy(update={"headers": {"x-line-signature": line_signature(body, "forger-secret")}})
    # When it is verified, Then the signing channel is found from the bytes alone, and a forgery is refused
    assert ADAPTER.verify(request, TWO_CHANNELS) is None
    assert ADAPTER.verify(second, TWO_CHANNELS) == SECOND_BOT
    with pytest.raises(InvalidSignature):
        ADAPTER.verify(forged, TWO_CHANNELS)


def test_connectivity_check_with_no_events_is_acknowledged_with_nothing_enqueued():
    # Given the "Verify" button's request in the LINE Developers console: a signed body with no events
    body = encode({"destination": BOT_USER_ID, "events": []})
    # When it is delivered
    response, sqs = deliver(body, line_signature(body))
    # Then LINE gets its 200 and nothing is queued
    assert (response.status, response.json()) == (200, {"received": 0})
    assert sqs.batches == []
