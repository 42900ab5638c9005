"""The Kakao and Twilio webhook functions through their handlers, in the moto stack, with the sample events
(events/kakao-*.json, events/twilio-*.json) and the template's configuration."""

import json
from datetime import UTC, datetime

from switchboard import webhooks
from tests.support.drivers.kakao import KakaoDriver
from tests.support.drivers.twilio import TwilioDriver, form, inbound_fields, media_url, message_sid
from tests.support.lambda_events import HttpResponse
from tests.support.paths import EVENTS_DIR, provider_fixture
from tests.support.stack import InProcessStack

TEMPLATE_ACK_TEXT = "메시지를 받았습니다. 상담원이 확인 후 답변드리겠습니다."  # template.yaml KakaoAcknowledgement
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def invoke(stack: InProcessStack, function: str, name: str) -> HttpResponse:
    return HttpResponse.of(stack.invoke(function, json.loads((EVENTS_DIR / name).read_text())))


def test_kakao_skill_request_is_answered_with_the_configured_acknowledgement_and_becomes_a_ticket(stack):
    # When Kakao calls the skill with its sample request, the token in the header
    response = invoke(stack, "KakaoWebhookFunction", "kakao-skill.json")
    # Then Kakao gets a SkillResponse saying the configured Korean acknowledgement
    assert (response.status, response.headers["content-type"]) == (200, "application/json; charset=utf-8")
    assert json.loads(response.body) == {
        "version": "2.0",
        "template": {"outputs": [{"simpleText": {"text": TEMPLATE_ACK_TEXT}}]},
    }
    # And once written, agents see the customer's utterance on a KakaoTalk ticket
    assert stack.drain_queue().failed_records == 0
    found = stack.only_ticket()
    assert (found["ticket"]["channel"], found["ticket"]["channel_account_id"]) == ("kakao", "5a548e36aea1a43fa851ecd9")
    assert [m["text"] for m in found["messages"]] == ["스킬"]


def test_kakao_token_in_the_path_is_routed_and_accepted(stack):
    response = invoke(stack, "KakaoWebhookFunction", "kakao-skill-token-in-path.json")

    assert response.status == 200
    assert stack.queued_count() == 1


def test_kakao_wrong_token_in_the_path_is_refused(stack):
    body = provider_fixture("kakao", "skill-request.json")

    response = stack.http(
        "POST", "/webhooks/kakao/not-the-token", headers={"content-type": "application/json"}, body=body
    )

    assert (response.status, response.json()["error"]) == (401, "invalid_signature")
    assert stack.queued_count() == 0


def test_kakao_request_repeated_within_its_window_is_one_message_and_after_it_another(stack, monkeypatch):
    # Given an ordinary block (no callback), whose requests are keyed on content and 10-second window,
    # and a webhook clock that reads the arrival times below
    arrivals = iter(datetime(2025, 6, 8, 21, 0, second, tzinfo=UTC) for second in (1, 7, 12))
    monkeypatch.setattr(webhooks, "utc_now", lambda: next(arrivals))
    kakao = stack.channel(KakaoDriver())
    body = provider_fixture("kakao", "skill-request.json")
    # When the same request arrives at 21:00:01 and 21:00:07, and again at 21:00:12
    assert [kakao.deliver(body).status for _ in range(3)] == [200, 200, 200]
    assert stack.drain_queue().failed_records == 0
    # Then the first two are one message and the third, in the next window, another
    assert [m["received_at"] for m in stack.only_ticket()["messages"]] == [
        "2025-06-08T21:00:01Z",
        "2025-06-08T21:00:12Z",
    ]


def test_twilio_sms_is_answered_with_empty_twiml_and_becomes_a_ticket_with_the_verified_number(stack):
    # When Twilio posts the sample SMS, signed over the URL API Gateway received it on
    response = invoke(stack, "TwilioWebhookFunction", "twilio-sms.json")
    # Then Twilio gets empty TwiML, so nothing is texted back automatically
    assert (response.status, response.headers["content-type"], response.body) == (200, "text/xml", EMPTY_TWIML)
    # And the customer's number is their verified phone on the contact
    assert stack.drain_queue().failed_records == 0
    found = stack.only_ticket()
    assert [m["text"] for m in found["messages"]] == ["배송이 언제 오나요?"]
    (contact,) = stack.contacts()
    assert contact.phone_e164 == "+821098765432"


def test_twilio_status_callback_for_a_message_we_did_not_send_is_acknowledged(stack):
    response = invoke(stack, "TwilioWebhookFunction", "twilio-status.json")

    assert (response.status, response.body) == (200, EMPTY_TWIML)
    assert stack.drain_queue().failed_records == 0
    assert stack.tickets() == []


def test_twilio_mms_media_reach_the_ticket_as_attachments(stack):
    twilio = stack.channel(TwilioDriver())
    sid = message_sid("mms-through-handler")
    photo = media_url(sid, "ME0a1b2c3d4e5f60718293a4b5c6d7e8f9")
    body = form(
        inbound_fields(
            message_sid=sid, sender="+821098765432", body="파손된 상자 사진입니다", media=[(photo, "image/jpeg")]
        )
    )

    assert twilio.deliver(body).status == 200
    assert stack.drain_queue().failed_records == 0

    (message,) = stack.only_ticket()["messages"]
    assert message["message_type"] == "image"
    assert [(a["provider_media_id"], a["mime_type"], a["url"]) for a in message["attachments"]] == [
        ("ME0a1b2c3d4e5f60718293a4b5c6d7e8f9", "image/jpeg", photo)
    ]
