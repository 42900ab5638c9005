"""Facebook Messenger and Instagram messaging webhooks (Meta's Messenger Platform).

Shape: {"object": "page" | "instagram", "entry": [{"id": <page or Instagram account id>, "time": <ms>,
"messaging": [{"sender": {"id"}, "recipient": {"id"}, "timestamp": <ms>, <one event>}]}]}, where the
event is one of `message`, `postback`, `message_edit`, `delivery` or `read`. One POST batches several
entries (one per page), each with several events. Instagram sends the Messenger shape with
"object": "instagram"; one adapter class serves both, parametrized by channel.

What each event becomes:
- `message` from the customer: an InboundMessage, deduplicated on `message.mid`.
- `message` with `is_echo: true`: the page (or Instagram account) sent it, from Meta Business Suite,
  the Instagram app or another tool. It is kept as an OUTBOUND InboundMessage in the customer's
  conversation (the echo's `recipient`), never as something the customer wrote.
- `postback` (a button, Get Started or persistent-menu tap): an InboundMessage of type "postback" whose
  text is the button title. Newer API versions give it a `mid`; older ones do not, and then its id is
  derived from sender, timestamp and payload, which Meta repeats unchanged on every redelivery.
- `message_edit` (Messenger): a MessageEdit of the edited message.
- `delivery` (Messenger): one DeliveryReceipt "delivered" per listed mid of a message we sent.
- `read`: Messenger reports a watermark (everything sent up to that moment was read): a ReadWatermark.
  Instagram's `messaging_seen` names the message read instead (`read.mid`): a DeliveryReceipt "read".
- Anything else (reactions, referrals, opt-ins, handover, account linking, deleted messages) carries no
  message for agents and is acknowledged without events.

Display names are not in Meta's webhook (they need a Graph API call with the page token), so senders
carry their page-scoped id only.

Replies (the `Sends` half) go to the Send API, `POST /{page-id}/messages` for Messenger and
`POST /{instagram-account-id}/messages` for Instagram, one message per attempt: text, or one attachment.
Within 24 hours of the customer's last message a reply is a `RESPONSE`; from 24 hours to 7 days only a
person's reply may go, tagged `HUMAN_AGENT`; after that nothing may.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeGuard

from pydantic import Field, model_validator

from switchboard.channels import meta
from switchboard.channels.base import AnswersHandshake, ChannelAdapter, Sends
from switchboard.channels.graph_send import (
    CUSTOMER_SERVICE_WINDOW,
    GRAPH_RETRY_CODES,
    GraphError,
    access_token,
    graph_send,
)
from switchboard.channels.sending import (
    OutboundAttachment,
    OutboundRequest,
    SendContext,
    SendOutcome,
    WindowVerdict,
)
from switchboard.errors import MalformedPayload
from switchboard.http_request import WebhookRequest, read_json
from switchboard.models import (
    Attachment,
    Channel,
    DeliveryReceipt,
    DeliveryStatus,
    Direction,
    InboundEvent,
    InboundMessage,
    Location,
    MessageEdit,
    ReadWatermark,
    SenderIdentity,
    stable_id,
)
from switchboard.proof import ChannelSecrets
from switchboard.provider_payloads import MAX_TIMESTAMP_MS, Lenient, payload_errors, text_or_none

# Attachment types in Meta's Messenger and Instagram webhook references; others are kept as unknown.
KNOWN_ATTACHMENT_TYPES = {
    "image",
    "video",
    "audio",
    "file",
    "location",
    "fallback",
    "template",
    "sticker",
    "share",
    "story_mention",
    "ig_reel",
    "reel",
    "ig_post",
}
# Send API reference (https://developers.facebook.com/docs/messenger-platform/reference/send-api): "text ...
# must be UTF-8 and has a 2000 character limit"; Instagram messaging caps a text at 1,000 (Instagram Messaging,
# "Send a Message": https://developers.facebook.com/docs/messenger-platform/instagram/features/send-message).
MESSENGER_MAX_TEXT_CHARS = 2000
INSTAGRAM_MAX_TEXT_CHARS = 1000
# Messenger Platform, "Sending messages outside the 24-hour window"
# (https://developers.facebook.com/docs/messenger-platform/send-messages/message-tags): HUMAN_AGENT "allows
# human agents to respond to user inquiries ... within 7 days after a user message"; "automated messages are
# not permitted" under it. Instagram messaging applies the same tag and limits.
HUMAN_AGENT_TAG = "HUMAN_AGENT"
HUMAN_AGENT_WINDOW = timedelta(days=7)
# A Send API message is `text` or one `attachment`, never both.
MAX_ATTACHMENTS = 1
ATTACHMENT_TYPES = {"image": "image", "video": "video", "audio": "audio", "document": "file"}
# Messenger Platform error codes (https://developers.facebook.com/documentation/business-messaging/messenger-platform/error-codes):
# 613 "Calls to this api have exceeded the rate limit", beside Graph's own rate limits (4, 32).
THROTTLING_CODES = frozenset({613})
# (#10) with subcode 2018278 "This message is sent outside of allowed window"; (#551) "This person isn't
# available right now" (the customer blocked messages or left).
OUTSIDE_WINDOW = (10, 2018278)

# A link the customer shared (Messenger's `fallback` for a URL, Instagram's `share` of a post): recorded as an
# attachment of kind "link" with its URL for the agent to open, never fetched; whatever it names is not ours.
LINK_ATTACHMENT_TYPES = {"fallback", "share"}


class _Party(Lenient):
    # Customers are page-scoped ids (PSID/IGSID); chat-plugin guests arrive with a user_ref instead.
    id: str | None = Field(default=None, min_length=1, max_length=256)
    user_ref: str | None = Field(default=None, min_length=1, max_length=256)

    @model_validator(mode="after")
    def _identified(self) -> _Party:
        if self.id is None and self.user_ref is None:
            raise ValueError("needs an id or a user_ref")
        return self

    @property
    def key(self) -> str:
        return self.id or self.user_ref or ""


class _Attachment(Lenient):
    type: str = Field(min_length=1, max_length=64)
    payload: dict[str, Any] | None = None
    title: Any = None
    url: Any = None


class _Message(Lenient):
    mid: str = Field(min_length=1, max_length=512)
    is_echo: bool = False
    is_deleted: bool = False
    is_unsupported: bool = False
    text: Any = None
    attachments: list[_Attachment] = []
    quick_reply: dict[str, Any] | None = None
    reply_to: dict[str, Any] | None = None
    sticker_id: Any = None


class _Postback(Lenient):
    mid: str | None = Field(default=None, min_length=1, max_length=512)
    title: Any = None
    payload: Any = None


class _Edit(Lenient):
    mid: str = Field(min_length=1, max_length=512)
    text: Any = None


class _Delivery(Lenient):
    mids: list[str] = []
    watermark: int | None = Field(default=None, ge=0, le=MAX_TIMESTAMP_MS)


class _Read(Lenient):
    watermark: int | None = Field(default=None, ge=0, le=MAX_TIMESTAMP_MS)
    mid: str | None = Field(default=None, min_length=1, max_length=512)


class _Messaging(Lenient):
    sender: _Party
    recipient: _Party
    timestamp: int | None = Field(default=None, ge=0, le=MAX_TIMESTAMP_MS)
    message: _Message | None = None
    postback: _Postback | None = None
    message_edit: _Edit | None = None
    delivery: _Delivery | None = None
    read: _Read | None = None


class _Entry(Lenient):
    id: str = Field(min_length=1, max_length=256)
    time: int | None = Field(default=None, ge=0, le=MAX_TIMESTAMP_MS)
    # Entries for other subscriptions (feed `changes`, handover `standby`) carry no `messaging`.
    messaging: list[_Messaging] = []


class _Webhook(Lenient):
    object: str
    entry: list[_Entry]


class MetaMessagingAdapter(ChannelAdapter, AnswersHandshake, Sends):
    """Verify, parse and send for one of Meta's messaging channels (Messenger or Instagram)."""

    def __init__(
        self,
        channel: Channel,
        expected_object: str,
        product: str,
        *,
        max_text_chars: int = MESSENGER_MAX_TEXT_CHARS,
        token_key: str = "page_access_token",
    ) -> None:
        self.channel = channel
        self.webhook = channel.value
        self.expected_object = expected_object
        self._product = product
        self.max_text_chars = max_text_chars
        # The channel secret's key holding the account's send token (template.yaml, LocalSecrets).
        self.token_key = token_key

    max_body_bytes = meta.MAX_BODY_BYTES
    proof_secret = meta.PROOF_SECRET

    def verify(self, request: WebhookRequest, secrets: ChannelSecrets) -> str | None:
        """Meta signs with the app secret of the app the page is subscribed to. Pages of several apps can
        share this webhook (each app's secret under "accounts"): the account whose secret signed is
        returned, and every page the payload names must be one that secret belongs to."""
        return meta.verify_any_account(request, secrets)

    def answer_handshake(self, request: WebhookRequest, secrets: ChannelSecrets) -> str:
        return meta.answer_handshake(request, secrets)

    def parse(self, body: bytes, received_at: datetime, account_id: str | None = None) -> Sequence[InboundEvent]:
        with payload_errors(f"a {self._product} webhook"):
            document = read_json(body)
            webhook = _Webhook.model_validate(document)
            if webhook.object != self.expected_object:
                raise MalformedPayload(f"object is not {self.expected_object!r}: not a {self._product} webhook")
            events: list[InboundMessage | DeliveryReceipt | MessageEdit | ReadWatermark] = []
            for entry in webhook.entry:
                for messaging in entry.messaging:
                    events.extend(self._events_of(entry, messaging, received_at))
            return events

    # -- sending ---------------------------------------------------------------------------------

    def refusal(self, request: OutboundRequest) -> str | None:
        return self.reply_refusal(request.text, request.attachments)

    def resend_is_safe(self, request: OutboundRequest) -> bool:
        # The Send API takes no idempotency key: a repeated POST is a second message.
        return False

    def window(
        self, *, last_customer_message_at: datetime | None, now: datetime, human_agent: bool, template: bool
    ) -> WindowVerdict:
        """Standard messaging within 24 hours of the customer's last message; from the 24th hour to the end of
        the 7th day, a person's reply tagged HUMAN_AGENT, never a bot's or an automated one; after that,
        nothing. Meta has no templates here, so `template` changes nothing."""
        if last_customer_message_at is None:
            return WindowVerdict.closed(
                f"The customer has not written to this {self._product} account: Meta lets a business only answer "
                "a customer who wrote first"
            )
        elapsed = now - last_customer_message_at
        if elapsed < CUSTOMER_SERVICE_WINDOW:
            return WindowVerdict.opened()
        if elapsed < HUMAN_AGENT_WINDOW:
            if human_agent:
                return WindowVerdict.opened(tag=HUMAN_AGENT_TAG)
            return WindowVerdict.closed(
                f"More than 24 hours have passed since the customer's last {self._product} message: only a "
                "person's reply may go out now (Meta's HUMAN_AGENT tag), never an automated one",
                allowed=("human_agent",),
            )
        return WindowVerdict.closed(
            f"More than 7 days have passed since the customer's last {self._product} message: nothing can reach "
            "them until they write again"
        )

    def send(self, request: OutboundRequest, secrets: ChannelSecrets, context: SendContext) -> SendOutcome:
        refusal = self.reply_refusal(request.text, request.attachments)
        if refusal is not None:
            return SendOutcome.rejected("invalid_reply", refusal)
        # Judged again at the attempt: a reply accepted at hour 23 and retried at hour 25 needs the tag, and
        # a bot's reply past 24 hours must never go out (Meta restricts pages that message outside the rules).
        verdict = self.window(
            last_customer_message_at=request.customer_last_message_at,
            now=request.now,
            human_agent=request.human_agent,
            template=False,
        )
        if not verdict.open:
            return SendOutcome.rejected(verdict.code or "window_closed", verdict.reason or "The window is closed")
        return graph_send(
            request,
            context,
            # The account id is the page id (Messenger) or the Instagram professional account id: Send API
            # reference, "POST /PAGE-ID/messages"; Instagram API with Instagram Login, "POST /<IG_ID>/messages"
            # (https://developers.facebook.com/docs/instagram-platform/instagram-api-with-instagram-login/messaging-api/).
            path=f"{request.channel_account_id}/messages",
            token=access_token(secrets, request.channel_account_id, self.token_key),
            token_key=self.token_key,
            body=send_api_body(request, verdict.tag),
            provider_message_id=_sent_message_id,
            retry_codes=GRAPH_RETRY_CODES | THROTTLING_CODES,
            explain=self._explain,
            base_url=context.endpoints.instagram_graph if self.webhook == Channel.INSTAGRAM.value else None,
        )

    def reply_refusal(self, text: str | None, attachments: Sequence[OutboundAttachment]) -> str | None:
        """Why a reply cannot go out as ONE Send API message (the agent's API answers 400 with it), or None:
        a message is text or one attachment, so a file goes as its own reply."""
        if len(attachments) > MAX_ATTACHMENTS:
            return f"A {self._product} message carries one attachment: send each file as its own reply"
        if attachments and text:
            return f"A {self._product} message is text or an attachment: send the file as its own reply"
        if not attachments and not text:
            return "The reply has no text or attachment"
        if text and len(text) > self.max_text_chars:
            return f"A {self._product} message holds at most {self.max_text_chars:,} characters"
        return None

    def _explain(self, error: GraphError) -> str | None:
        if (error.code, error.error_subcode) == OUTSIDE_WINDOW:
            return f"window_closed: Meta says the message is outside the allowed window. {error.readable()}"
        return None

    # -- one messaging event ---------------------------------------------------------------------

    def _events_of(
        self, entry: _Entry, event: _Messaging, received_at: datetime
    ) -> Sequence[InboundMessage | DeliveryReceipt | MessageEdit | ReadWatermark]:
        account = entry.id
        moment = event.timestamp if event.timestamp is not None else entry.time
        if event.message is not None:
            if event.message.is_deleted:
                # Instagram: the customer unsent a message. There is nothing new to show agents.
                return []
            return [self._message(account, event, event.message, _required_time(moment), received_at)]
        if event.postback is not None:
            return [self._postback(account, event, event.postback, _required_time(moment), received_at)]
        if event.message_edit is not None:
            return [self._edit(account, event, event.message_edit, _required_time(moment))]
        if event.delivery is not None:
            # Meta's delivery samples carry no `timestamp`: the watermark says when the messages were
            # delivered, which is closer to the truth than the entry's time of sending the webhook.
            watermark = event.delivery.watermark
            at = _required_time(next((t for t in (event.timestamp, watermark, entry.time) if t is not None), None))
            return [
                DeliveryReceipt(
                    channel=self.channel,
                    channel_account_id=account,
                    external_id=mid,
                    recipient_id=event.sender.key,
                    status=DeliveryStatus.DELIVERED,
                    provider_timestamp=at,
                )
                for mid in dict.fromkeys(event.delivery.mids)
                if mid
            ]
        if event.read is not None:
            return self._read(account, event, event.read, moment)
        return []

    def _message(
        self, account: str, event: _Messaging, message: _Message, moment: datetime, received_at: datetime
    ) -> InboundMessage:
        # An echo is the page talking: the customer is its recipient, and the conversation is theirs.
        customer = event.recipient if message.is_echo else event.sender
        text = text_or_none(message.text)
        attachments: list[Attachment] = []
        location: Location | None = None
        for attachment in message.attachments:
            if attachment.type == "location":
                location = location or _location(attachment)
            else:
                attachments.append(_attachment(attachment, message.sticker_id))
            if attachment.type == "fallback" and text is None:
                # A shared link: its title is what the customer sees in the thread.
                text = text_or_none(attachment.title) or text_or_none((attachment.payload or {}).get("title"))
        kinds = [attachment.type for attachment in message.attachments]
        if message.quick_reply is not None:
            message_type, known = "quick_reply", True
        elif kinds:
            message_type, known = kinds[0], kinds[0] in KNOWN_ATTACHMENT_TYPES
        elif text is not None:
            message_type, known = "text", True
        else:
            # Instagram flags media it cannot pass on (`is_unsupported`); kept so agents see something came.
            message_type, known = "unsupported", False
        reply_to = (message.reply_to or {}).get("mid")
        return InboundMessage(
            channel=self.channel,
            channel_account_id=account,
            conversation_id=customer.key,
            external_id=message.mid,
            sender=SenderIdentity(external_id=customer.key),
            message_type=message_type,
            known_type=known,
            text=text,
            attachments=tuple(attachments),
            location=location,
            reply_to_external_id=reply_to if isinstance(reply_to, str) and reply_to else None,
            payload=text_or_none((message.quick_reply or {}).get("payload")),
            direction=Direction.OUTBOUND if message.is_echo else Direction.INBOUND,
            provider_timestamp=moment,
            received_at=received_at,
        )

    def _postback(
        self, account: str, event: _Messaging, postback: _Postback, moment: datetime, received_at: datetime
    ) -> InboundMessage:
        payload = text_or_none(postback.payload)
        # Without a mid (older API versions), the id must come out the same on every redelivery:
        # Meta resends the same sender, timestamp and payload.
        external_id = postback.mid or stable_id(
            "postback",
            event.sender.key,
            str(int(moment.timestamp() * 1000)),
            payload or "",
            text_or_none(postback.title) or "",
        )
        return InboundMessage(
            channel=self.channel,
            channel_account_id=account,
            conversation_id=event.sender.key,
            external_id=external_id,
            sender=SenderIdentity(external_id=event.sender.key),
            message_type="postback",
            text=text_or_none(postback.title) or payload,
            payload=payload,
            provider_timestamp=moment,
            received_at=received_at,
        )

    def _edit(self, account: str, event: _Messaging, edit: _Edit, moment: datetime) -> MessageEdit:
        return MessageEdit(
            channel=self.channel,
            channel_account_id=account,
            conversation_id=event.sender.key,
            external_id=edit.mid,
            text=text_or_none(edit.text),
            edited_at=moment,
        )

    def _read(
        self, account: str, event: _Messaging, read: _Read, moment: int | None
    ) -> list[DeliveryReceipt | ReadWatermark]:
        if read.watermark is not None:
            return [
                ReadWatermark(
                    channel=self.channel,
                    channel_account_id=account,
                    conversation_id=event.sender.key,
                    read_up_to=_time(read.watermark),
                )
            ]
        if read.mid is not None:
            return [
                DeliveryReceipt(
                    channel=self.channel,
                    channel_account_id=account,
                    external_id=read.mid,
                    recipient_id=event.sender.key,
                    status=DeliveryStatus.READ,
                    provider_timestamp=_required_time(moment),
                )
            ]
        return []


MESSENGER = MetaMessagingAdapter(
    Channel.MESSENGER, "page", "Messenger", max_text_chars=MESSENGER_MAX_TEXT_CHARS, token_key="page_access_token"
)
INSTAGRAM = MetaMessagingAdapter(
    Channel.INSTAGRAM,
    "instagram",
    "Instagram messaging",
    max_text_chars=INSTAGRAM_MAX_TEXT_CHARS,
    token_key="access_token",
)


def send_api_body(request: OutboundRequest, tag: str | None) -> dict[str, Any]:
    """The Send API request for one attempt (Send API reference; "Send a Message" for Instagram)."""
    if request.attachments:
        attachment = request.attachments[0]
        # A presigned URL Meta downloads once; not reusable, it expires.
        message: dict[str, Any] = {
            "attachment": {
                "type": ATTACHMENT_TYPES[attachment.kind],
                "payload": {"url": attachment.url, "is_reusable": False},
            }
        }
    else:
        message = {"text": request.text or ""}
    body: dict[str, Any] = {"recipient": {"id": request.recipient_id}}
    if tag is None:
        body["messaging_type"] = "RESPONSE"
    else:
        body["messaging_type"] = "MESSAGE_TAG"
        body["tag"] = tag
    body["message"] = message
    return body


def _sent_message_id(document: Any) -> str | None:
    # {"recipient_id": "<PSID>", "message_id": "m_..."}
    message_id = document.get("message_id") if isinstance(document, dict) else None
    return message_id if isinstance(message_id, str) and message_id else None


def _attachment(attachment: _Attachment, sticker_id: Any) -> Attachment:
    payload = attachment.payload or {}
    # Meta's CDN URLs are signed and expire; they need no token, so the media job can fetch them as they are.
    url = text_or_none(payload.get("url")) or text_or_none(attachment.url)
    if attachment.type in LINK_ATTACHMENT_TYPES:
        return Attachment(kind="link", url=url)
    # Stickers are images with a sticker_id; Instagram reels and posts name their media.
    candidates = (payload.get("sticker_id"), sticker_id, payload.get("reel_video_id"), payload.get("attachment_id"))
    return Attachment(kind=attachment.type, provider_media_id=next(filter(None, map(_id, candidates)), None), url=url)


def _id(value: Any) -> str | None:
    """Meta sends numeric ids as JSON numbers in some places and as strings in others."""
    if isinstance(value, bool):
        return None
    return str(value) if isinstance(value, int) or (isinstance(value, str) and value) else None


def _location(attachment: _Attachment) -> Location:
    coordinates = (attachment.payload or {}).get("coordinates")
    if not isinstance(coordinates, dict):
        raise MalformedPayload("location attachment has no payload.coordinates")
    latitude, longitude = coordinates.get("lat"), coordinates.get("long")
    if not _is_number(latitude) or not _is_number(longitude):
        raise MalformedPayload("location coordinates must be numbers")
    return Location(latitude=latitude, longitude=longitude, name=text_or_none(attachment.title))


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _required_time(milliseconds: int | None) -> datetime:
    if milliseconds is None:
        raise MalformedPayload("messaging event has no timestamp (nor does its entry)")
    return _time(milliseconds)


def _time(milliseconds: int) -> datetime:
    return datetime.fromtimestamp(milliseconds / 1000, UTC)
