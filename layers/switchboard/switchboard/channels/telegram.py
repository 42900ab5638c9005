"""Telegram Bot API webhooks.

Each POST carries one Update: {"update_id": n, "<kind>": {...}} with exactly one kind set. We take
`message` (a customer writes, in a private chat or a group) and `edited_message` (they change it).
Other kinds (channel posts, callback queries, inline queries, polls, member changes, business
connections ...) hold no new customer message: they are acknowledged so Telegram stops sending them,
and nothing is queued.

Deduplication. Telegram repeats an update whose delivery got no 2xx, with the same `update_id` and
the same message in it. A message is filed under `<bot id>:<chat id>:<message id>`: Telegram's
message_id is only unique inside its chat, a private chat's id is the user's id, and two of our bots
can each see message 5 in their own chat with the same user, so the bot is part of the key too. The
same key is how `edited_message` finds the message it edits; an edit is deduplicated on that key and
its `edit_date`.

Replies (docs/channels/telegram.md, "Replies"): sendMessage, or sendPhoto / sendDocument / sendVideo /
sendAudio with the file's URL and the text as its caption. The Bot API takes no idempotency key, so a request
whose answer never came is `unknown`, never resent blindly. A sent message is filed under the same key as an
inbound one, so a customer's reply to it (`reply_to_message`) finds it. Telegram posts no delivery receipts.
The bot token is part of every Bot API URL: no URL goes into an error or a log.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TypeGuard

from pydantic import ConfigDict, Field, StrictInt

from switchboard.channels.base import ChannelAdapter, Sends
from switchboard.channels.sending import (
    OutboundAttachment,
    OutboundRequest,
    ProviderAnswer,
    ProviderTimeout,
    ProviderUnreachable,
    SendContext,
    SendOutcome,
    WindowVerdict,
    outcome_of_http,
)
from switchboard.errors import InvalidSignature, MalformedPayload
from switchboard.http_request import WebhookRequest, read_json
from switchboard.models import Attachment, Channel, InboundEvent, InboundMessage, Location, MessageEdit, SenderIdentity
from switchboard.proof import ChannelSecrets, account_secrets, every_account, same_secret
from switchboard.provider_payloads import MAX_TIMESTAMP, Lenient, dict_at, payload_errors, text_or_none

SECRET_TOKEN_HEADER = "x-telegram-bot-api-secret-token"
DEFAULT_ACCOUNT = "default"
# One Update per POST; a text is at most 4,096 characters (Bot API, sendMessage), its entities a few KB.
MAX_BODY_BYTES = 256 * 1024
# sendMessage: "Text of the message to be sent, 1-4096 characters after entities parsing"; sendPhoto and the
# other file methods: "caption: 0-1024 characters after entities parsing" (Bot API). No parse_mode is sent,
# so the text is taken as typed.
MAX_TEXT_CHARS = 4096
MAX_CAPTION_CHARS = 1024
# A file goes by URL: "Telegram will download and send the file. 5 MB max size for photos and 20 MB max for
# other types of content" (Bot API, Sending files). One file per message; the kind decides the method.
SEND_METHODS = {
    "image": ("sendPhoto", "photo"),
    "video": ("sendVideo", "video"),
    "audio": ("sendAudio", "audio"),
    "document": ("sendDocument", "document"),
}
# "In sendDocument, sending by URL will currently only work for GIF, PDF and ZIP files" (Bot API, Sending files).
DOCUMENT_BY_URL = (
    {"image/gif", "application/pdf", "application/zip", "application/x-zip-compressed"},
    (".gif", ".pdf", ".zip"),
)
# sendVideo: "Telegram clients support MPEG4 videos"; sendAudio: "Your audio must be in the .MP3 or .M4A format".
VIDEO_BY_URL = ({"video/mp4"}, (".mp4",))
AUDIO_BY_URL = ({"audio/mpeg", "audio/mp3", "audio/mp4", "audio/m4a", "audio/x-m4a"}, (".mp3", ".m4a"))
# Telegram's description of a 403 from a private chat whose user blocked the bot.
BLOCKED_DESCRIPTION = "bot was blocked by the user"
MEDIA_KINDS = ("animation", "document", "video", "video_note", "voice", "audio")
# What a message holds, in the order its type is decided: an animation also sets `document`, a venue
# also sets `location`.
CONTENT_KINDS = ("text", "photo", *MEDIA_KINDS, "sticker", "venue", "location", "contact")
KNOWN_TYPES = set(CONTENT_KINDS)
# Group housekeeping Telegram sends as messages: nobody wrote them to the business.
SERVICE_KINDS = frozenset(
    {
        "new_chat_members", "left_chat_member", "new_chat_title", "new_chat_photo", "delete_chat_photo",
        "group_chat_created", "supergroup_chat_created", "channel_chat_created", "message_auto_delete_timer_changed",
        "migrate_to_chat_id", "migrate_from_chat_id", "pinned_message", "forum_topic_created", "forum_topic_edited",
        "forum_topic_closed", "forum_topic_reopened", "general_forum_topic_hidden", "general_forum_topic_unhidden",
        "video_chat_scheduled", "video_chat_started", "video_chat_ended", "video_chat_participants_invited",
        "write_access_allowed", "proximity_alert_triggered", "boost_added", "chat_background_set",
    }
)  # fmt: skip


class _User(Lenient):
    id: StrictInt
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None


class _Chat(Lenient):
    id: StrictInt
    type: str = Field(min_length=1)
    title: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None


class _Message(Lenient):
    message_id: StrictInt = Field(ge=0)
    date: StrictInt = Field(ge=0, le=MAX_TIMESTAMP)
    chat: _Chat
    from_: _User | None = Field(default=None, alias="from")
    sender_chat: _Chat | None = None
    edit_date: StrictInt | None = Field(default=None, ge=0, le=MAX_TIMESTAMP)
    reply_to_message: dict[str, Any] | None = None
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class _Update(Lenient):
    update_id: StrictInt = Field(ge=0)
    message: dict[str, Any] | None = None
    edited_message: dict[str, Any] | None = None


def message_key(bot_id: str, chat_id: int | str, message_id: int | str) -> str:
    """The id a Telegram message is filed under (also for messages our bot sends, so replies find them)."""
    return f"{bot_id}:{chat_id}:{message_id}"


def bot_id_of(secrets: ChannelSecrets) -> str:
    """The default bot's account id: "bot_id" if set, else the id part of its token ("123456:ABC..." -> "123456")."""
    if bot_id := secrets.get("bot_id"):
        return str(bot_id)
    prefix = str(secrets.get("bot_token") or "").split(":", 1)[0]
    return prefix if prefix.isdigit() else DEFAULT_ACCOUNT


class TelegramAdapter(ChannelAdapter, Sends):
    webhook = Channel.TELEGRAM.value
    max_body_bytes = MAX_BODY_BYTES
    proof_secret = None  # the secret token names its bot (verify returns it)
    max_text_chars = MAX_TEXT_CHARS

    def verify(self, request: WebhookRequest, secrets: ChannelSecrets) -> str | None:
        """Telegram sends the secret_token given to setWebhook in a header; no signature covers the body.

        Each bot has its own token, so the token that matches names the bot (the account)."""
        presented = request.header(SECRET_TOKEN_HEADER)
        if not presented:
            raise InvalidSignature(f"missing {SECRET_TOKEN_HEADER} header")
        matched: str | None = None
        configured = False
        # Every account is compared, so the time taken does not tell which bot's token came close.
        for account_id, account in every_account(secrets):
            expected = str(account.get("secret_token") or "")
            if not expected:
                continue
            configured = True
            if same_secret(expected, presented) and matched is None:
                matched = account_id or bot_id_of(account)
        if not configured:
            raise InvalidSignature("no secret token is configured for this Telegram bot")
        if matched is None:
            raise InvalidSignature(f"{SECRET_TOKEN_HEADER} does not match any bot's secret token")
        return matched

    def parse(self, body: bytes, received_at: datetime, account_id: str | None = None) -> Sequence[InboundEvent]:
        bot = account_id or DEFAULT_ACCOUNT
        with payload_errors("a Telegram update"):
            document = read_json(body)
            update = _Update.model_validate(document)
            if update.message is not None:
                message = _Message.model_validate(update.message)
                return [] if _is_service(message) else [_inbound(bot, message, received_at)]
            if update.edited_message is not None:
                return [_edit(bot, _Message.model_validate(update.edited_message))]
            return []

    def refusal(self, request: OutboundRequest) -> str | None:
        return "; ".join(unsupported_attachments(request)) or None

    def resend_is_safe(self, request: OutboundRequest) -> bool:
        # The Bot API has no idempotency key: a request that may have arrived is never repeated blindly.
        return False

    def window(
        self, *, last_customer_message_at: datetime | None, now: datetime, human_agent: bool, template: bool
    ) -> WindowVerdict:
        # No customer-service window: the customer started the bot (or added it to the group), and a bot may
        # write to that chat until they block it, which the send answers with 403.
        return WindowVerdict.opened()

    def send(self, request: OutboundRequest, secrets: ChannelSecrets, context: SendContext) -> SendOutcome:
        refusals = unsupported_attachments(request)
        if refusals:
            return SendOutcome.rejected("unsupported_attachment", "; ".join(refusals))
        if not request.text and not request.attachments:
            return SendOutcome.rejected("empty", "a Telegram reply needs text or a file")
        token = str(account_secrets(secrets, request.channel_account_id).get("bot_token") or "")
        if not token:
            return SendOutcome.rejected("not_configured", "no bot token is configured for this Telegram bot")
        method, body = _send_call(request)
        try:
            answer = context.http.post(f"{context.endpoints.telegram.rstrip('/')}/bot{token}/{method}", json_body=body)
        except ProviderUnreachable:
            return SendOutcome.retry("no connection to Telegram")
        except ProviderTimeout:
            return SendOutcome.unknown(
                "Telegram did not answer: it may have delivered the message, and the Bot API takes no "
                "idempotency key to resend it safely"
            )
        return _outcome(answer, request)


ADAPTER = TelegramAdapter()


def unsupported_attachments(request: OutboundRequest) -> list[str]:
    """Why Telegram cannot carry this reply's files, one reason each (empty: it can); for the reply API's 400."""
    reasons: list[str] = []
    if len(request.attachments) > 1:
        reasons.append("a Telegram reply carries at most one file")
    for number, attachment in enumerate(request.attachments, start=1):
        name = attachment.filename or f"attachment {number}"
        if attachment.kind == "document" and not _is_one_of(attachment, DOCUMENT_BY_URL):
            reasons.append(f"{name}: Telegram takes documents by URL only as PDF, ZIP or GIF")
        elif attachment.kind == "video" and not _is_one_of(attachment, VIDEO_BY_URL):
            reasons.append(f"{name}: Telegram plays MPEG-4 (.mp4) videos only")
        elif attachment.kind == "audio" and not _is_one_of(attachment, AUDIO_BY_URL):
            reasons.append(f"{name}: Telegram plays .mp3 and .m4a audio only")
    if request.attachments and request.text and len(request.text) > MAX_CAPTION_CHARS:
        reasons.append(f"with a file, the text is its caption: at most {MAX_CAPTION_CHARS:,} characters on Telegram")
    return reasons


def _is_one_of(attachment: OutboundAttachment, allowed: tuple[set[str], tuple[str, ...]]) -> bool:
    """By MIME type when the upload named one, else by file name; neither known: let Telegram judge it."""
    types, extensions = allowed
    if attachment.mime_type:
        return attachment.mime_type.split(";", 1)[0].strip().lower() in types
    return attachment.filename is None or attachment.filename.lower().endswith(extensions)


def _send_call(request: OutboundRequest) -> tuple[str, dict[str, Any]]:
    """The Bot API method and its JSON parameters for one reply."""
    # chat_id is "Integer or String": a numeric id goes as the number it is; a @channelusername as a string.
    chat: int | str = int(request.recipient_id) if request.recipient_id.lstrip("-").isdigit() else request.recipient_id
    if not request.attachments:
        return "sendMessage", {"chat_id": chat, "text": request.text}
    attachment = request.attachments[0]
    method, field = SEND_METHODS[attachment.kind]
    body: dict[str, Any] = {"chat_id": chat, field: attachment.url}
    if request.text:
        body["caption"] = request.text
    return method, body


def _outcome(answer: ProviderAnswer, request: OutboundRequest) -> SendOutcome:
    # Every answer is {"ok", "result"} or {"ok": false, "error_code", "description", "parameters"} (Bot API,
    # Making requests); an answer from something in between (a proxy's 502) may be neither.
    document = answer.json()
    document = document if isinstance(document, dict) else {}
    description = text_or_none(document.get("description"))
    if 200 <= answer.status < 300:
        return SendOutcome.sent(_sent_key(request, dict_at(document, "result")))
    if answer.status == 429:
        # "retry_after: In case of exceeding flood control, the number of seconds left to wait before the request
        # can be repeated" (Bot API, ResponseParameters); the Retry-After header when the body lacks it.
        waited = dict_at(document, "parameters").get("retry_after")
        seconds = float(waited) if _is_int(waited) and waited >= 0 else answer.retry_after_seconds()
        return SendOutcome.retry(description or "Telegram's flood control", seconds, code="429")
    if answer.status == 403 and description and BLOCKED_DESCRIPTION in description:
        return SendOutcome.rejected("blocked", description)
    return outcome_of_http(answer, provider_message_id=None, code=None, reason=description)


def _sent_key(request: OutboundRequest, message: dict[str, Any]) -> str | None:
    """The sent Message filed as inbound ones are (message_key), so a reply quoting it names the same id."""
    message_id = message.get("message_id")
    if not _is_int(message_id):
        return None
    chat_id = dict_at(message, "chat").get("id")
    return message_key(request.channel_account_id, chat_id if _is_int(chat_id) else request.recipient_id, message_id)


def _is_service(message: _Message) -> bool:
    extra = message.model_extra or {}
    return not any(kind in extra for kind in CONTENT_KINDS) and any(kind in extra for kind in SERVICE_KINDS)


def _message_type(extra: dict[str, Any]) -> str:
    for kind in CONTENT_KINDS:
        if kind in extra:
            return kind
    # A kind newer than this adapter (a poll, a dice, a story ...): kept under its own name.
    unknown = sorted(key for key in extra if key not in ("caption", "entities", "caption_entities"))
    return unknown[0][:64] if unknown else "unknown"


def _sender(message: _Message) -> SenderIdentity:
    # An anonymous group admin or a linked channel writes as `sender_chat`; `from` then is a placeholder bot.
    if message.sender_chat is not None:
        return SenderIdentity(external_id=str(message.sender_chat.id), display_name=_bounded(message.sender_chat.title))
    person = message.from_ or message.chat
    full_name = " ".join(part for part in (person.first_name, person.last_name) if part)
    return SenderIdentity(
        external_id=str(person.id),
        display_name=_bounded(full_name or person.username),
        phone_e164=_own_phone(person.id, message.model_extra or {}),
    )


def _own_phone(sender_id: int, extra: dict[str, Any]) -> str | None:
    """The sender's phone, only when they shared their own contact (the "share my phone number" button).

    Telegram sets contact.user_id to the account the number belongs to; when that is the sender, the
    number is the one their Telegram account is registered with. Any other card is just text.
    """
    card = extra.get("contact")
    if not isinstance(card, dict) or not _is_int(card.get("user_id")) or card["user_id"] != sender_id:
        return None
    digits = str(card.get("phone_number") or "").strip().removeprefix("+")
    return f"+{digits}" if digits.isdigit() and 7 <= len(digits) <= 15 and digits[0] != "0" else None


def _inbound(bot: str, message: _Message, received_at: datetime) -> InboundMessage:
    extra = message.model_extra or {}
    kind = _message_type(extra)
    text, attachments, location = _content(kind, extra)
    replied = (message.reply_to_message or {}).get("message_id")
    return InboundMessage(
        channel=Channel.TELEGRAM,
        channel_account_id=bot,
        conversation_id=str(message.chat.id),
        external_id=message_key(bot, message.chat.id, message.message_id),
        sender=_sender(message),
        message_type=kind,
        known_type=kind in KNOWN_TYPES,
        text=text,
        attachments=attachments,
        location=location,
        reply_to_external_id=message_key(bot, message.chat.id, replied) if _is_int(replied) else None,
        provider_timestamp=datetime.fromtimestamp(message.date, UTC),
        received_at=received_at,
    )


def _edit(bot: str, message: _Message) -> MessageEdit:
    extra = message.model_extra or {}
    text, _, _ = _content(_message_type(extra), extra)
    return MessageEdit(
        channel=Channel.TELEGRAM,
        channel_account_id=bot,
        conversation_id=str(message.chat.id),
        external_id=message_key(bot, message.chat.id, message.message_id),
        text=text,
        # edit_date is documented on every edited message; an edit without one is dated by the original.
        edited_at=datetime.fromtimestamp(message.edit_date if message.edit_date is not None else message.date, UTC),
    )


def _content(kind: str, extra: dict[str, Any]) -> tuple[str | None, tuple[Attachment, ...], Location | None]:
    caption = text_or_none(extra.get("caption"))
    if kind == "text":
        return text_or_none(extra.get("text")), (), None
    if kind == "photo":
        # Telegram sends one PhotoSize per resolution; the largest is the one agents want.
        sizes = [size for size in extra["photo"] if isinstance(size, dict) and text_or_none(size.get("file_id"))]
        if not sizes:
            raise MalformedPayload("photo has no sizes with a file_id")
        largest = max(sizes, key=lambda size: (_int(size.get("width")) or 0) * (_int(size.get("height")) or 0))
        return caption, (_attachment("image", largest),), None
    if kind in MEDIA_KINDS or kind == "sticker":
        media = extra[kind]
        if not isinstance(media, dict) or not text_or_none(media.get("file_id")):
            raise MalformedPayload(f"{kind} has no file_id")
        text = caption or (text_or_none(media.get("emoji")) if kind == "sticker" else None)
        return text, (_attachment(kind, media),), None
    if kind in ("venue", "location"):
        venue = dict_at(extra, "venue")
        point = extra["location"] if kind == "location" else venue.get("location")
        if not isinstance(point, dict):
            raise MalformedPayload(f"{kind} has no location")
        location = Location(
            latitude=float(point["latitude"]),
            longitude=float(point["longitude"]),
            name=text_or_none(venue.get("title")),
            address=text_or_none(venue.get("address")),
        )
        return location.name or location.address, (), location
    if kind == "contact":
        # A shared contact card is whatever number the customer picked: it stays text for the agent, and
        # becomes the sender's phone only when it is their own (see _own_phone).
        card = extra["contact"] if isinstance(extra["contact"], dict) else {}
        name = " ".join(
            part for part in (text_or_none(card.get("first_name")), text_or_none(card.get("last_name"))) if part
        )
        return " ".join(filter(None, [name, text_or_none(card.get("phone_number"))])) or None, (), None
    return caption, (), None


def _attachment(kind: str, media: dict[str, Any]) -> Attachment:
    # Bytes come later through getFile(file_id); file_unique_id is stable across bots but cannot download.
    return Attachment(
        kind=kind,
        provider_media_id=media["file_id"],
        mime_type=text_or_none(media.get("mime_type")),
        filename=text_or_none(media.get("file_name")),
        size_bytes=_int(media.get("file_size")),
    )


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(value: Any) -> int | None:
    return value if _is_int(value) and value >= 0 else None


def _bounded(name: str | None) -> str | None:
    return name[:256] if name else None
