"""Sending replies on Telegram: sendMessage and the file methods, the id a sent message is filed under, error
mapping (blocked, flood control), timeouts without an idempotency key, and that the bot token in the URL never
reaches an outcome.

Real HTTP against the fake providers server (infra/fakes/outbound_telegram.py), no AWS involved.
"""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from infra.fakes import outbound_telegram
from infra.fakes.providers import FakeProviders
from switchboard.channels.base import Sends
from switchboard.channels.sending import (
    OutboundAttachment,
    OutboundRequest,
    SendContext,
    SendEndpoints,
    SendHttp,
    SendOutcome,
)
from switchboard.channels.telegram import ADAPTER, unsupported_attachments
from switchboard.models import Channel
from tests.support.sending import send_context

BOT = "123456"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeProviders]:
    fake = FakeProviders().start()
    yield fake
    fake.stop()


@pytest.fixture
def telegram(server: FakeProviders) -> FakeProviders:
    server.reset()
    return server


@pytest.fixture
def secrets(server: FakeProviders) -> dict[str, Any]:
    return {"secret_token": "unused-here", "bot_token": server.credentials.telegram_bot_token}


def context_for(fake: FakeProviders, read_timeout: float = 5.0, base: str | None = None) -> SendContext:
    return send_context(base or fake.base_url, read_timeout=read_timeout)


def fresh_chat() -> str:
    """A private chat no other test writes to (Telegram numbers messages per chat)."""
    return str(700_000_000 + uuid.uuid4().int % 100_000_000)


def reply(**changes: Any) -> OutboundRequest:
    fields: dict[str, Any] = {
        "attempt_id": f"att-{uuid.uuid4().hex}",
        "message_id": "msg-1",
        "ticket_id": "tkt-1",
        "channel": Channel.TELEGRAM,
        "channel_account_id": BOT,
        "recipient_id": fresh_chat(),
        "text": "Здравствуйте! Заказ уже в пути.",
        "now": datetime.now(UTC),
    }
    return OutboundRequest(**(fields | changes))


def file(name: str, mime_type: str | None, kind: str) -> OutboundAttachment:
    return OutboundAttachment(
        kind=kind,
        storage_key=f"attachments/{name}",
        filename=name,
        mime_type=mime_type,
        url=f"https://attachments.example/{name}?X-Amz-Signature=abc",
    )


def path_of(fake: FakeProviders, method: str) -> str:
    return f"/telegram/bot{fake.credentials.telegram_bot_token}/{method}"


def no_token_in(outcome: SendOutcome, token: str) -> bool:
    return token not in json.dumps(outcome.model_dump())


def test_the_adapter_is_a_sender_with_telegram_limits():
    # Given the Telegram adapter
    # Then it declares the Sends capability, the Bot API's 4,096-character limit, no window, and no safe resend
    assert isinstance(ADAPTER, Sends)
    assert ADAPTER.max_text_chars == 4096
    verdict = ADAPTER.window(last_customer_message_at=None, now=datetime.now(UTC), human_agent=True, template=False)
    assert verdict.open is True
    assert ADAPTER.resend_is_safe(reply()) is False


def test_a_text_reply_is_sent_with_send_message(telegram, secrets):
    # Given a text reply to a private chat
    request = reply()
    # When it is sent
    outcome = ADAPTER.send(request, secrets, context_for(telegram))
    # Then the Bot API received sendMessage with the chat id as a number and the text
    [call] = telegram.calls("telegram")
    assert call.path == path_of(telegram, "sendMessage")
    assert call.json() == {"chat_id": int(request.recipient_id), "text": request.text}
    # And the message is filed as inbound Telegram messages are: <bot>:<chat>:<message id>
    assert outcome.kind == "sent"
    assert outcome.provider_message_id == f"{BOT}:{request.recipient_id}:1"


def test_the_sent_id_is_the_one_a_customer_reply_quotes(telegram, secrets):
    # Given a reply we sent
    request = reply()
    outcome = ADAPTER.send(request, secrets, context_for(telegram))
    assert outcome.provider_message_id is not None
    sent_message_id = int(outcome.provider_message_id.rsplit(":", 1)[1])
    # When the customer answers it, quoting it, as Telegram posts that update
    update = {
        "update_id": 10001,
        "message": {
            "message_id": sent_message_id + 1,
            "date": 1735000000,
            "chat": {"id": int(request.recipient_id), "type": "private", "first_name": "Ivan"},
            "from": {"id": int(request.recipient_id), "is_bot": False, "first_name": "Ivan"},
            "text": "Спасибо!",
            "reply_to_message": {"message_id": sent_message_id, "date": 1734999990, "chat": {"id": 1}},
        },
    }
    [inbound] = ADAPTER.parse(json.dumps(update).encode(), datetime.now(UTC), BOT)
    # Then the quoted message is ours
    assert inbound.reply_to_external_id == outcome.provider_message_id


def test_a_photo_goes_by_url_with_the_text_as_its_caption(telegram, secrets):
    # Given a reply with text and one image
    photo = file("receipt.jpg", "image/jpeg", "image")
    request = reply(attachments=(photo,))
    # When it is sent
    outcome = ADAPTER.send(request, secrets, context_for(telegram))
    # Then one sendPhoto carries the URL and the caption
    [call] = telegram.calls("telegram")
    assert call.path == path_of(telegram, "sendPhoto")
    assert call.json() == {"chat_id": int(request.recipient_id), "photo": photo.url, "caption": request.text}
    assert outcome.kind == "sent"


def test_a_pdf_goes_with_send_document_without_a_caption_when_there_is_no_text(telegram, secrets):
    # Given a reply that is a PDF alone
    pdf = file("invoice.pdf", "application/pdf", "document")
    request = reply(text=None, attachments=(pdf,))
    # When it is sent
    ADAPTER.send(request, secrets, context_for(telegram))
    # Then sendDocument carries its URL
    [call] = telegram.calls("telegram")
    assert call.path == path_of(telegram, "sendDocument")
    assert call.json() == {"chat_id": int(request.recipient_id), "document": pdf.url}


def test_a_group_chat_id_goes_as_its_negative_number(telegram, secrets):
    # Given a reply into a supergroup
    request = reply(recipient_id="-1001234567890")
    # When it is sent
    outcome = ADAPTER.send(request, secrets, context_for(telegram))
    # Then chat_id is the number, and the id keeps the group's chat id
    assert telegram.calls("telegram")[0].json()["chat_id"] == -1001234567890
    assert outcome.provider_message_id is not None
    assert outcome.provider_message_id.startswith(f"{BOT}:-1001234567890:")


def test_what_telegram_cannot_carry_is_named_before_sending(telegram, secrets):
    # Given replies with two files, a Word document, a WebM video, a WAV clip, and a long text beside a file
    photo = file("a.png", "image/png", "image")
    cases = {
        "two": reply(attachments=(photo, file("b.png", "image/png", "image"))),
        "docx": reply(attachments=(file("terms.docx", None, "document"),)),
        "webm": reply(attachments=(file("clip.webm", "video/webm", "video"),)),
        "wav": reply(attachments=(file("memo.wav", "audio/wav", "audio"),)),
        "caption": reply(text="x" * 1025, attachments=(photo,)),
    }
    # Then each is refused with a reason naming the file or the Bot API's rule
    reasons = {name: unsupported_attachments(request) for name, request in cases.items()}
    assert reasons["two"] == ["a Telegram reply carries at most one file"]
    assert reasons["docx"] == ["terms.docx: Telegram takes documents by URL only as PDF, ZIP or GIF"]
    assert reasons["webm"] == ["clip.webm: Telegram plays MPEG-4 (.mp4) videos only"]
    assert reasons["wav"] == ["memo.wav: Telegram plays .mp3 and .m4a audio only"]
    assert reasons["caption"] == ["with a file, the text is its caption: at most 1,024 characters on Telegram"]
    # And an MP4, an MP3, a ZIP and a 1,024-character caption fit
    for fits in (
        reply(attachments=(file("clip.mp4", "video/mp4", "video"),)),
        reply(attachments=(file("memo.mp3", None, "audio"),)),
        reply(attachments=(file("logs.zip", "application/zip", "document"),)),
        reply(text="x" * 1024, attachments=(photo,)),
    ):
        assert unsupported_attachments(fits) == []
    # And a refused reply reaching send is rejected without calling Telegram
    outcome = ADAPTER.send(cases["two"], secrets, context_for(telegram))
    assert (outcome.kind, outcome.code) == ("rejected", "unsupported_attachment")
    assert telegram.calls("telegram") == []


def test_a_user_who_blocked_the_bot_fails_the_reply_with_that_reason(telegram, secrets):
    # Given a customer who blocked the bot
    request = reply()
    outbound_telegram.BLOCKED_CHATS.add(request.recipient_id)
    try:
        # When a reply is sent
        outcome = ADAPTER.send(request, secrets, context_for(telegram))
    finally:
        outbound_telegram.BLOCKED_CHATS.discard(request.recipient_id)
    # Then it is rejected as blocked, with Telegram's words
    assert (outcome.kind, outcome.code) == ("rejected", "blocked")
    assert outcome.reason == "Forbidden: bot was blocked by the user"


def test_flood_control_is_retried_after_the_seconds_telegram_names(telegram, secrets):
    # Given Telegram's flood control on a chat: 429 with parameters.retry_after 7
    request = reply()
    outbound_telegram.FLOOD_WAIT[request.recipient_id] = 7
    try:
        # When a reply is sent
        outcome = ADAPTER.send(request, secrets, context_for(telegram))
    finally:
        outbound_telegram.FLOOD_WAIT.pop(request.recipient_id)
    # Then it goes back to the queue for those 7 seconds
    assert (outcome.kind, outcome.retry_after_seconds) == ("retry", 7.0)
    assert outcome.reason == "Too Many Requests: retry after 7"


def test_a_429_without_parameters_uses_retry_after_and_a_5xx_is_retried(telegram, secrets):
    # Given a 429 carrying only the Retry-After header, then a 502 from in between
    telegram.fail(path_of(telegram, "sendMessage"), status=429, retry_after="3")
    telegram.fail(path_of(telegram, "sendMessage"), status=502)
    # When two replies are sent
    limited = ADAPTER.send(reply(), secrets, context_for(telegram))
    failed = ADAPTER.send(reply(), secrets, context_for(telegram))
    # Then both are retried, the first after 3 seconds
    assert (limited.kind, limited.retry_after_seconds) == ("retry", 3.0)
    assert failed.kind == "retry"


def test_a_request_telegram_refuses_is_rejected_with_its_description(telegram, secrets):
    # Given a text over the Bot API's limit (the reply API checks it first; Telegram would refuse it anyway)
    outcome = ADAPTER.send(reply(text="x" * 4097), secrets, context_for(telegram))
    # Then it is rejected with Telegram's description
    assert (outcome.kind, outcome.code, outcome.reason) == ("rejected", "400", "Bad Request: message is too long")


def test_a_wrong_bot_token_is_rejected_without_the_token_anywhere(telegram):
    # Given a bot token Telegram does not accept
    secrets = {"bot_token": "999999:revoked-bot-token"}
    # When a reply is sent
    outcome = ADAPTER.send(reply(), secrets, context_for(telegram))
    # Then it is rejected with Telegram's 401, and the token (part of the URL) appears nowhere in the outcome
    assert (outcome.kind, outcome.code, outcome.reason) == ("rejected", "401", "Unauthorized")
    assert no_token_in(outcome, "revoked-bot-token")


def test_a_timed_out_send_is_unknown_never_resent_blindly(telegram, secrets):
    # Given a sendMessage whose answer comes after we stopped waiting (Telegram did deliver it)
    telegram.stall(path_of(telegram, "sendMessage"), seconds=0.6)
    request = reply()
    # When it is sent
    outcome = ADAPTER.send(request, secrets, context_for(telegram, read_timeout=0.2))
    # Then it is unknown: the Bot API has no idempotency key, so a resend could deliver twice
    assert outcome.kind == "unknown"
    assert ADAPTER.resend_is_safe(request) is False
    assert no_token_in(outcome, secrets["bot_token"])


def test_no_connection_is_a_retry_without_the_token(secrets):
    # Given a Bot API address where nothing listens
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    context = SendContext(
        http=SendHttp(connect_timeout=0.5, read_timeout=0.5),
        endpoints=SendEndpoints(graph=closed, line_api=closed, telegram=f"{closed}/telegram", twilio=closed),
    )
    # When a reply is sent
    outcome = ADAPTER.send(reply(), secrets, context)
    # Then Telegram cannot have acted on it: retried, and nothing names the token
    assert outcome.kind == "retry"
    assert no_token_in(outcome, secrets["bot_token"])
