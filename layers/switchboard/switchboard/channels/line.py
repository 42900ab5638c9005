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
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ConfigDict, Field

from switchboard.channels.base import ChannelAdapter
from switchboard.errors import InvalidSignature, MalformedPayload
from switchboard.http_request import WebhookRequest, read_json
from switchboard.models import Attachment, Channel, FollowChange, InboundEvent, InboundMessage, Location, SenderIdentity
from switchboard.proof import ChannelSecrets, proven_account, same_secret
from switchboard.provider_payloads import MAX_TIMESTAMP_MS, Lenient, dict_at, payload_errors, text_or_none

SIGNATURE_HEADER = "x-line-signature"
PROOF_SECRET = "channel_secret"
# LINE documents no webhook size; one POST batches a destination's events (a text is at most 5,000
# characters). 1 MiB holds over a hundred of the largest events.
MAX_BODY_BYTES = 1024 * 1024
# "The reply token must be used within one minute after receiving the webhook. Use of the reply token
# after more than one minute isn't guaranteed." (Messaging API reference, Send reply message)
REPLY_TOKEN_LIFETIME = timedelta(minutes=1)
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


class LineAdapter(ChannelAdapter):
    webhook = Channel.LINE.value

    max_body_bytes = MAX_BODY_BYTES
    proof_secret = PROOF_SECRET

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


ADAPTER = LineAdapter()


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
