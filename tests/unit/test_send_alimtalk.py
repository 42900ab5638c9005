"""Sending AlimTalk through NHN Cloud's API v2.2: the request's shape, its X-NC-API-IDEMPOTENCY-KEY and NHN Cloud's
refusal of a repeat (-1005), error mapping, timeouts, 대체발송, and the MESSAGE_RESULT_UPDATE the fake posts back,
verified and parsed by our results adapter.

Real HTTP against the fake providers server (infra/fakes/outbound_alimtalk.py), no AWS involved.
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from infra.fakes import outbound_alimtalk
from infra.fakes.outbound import Receipt
from infra.fakes.providers import FakeProviders
from switchboard.channels.alimtalk import ALIMTALK, RESULTS, national_number, outcome_of
from switchboard.channels.base import Sends
from switchboard.channels.sending import (
    AlimTalkMessage,
    OutboundAttachment,
    OutboundRequest,
    ProviderAnswer,
    SendContext,
    SendEndpoints,
    SendHttp,
)
from switchboard.http_request import WebhookRequest
from switchboard.models import Channel, DeliveryReceipt, DeliveryStatus
from switchboard.outbound.pacing import DEFAULT_ALIMTALK_RATE_PER_SECOND, limits_of

SENDER_KEY = "9f2c" + "0" * 36
CUSTOMER = "+821012345678"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeProviders]:
    fake = FakeProviders().start()
    yield fake
    fake.stop()


@pytest.fixture
def nhn(server: FakeProviders) -> FakeProviders:
    server.reset()
    return server


@pytest.fixture
def secrets(server: FakeProviders) -> dict[str, str]:
    return {
        "app_key": server.credentials.alimtalk_app_key,
        "secret_key": server.credentials.alimtalk_secret_key,
        "webhook_secret": server.signing.alimtalk_webhook_secret,
    }


def context_for(fake: FakeProviders, read_timeout: float = 5.0) -> SendContext:
    return context_at(f"{fake.base_url}/alimtalk-api", read_timeout)


def context_at(base: str, read_timeout: float = 5.0) -> SendContext:
    return SendContext(
        http=SendHttp(connect_timeout=1.0, read_timeout=read_timeout),
        endpoints=SendEndpoints(graph="", line_api="", telegram="", twilio="", alimtalk=base),
    )


def message(**changes: Any) -> AlimTalkMessage:
    fields: dict[str, Any] = {
        "sender_key": SENDER_KEY,
        "template_code": "SB_IN_TRANSIT_KO",
        "template_parameter": {"고객명": "김민준", "주문번호": "1042"},
    }
    return AlimTalkMessage(**(fields | changes))


def notification(recipient: str = CUSTOMER, **changes: Any) -> OutboundRequest:
    notification_id = f"ntf_{uuid.uuid4().hex[:24]}"
    fields: dict[str, Any] = {
        "attempt_id": notification_id,
        "message_id": notification_id,
        "ticket_id": notification_id,
        "channel": Channel.KAKAO,
        "channel_account_id": SENDER_KEY,
        "recipient_id": recipient,
        "alimtalk": message(),
        "human_agent": False,
        "now": datetime.now(UTC),
    }
    return OutboundRequest(**(fields | changes))


def messages_path(fake: FakeProviders) -> str:
    return f"/alimtalk-api/alimtalk/v2.2/appkeys/{fake.credentials.alimtalk_app_key}/messages"


def delivered_to_our_webhook(receipt: Receipt, secrets: dict[str, str]) -> list[DeliveryReceipt]:
    """A posted result as our webhook route takes it: verified, then parsed."""
    assert receipt.target == "/webhooks/alimtalk"
    headers = {name.lower(): value for name, value in receipt.headers.items()}
    request = WebhookRequest(method="POST", path=receipt.target, headers=headers, body=receipt.body, query={})
    assert RESULTS.verify(request, secrets) is None
    events = RESULTS.parse(receipt.body, received_at=datetime.now(UTC))
    assert all(isinstance(event, DeliveryReceipt) for event in events)
    return list(events)  # type: ignore[arg-type]


# -- what the adapter is ---------------------------------------------------------------------------------------------


def test_the_adapter_sends_templates_at_any_time_and_may_repeat_a_call():
    # Given the AlimTalk adapter
    assert isinstance(ALIMTALK, Sends)
    assert ALIMTALK.max_text_chars == 1000
    # Then its window is always open (a template to a phone number, outside any conversation)
    for last in (None, datetime(2020, 1, 1, tzinfo=UTC)):
        verdict = ALIMTALK.window(
            last_customer_message_at=last, now=datetime.now(UTC), human_agent=False, template=True
        )
        assert verdict.open
    # And a call may be repeated (the idempotency key), but free text and files are refused before any call
    assert ALIMTALK.resend_is_safe(notification())
    assert ALIMTALK.refusal(notification()) is None
    assert ALIMTALK.refusal(notification(alimtalk=None, text="안녕하세요")) is not None
    file = OutboundAttachment(kind="image", storage_key="a/b.png", url="https://attachments.example/b.png")
    assert ALIMTALK.refusal(notification(attachments=(file,))) is not None


@pytest.mark.parametrize(
    ("phone", "recipient_no"),
    [
        ("+821012345678", "01012345678"),
        ("+82101234567", "0101234567"),
        ("+8221234567", "021234567"),
        ("+14155550123", None),
        ("+8210", None),
        ("+82１０12345678", None),  # full-width digits are not a number NHN Cloud reads
        ("01012345678", None),
    ],
)
def test_korean_numbers_are_written_the_domestic_way(phone, recipient_no):
    assert national_number(phone) == recipient_no


# -- the request ----------------------------------------------------------------------------------------------------


def test_the_request_is_nhn_clouds_replaced_message_send_keyed_by_the_notification(nhn, secrets):
    # Given a notification to a Korean customer, without 대체발송
    request = notification()
    # When it is sent
    outcome = ALIMTALK.send(request, secrets, context_for(nhn))
    # Then NHN Cloud got POST .../appkeys/{appkey}/messages with the secret key and the notification as the key
    (call,) = nhn.calls("alimtalk")
    assert call.path == messages_path(nhn)
    assert call.header("X-Secret-Key") == secrets["secret_key"]
    assert call.header("X-NC-API-IDEMPOTENCY-KEY") == request.attempt_id
    assert call.header("Content-Type").startswith("application/json")
    # And the body names the sender, the template, and one recipient written the domestic way, with its variables,
    # our notification id as the recipient's grouping key, and 대체발송 explicitly off
    assert call.json() == {
        "senderKey": SENDER_KEY,
        "templateCode": "SB_IN_TRANSIT_KO",
        "senderGroupingKey": SENDER_KEY,
        "recipientList": [
            {
                "recipientNo": "01012345678",
                "templateParameter": {"고객명": "김민준", "주문번호": "1042"},
                "resendParameter": {"isResend": False},
                "recipientGroupingKey": request.attempt_id,
            }
        ],
    }
    # And it is sent, by the id the results will name
    assert (outcome.kind, outcome.provider_message_id) == ("sent", request.attempt_id)
    (theirs,) = outcome.also_known_as
    assert theirs.endswith(":1") and len(theirs) > len(":1")


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"resend_content": "[민준상회] 김민준님, 주문 1042 배송 중"},
            {"resendType": "SMS", "resendContent": "[민준상회] 김민준님, 주문 1042 배송 중"},
        ),
        (
            {"resend_content": "배송 안내 " * 10},  # 100 bytes of EUC-KR: over an SMS's 90
            {"resendType": "LMS", "resendContent": "배송 안내 " * 10},
        ),
        (
            {"resend_content": "배송 중", "resend_title": "배송 안내"},
            {"resendType": "LMS", "resendContent": "배송 중", "resendTitle": "배송 안내"},
        ),
        ({"resend_content": "배송 중", "resend_type": "LMS"}, {"resendType": "LMS", "resendContent": "배송 중"}),
    ],
    ids=["short-sms", "long-lms", "title-lms", "asked-lms"],
)
def test_resend_goes_as_sms_or_lms_from_the_registered_number(nhn, secrets, changes, expected):
    # Given a notification whose template has a 대체발송 text, from the shop's registered number
    request = notification(alimtalk=message(resend=True, resend_send_no="0212345678", **changes))
    # When it is sent
    assert ALIMTALK.send(request, secrets, context_for(nhn)).kind == "sent"
    # Then the recipient asks NHN Cloud for it, and the sender's grouping key says so (for the result to know)
    body = nhn.calls("alimtalk")[0].json()
    (recipient,) = body["recipientList"]
    assert recipient["resendParameter"] == {"isResend": True, "resendSendNo": "0212345678"} | expected
    assert body["senderGroupingKey"] == SENDER_KEY + ":resend"


def test_resend_without_a_number_or_text_is_off(nhn, secrets):
    # Given 대체발송 asked for without its text, and without its number
    for asked in (message(resend=True, resend_send_no="0212345678"), message(resend=True, resend_content="배송 중")):
        nhn.reset()
        # When each is sent
        ALIMTALK.send(notification(alimtalk=asked), secrets, context_for(nhn))
        # Then NHN Cloud is told not to resend (a console default would otherwise send something else)
        body = nhn.calls("alimtalk")[0].json()
        assert body["recipientList"][0]["resendParameter"] == {"isResend": False}
        assert body["senderGroupingKey"] == SENDER_KEY


def test_the_message_bounds_what_nhn_cloud_takes():
    # Given 대체발송 text longer than an LMS carries, Then it is cut as NHN Cloud itself would cut it
    cut = message(resend_title="제" * 60, resend_content="본" * 3000)
    assert (len(cut.resend_title or ""), len(cut.resend_content or "")) == (40, 2000)
    # And a variable is at most an AlimTalk's 1,000 characters, and a template has at most 50 of them
    assert message(template_parameter={"url": "x" * 5000}).template_parameter["url"] == "x" * 1000
    with pytest.raises(ValidationError):
        message(template_parameter={f"k{index}": "v" for index in range(51)})
    with pytest.raises(ValidationError):
        message(template_parameter={"": "v"})
    with pytest.raises(ValidationError):
        message(sender_key="k" * 41)


# -- NHN Cloud's answers ---------------------------------------------------------------------------------------------


def test_a_repeat_within_ten_minutes_is_refused_and_counts_as_sent(nhn, secrets):
    # Given a notification NHN Cloud took, whose answer we may not have had
    request = notification()
    first = ALIMTALK.send(request, secrets, context_for(nhn))
    # When the same call is made again (the same X-NC-API-IDEMPOTENCY-KEY)
    again = ALIMTALK.send(request, secrets, context_for(nhn))
    # Then NHN Cloud refused the repeat (-1005), which means the first went through: sent, by the same id
    answers = [entry["answer"]["header"]["resultCode"] for entry in reversed(nhn.sent())]
    assert answers == [0, -1005]
    assert (again.kind, again.provider_message_id, again.code) == ("sent", first.provider_message_id, "-1005")
    # And only the first posted a result: one message for the customer
    assert len(nhn.take_receipts()) == 1


def test_another_notification_is_not_a_repeat(nhn, secrets):
    # Given two notifications to the same customer, sent one after the other
    outcomes = [ALIMTALK.send(notification(), secrets, context_for(nhn)) for _ in range(2)]
    # Then both are sent, each by its own id
    assert [o.kind for o in outcomes] == ["sent", "sent"]
    assert outcomes[0].provider_message_id != outcomes[1].provider_message_id


@pytest.mark.parametrize(
    ("which", "code"),
    [("app_key", "-1000"), ("secret_key", "-1001")],
)
def test_wrong_credentials_are_a_refusal_with_nhn_clouds_code(nhn, secrets, which, code):
    # Given a secret whose app key or secret key NHN Cloud does not know
    outcome = ALIMTALK.send(notification(), secrets | {which: "not-ours"}, context_for(nhn))
    # Then it is refused (the chain moves on), with NHN Cloud's code
    assert (outcome.kind, outcome.code) == ("rejected", code)


def test_missing_credentials_or_a_foreign_number_are_refused_before_any_call(nhn, secrets):
    # Given no secret key, and (apart) a customer with an American number
    no_key = ALIMTALK.send(notification(), {"app_key": "k"}, context_for(nhn))
    foreign = ALIMTALK.send(notification("+14155550123"), secrets, context_for(nhn))
    # Then both are refused here, and NHN Cloud heard nothing
    assert (no_key.kind, no_key.code) == ("rejected", "not_configured")
    assert (foreign.kind, foreign.code) == ("rejected", "not_a_korean_number")
    assert nhn.calls("alimtalk") == []


def test_a_recipient_nhn_cloud_refuses_is_a_refusal_with_its_code(nhn, secrets):
    # Given a Korean landline (not a mobile number KakaoTalk knows)
    outcome = ALIMTALK.send(notification("+8221234567"), secrets, context_for(nhn))
    # Then NHN Cloud's per-recipient code is the refusal's, and no result will come
    assert (outcome.kind, outcome.code) == ("rejected", "-5000")
    assert nhn.take_receipts() == []


@pytest.mark.parametrize("status", [429, 500, 503])
def test_throttling_and_server_errors_are_retried(nhn, secrets, status):
    # Given NHN Cloud answering the send with this status once
    nhn.fail(messages_path(nhn), status=status, retry_after="7" if status == 429 else None)
    # When it is sent
    outcome = ALIMTALK.send(notification(), secrets, context_for(nhn))
    # Then it is to be tried again (after Retry-After where given), and nothing was sent
    assert outcome.kind == "retry"
    assert outcome.retry_after_seconds == (7.0 if status == 429 else None)
    assert nhn.take_receipts() == []


@pytest.mark.parametrize(
    ("answer", "kind", "code"),
    [
        ({"header": {"resultCode": -9999, "resultMessage": "System error", "isSuccessful": False}}, "retry", "-9999"),
        ({"header": {"resultCode": -7000, "isSuccessful": False}}, "retry", "-7000"),
        (
            {"header": {"resultCode": -3005, "resultMessage": "Template status", "isSuccessful": False}},
            "rejected",
            "-3005",
        ),
        ({"header": {"resultCode": "-1027", "isSuccessful": False}}, "rejected", "-1027"),
        ({"header": {"resultCode": 0, "isSuccessful": False}}, "rejected", "0"),
        ({"unexpected": True}, "rejected", "200"),
        (
            {
                "header": {"resultCode": 0, "isSuccessful": True},
                "message": {"requestId": "r", "sendResults": [{"recipientSeq": 1, "resultCode": -9999}]},
            },
            "retry",
            "-9999",
        ),
        (
            {
                "header": {"resultCode": 0, "isSuccessful": True},
                "message": {"requestId": "r", "sendResults": [{"recipientSeq": 1, "resultCode": -3004}]},
            },
            "rejected",
            "-3004",
        ),
    ],
    ids=[
        "system-error",
        "vendor-failed",
        "template-not-approved",
        "code-as-text",
        "unsuccessful",
        "not-nhn",
        "recipient-fault",
        "recipient-refused",
    ],
)
def test_nhn_cloud_result_codes_map_to_outcomes(answer, kind, code):
    # Given NHN Cloud's answer (HTTP 200, its header's or its recipient's result code)
    outcome = outcome_of(ProviderAnswer(200, {}, json.dumps(answer).encode()), "ntf_1")
    # Then its own faults are retried and every other code is a refusal naming it
    assert (outcome.kind, outcome.code) == (kind, code)


def test_no_answer_is_unknown_and_the_same_call_is_then_refused_as_a_repeat(nhn, secrets):
    # Given NHN Cloud that takes the request but answers after our read timeout
    nhn.stall(messages_path(nhn), seconds=1.5)
    request = notification()
    # When it is sent
    outcome = ALIMTALK.send(request, secrets, context_for(nhn, read_timeout=0.5))
    # Then it is unknown (the sender may repeat it: resend_is_safe)
    assert outcome.kind == "unknown"
    # When NHN Cloud has taken it after all, and the same call is made again
    deadline = time.monotonic() + 5
    while not nhn.take_receipts() and time.monotonic() < deadline:
        time.sleep(0.05)
    repeat = ALIMTALK.send(request, secrets, context_for(nhn))
    # Then the repeat is refused as one (-1005) and counts as the first: sent once, by the notification's id
    assert (repeat.kind, repeat.provider_message_id, repeat.code) == ("sent", request.attempt_id, "-1005")
    assert len(nhn.calls("alimtalk")) == 2 and nhn.take_receipts() == []


def test_no_connection_is_retried(secrets):
    # Given nothing listening where NHN Cloud should be
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # When it is sent, Then no request left: it may be tried again
    assert ALIMTALK.send(notification(), secrets, context_at(f"http://127.0.0.1:{port}")).kind == "retry"


# -- results, failover and the outbox ---------------------------------------------------------------------------------


def test_the_result_nhn_cloud_posts_is_verified_and_delivers_the_notification(nhn, secrets):
    # Given a notification sent to a KakaoTalk user
    request = notification()
    ALIMTALK.send(request, secrets, context_for(nhn))
    # When NHN Cloud's MESSAGE_RESULT_UPDATE reaches our webhook
    (posted,) = nhn.take_receipts()
    (receipt,) = delivered_to_our_webhook(posted, secrets)
    # Then it is the notification's: delivered, under the sender key, on the Kakao timeline
    assert (receipt.external_id, receipt.status) == (request.attempt_id, DeliveryStatus.DELIVERED)
    assert (receipt.channel, receipt.channel_account_id) == (Channel.KAKAO, SENDER_KEY)
    # And the outbox shows the request: the recipient, template and variables, never the secret key
    (entry,) = [entry for entry in nhn.sent() if entry["provider"] == "alimtalk"]
    assert entry["json"]["recipientList"][0]["recipientNo"] == "01012345678"
    assert entry["json"]["templateCode"] == "SB_IN_TRANSIT_KO"
    assert entry["json"]["recipientList"][0]["templateParameter"]["주문번호"] == "1042"
    assert not {name.lower() for name in entry["headers"]} & {"x-secret-key", "authorization"}


def test_a_customer_without_kakaotalk_gets_the_resend_sms_and_the_notification_is_not_failed(nhn, secrets):
    # Given a customer NHN Cloud finds no KakaoTalk user, and a notification with 대체발송
    outbound_alimtalk.mark_not_kakao_user(CUSTOMER)
    resend = message(resend=True, resend_content="[민준상회] 주문 1042 배송 중", resend_send_no="0212345678")
    request = notification(alimtalk=resend)
    # When it is sent
    assert ALIMTALK.send(request, secrets, context_for(nhn)).kind == "sent"
    # Then NHN Cloud sent the SMS in its place: the outbox shows it, marked as failover
    (failover,) = [entry for entry in nhn.sent() if entry.get("failover")]
    assert (failover["provider"], failover["method"]) == ("alimtalk", "SMS")
    assert failover["json"]["recipientNo"] == "01012345678"
    assert failover["json"]["resendContent"] == "[민준상회] 주문 1042 배송 중"
    assert failover["json"]["recipientGroupingKey"] == request.attempt_id
    # And its KakaoTalk result (3019, not a KakaoTalk user) makes no receipt: the SMS carried it
    (posted,) = nhn.take_receipts()
    assert json.loads(posted.body)["hooks"][0]["resultCode"] == "3019"
    assert delivered_to_our_webhook(posted, secrets) == []


def test_a_customer_without_kakaotalk_and_no_resend_is_a_failed_delivery(nhn, secrets):
    # Given the magic number that is never a KakaoTalk user, and no 대체발송
    request = notification("+821000000000")
    ALIMTALK.send(request, secrets, context_for(nhn))
    # When its result arrives
    (posted,) = nhn.take_receipts()
    (receipt,) = delivered_to_our_webhook(posted, secrets)
    # Then the notification's delivery failed, saying why; and nothing went by SMS
    assert (receipt.external_id, receipt.status) == (request.attempt_id, DeliveryStatus.FAILED)
    assert "3019" in receipt.errors[0]
    assert [entry for entry in nhn.sent() if entry.get("failover")] == []


def test_marks_are_forgotten_on_reset(nhn, secrets):
    # Given a number marked as no KakaoTalk user, and the fake reset
    outbound_alimtalk.mark_not_kakao_user("01012345678")
    nhn.reset()
    # When a notification is sent to it, Then KakaoTalk delivers it
    ALIMTALK.send(notification(), secrets, context_for(nhn))
    (posted,) = nhn.take_receipts()
    assert [r.status for r in delivered_to_our_webhook(posted, secrets)] == [DeliveryStatus.DELIVERED]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"templateCode": "T", "recipientList": [{"recipientNo": "01012345678"}]}, -2001),
        ({"senderKey": "short", "templateCode": "T", "recipientList": [{"recipientNo": "01012345678"}]}, -2004),
        ({"senderKey": SENDER_KEY, "templateCode": "T" * 21, "recipientList": [{"recipientNo": "0101"}]}, -2000),
        ({"senderKey": SENDER_KEY, "templateCode": "T", "recipientList": []}, -2001),
        (
            {"senderKey": SENDER_KEY, "templateCode": "T", "recipientList": [{"recipientNo": "01012345678"}] * 1001},
            -2000,
        ),
    ],
    ids=["no-sender-key", "short-sender-key", "long-template-code", "no-recipients", "over-1000"],
)
def test_the_fake_refuses_what_nhn_cloud_refuses(nhn, secrets, body, code):
    # Given a request NHN Cloud's validation refuses
    answer = SendHttp().post(
        f"{nhn.base_url}{messages_path(nhn)}", json_body=body, headers={"X-Secret-Key": secrets["secret_key"]}
    )
    # Then the answer names NHN Cloud's code, and nothing is posted back
    assert answer.json()["header"] == answer.json()["header"] | {"resultCode": code, "isSuccessful": False}
    assert nhn.take_receipts() == []


def test_the_pace_is_per_sender_key_at_the_configured_rate():
    # Given an AlimTalk notification
    request = notification()
    # Then it is paced in its sender key's bucket, at the stack's rate or the documented default
    assert [(limit.bucket, limit.rate_per_second) for limit in limits_of(request, 42.0)] == [
        (f"alimtalk#{SENDER_KEY}", 42.0)
    ]
    assert limits_of(request)[0].rate_per_second == DEFAULT_ALIMTALK_RATE_PER_SECOND == 300.0
