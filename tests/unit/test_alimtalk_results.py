"""NHN Cloud's MESSAGE_RESULT_UPDATE webhook (POST /webhooks/alimtalk): its proof, the X-Toast-Webhook-Signature
configured in NHN Cloud's console, and the body's appKey; and its hooks as delivery receipts.

Shapes: NHN Cloud, KakaoTalk Bizmessage webhook guide ("Send Webhook", "Update the message sending result code") and
error codes ("Delivery Result Code": 1000 success, 3005 unconfirmed, 3019 not a KakaoTalk user).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.channels.alimtalk import RESULTS
from switchboard.errors import InvalidSignature, MalformedPayload
from switchboard.http_request import WebhookRequest
from switchboard.models import Channel, DeliveryReceipt, DeliveryStatus
from switchboard.queue import InboundQueue
from switchboard.webhooks import handle_webhook_event
from tests.support.fakes import RecordingSqs
from tests.support.lambda_events import HttpResponse, http_api_event

QUEUE_URL = "https://sqs.ap-northeast-2.amazonaws.com/123456789012/switchboard-dev-InboundQueue.fifo"
APP_KEY = "akb3dukdmdjsdSvgk"
WEBHOOK_SECRET = "a-long-random-signature-typed-into-the-console"
SECRETS = {"app_key": APP_KEY, "secret_key": "unused-here", "webhook_secret": WEBHOOK_SECRET}
SENDER_KEY = "9f2c" + "0" * 36
NOTIFICATION = "ntf_0123456789abcdef01234567"
HEARD_AT = datetime(2026, 12, 3, 0, 10, tzinfo=UTC)


def hook(**changes: Any) -> dict[str, Any]:
    """One result hook, with every field of the webhook guide's "Update the message sending result code"."""
    fields: dict[str, Any] = {
        "kakaoMessageType": "ALIMTALK_NORMAL",
        "requestId": "20261203090000aBcDeFgHiJk",
        "recipientSeq": 1,
        "requestDate": "2026-12-03 09:00:00",
        "createDate": "2026-12-03 09:00:00",
        "receiveDate": "2026-12-03 09:00:02",
        "recipientNo": "01012345678",
        "resultCode": "1000",
        "senderGroupingKey": SENDER_KEY,
        "recipientGroupingKey": NOTIFICATION,
        "_links": {"self": {"href": "https://api-alimtalk.cloud.toast.com/alimtalk/v2.2/appkeys/k/messages/r/1"}},
        "hookId": "20261203090002hookid000001",
    }
    return fields | changes


def results(*hooks: dict[str, Any], event: str = "MESSAGE_RESULT_UPDATE", app_key: str = APP_KEY) -> bytes:
    document = {
        "hooksId": "202612030900021010sadasdavas",
        "webhookConfigId": "wh-config-1",
        "productName": "KakaoTalk Bizmessage",
        "appKey": app_key,
        "event": event,
        "hooks": list(hooks),
    }
    return json.dumps(document, ensure_ascii=False).encode()


def deliver(body: bytes, signature: str | None, secrets=SECRETS) -> tuple[HttpResponse, RecordingSqs]:
    headers = {"content-type": "application/json;charset=UTF-8"}
    if signature is not None:
        headers["x-toast-webhook-signature"] = signature
    event = http_api_event(
        method="POST", path="/webhooks/alimtalk", route_key="POST /webhooks/alimtalk", headers=headers, body=body
    )
    sqs = RecordingSqs()
    response = handle_webhook_event(event, adapter=RESULTS, queue=InboundQueue(sqs, QUEUE_URL), secrets=lambda: secrets)
    return HttpResponse.of(response), sqs


def parsed(*hooks: dict[str, Any]) -> list[DeliveryReceipt]:
    receipts = RESULTS.parse(results(*hooks), received_at=HEARD_AT)
    assert all(isinstance(receipt, DeliveryReceipt) for receipt in receipts)
    return list(receipts)  # type: ignore[arg-type]


# -- the proof ------------------------------------------------------------------------------------------------------


def test_the_configured_signature_and_our_app_key_queue_the_result():
    # Given a result posted with the signature set in the console, for our app key
    # When it is delivered
    response, sqs = deliver(results(hook()), WEBHOOK_SECRET)
    # Then it is accepted and its receipt queued
    assert (response.status, response.json()) == (200, {"received": 1})
    (receipt,) = sqs.sent
    assert isinstance(receipt, DeliveryReceipt) and receipt.external_id == NOTIFICATION


@pytest.mark.parametrize(
    ("signature", "secrets"),
    [
        (None, SECRETS),
        ("", SECRETS),
        ("application/json;charset=UTF-8", SECRETS),  # the guide's cURL example puts this in the header
        (WEBHOOK_SECRET[:-1], SECRETS),
        (WEBHOOK_SECRET + "x", SECRETS),
        ("short", SECRETS | {"webhook_secret": "short"}),  # a guessable signature is no proof
        (WEBHOOK_SECRET, SECRETS | {"webhook_secret": ""}),
        (WEBHOOK_SECRET, {"app_key": APP_KEY}),
    ],
    ids=["missing", "empty", "guide-placeholder", "truncated", "extended", "short-secret", "no-secret", "unset"],
)
def test_a_result_without_the_configured_signature_is_401_and_nothing_is_queued(signature, secrets):
    # Given a result whose X-Toast-Webhook-Signature is not the configured one (or none of sufficient length is set)
    # When it is delivered
    response, sqs = deliver(results(hook()), signature, secrets)
    # Then it is refused as unsigned, and nothing reaches the queue
    assert response.status == 401 and response.json()["error"] == "invalid_signature"
    assert sqs.entries == []


@pytest.mark.parametrize("app_key", ["another-app-key", "", APP_KEY.upper()])
def test_a_signed_result_for_another_app_key_is_401(app_key):
    # Given the right signature on a body naming another NHN Cloud app key
    # When it is delivered
    response, sqs = deliver(results(hook(), app_key=app_key), WEBHOOK_SECRET)
    # Then it is refused: the signature alone does not make another service's results ours
    assert response.status == 401 and sqs.entries == []


def test_verify_raises_before_reading_an_unsigned_body():
    # Given a body that is not even JSON, without the signature
    request = WebhookRequest(method="POST", path="/webhooks/alimtalk", headers={}, body=b"not json", query={})
    # When it is verified, Then the missing proof is the refusal (nothing was parsed)
    with pytest.raises(InvalidSignature):
        RESULTS.verify(request, SECRETS)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"[]", 401),  # names no app key
        (json.dumps({"appKey": APP_KEY, "event": "MESSAGE_RESULT_UPDATE"}).encode(), 400),  # no hooks
        (json.dumps({"appKey": APP_KEY, "event": "MESSAGE_RESULT_UPDATE", "hooks": {}}).encode(), 400),
    ],
)
def test_a_signed_body_that_is_not_nhn_clouds_envelope_is_refused(body, status):
    # Given the right signature on a body that is not NHN Cloud's envelope
    # When it is delivered
    response, sqs = deliver(body, WEBHOOK_SECRET)
    # Then it is refused, and nothing is queued
    assert response.status == status and sqs.entries == []


# -- the hooks ------------------------------------------------------------------------------------------------------


def test_a_delivered_result_is_a_delivered_receipt_for_the_notification():
    # Given KakaoTalk's success (1000) for the recipient we keyed by the notification id
    (receipt,) = parsed(hook())
    # Then it is a delivered receipt on the Kakao timeline, for the sender key, at KakaoTalk's time (KST)
    assert receipt.channel is Channel.KAKAO
    assert (receipt.external_id, receipt.channel_account_id) == (NOTIFICATION, SENDER_KEY)
    assert receipt.status is DeliveryStatus.DELIVERED and receipt.errors == ()
    assert receipt.provider_timestamp == datetime(2026, 12, 3, 0, 0, 2, tzinfo=UTC)
    # And the customer's phone number is not carried: the recipient is the recipient sequence
    assert receipt.recipient_id == "1" and "01012345678" not in receipt.model_dump_json()


@pytest.mark.parametrize(
    ("code", "meaning"),
    [("3019", "not a KakaoTalk user"), ("3020", "blocks AlimTalk"), ("3018", "not an active"), ("2001", "")],
)
def test_a_failed_result_without_resend_is_a_failed_receipt_naming_the_code(code, meaning):
    # Given KakaoTalk's failure for a send that asked for no 대체발송
    (receipt,) = parsed(hook(resultCode=code))
    # Then the notification's delivery failed, with NHN Cloud's code (and what it means, where we know)
    assert receipt.status is DeliveryStatus.FAILED
    (error,) = receipt.errors
    assert code in error and meaning in error


def test_a_failure_made_good_by_resend_settles_nothing():
    # Given KakaoTalk's failure for a send that asked for 대체발송 (the sender key marked so in senderGroupingKey)
    receipts = parsed(hook(resultCode="3019", senderGroupingKey=SENDER_KEY + ":resend"))
    # Then no receipt: NHN Cloud sends the SMS/LMS, whose result this webhook does not carry, so not `failed`
    assert receipts == []
    # And a success of such a send is delivered, under the sender key
    (receipt,) = parsed(hook(senderGroupingKey=SENDER_KEY + ":resend"))
    assert (receipt.status, receipt.channel_account_id) == (DeliveryStatus.DELIVERED, SENDER_KEY)


def test_results_that_settle_nothing_of_ours_are_left_out():
    # Given an unconfirmed result (3005), a FriendTalk result, a hook with no result, and one that is not an object
    hooks = [
        hook(resultCode="3005"),
        hook(kakaoMessageType="FRIENDTALK_NORMAL"),
        hook(resultCode=None),
        "not a hook",
        hook(recipientGroupingKey=None, requestId=None),
    ]
    # When they are parsed, Then none becomes a receipt
    assert parsed(*hooks) == []


def test_a_result_without_our_grouping_key_is_named_by_nhn_clouds_ids():
    # Given a result for a message sent without our recipientGroupingKey (from NHN Cloud's console)
    (receipt,) = parsed(hook(recipientGroupingKey=None, requestId="20261203090000zZ", recipientSeq=3))
    # Then it names NHN Cloud's request and recipient: it will match nothing of ours and be dropped downstream
    assert receipt.external_id == "20261203090000zZ:3"


def test_template_review_events_are_acknowledged_and_kept_nowhere():
    # Given the template status event (TSC01-TSC04), which shares the webhook
    body = results({"senderKey": SENDER_KEY, "templateCode": "SB_X", "status": "TSC03"}, event="TEMPLATE_STATUS_UPDATE")
    # When it is parsed, Then nothing is queued
    assert RESULTS.parse(body, received_at=HEARD_AT) == []


@pytest.mark.parametrize(
    ("receive_date", "expected"),
    [
        ("2026-12-03 09:05:00", datetime(2026, 12, 3, 0, 5, tzinfo=UTC)),
        ("2026-12-03T09:05:00.123", datetime(2026, 12, 3, 0, 5, 0, 123000, tzinfo=UTC)),
        ("2026-12-03T09:05:00+09:00", datetime(2026, 12, 3, 0, 5, tzinfo=UTC)),
        ("2026-12-03", HEARD_AT),  # the guide's example is a date alone
        ("2026-12-04 09:00:00", HEARD_AT),  # later than we heard of it: a clock ahead, not a delivery
        ("yesterday at noon", HEARD_AT),
        (None, HEARD_AT),
    ],
)
def test_the_receipt_time_is_kakaotalks_in_korean_time_never_after_we_heard_it(receive_date, expected):
    (receipt,) = parsed(hook(receiveDate=receive_date))
    assert receipt.provider_timestamp == expected


def test_the_envelope_must_be_nhn_clouds():
    for body in (b"{}", b'{"event": "MESSAGE_RESULT_UPDATE"}', b'{"event": 1, "hooks": []}', b"[1]", b"\xff"):
        with pytest.raises(MalformedPayload):
            RESULTS.parse(body, received_at=HEARD_AT)
    too_many = results(*[hook(recipientSeq=seq) for seq in range(1001)])
    with pytest.raises(MalformedPayload):
        RESULTS.parse(too_many, received_at=HEARD_AT)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=20), inner, max_size=4),
    max_leaves=20,
)
_hook_values = st.fixed_dictionaries(
    {},
    optional={
        name: _json | st.text(max_size=200)
        for name in ("kakaoMessageType", "requestId", "recipientSeq", "receiveDate", "resultCode")
        + ("senderGroupingKey", "recipientGroupingKey")
    },
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_hook_values | _json, max_size=5), st.sampled_from(["MESSAGE_RESULT_UPDATE", "OTHER"]))
def test_hostile_hooks_never_break_parsing(hooks, event):
    # Given any hooks at all in a well-formed envelope
    # When they are parsed, Then each is a receipt of ours or left out; nothing raises
    for receipt in RESULTS.parse(results(*hooks, event=event), received_at=HEARD_AT):
        assert isinstance(receipt, DeliveryReceipt) and len(receipt.external_id) <= 512


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300) | _json.map(lambda value: json.dumps(value).encode()))
def test_hostile_bodies_are_malformed_or_parsed(body):
    try:
        RESULTS.parse(body, received_at=HEARD_AT)
    except MalformedPayload:
        pass
