"""WhatsApp Cloud API (Meta) webhooks.

Shape: {"object": "whatsapp_business_account", "entry": [{"id": <WABA id>, "changes": [{"field":
"messages", "value": {"metadata": {"phone_number_id"}, "contacts": [...], "messages": [...],
"statuses": [...]}}]}]}. One POST can carry several entries, changes and messages.

Replies (the `Sends` half) go to the Cloud API's `POST /{phone-number-id}/messages`, one message per
attempt: text, or one attachment with the text as its caption, or an approved template. Free-form
messages need the customer service window (24 hours since the customer's last message); templates go
out at any time. Each message carries `biz_opaque_callback_data` = the attempt id, which Meta echoes in
the sent/delivered/read statuses.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field

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
    WhatsAppTemplate,
    WindowVerdict,
)
from switchboard.errors import MalformedPayload
from switchboard.http_request import WebhookRequest, read_json
from switchboard.models import (
    Attachment,
    Channel,
    DeliveryReceipt,
    DeliveryStatus,
    InboundEvent,
    InboundMessage,
    Location,
    SenderIdentity,
)
from switchboard.proof import ChannelSecrets
from switchboard.provider_payloads import MAX_TIMESTAMP, Lenient, dict_at, list_at, payload_errors, text_or_none

MEDIA_TYPES = ("image", "audio", "video", "document", "sticker")

# Cloud API Messages reference (https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages):
# text.body "Maximum 4096 characters"; a media caption "Maximum 1024 characters", on image, video and
# document only (audio takes none).
MAX_TEXT_CHARS = 4096
MAX_CAPTION_CHARS = 1024
CAPTIONED_KINDS = frozenset({"image", "video", "document"})
# One attempt is one provider call, and one Cloud API message carries at most one media object.
MAX_ATTACHMENTS = 1
# WhatsApp error codes (https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes):
# throttling is 4 (app), 80007 (WABA), 130429 (the number's throughput) and 131056 (too many messages to one
# customer, "pair rate limit"): all clear with time.
THROTTLING_CODES = frozenset({4, 80007, 130429, 131056})
# "Re-engagement message": more than 24 hours since the customer last replied; only a template can go.
REENGAGEMENT_CODE = 131047
TOKEN_KEY = "access_token"
KNOWN_TYPES = {"text", *MEDIA_TYPES, "location", "contacts", "interactive", "button", "reaction", "order", "system"}


class _Profile(Lenient):
    name: str | None = None


class _Contact(Lenient):
    wa_id: str
    profile: _Profile | None = None


class _Metadata(Lenient):
    phone_number_id: str = Field(min_length=1)
    display_phone_number: str | None = None


class _Message(Lenient):
    id: str = Field(min_length=1)
    from_: str = Field(alias="from", min_length=1)
    timestamp: int = Field(ge=0, le=MAX_TIMESTAMP)
    type: str = Field(min_length=1)
    context: dict[str, Any] | None = None
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class _Status(Lenient):
    id: str = Field(min_length=1)
    status: str
    timestamp: int = Field(ge=0, le=MAX_TIMESTAMP)
    recipient_id: str = Field(min_length=1)
    errors: list[dict[str, Any]] = []
    # What we put on the message as biz_opaque_callback_data (the attempt id), echoed on its statuses:
    # Cloud API, "Messages", biz_opaque_callback_data ("... will be included in the status webhooks").
    biz_opaque_callback_data: str | None = None


class _Value(Lenient):
    metadata: _Metadata
    contacts: list[_Contact] = []
    messages: list[_Message] = []
    statuses: list[_Status] = []


class _Change(Lenient):
    field: str
    value: dict[str, Any]


class _Entry(Lenient):
    id: str
    changes: list[_Change]


class _Webhook(Lenient):
    object: str
    entry: list[_Entry]


class WhatsAppAdapter(ChannelAdapter, AnswersHandshake, Sends):
    webhook = Channel.WHATSAPP.value

    max_body_bytes = meta.MAX_BODY_BYTES
    proof_secret = meta.PROOF_SECRET
    max_text_chars = MAX_TEXT_CHARS

    def verify(self, request: WebhookRequest, secrets: ChannelSecrets) -> str | None:
        # Numbers of several apps can share this URL: accounts are keyed by phone_number_id, the account
        # every message and status is filed under.
        return meta.verify_any_account(request, secrets)

    def answer_handshake(self, request: WebhookRequest, secrets: ChannelSecrets) -> str:
        return meta.answer_handshake(request, secrets)

    def parse(self, body: bytes, received_at: datetime, account_id: str | None = None) -> Sequence[InboundEvent]:
        with payload_errors("a WhatsApp Cloud API webhook"):
            document = read_json(body)
            webhook = _Webhook.model_validate(document)
            if webhook.object != "whatsapp_business_account":
                raise MalformedPayload(f"object is {webhook.object!r}, expected 'whatsapp_business_account'")
            events: list[InboundMessage | DeliveryReceipt] = []
            for entry in webhook.entry:
                for change in entry.changes:
                    # Other fields (account_update, templates, ...) carry no customer messages.
                    if change.field == "messages":
                        events.extend(_events_of(_Value.model_validate(change.value), received_at))
            return events

    # -- sending ---------------------------------------------------------------------------------

    def refusal(self, request: OutboundRequest) -> str | None:
        return reply_refusal(request.text, request.attachments, request.template)

    def resend_is_safe(self, request: OutboundRequest) -> bool:
        # The Cloud API takes no idempotency key: a repeated POST is a second message.
        return False

    def window(
        self, *, last_customer_message_at: datetime | None, now: datetime, human_agent: bool, template: bool
    ) -> WindowVerdict:
        """Free-form messages only while the customer service window is open: 24 hours from the customer's
        last message, closed from the 24th hour on (Cloud API, "Customer service windows":
        https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-messages#customer-service-windows).
        A template goes out at any time; who wrote the reply does not matter on WhatsApp."""
        if template:
            return WindowVerdict.opened()
        if last_customer_message_at is None:
            return WindowVerdict.closed(
                "The customer has not written to this WhatsApp number: only an approved template can start the "
                "conversation",
                allowed=("template",),
            )
        if now - last_customer_message_at < CUSTOMER_SERVICE_WINDOW:
            return WindowVerdict.opened()
        return WindowVerdict.closed(
            "More than 24 hours have passed since the customer's last WhatsApp message: only an approved "
            "template can reach them until they write again",
            allowed=("template",),
        )

    def send(self, request: OutboundRequest, secrets: ChannelSecrets, context: SendContext) -> SendOutcome:
        refusal = reply_refusal(request.text, request.attachments, request.template)
        if refusal is not None:
            return SendOutcome.rejected("invalid_reply", refusal)
        return graph_send(
            request,
            context,
            path=f"{request.channel_account_id}/messages",
            token=access_token(secrets, request.channel_account_id, TOKEN_KEY),
            token_key=TOKEN_KEY,
            body=message_body(request),
            provider_message_id=_sent_message_id,
            retry_codes=GRAPH_RETRY_CODES | THROTTLING_CODES,
            explain=_explain,
        )


ADAPTER = WhatsAppAdapter()


def reply_refusal(
    text: str | None, attachments: Sequence[OutboundAttachment], template: WhatsAppTemplate | None = None
) -> str | None:
    """Why a reply cannot go out as ONE WhatsApp message (the agent's API answers 400 with it), or None.

    One message carries text, or one attachment with the text as its caption (image, video, document),
    or a template. A reply with several files, or audio with text, is several messages: the agent sends
    each as its own reply."""
    if template is not None:
        return "A template reply carries no attachments" if attachments else None
    if len(attachments) > MAX_ATTACHMENTS:
        return "A WhatsApp message carries one attachment: send each file as its own reply"
    if attachments:
        kind = attachments[0].kind
        if text and kind not in CAPTIONED_KINDS:
            return f"A WhatsApp {kind} message carries no text: send the text as its own reply"
        if text and len(text) > MAX_CAPTION_CHARS:
            return f"A WhatsApp caption holds at most {MAX_CAPTION_CHARS:,} characters"
        return None
    if not text:
        return "The reply has no text, attachment or template"
    if len(text) > MAX_TEXT_CHARS:
        return f"A WhatsApp text message holds at most {MAX_TEXT_CHARS:,} characters"
    return None


def message_body(request: OutboundRequest) -> dict[str, Any]:
    """The Cloud API message for one attempt (Messages reference, "Text messages", "Media messages",
    "Template messages")."""
    body: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": request.recipient_id,
    }
    if request.template is not None:
        body["type"] = "template"
        body["template"] = _template(request.template)
    elif request.attachments:
        attachment = request.attachments[0]
        kind: Literal["image", "video", "audio", "document"] = attachment.kind
        # A link, not an uploaded media id: Meta downloads the presigned URL itself, and the caption
        # rides on the same message.
        media: dict[str, Any] = {"link": attachment.url}
        if request.text and kind in CAPTIONED_KINDS:
            media["caption"] = request.text
        if kind == "document" and attachment.filename:
            media["filename"] = attachment.filename
        body["type"] = kind
        body[kind] = media
    else:
        # No link preview: a preview fetches whatever URL an agent pasted, from Meta's side, and shows it
        # as if we vouched for it.
        body["type"] = "text"
        body["text"] = {"body": request.text or "", "preview_url": False}
    # Echoed in every status webhook for this message ("Cloud API does not process this field, it just returns
    # it as part of sent/delivered/read message webhooks", Messages reference; at most 512 characters).
    body["biz_opaque_callback_data"] = request.attempt_id
    return body


def _template(template: WhatsAppTemplate) -> dict[str, Any]:
    # "deterministic": Meta sends the template in exactly this language, or fails, rather than falling back.
    content: dict[str, Any] = {
        "name": template.name,
        "language": {"code": template.language, "policy": "deterministic"},
    }
    if template.parameters:
        content["components"] = [
            {"type": "body", "parameters": [{"type": "text", "text": value} for value in template.parameters]}
        ]
    return content


def _sent_message_id(document: Any) -> str | None:
    # {"messaging_product": "whatsapp", "contacts": [{"input", "wa_id"}], "messages": [{"id": "wamid..."}]}
    messages = document.get("messages") if isinstance(document, dict) else None
    first = messages[0] if isinstance(messages, list) and messages else None
    message_id = first.get("id") if isinstance(first, dict) else None
    return message_id if isinstance(message_id, str) and message_id else None


def _explain(error: GraphError) -> str | None:
    if error.code == REENGAGEMENT_CODE:
        return (
            "window_closed: more than 24 hours have passed since the customer's last WhatsApp message; "
            "only an approved template can reach them until they write again"
        )
    return None


def _events_of(value: _Value, received_at: datetime) -> list[InboundMessage | DeliveryReceipt]:
    account = value.metadata.phone_number_id
    names = {c.wa_id: (c.profile.name if c.profile else None) for c in value.contacts}
    events: list[InboundMessage | DeliveryReceipt] = [
        _message(account, message, names.get(message.from_), received_at) for message in value.messages
    ]
    events.extend(_receipt(account, status) for status in value.statuses if status.status in DeliveryStatus)
    return events


def _message(account: str, message: _Message, name: str | None, received_at: datetime) -> InboundMessage:
    body = message.model_extra or {}
    content = body.get(message.type)
    content = content if isinstance(content, dict) else {}
    text, attachments, location = _content(message.type, content, body)
    reply_to = (message.context or {}).get("id")
    if message.type == "reaction":
        reply_to = content.get("message_id") or reply_to
    return InboundMessage(
        channel=Channel.WHATSAPP,
        channel_account_id=account,
        conversation_id=message.from_,
        external_id=message.id,
        sender=SenderIdentity(external_id=message.from_, display_name=name, phone_e164=_e164(message.from_)),
        message_type=message.type,
        known_type=message.type in KNOWN_TYPES,
        text=text,
        attachments=attachments,
        location=location,
        reply_to_external_id=reply_to if isinstance(reply_to, str) else None,
        payload=_reply_payload(message.type, content),
        provider_timestamp=datetime.fromtimestamp(message.timestamp, UTC),
        received_at=received_at,
    )


def _content(
    kind: str, content: dict[str, Any], body: dict[str, Any]
) -> tuple[str | None, tuple[Attachment, ...], Location | None]:
    if kind == "text":
        return text_or_none(content.get("body")), (), None
    if kind in MEDIA_TYPES:
        attachment = Attachment(
            kind=kind,
            provider_media_id=text_or_none(content.get("id")),
            mime_type=text_or_none(content.get("mime_type")),
            sha256=text_or_none(content.get("sha256")),
            filename=text_or_none(content.get("filename")),
        )
        return text_or_none(content.get("caption")), (attachment,), None
    if kind == "location":
        location = Location(
            latitude=float(content["latitude"]),
            longitude=float(content["longitude"]),
            name=text_or_none(content.get("name")),
            address=text_or_none(content.get("address")),
        )
        return text_or_none(content.get("name")), (), location
    if kind == "contacts":
        cards = list_at(body, "contacts")
        return "\n".join(_contact_card(card) for card in cards if isinstance(card, dict)) or None, (), None
    if kind == "interactive":
        reply = content.get(content.get("type", "")) if isinstance(content.get("type"), str) else None
        reply = reply if isinstance(reply, dict) else {}
        return text_or_none(reply.get("title")) or text_or_none(reply.get("body")), (), None
    if kind == "button":
        return text_or_none(content.get("text")) or text_or_none(content.get("payload")), (), None
    if kind == "reaction":
        return text_or_none(content.get("emoji")), (), None
    if kind == "order":
        return text_or_none(content.get("text")), (), None
    if kind == "system":
        return text_or_none(content.get("body")), (), None
    return None, (), None


def _reply_payload(kind: str, content: dict[str, Any]) -> str | None:
    """The id of the button or list row the customer tapped (its title is the message text)."""
    if kind == "interactive" and isinstance(content.get("type"), str):
        reply = content.get(content["type"])
        return text_or_none(reply.get("id")) if isinstance(reply, dict) else None
    if kind == "button":
        return text_or_none(content.get("payload"))
    return None


def _contact_card(card: dict[str, Any]) -> str:
    name = dict_at(card, "name")
    phones = [p.get("phone") for p in card.get("phones", []) if isinstance(p, dict) and p.get("phone")]
    return " ".join(filter(None, [text_or_none(name.get("formatted_name")), *map(str, phones)]))


def _receipt(account: str, status: _Status) -> DeliveryReceipt:
    return DeliveryReceipt(
        channel=Channel.WHATSAPP,
        channel_account_id=account,
        external_id=status.id,
        recipient_id=status.recipient_id,
        status=DeliveryStatus(status.status),
        errors=tuple(str(e.get("title") or e.get("code")) for e in status.errors),
        provider_timestamp=datetime.fromtimestamp(status.timestamp, UTC),
        attempt_id=_attempt_of(status.biz_opaque_callback_data),
    )


def _attempt_of(callback_data: str | None) -> str | None:
    """Our attempt id, when the callback data is one (a_ and 24 hex digits, models.stable_id)."""
    if callback_data is None or len(callback_data) != 26 or not callback_data.startswith("a_"):
        return None
    return callback_data if all(c in "0123456789abcdef" for c in callback_data[2:]) else None


def _e164(wa_id: str) -> str | None:
    # wa_id is the customer's phone number in international format without the "+".
    return f"+{wa_id}" if wa_id.isdigit() and 7 <= len(wa_id) <= 15 and wa_id[0] != "0" else None
