"""WhatsApp Cloud API (Meta) webhooks.

Shape: {"object": "whatsapp_business_account", "entry": [{"id": <WABA id>, "changes": [{"field":
"messages", "value": {"metadata": {"phone_number_id"}, "contacts": [...], "messages": [...],
"statuses": [...]}}]}]}. One POST can carry several entries, changes and messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import ConfigDict, Field

from switchboard.channels import meta
from switchboard.channels.base import AnswersHandshake, ChannelAdapter
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


class WhatsAppAdapter(ChannelAdapter, AnswersHandshake):
    webhook = Channel.WHATSAPP.value

    max_body_bytes = meta.MAX_BODY_BYTES
    proof_secret = meta.PROOF_SECRET

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


ADAPTER = WhatsAppAdapter()


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
    )


def _e164(wa_id: str) -> str | None:
    # wa_id is the customer's phone number in international format without the "+".
    return f"+{wa_id}" if wa_id.isdigit() and 7 <= len(wa_id) <= 15 and wa_id[0] != "0" else None
