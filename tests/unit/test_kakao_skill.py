"""Kakao i Open Builder skill requests: the skill token (header or path), parsing into InboundMessage, the
derived message key, and the SkillResponse Kakao must get within 5 seconds.

Payload and response shapes: Kakao's "응답 타입별 JSON 포맷" (SkillPayload, userRequest.user.properties,
SkillResponse version 2.0 with template.outputs[].simpleText.text, at most 1000 characters),
https://kakaobusiness.gitbook.io/main/tool/chatbot/skill_guide/answer_json_format; the 5-second skill
timeout and the one-time callbackUrl: "AI 챗봇 콜백 개발 가이드",
https://kakaobusiness.gitbook.io/main/tool/chatbot/skill_guide/ai_chatbot_callback_guide.
"""

import json
from datetime import UTC, datetime, timedelta

import pytest

from switchboard.channels.kakao import KakaoAdapter
from switchboard.errors import InvalidSignature, MalformedPayload
from switchboard.http_request import WebhookRequest
from switchboard.media.jobs import jobs_for
from switchboard.models import Attachment, Channel, InboundMessage, SenderIdentity
from switchboard.proof import require_proof_covers
from switchboard.queue import InboundQueue
from switchboard.webhooks import handle_webhook_event
from tests.support.drivers.kakao import SAMPLE_SKILL_TOKEN, bot_user_key, encode, plusfriend_user_key, skill_payload
from tests.support.fakes import RecordingSqs
from tests.support.lambda_events import HttpResponse, http_api_event
from tests.support.paths import provider_fixture

ACK_TEXT = "메시지를 받았습니다. 상담원이 확인 후 답변드리겠습니다."
ADAPTER = KakaoAdapter(ack_text=ACK_TEXT)
SECRETS = {"skill_token": SAMPLE_SKILL_TOKEN}
RECEIVED_AT = datetime(2025, 6, 8, 21, 0, 3, tzinfo=UTC)
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/switchboard-dev-InboundQueue.fifo"
SAMPLE = provider_fixture("kakao", "skill-request.json")
CUSTOMER = bot_user_key(1)


def request(*, header: str | None = None, path_token: str | None = None) -> WebhookRequest:
    headers = {"content-type": "application/json"} | ({"x-switchboard-token": header} if header is not None else {})
    path = "/webhooks/kakao" + (f"/{path_token}" if path_token is not None else "")
    path_params = {"token": path_token} if path_token is not None else {}
    return WebhookRequest(method="POST", path=path, headers=headers, query={}, body=SAMPLE, path_params=path_params)


def parse(body: bytes, received_at: datetime = RECEIVED_AT, account_id: str | None = None) -> list:
    return list(ADAPTER.parse(body, received_at=received_at, account_id=account_id))


def said(utterance: str, **fields) -> bytes:
    return encode(skill_payload(user_id=CUSTOMER, utterance=utterance, plusfriend_key=plusfriend_user_key(1), **fields))


# -- the skill token ----------------------------------------------------------------------------


def test_token_in_the_header_is_accepted():
    assert ADAPTER.verify(request(header=SAMPLE_SKILL_TOKEN), SECRETS) is None


def test_token_in_the_path_is_accepted_for_skills_that_cannot_send_headers():
    assert ADAPTER.verify(request(path_token=SAMPLE_SKILL_TOKEN), SECRETS) is None


@pytest.mark.parametrize(
    ("header", "path_token"),
    [
        pytest.param("wrong-token", None, id="wrong-header"),
        pytest.param(None, "wrong-token", id="wrong-path"),
        pytest.param("", None, id="empty-header"),
        pytest.param(SAMPLE_SKILL_TOKEN, "wrong-token", id="right-header-wrong-path"),
        pytest.param(SAMPLE_SKILL_TOKEN.upper(), None, id="case-differs"),
    ],
)
def test_wrong_token_is_refused(header, path_token):
    with pytest.raises(InvalidSignature, match="skill token does not match"):
        ADAPTER.verify(request(header=header, path_token=path_token), SECRETS)


def test_missing_token_is_refused():
    with pytest.raises(InvalidSignature, match="missing x-switchboard-token"):
        ADAPTER.verify(request(), SECRETS)


def test_without_a_configured_token_nothing_is_accepted():
    with pytest.raises(InvalidSignature):
        ADAPTER.verify(request(header=""), {})


def test_a_bots_own_token_names_that_bot_and_only_its_payloads_pass():
    # Given a second bot configured under "accounts" with its own token
    secrets = {**SECRETS, "accounts": {"second-bot": {"skill_token": "second-bot-token"}}}
    # Then its token names it, and a payload of another bot under that token is refused
    assert ADAPTER.verify(request(header="second-bot-token"), secrets) == "second-bot"
    with pytest.raises(InvalidSignature, match="own secret did not sign"):
        require_proof_covers(parse(SAMPLE, account_id="second-bot"), secrets, ADAPTER.proof_secret, "second-bot")


# -- parsing ------------------------------------------------------------------------------------


def test_sample_skill_request_becomes_a_text_message_from_the_bot_user():
    (message,) = parse(SAMPLE)

    assert message == InboundMessage(
        channel=Channel.KAKAO,
        channel_account_id="5a548e36aea1a43fa851ecd9",
        conversation_id="620678",
        external_id=message.external_id,
        # The v1 sample spells the channel-wide user key plusfriend_user_key.
        sender=SenderIdentity(external_id="BlGTEYoiNoSh"),
        message_type="text",
        text="스킬",
        provider_timestamp=RECEIVED_AT,
        received_at=RECEIVED_AT,
    )
    assert message.external_id.startswith("kakao-utterance:")


def test_without_a_plusfriend_user_key_the_bot_user_key_identifies_the_customer():
    (message,) = parse(encode(skill_payload(user_id=CUSTOMER, utterance="안녕하세요")))

    assert message.sender == SenderIdentity(external_id=CUSTOMER)


def test_a_retry_inside_the_ten_second_window_is_the_same_message():
    # Given Kakao's request and the same request again 6 seconds later, within one 10-second window
    first = parse(said("환불 문의"), received_at=datetime(2025, 6, 8, 21, 0, 1, tzinfo=UTC))
    retry = parse(said("환불 문의"), received_at=datetime(2025, 6, 8, 21, 0, 7, tzinfo=UTC))
    # Then both have one key, so the ticket holds the message once
    assert first[0].external_id == retry[0].external_id


def test_the_same_words_in_the_next_window_are_a_new_message():
    first = parse(said("네"), received_at=datetime(2025, 6, 8, 21, 0, 9, tzinfo=UTC))
    later = parse(said("네"), received_at=datetime(2025, 6, 8, 21, 0, 9, tzinfo=UTC) + timedelta(seconds=2))

    assert first[0].external_id != later[0].external_id


def test_other_words_user_block_or_bot_make_other_messages():
    keys = {
        parse(body)[0].external_id
        for body in (
            said("환불 문의"),
            said("환불 문의합니다"),
            said("환불 문의", block_id="another-block"),
            said("환불 문의", bot_id="another-bot"),
            encode(skill_payload(user_id=bot_user_key(2), utterance="환불 문의")),
        )
    }

    assert len(keys) == 5


def test_callback_request_is_keyed_on_its_one_time_callback_url_which_is_not_kept():
    url = "https://bot-api.kakao.com/v1/bots/5a548e36aea1a43fa851ecd9/callback/one-time-token"
    (message,) = parse(said("상담원 연결", callback_url=url))
    (same_words_new_request,) = parse(said("상담원 연결", callback_url=url + "-2"))

    assert message.external_id.startswith("kakao-callback:")
    assert message.external_id != same_words_new_request.external_id
    assert "one-time-token" not in message.model_dump_json()


def test_photo_sent_in_chat_is_an_attachment_and_its_url_is_no_text():
    photo = "https://talk.kakaocdn.net/dna/bWtrgR/K6auLPnoAf/XXX/img.jpg?credential=abc"
    (message,) = parse(said(photo, params={"media": {"type": "image", "url": photo}}))

    assert (message.message_type, message.text, message.attachments) == (
        "image",
        None,
        (Attachment(kind="image", url=photo),),
    )


def test_secure_image_plugin_urls_become_attachments_on_kakaos_cdn_over_https():
    secure = {
        "privacyAgreement": "Y",
        "imageQuantity": "2",
        "secureUrls": "List(http://secure.kakaocdn.net/dna/a/img1.jpg?credential=x, http://secure.kakaocdn.net/dna/b/img2.jpg?credential=y)",
    }
    (message,) = parse(said("사진 보냈어요", action_params={"secureimage": json.dumps(secure)}))

    # The plugin writes http://; the same signed path is recorded (and fetched) over https
    assert [attachment.url for attachment in message.attachments] == [
        "https://secure.kakaocdn.net/dna/a/img1.jpg?credential=x",
        "https://secure.kakaocdn.net/dna/b/img2.jpg?credential=y",
    ]
    assert message.text == "사진 보냈어요"


def test_more_than_kakao_sends_is_kept_cut_and_marked_and_its_media_jobs_are_valid():
    # Given a skill call with 150 secure image URLs and a 3,000-character utterance
    urls = ", ".join(f"https://secure.kakaocdn.net/dna/{index}/img.jpg?credential=x" for index in range(150))
    secure = {"privacyAgreement": "Y", "imageQuantity": "150", "secureUrls": f"List({urls})"}
    # When it is parsed
    (message,) = parse(said("가" * 3000, action_params={"secureimage": json.dumps(secure)}))
    # Then the message is kept with the first 30 images (KakaoTalk's picker limit) and 1,000 characters,
    # saying what was cut
    assert (len(message.attachments), message.text) == (30, "가" * 1000)
    assert set(message.truncated) == {"text", "attachments"}
    # And every media job it makes is valid (an index past 99 once failed validation on every redelivery)
    assert len(jobs_for(message)) <= 100


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param(b"", "body is not JSON", id="empty"),
        pytest.param(b'{"userRequest": {}}', "userRequest.utterance", id="no-utterance"),
        pytest.param(json.dumps({**json.loads(SAMPLE), "bot": {"id": ""}}).encode(), "bot.id", id="empty-bot-id"),
        pytest.param(SAMPLE.replace(b'"620678"', b"620678"), "userRequest.user.id", id="user-id-number"),
        pytest.param(b'{"userRequest": {"utterance": "\\ud800"}}', "body is not JSON", id="lone-surrogate"),
    ],
)
def test_bodies_that_are_not_skill_payloads_are_malformed_without_echoing_them(body, reason):
    with pytest.raises(MalformedPayload, match=reason) as refused:
        parse(body)

    assert "620678" not in refused.value.message


# -- the answer Kakao shows the customer --------------------------------------------------------


def call_webhook(body: bytes, headers: dict[str, str]) -> tuple[HttpResponse, RecordingSqs]:
    sqs = RecordingSqs()
    event = http_api_event(
        method="POST", path="/webhooks/kakao", route_key="POST /webhooks/kakao", headers=headers, body=body
    )
    response = handle_webhook_event(event, adapter=ADAPTER, queue=InboundQueue(sqs, QUEUE_URL), secrets=lambda: SECRETS)
    return HttpResponse.of(response), sqs


def test_accepted_request_is_answered_with_a_skill_response_in_readable_korean():
    # Given Kakao's sample request with the skill token
    response, sqs = call_webhook(
        SAMPLE, {"content-type": "application/json", "x-switchboard-token": SAMPLE_SKILL_TOKEN}
    )
    # Then Kakao gets the SkillResponse shape of its own example, with our acknowledgement
    expected_shape = json.loads(provider_fixture("kakao", "skill-response.json"))
    expected_shape["template"]["outputs"][0]["simpleText"]["text"] = ACK_TEXT
    assert response.status == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert json.loads(response.body) == expected_shape
    assert ACK_TEXT in response.body  # UTF-8 text, not \\uXXXX escapes
    # And the message itself went to the queue
    assert [message.text for message in sqs.sent] == ["스킬"]


def test_refused_request_gets_no_skill_response():
    response, sqs = call_webhook(SAMPLE, {"content-type": "application/json", "x-switchboard-token": "guess"})

    assert (response.status, response.json()["error"]) == (401, "invalid_signature")
    assert sqs.batches == []
