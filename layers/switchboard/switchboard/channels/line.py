"""LINE Messaging API webhooks.

Shape: {"destination": <bot user id>, "events": [{"type", "timestamp" (ms), "source": {"type": "user" |
"group" | "room", "userId", "groupId", "roomId"}, "webhookEventId", "deliveryContext": {"isRedelivery"},
"mode", "replyToken", "message": {...}}]}. One POST can carry several events; an empty `events` array
is the console's "Verify" connectivity check.

Deduplication. LINE redelivers an event it could not deliver (when "Use webhook redelivery" is on) with
the same `webhookEventId` and `deliveryContext.isRedelivery: true`. A message event carries exactly one
message, so its `message.id` identifies the event as well as `webhookEventId` does; messages are filed
under `message.id` because that is what later events refer to (`quotedMessageId`) and what the content
API takes. Follow and unfollow carry no message, so they are deduplicated on `webhookEventId`.

Replies (docs/channels/line.md, "Replies"). With a reply token still valid, POST /v2/bot/message/reply: free,
but single-use and without an idempotency key, so a reply whose answer never came is `unknown`. Otherwise
POST /v2/bot/message/push with X-Line-Retry-Key derived from the attempt id: resending it cannot deliver twice,
and LINE's 409 to a repeated key means the first request was accepted (`sent`). LINE posts no delivery receipts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ConfigDict, Field

from switchboard.channels.base import ChannelAdapter, Sends
from switchboard.channels.sending import (
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
from switchboard.models import Attachment, Channel, FollowChange, InboundEvent, InboundMessage, Location, SenderIdentity
from switchboard.proof import ChannelSecrets, account_secrets, proven_account, same_secret
from switchboard.provider_payloads import MAX_TIMESTAMP_MS, Lenient, dict_at, list_at, payload_errors, text_or_none

SIGNATURE_HEADER = "x-line-signature"
PROOF_SECRET = "channel_secret"
# LINE documents no webhook size; one POST batches a destination's events (a text is at most 5,000
# characters). 1 MiB holds over a hundred of the largest events.
MAX_BODY_BYTES = 1024 * 1024
# "The reply token must be used within one minute after receiving the webhook. Use of the reply token
# after more than one minute isn't guaranteed." (Messaging API reference, Send reply message)
REPLY_TOKEN_LIFETIME = timedelta(minutes=1)
# A reply token is single-use ("Reply tokens can only be used once") and expires about a minute after the
# webhook (above; apps have seen it refused after about 30 s, cofacts/rumors-line-bot#154). The sender passes
# it only while it is still valid; a token LINE refuses anyway falls back to a push in the same attempt.
REPLY_PATH = "/v2/bot/message/reply"
PUSH_PATH = "/v2/bot/message/push"
RETRY_KEY_HEADER = "X-Line-Retry-Key"
# Text message: "Max character limit: 5000" (Messaging API reference, Text message).
MAX_TEXT_CHARS = 5000
# "Messages to send. Max: 5" (Messaging API reference, Send reply message / Send push message).
MAX_MESSAGES_PER_REQUEST = 5
# Image message: "Image format: JPEG or PNG", "Max file size: 10 MB", URLs over HTTPS (TLS 1.2 or later), at
# most 2,000 characters (Messaging API reference, Image message).
SENDABLE_IMAGE_TYPES = frozenset({"image/jpeg", "image/jpg", "image/png"})
SENDABLE_IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
# LINE's 429 body for the plan's monthly message allowance; unlike the rate limit's 429 it does not clear by
# waiting minutes (Messaging API reference, Status codes: "Exceeded your monthly message limit").
MONTHLY_LIMIT_MESSAGE = "You have reached your monthly limit."
INVALID_REPLY_TOKEN_MESSAGE = "Invalid reply token"
# Retry keys for attempt ids that are not UUIDs themselves: uuid5 under this fixed namespace, so an attempt
# always carries the same key (a fixed, arbitrary value: changing it would let in-flight retries duplicate).
RETRY_KEY_NAMESPACE = uuid.UUID("0b0b3c1e-5f4a-4d52-9a3e-6c1e7a1d2b10")
MEDIA_TYPES = ("image", "video", "audio", "file")
KNOWN_TYPES = {"text", *MEDIA_TYPES, "sticker", "location"}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class _Source(Lenient):
    # Field names are LINE's own (camelCase), so the models read the payload as sent.
    type: str = Field(min_length=1)
    userId: str | None = Field(default=None, min_length=1)
    groupId: str | None = Field(default=None, min_length=1)
    roomId: str | None = Field(default=None, min_length=1)


class _Event(Lenient):
    type: str = Field(min_length=1)


class _ChatEvent(Lenient):
    type: str
    timestamp: int = Field(ge=0, le=MAX_TIMESTAMP_MS)
    source: _Source
    webhookEventId: str = Field(min_length=1)
    replyToken: str | None = None


class _Message(Lenient):
    id: str = Field(min_length=1)
    type: str = Field(min_length=1)
    model_config = ConfigDict(extra="allow")


class _MessageEvent(_ChatEvent):
    message: _Message


class _Webhook(Lenient):
    destination: str = Field(min_length=1)
    events: list[dict[str, Any]]


def sign(body: bytes, channel_secret: str) -> str:
    """The x-line-signature LINE sends for this body: base64 of HMAC-SHA256 keyed by the channel secret."""
    return base64.b64encode(hmac.new(channel_secret.encode(), body, hashlib.sha256).digest()).decode()


def verify_signature(body: bytes, signature: str | None, channel_secret: str) -> None:
    """LINE signs the raw body bytes; re-serialized JSON would not match."""
    if not channel_secret:
        raise InvalidSignature("no channel secret is configured for this LINE channel")
    if not signature:
        raise InvalidSignature(f"missing {SIGNATURE_HEADER} header")
    if not same_secret(sign(body, channel_secret), signature.strip()):
        raise InvalidSignature("signature does not match the body")


class LineAdapter(ChannelAdapter, Sends):
    webhook = Channel.LINE.value

    max_body_bytes = MAX_BODY_BYTES
    proof_secret = PROOF_SECRET
    max_text_chars = MAX_TEXT_CHARS

    def verify(self, request: WebhookRequest, secrets: ChannelSecrets) -> str | None:
        # Several LINE channels can share this URL; each signs with its own channel secret. The signature
        # is checked against each configured secret from the raw bytes, before anything reads the body;
        # the `destination` it names must then be the channel whose secret signed (require_proof_covers).
        signature = request.header(SIGNATURE_HEADER)
        if not signature:
            raise InvalidSignature(f"missing {SIGNATURE_HEADER} header")
        return proven_account(
            secrets,
            PROOF_SECRET,
            lambda secret: same_secret(sign(request.body, secret), signature.strip()),
            refusal="signature does not match the body",
        )

    def parse(self, body: bytes, received_at: datetime, account_id: str | None = None) -> Sequence[InboundEvent]:
        with payload_errors("a LINE webhook"):
            document = read_json(body)
            webhook = _Webhook.model_validate(document)
            events: list[InboundMessage | FollowChange] = []
            for event in webhook.events:
                kind = _Event.model_validate(event).type
                if kind == "message":
                    events.append(_message(webhook.destination, _MessageEvent.model_validate(event), received_at))
                elif kind in ("follow", "unfollow"):
                    events.append(_follow(webhook.destination, _ChatEvent.model_validate(event)))
                # join/leave, memberJoined/memberLeft, postback, unsend, beacon, accountLink, things and
                # video-viewing events carry no customer message: acknowledged, not queued.
            return events

    def refusal(self, request: OutboundRequest) -> str | None:
        return "; ".join(unsupported_attachments(request)) or None

    def resend_is_safe(self, request: OutboundRequest) -> bool:
        # Only push takes X-Line-Retry-Key; a reply token is spent by the first request LINE receives.
        return request.reply_token is None

    def window(
        self, *, last_customer_message_at: datetime | None, now: datetime, human_agent: bool, template: bool
    ) -> WindowVerdict:
        # No customer-service window: a push reaches anyone who follows the account (and a group or room the
        # bot is in) at any time; the reply token only makes a reply free.
        return WindowVerdict.opened()

    def send(self, request: OutboundRequest, secrets: ChannelSecrets, context: SendContext) -> SendOutcome:
        refusals = unsupported_attachments(request)
        if refusals:
            return SendOutcome.rejected("unsupported_attachment", "; ".join(refusals))
        messages = _outbound_messages(request)
        if not messages:
            return SendOutcome.rejected("empty", "a LINE reply needs text or an image")
        token = str(account_secrets(secrets, request.channel_account_id).get("channel_access_token") or "")
        if not token:
            return SendOutcome.rejected("not_configured", "no channel access token is configured for this LINE channel")
        base = context.endpoints.line_api.rstrip("/")
        authorization = {"Authorization": f"Bearer {token}"}
        if request.reply_token:
            replied = _reply(context, base + REPLY_PATH, authorization, request.reply_token, messages)
            if replied is not None:
                return replied
        return _push(context, base + PUSH_PATH, authorization, request, messages)


ADAPTER = LineAdapter()


def retry_key(attempt_id: str) -> str:
    """The X-Line-Retry-Key of an attempt: "a hexadecimal UUID generated by any method" (Retrying an API request).

    An attempt id that is a UUID is the key itself; any other id maps to one UUID (uuid5), the same every time."""
    try:
        return str(uuid.UUID(attempt_id))
    except ValueError:
        return str(uuid.uuid5(RETRY_KEY_NAMESPACE, attempt_id))


def unsupported_attachments(request: OutboundRequest) -> list[str]:
    """Why LINE cannot carry this reply's attachments, one reason each (empty: it can); for the reply API's 400.

    Only images are sent. A video message needs a preview image and an audio message its duration, which a
    reply does not carry, and a bot cannot send files: LINE's message objects have no file type to send.
    """
    reasons: list[str] = []
    for number, attachment in enumerate(request.attachments, start=1):
        name = attachment.filename or f"attachment {number}"
        if attachment.kind == "image":
            if not _is_jpeg_or_png(attachment.mime_type, attachment.filename):
                reasons.append(f"{name}: LINE sends JPEG and PNG images only")
        elif attachment.kind == "video":
            reasons.append(f"{name}: LINE's video message needs a preview image, which a reply does not have")
        elif attachment.kind == "audio":
            reasons.append(f"{name}: LINE's audio message needs the audio's duration, which a reply does not carry")
        else:
            reasons.append(f"{name}: a LINE Official Account cannot send files, only text and images")
    total = (1 if request.text else 0) + len(request.attachments)
    if total > MAX_MESSAGES_PER_REQUEST:
        reasons.append(
            f"LINE takes at most {MAX_MESSAGES_PER_REQUEST} messages at once: the text and "
            f"{MAX_MESSAGES_PER_REQUEST - 1 if request.text else MAX_MESSAGES_PER_REQUEST} images"
        )
    return reasons


def _is_jpeg_or_png(mime_type: str | None, filename: str | None) -> bool:
    if mime_type:
        return mime_type.split(";", 1)[0].strip().lower() in SENDABLE_IMAGE_TYPES
    return filename is None or filename.lower().endswith(SENDABLE_IMAGE_EXTENSIONS)


def _outbound_messages(request: OutboundRequest) -> list[dict[str, str]]:
    """LINE message objects, the text first (its id is the attempt's provider id)."""
    messages = [{"type": "text", "text": request.text}] if request.text else []
    for attachment in request.attachments:
        # The presigned URL serves as its own preview: LINE documents a 1 MB preview maximum, so a larger image
        # may show a blank thumbnail until opened. LINE requires HTTPS; the local fake takes http URLs too.
        messages.append({"type": "image", "originalContentUrl": attachment.url, "previewImageUrl": attachment.url})
    return messages


def _reply(
    context: SendContext, url: str, authorization: dict[str, str], reply_token: str, messages: list[dict[str, str]]
) -> SendOutcome | None:
    """The reply-token send; None when LINE refuses the token (expired early or spent), so a push may follow."""
    # No X-Line-Retry-Key here: LINE answers 400 to it on any endpoint but push, multicast, narrowcast and
    # broadcast (Retrying an API request, "Retry only with supported APIs").
    try:
        answer = context.http.post(
            url, json_body={"replyToken": reply_token, "messages": messages}, headers=authorization
        )
    except ProviderUnreachable:
        return SendOutcome.retry("no connection to LINE")
    except ProviderTimeout:
        return SendOutcome.unknown(
            "LINE did not answer the reply: it may have been delivered, and its reply token cannot be used again"
        )
    if answer.status == 400 and _error_of(answer)[0] == INVALID_REPLY_TOKEN_MESSAGE:
        # A 400 means LINE sent nothing: pushing instead cannot duplicate.
        return None
    if answer.status >= 500:
        # "Even if you get such error, there is a possibility that your message was delivered" (Retrying an API
        # request): without a retry key a second try could deliver twice, so a 5xx on a reply is unknown.
        return SendOutcome.unknown(f"LINE answered {answer.status} to the reply: it may have been delivered")
    return _outcome(answer)


def _push(
    context: SendContext,
    url: str,
    authorization: dict[str, str],
    request: OutboundRequest,
    messages: list[dict[str, str]],
) -> SendOutcome:
    headers = {**authorization, RETRY_KEY_HEADER: retry_key(request.attempt_id)}
    try:
        answer = context.http.post(url, json_body={"to": request.recipient_id, "messages": messages}, headers=headers)
    except ProviderUnreachable:
        return SendOutcome.retry("no connection to LINE")
    except ProviderTimeout:
        # LINE: "If you specify the retry key, the request is executed only once, no matter how many times you
        # make the request" (for 24 hours after the first request): resending this attempt is safe.
        return SendOutcome.retry("LINE did not answer; resending with the same X-Line-Retry-Key cannot deliver twice")
    if answer.status == 409:
        # LINE: a repeated X-Line-Retry-Key answers 409: the first request was accepted; the body then holds the
        # sentMessages of that first request (Retrying an API request, "Response to retrying an accepted request").
        return SendOutcome.sent(_first_sent_id(answer))
    return _outcome(answer)


def _outcome(answer: ProviderAnswer) -> SendOutcome:
    message, details = _error_of(answer)
    if answer.status == 429 and message == MONTHLY_LIMIT_MESSAGE:
        return SendOutcome.rejected("monthly_limit", message)
    reason = message + (f" ({'; '.join(details)})" if details else "") if message else None
    return outcome_of_http(answer, provider_message_id=_first_sent_id(answer), code=None, reason=reason)


def _error_of(answer: ProviderAnswer) -> tuple[str, list[str]]:
    """LINE's error body, {"message", "details": [{"message", "property"}]}: the message and each detail."""
    document = answer.json()
    if not isinstance(document, dict):
        return "", []
    message = document.get("message")
    details = [
        f"{detail.get('property') or 'request'}: {detail.get('message')}"
        for detail in list_at(document, "details")
        if isinstance(detail, dict) and detail.get("message")
    ]
    return (message if isinstance(message, str) else ""), details


def _first_sent_id(answer: ProviderAnswer) -> str | None:
    """The id of the first message sent: {"sentMessages": [{"id", "quoteToken"}]} (Send push/reply message)."""
    document = answer.json()
    sent = list_at(document, "sentMessages") if isinstance(document, dict) else []
    first = sent[0] if sent and isinstance(sent[0], dict) else {}
    return text_or_none(first.get("id"))


def _conversation_of(source: _Source) -> str:
    """A 1:1 chat is the user's conversation; a group chat or multi-person room is one conversation of its own."""
    conversation = {"user": source.userId, "group": source.groupId, "room": source.roomId}.get(source.type)
    if not conversation:
        raise MalformedPayload(f"source of type {source.type!r} lacks its id")
    return conversation


def _sender_of(source: _Source, conversation: str) -> SenderIdentity:
    # LINE leaves userId out of group and room events for members it does not identify; their messages
    # are filed under the group itself rather than dropped.
    return SenderIdentity(external_id=source.userId or conversation)


def _message(account: str, event: _MessageEvent, received_at: datetime) -> InboundMessage:
    message = event.message
    content = message.model_extra or {}
    conversation = _conversation_of(event.source)
    text, attachments, location = _content(message, content)
    quoted = content.get("quotedMessageId")
    return InboundMessage(
        channel=Channel.LINE,
        channel_account_id=account,
        conversation_id=conversation,
        external_id=message.id,
        sender=_sender_of(event.source, conversation),
        message_type=message.type,
        known_type=message.type in KNOWN_TYPES,
        text=text,
        attachments=attachments,
        location=location,
        reply_to_external_id=quoted if isinstance(quoted, str) and quoted else None,
        reply_token=event.replyToken or None,
        reply_token_expires_at=received_at + REPLY_TOKEN_LIFETIME if event.replyToken else None,
        provider_timestamp=_moment(event.timestamp),
        received_at=received_at,
    )


def _content(message: _Message, content: dict[str, Any]) -> tuple[str | None, tuple[Attachment, ...], Location | None]:
    if message.type == "text":
        return text_or_none(content.get("text")), (), None
    if message.type in MEDIA_TYPES:
        # The bytes are fetched later by message id (GET /v2/bot/message/{id}/content); an image or video
        # the sender's app hosts elsewhere says so in contentProvider.
        provider = dict_at(content, "contentProvider")
        size = content.get("fileSize")
        if provider.get("type") == "external":
            # The sender's own server hosts it (contentProvider "external"), at a URL LINE passes on unchecked:
            # a link for the agent to open (kind "link"), never fetched; LINE's content API has no bytes for it.
            return None, (Attachment(kind="link", url=text_or_none(provider.get("originalContentUrl"))),), None
        attachment = Attachment(
            kind=message.type,
            provider_media_id=message.id,
            filename=text_or_none(content.get("fileName")),
            size_bytes=size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None,
        )
        return None, (attachment,), None
    if message.type == "sticker":
        # Package and sticker id together name the sticker's image in LINE's sticker catalogue.
        package, sticker_id = text_or_none(content.get("packageId")), text_or_none(content.get("stickerId"))
        sticker = Attachment(
            kind="sticker", provider_media_id=f"{package}/{sticker_id}" if package and sticker_id else None
        )
        return _sticker_text(content), (sticker,), None
    if message.type == "location":
        location = Location(
            latitude=float(content["latitude"]),
            longitude=float(content["longitude"]),
            name=text_or_none(content.get("title")),
            address=text_or_none(content.get("address")),
        )
        return location.name or location.address, (), location
    return None, (), None


def _sticker_text(content: dict[str, Any]) -> str:
    """A message sticker carries the words the customer typed on it; other stickers are known by their keywords."""
    if typed := text_or_none(content.get("text")):
        return typed
    keywords = [word for word in content.get("keywords") or [] if isinstance(word, str) and word][:5]
    return "[sticker] " + ", ".join(keywords) if keywords else "[sticker]"


def _follow(account: str, event: _ChatEvent) -> FollowChange:
    # Only a user follows (adds as a friend or unblocks) or unfollows (blocks) an account.
    if event.source.type != "user" or not event.source.userId:
        raise MalformedPayload(f"{event.type} event must come from a user source")
    return FollowChange(
        channel=Channel.LINE,
        channel_account_id=account,
        conversation_id=event.source.userId,
        event_id=event.webhookEventId,
        sender=SenderIdentity(external_id=event.source.userId),
        following=event.type == "follow",
        occurred_at=_moment(event.timestamp),
    )


def _moment(milliseconds: int) -> datetime:
    # Exact to the millisecond, unlike fromtimestamp(ms / 1000) and its float rounding.
    return EPOCH + timedelta(milliseconds=milliseconds)
