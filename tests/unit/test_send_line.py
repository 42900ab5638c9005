"""Sending replies on LINE: the reply-token path and the push path with its X-Line-Retry-Key, LINE's 409 for a
repeated key, error mapping, timeouts, and what a reply may carry.

Real HTTP against the fake providers server (infra/fakes/outbound_line.py), no AWS involved.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from infra.fakes import outbound_line
from infra.fakes.providers import FakeProviders
from switchboard.channels.base import Sends
from switchboard.channels.line import ADAPTER, retry_key, unsupported_attachments
from switchboard.channels.sending import OutboundAttachment, OutboundRequest, SendContext
from switchboard.models import Channel
from tests.support.sending import send_context

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
PUSH = "/line-api/v2/bot/message/push"
REPLY = "/line-api/v2/bot/message/reply"
BOT = "U4af4980629e2a1f7bfbbc1bdf3f0a7c1"
CUSTOMER = "U206d25c2ea6bd87c17655609a1c37cb8"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeProviders]:
    fake = FakeProviders().start()
    yield fake
    fake.stop()


@pytest.fixture
def line(server: FakeProviders) -> FakeProviders:
    server.reset()
    return server


@pytest.fixture
def secrets(server: FakeProviders) -> dict[str, Any]:
    return {"channel_secret": "unused-here", "channel_access_token": server.credentials.line_channel_access_token}


def context_for(fake: FakeProviders, read_timeout: float = 5.0) -> SendContext:
    return send_context(fake.base_url, read_timeout=read_timeout)


def reply(**changes: Any) -> OutboundRequest:
    fields: dict[str, Any] = {
        "attempt_id": f"att-{uuid.uuid4().hex}",
        "message_id": "msg-1",
        "ticket_id": "tkt-1",
        "channel": Channel.LINE,
        "channel_account_id": BOT,
        "recipient_id": CUSTOMER,
        "text": "안녕하세요, 주문을 확인했습니다.",
        "now": datetime.now(UTC),
    }
    return OutboundRequest(**(fields | changes))


def image(name: str = "receipt.png", mime_type: str | None = "image/png", kind: str = "image") -> OutboundAttachment:
    return OutboundAttachment(
        kind=kind,
        storage_key=f"attachments/{name}",
        filename=name,
        mime_type=mime_type,
        url=f"https://attachments.example/{name}?X-Amz-Signature=abc",
    )


def test_the_adapter_is_a_sender_with_line_limits():
    # Given the LINE adapter
    # Then it declares the Sends capability, LINE's 5,000-character text limit, and no window
    assert isinstance(ADAPTER, Sends)
    assert ADAPTER.max_text_chars == 5000
    verdict = ADAPTER.window(last_customer_message_at=None, now=datetime.now(UTC), human_agent=False, template=False)
    assert verdict.open is True


def test_a_reply_without_a_token_is_pushed_with_a_retry_key(line, secrets):
    # Given a reply whose reply token has expired (the sender passes none)
    request = reply()
    # When it is sent
    outcome = ADAPTER.send(request, secrets, context_for(line))
    # Then LINE received one push, shaped as documented, with a UUID retry key derived from the attempt
    [call] = line.calls("line")
    assert call.path == PUSH
    assert call.json() == {"to": CUSTOMER, "messages": [{"type": "text", "text": request.text}]}
    assert call.header("Authorization") == f"Bearer {secrets['channel_access_token']}"
    assert call.header("X-Line-Retry-Key") == retry_key(request.attempt_id)
    assert UUID.match(call.header("X-Line-Retry-Key") or "")
    # And it is sent, under the id LINE gave the message
    assert outcome.kind == "sent"
    assert outcome.provider_message_id and outcome.provider_message_id.isdigit()
    assert ADAPTER.resend_is_safe(request) is True


def test_a_repeated_push_answers_409_and_counts_as_the_first_send(line, secrets):
    # Given a push LINE already accepted
    request = reply()
    first = ADAPTER.send(request, secrets, context_for(line))
    # When the same attempt is sent again (a crash after LINE answered, before we recorded it)
    second = ADAPTER.send(request, secrets, context_for(line))
    # Then LINE saw the same retry key twice, refused the repeat with 409, and the repeat reads as sent,
    # with the first request's message id
    calls = line.calls("line")
    assert [c.header("X-Line-Retry-Key") for c in calls] == [retry_key(request.attempt_id)] * 2
    assert second.kind == "sent"
    assert second.provider_message_id == first.provider_message_id


def test_retry_keys_are_uuids_stable_per_attempt_and_distinct_across_attempts():
    # Given attempt ids of any shape
    ids = ["att-1", "att-2", "01J9Z8Q4T7N3V5X2B6C8D0E1F2", "a" * 64]
    # Then each maps to one lowercase hexadecimal UUID, the same every time, and no two collide
    keys = [retry_key(attempt) for attempt in ids]
    assert all(UUID.match(key) for key in keys)
    assert keys == [retry_key(attempt) for attempt in ids]
    assert len(set(keys)) == len(ids)
    # And an attempt id that is a UUID is its own key
    attempt = str(uuid.uuid4())
    assert retry_key(attempt) == attempt
    assert retry_key(attempt.upper()) == attempt


def test_a_valid_reply_token_replies_for_free_without_a_retry_key(line, secrets):
    # Given a reply while the inbound message's reply token is valid
    request = reply(reply_token=f"nHuyWiB7yP5Zw52FIkcQobQuGDXCTA-{uuid.uuid4().hex}")
    # When it is sent
    outcome = ADAPTER.send(request, secrets, context_for(line))
    # Then it went through the reply endpoint with the token, and without X-Line-Retry-Key (LINE answers 400 to it)
    [call] = line.calls("line")
    assert call.path == REPLY
    assert call.json() == {"replyToken": request.reply_token, "messages": [{"type": "text", "text": request.text}]}
    assert call.header("X-Line-Retry-Key") is None
    assert outcome.kind == "sent"
    assert outcome.provider_message_id and outcome.provider_message_id.isdigit()
    # And a reply-token attempt is not safe to resend: the token is spent by the first request LINE receives
    assert ADAPTER.resend_is_safe(request) is False


def test_a_reply_token_line_refuses_falls_back_to_a_push_in_the_same_attempt(line, secrets):
    # Given a reply token LINE no longer accepts (it expired early, or was used)
    token = f"spent-{uuid.uuid4().hex}"
    ADAPTER.send(reply(reply_token=token), secrets, context_for(line))
    earlier = len(line.calls("line"))
    request = reply(reply_token=token)
    # When a reply is sent with it
    outcome = ADAPTER.send(request, secrets, context_for(line))
    # Then LINE refused the token with 400 (nothing was sent), and the same attempt pushed instead
    calls = line.calls("line")[earlier:]
    assert [call.path for call in calls] == [REPLY, PUSH]
    assert calls[1].header("X-Line-Retry-Key") == retry_key(request.attempt_id)
    assert outcome.kind == "sent"


def test_text_and_images_go_as_one_request_text_first(line, secrets):
    # Given a reply with text and two images
    request = reply(attachments=(image("a.png"), image("b.jpg", "image/jpeg")))
    # When it is sent
    ADAPTER.send(request, secrets, context_for(line))
    # Then one push carries the text and each image, the presigned URL serving as its own preview
    [call] = line.calls("line")
    assert call.json()["messages"] == [
        {"type": "text", "text": request.text},
        {
            "type": "image",
            "originalContentUrl": request.attachments[0].url,
            "previewImageUrl": request.attachments[0].url,
        },
        {
            "type": "image",
            "originalContentUrl": request.attachments[1].url,
            "previewImageUrl": request.attachments[1].url,
        },
    ]


def test_what_line_cannot_carry_is_named_before_sending(line, secrets):
    # Given replies with a video, an audio clip, a document, a GIF, and more than five messages
    cases = {
        "video": reply(attachments=(image("clip.mp4", "video/mp4", "video"),)),
        "audio": reply(attachments=(image("memo.m4a", "audio/mp4", "audio"),)),
        "document": reply(attachments=(image("invoice.pdf", "application/pdf", "document"),)),
        "gif": reply(attachments=(image("dance.gif", "image/gif"),)),
        "six": reply(attachments=tuple(image(f"{n}.png") for n in range(5))),
    }
    # Then each is refused with a reason naming the file or LINE's limit
    reasons = {name: unsupported_attachments(request) for name, request in cases.items()}
    assert "preview image" in reasons["video"][0] and reasons["video"][0].startswith("clip.mp4")
    assert "duration" in reasons["audio"][0]
    assert "cannot send files" in reasons["document"][0]
    assert "JPEG and PNG" in reasons["gif"][0]
    assert reasons["six"] == ["LINE takes at most 5 messages at once: the text and 4 images"]
    # And text with four images, or five images alone, fit
    assert unsupported_attachments(reply(attachments=tuple(image(f"{n}.png") for n in range(4)))) == []
    assert unsupported_attachments(reply(text=None, attachments=tuple(image(f"{n}.png") for n in range(5)))) == []
    # And a refused reply reaching send is rejected without calling LINE
    outcome = ADAPTER.send(cases["video"], secrets, context_for(line))
    assert (outcome.kind, outcome.code) == ("rejected", "unsupported_attachment")
    assert line.calls("line") == []


def test_429_and_5xx_are_retried_honouring_retry_after(line, secrets):
    # Given LINE's rate limit answering 429 with Retry-After, then a 500
    line.fail(PUSH, status=429, retry_after="3")
    line.fail(PUSH, status=500)
    # When two pushes are made
    limited = ADAPTER.send(reply(), secrets, context_for(line))
    failed = ADAPTER.send(reply(), secrets, context_for(line))
    # Then both go back to the queue, the first after the 3 seconds LINE asked for
    assert (limited.kind, limited.retry_after_seconds) == ("retry", 3.0)
    assert failed.kind == "retry"


def test_the_monthly_limit_is_a_rejection_not_a_retry(line, secrets):
    # Given an account that has used its plan's monthly message allowance
    outbound_line.STATE.monthly_limit_reached = True
    try:
        # When a push is made
        outcome = ADAPTER.send(reply(), secrets, context_for(line))
    finally:
        outbound_line.STATE.monthly_limit_reached = False
    # Then LINE's 429 is read as final: waiting does not clear it within the month
    assert (outcome.kind, outcome.code) == ("rejected", "monthly_limit")
    assert outcome.reason == "You have reached your monthly limit."


def test_a_request_line_refuses_is_rejected_with_its_message_and_details(line, secrets):
    # Given a text over LINE's limit (the reply API checks it first; LINE would refuse it anyway)
    request = reply(text="가" * 5001)
    # When it is pushed
    outcome = ADAPTER.send(request, secrets, context_for(line))
    # Then it is rejected with LINE's message and the property it names
    assert outcome.kind == "rejected"
    assert outcome.code == "400"
    assert outcome.reason == "The request body has 1 error(s) (messages[0].text: Length must be between 0 and 5000)"


def test_a_wrong_access_token_is_rejected(line):
    # Given a channel whose access token LINE does not accept
    secrets = {"channel_access_token": "revoked-token"}
    # When a push is made
    outcome = ADAPTER.send(reply(), secrets, context_for(line))
    # Then it is rejected with LINE's 401, and nothing says the token
    assert (outcome.kind, outcome.code) == ("rejected", "401")
    assert "revoked-token" not in (outcome.reason or "")


def test_a_timed_out_push_is_resent_and_accepted_once(line, secrets):
    # Given a push whose answer comes after we stopped waiting (LINE did accept it)
    line.stall(PUSH, seconds=0.6)
    request = reply()
    outcome = ADAPTER.send(request, secrets, context_for(line, read_timeout=0.2))
    # Then the attempt is retried, not unknown: its retry key makes resending safe
    assert outcome.kind == "retry"
    assert ADAPTER.resend_is_safe(request) is True
    # When the sender resends it, once LINE has accepted the first
    time.sleep(0.6)
    resent = ADAPTER.send(request, secrets, context_for(line))
    # Then LINE answers 409: the customer got it once, and the attempt is sent
    assert resent.kind == "sent" and resent.provider_message_id
    assert len(line.calls("line")) == 2


def test_a_timed_out_reply_is_unknown(line, secrets):
    # Given a reply-token request whose answer never comes in time
    line.stall(REPLY, seconds=0.6)
    request = reply(reply_token=f"token-{uuid.uuid4().hex}")
    # When it is sent
    outcome = ADAPTER.send(request, secrets, context_for(line, read_timeout=0.2))
    # Then it is unknown: the token is spent, and a push could deliver it twice
    assert outcome.kind == "unknown"
    assert ADAPTER.resend_is_safe(request) is False
    assert [call.path for call in line.calls("line")] == [REPLY]


def test_a_5xx_on_a_reply_is_unknown(line, secrets):
    # Given LINE answering 500 to a reply (LINE: it may have been delivered anyway)
    line.fail(REPLY, status=500)
    # When it is sent
    outcome = ADAPTER.send(reply(reply_token=f"token-{uuid.uuid4().hex}"), secrets, context_for(line))
    # Then it is unknown, not retried and not pushed
    assert outcome.kind == "unknown"
    assert [call.path for call in line.calls("line")] == [REPLY]


def test_a_fake_answers_409_only_to_the_same_retry_key(line, secrets):
    # Given two attempts of the same reply (the agent resent it explicitly: a new attempt id)
    first, second = reply(), reply()
    # When both are pushed
    outcomes = [ADAPTER.send(request, secrets, context_for(line)) for request in (first, second)]
    # Then each is a new message: a resend really sends again
    assert [outcome.kind for outcome in outcomes] == ["sent", "sent"]
    assert outcomes[0].provider_message_id != outcomes[1].provider_message_id
