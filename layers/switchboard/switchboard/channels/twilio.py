"""Twilio Programmable Messaging webhooks: SMS, MMS and WhatsApp through Twilio.

Twilio POSTs application/x-www-form-urlencoded fields (MessageSid, AccountSid, From, To, Body,
NumMedia, MediaUrl{N}, MediaContentType{N}, ...) for an incoming message, and MessageStatus with the
MessageSid of our message for a status callback. It adds fields without notice: we read them by name.

X-Twilio-Signature is base64(HMAC-SHA1(auth token, URL Twilio called + every POST field's name and
value, sorted by name, then value)). A JSON body is signed through the URL instead: Twilio appends
bodySHA256=<hex SHA-256 of the body> to it and signs no fields.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Sequence
from datetime import datetime
from urllib.parse import parse_qsl

from switchboard.channels.base import Acknowledges, ChannelAdapter
from switchboard.errors import InvalidSignature, MalformedPayload
from switchboard.http import text_response
from switchboard.http_request import WebhookRequest
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
from switchboard.proof import ChannelSecrets, account_secrets, same_secret
from switchboard.provider_payloads import payload_errors

SIGNATURE_HEADER = "x-twilio-signature"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
WHATSAPP_PREFIX = "whatsapp:"
MAX_FIELDS = 1000  # Twilio sends a few dozen; MMS adds two per medium, at most ten media.
# A message body is at most 1,600 characters (Twilio, "Message body" limit for SMS/MMS/WhatsApp); even
# percent-encoded as 4-byte UTF-8 that is under 15 KB, the other fields a few KB more.
MAX_BODY_BYTES = 128 * 1024
MAX_MEDIA = 10
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_DEFAULT_PORTS = {"https": "443", "http": "80"}

# Status callbacks that report on our message; the others (queued, accepting, sending, scheduled,
# canceled, ...) are steps before an outcome and carry nothing an agent needs.
RECEIPT_STATUSES = {
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.READ,
    "failed": DeliveryStatus.FAILED,
    "undelivered": DeliveryStatus.FAILED,
}
# An incoming message's own status; any other MessageStatus makes the request a status callback.
INBOUND_STATUSES = {"received", "receiving"}
# WhatsApp through Twilio names the message type; SMS and MMS do not.
KNOWN_TYPES = {
    "text",
    "image",
    "video",
    "audio",
    "document",
    "sticker",
    "location",
    "button",
    "interactive",
    "contacts",
}


class TwilioAdapter(ChannelAdapter, Acknowledges):
    webhook = "twilio"  # SMS, and WhatsApp through Twilio
    max_body_bytes = MAX_BODY_BYTES
    proof_secret = None  # the AccountSid names the account whose auth token must sign

    def __init__(self, public_base_url: str = "") -> None:
        # Behind a custom domain or a proxy, the URL Lambda sees is not the one Twilio signed.
        self.public_base_url = public_base_url.rstrip("/")

    def verify(self, request: WebhookRequest, secrets: ChannelSecrets) -> str | None:
        presented = request.header(SIGNATURE_HEADER)
        if not presented:
            raise InvalidSignature(f"missing {SIGNATURE_HEADER} header")
        url = self.called_url(request)
        body_hash = request.query.get("bodySHA256")
        # The signature covers the form's fields, so they are read before it is checked: only once the
        # body's size (the webhook flow) and its number of fields are known to be bounded.
        fields = [] if body_hash is not None else _signed_fields(_bounded_form(request.body))
        account_sid = next((value for name, value in fields if name == "AccountSid"), None)
        auth_token = account_secrets(secrets, account_sid).get("auth_token", "")
        if not auth_token:
            raise InvalidSignature("no auth token is configured for this Twilio account")
        # Twilio's own validator accepts the URL with the port removed or the scheme's default port added:
        # which of the two Twilio signed depends on how the webhook URL was written in its console.
        if not any(
            same_secret(signature(candidate, fields, auth_token), presented) for candidate in port_variants(url)
        ):
            raise InvalidSignature("signature does not match the URL and fields")
        if body_hash is not None and not same_secret(hashlib.sha256(request.body).hexdigest(), body_hash.lower()):
            raise InvalidSignature("bodySHA256 does not match the body")
        return None

    def called_url(self, request: WebhookRequest) -> str:
        """The URL Twilio called, which is what it signed."""
        if not self.public_base_url:
            return request.url
        return self.public_base_url + request.path + (f"?{request.raw_query}" if request.raw_query else "")

    def parse(self, body: bytes, received_at: datetime, account_id: str | None = None) -> Sequence[InboundEvent]:
        fields = _form(body)
        status = fields.get("MessageStatus", "").lower()
        with payload_errors("a Twilio messaging webhook"):
            if status and status not in INBOUND_STATUSES:
                if status not in RECEIPT_STATUSES:
                    return []
                return [_receipt(fields, RECEIPT_STATUSES[status], received_at)]
            return [_message(fields, received_at)]

    def acknowledge(self, events: Sequence[InboundEvent]) -> dict:
        # Twilio reads the answer as TwiML; an empty <Response/> sends no reply to the customer.
        return text_response(200, EMPTY_TWIML, content_type="text/xml")


def signature(url: str, fields: list[tuple[str, str]], auth_token: str) -> str:
    """X-Twilio-Signature for a request to `url` carrying `fields` (also used by tests and samples)."""
    signed = url + "".join(name + value for name, value in sorted(fields))
    digest = hmac.new(
        auth_token.encode("utf-8", "surrogatepass"), signed.encode("utf-8", "surrogateescape"), hashlib.sha1
    )
    return base64.b64encode(digest.digest()).decode()


def port_variants(url: str) -> list[str]:
    """The URL as called, without its port, and with the scheme's default port when it had none."""
    scheme, separator, remainder = url.partition("://")
    split_at = min((i for i in (remainder.find("/"), remainder.find("?")) if i >= 0), default=len(remainder))
    netloc, rest = remainder[:split_at], remainder[split_at:]
    host, colon, port = netloc.rpartition(":")
    if not colon or not port.isdigit() or "]" in port:
        host, port = netloc, ""
    variants = [url, f"{scheme}{separator}{host}{rest}"]
    if not port and scheme in _DEFAULT_PORTS:
        variants.append(f"{scheme}{separator}{host}:{_DEFAULT_PORTS[scheme]}{rest}")
    return list(dict.fromkeys(variants))


def _signed_fields(body: bytes) -> list[tuple[str, str]]:
    """The fields as Twilio signed them, for any body: bytes that are not UTF-8 stay what they are, so a
    forged body is refused by the signature, and a signed but broken one by parse."""
    text = body.decode("utf-8", "surrogateescape")
    return parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="surrogateescape", max_num_fields=None)


def _bounded_form(body: bytes) -> bytes:
    """The body, once it is known to hold at most MAX_FIELDS fields: counted in one pass over the bytes."""
    if body.count(b"&") >= MAX_FIELDS:
        raise MalformedPayload(f"not a Twilio form body: more than {MAX_FIELDS} fields")
    return body


def _form(body: bytes) -> dict[str, str]:
    _bounded_form(body)
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            strict_parsing=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except ValueError as exc:
        # UnicodeDecodeError is a ValueError; neither message is allowed to quote the body.
        raise MalformedPayload(f"not a Twilio form body: {type(exc).__name__}") from exc
    fields: dict[str, str] = {}
    for name, value in pairs:
        # Twilio sends each field once; a repeated one is kept as first seen.
        fields.setdefault(name, value)
    for required in ("MessageSid", "AccountSid", "From", "To"):
        if not fields.get(required):
            raise MalformedPayload(f"not a Twilio messaging webhook: {required} is missing")
    return fields


def _message(fields: dict[str, str], received_at: datetime) -> InboundMessage:
    sender, channel = _address(fields["From"])
    business, _ = _address(fields["To"])
    attachments = _attachments(fields)
    location = _location(fields)
    declared_type = fields.get("MessageType", "").lower()
    message_type = declared_type or ("location" if location else attachments[0].kind if attachments else "text")
    reply_to = fields.get("OriginalRepliedMessageSid")
    return InboundMessage(
        channel=channel,
        channel_account_id=_bounded(business, "To"),
        conversation_id=_bounded(sender, "From"),
        external_id=_bounded(fields["MessageSid"], "MessageSid", limit=512),
        sender=SenderIdentity(
            external_id=_bounded(sender, "From"),
            # WhatsApp through Twilio passes the customer's profile name; SMS has none.
            display_name=fields.get("ProfileName", "")[:256] or None,
            phone_e164=sender if _E164.match(sender) else None,
        ),
        message_type=message_type[:64],
        known_type=message_type in KNOWN_TYPES,
        text=fields.get("Body") or None,
        attachments=attachments,
        location=location,
        reply_to_external_id=reply_to or None,
        # Twilio's webhook carries no send time; the arrival is the closest moment we know.
        provider_timestamp=received_at,
        received_at=received_at,
    )


def _receipt(fields: dict[str, str], status: DeliveryStatus, received_at: datetime) -> DeliveryReceipt:
    # A status callback is about our message: From is our number, To the customer.
    business, channel = _address(fields["From"])
    recipient, _ = _address(fields["To"])
    error = fields.get("ErrorCode")
    return DeliveryReceipt(
        channel=channel,
        channel_account_id=_bounded(business, "From"),
        external_id=_bounded(fields["MessageSid"], "MessageSid", limit=512),
        recipient_id=_bounded(recipient, "To"),
        status=status,
        errors=(f"Twilio error {error}",) if error else (),
        provider_timestamp=received_at,
    )


def _address(value: str) -> tuple[str, Channel]:
    """A Twilio address and the channel it belongs to: WhatsApp numbers come as "whatsapp:+E164"."""
    if value.startswith(WHATSAPP_PREFIX) and len(value) > len(WHATSAPP_PREFIX):
        return value[len(WHATSAPP_PREFIX) :], Channel.WHATSAPP
    return value, Channel.SMS


def _attachments(fields: dict[str, str]) -> tuple[Attachment, ...]:
    count = fields.get("NumMedia", "0") or "0"
    if not (count.isascii() and count.isdigit()) or int(count) > MAX_MEDIA:
        raise MalformedPayload(f"not a Twilio messaging webhook: NumMedia must be a count from 0 to {MAX_MEDIA}")
    attachments = []
    for index in range(int(count)):
        url = fields.get(f"MediaUrl{index}")
        if not url or not url.startswith(("https://", "http://")):
            raise MalformedPayload(f"not a Twilio messaging webhook: MediaUrl{index} is missing or not a URL")
        mime_type = fields.get(f"MediaContentType{index}") or None
        # The media URL ends in the media SID (ME...): .../Messages/MM.../Media/ME...
        media_sid = url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or None
        attachments.append(Attachment(kind=_kind(mime_type), provider_media_id=media_sid, mime_type=mime_type, url=url))
    return tuple(attachments)


def _kind(mime_type: str | None) -> str:
    major = (mime_type or "").split("/", 1)[0].lower()
    return major if major in ("image", "video", "audio") else "document"


def _location(fields: dict[str, str]) -> Location | None:
    # WhatsApp through Twilio: a shared location arrives as Latitude/Longitude (+ Address, Label).
    if "Latitude" not in fields or "Longitude" not in fields:
        return None
    try:
        return Location(
            latitude=float(fields["Latitude"]),
            longitude=float(fields["Longitude"]),
            name=fields.get("Label") or None,
            address=fields.get("Address") or None,
        )
    except ValueError as exc:
        raise MalformedPayload("not a Twilio messaging webhook: Latitude/Longitude are not coordinates") from exc


def _bounded(value: str, field: str, limit: int = 256) -> str:
    if len(value) > limit:
        raise MalformedPayload(f"not a Twilio messaging webhook: {field} is longer than {limit} characters")
    return value
