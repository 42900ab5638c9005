"""Twilio Programmable Messaging webhooks: SMS, MMS and WhatsApp through Twilio.

Twilio POSTs application/x-www-form-urlencoded fields (MessageSid, AccountSid, From, To, Body,
NumMedia, MediaUrl{N}, MediaContentType{N}, ...) for an incoming message, and MessageStatus with the
MessageSid of our message for a status callback. It adds fields without notice: we read them by name.

X-Twilio-Signature is base64(HMAC-SHA1(auth token, URL Twilio called + every POST field's name and
value, sorted by name, then value)). A JSON body is signed through the URL instead: Twilio appends
bodySHA256=<hex SHA-256 of the body> to it and signs no fields.

Replies go out through the Messages API (`send`): POST /2010-04-01/Accounts/{AccountSid}/Messages.json,
form-encoded To, From, Body, MediaUrl (repeated) and StatusCallback, with HTTP basic auth (twilio-python's
twilio/rest/api/v2010/account/message/__init__.py, MessageList.create). WhatsApp addresses carry the
"whatsapp:" prefix on both To and From. Twilio answers 201 with the Message resource (sid "SM..." or
"MM...", status "queued"), then reports sent, delivered, read (WhatsApp) or failed/undelivered to the
StatusCallback URL, which `parse` reads as receipts on that sid.

Which Twilio account sends: a conversation is filed under the business number the customer wrote to (To on
the inbound webhook), never under an AccountSid, while the channel secret keys accounts by AccountSid (the
webhook's signature check needs that). So an entry under "accounts" lists the numbers it owns:

    {"account_sid": "AC1...", "auth_token": "...",
     "accounts": {"AC2...": {"auth_token": "...", "numbers": ["+821011112222"]}}}

A reply from +821011112222 goes out as AC2... with that entry's credentials; a number no entry lists goes out
as the top-level account. An entry's own "account_sid" is used when present, else its key. When the account's
secret also holds a Twilio API key ("api_key_sid", "api_key_secret"), basic auth uses it instead of the auth
token (Twilio accepts either; "API keys & tokens" in its console).

The Messages API takes no idempotency key (MessageList.create has no such parameter; the
I-Twilio-Idempotency-Token header is what Twilio sends on its own webhooks), so an attempt whose answer never
came is `unknown`, never resent blindly.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, quote

from switchboard.channels.base import Acknowledges, ChannelAdapter, Sends
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
# Twilio's Body limit for every channel it carries, WhatsApp included ("Maximum Message Length with Twilio
# Programmable Messaging"; over it, error 21617).
MAX_TEXT_CHARS = 1600
MAX_WHATSAPP_MEDIA = 1
WHATSAPP_WINDOW = timedelta(hours=24)
TOO_MANY_REQUESTS = "20429"
_MESSAGE_SID = re.compile(r"^(SM|MM)[0-9a-fA-F]{32}$")
_PHONE_NUMBER = re.compile(r"\+?\d[\d\s().-]{5,}\d")
# GSM 03.38 default alphabet and its extension table (3GPP TS 23.038 §6.2.1); the escape itself is no text.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
    "abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")
# The refusals a reply meets, said for an agent (Twilio's error dictionary, twilio.com/docs/api/errors/<code>).
REJECTION_REASONS = {
    "20003": "Twilio refused the configured credentials for this account",
    "20404": "Twilio does not know this account or resource: check the Account SID in the Twilio channel secret",
    "21211": "The customer's number is not a valid phone number",
    "21408": "This Twilio account may not send to the customer's country (Messaging Geo Permissions)",
    "21602": "The message has no text and no attachment",
    "21606": "The business number cannot send SMS from this Twilio account",
    "21610": "The customer has opted out of messages from this number (they replied STOP); they must text START first",
    "21612": "Twilio cannot route a message between the business number and the customer's number",
    "21614": "The customer's number cannot receive SMS (a landline?)",
    "21617": "The message is longer than Twilio's 1,600-character limit",
    "63016": "The WhatsApp 24-hour window is closed: WhatsApp accepts only an approved template until the customer writes again",
}
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


class TwilioAdapter(ChannelAdapter, Acknowledges, Sends):
    webhook = "twilio"  # SMS, and WhatsApp through Twilio
    max_body_bytes = MAX_BODY_BYTES
    proof_secret = None  # the AccountSid names the account whose auth token must sign
    max_text_chars = MAX_TEXT_CHARS

    def __init__(self, public_base_url: str = "", channel: Channel = Channel.SMS) -> None:
        # Behind a custom domain or a proxy, the URL Lambda sees is not the one Twilio signed.
        self.public_base_url = public_base_url.rstrip("/")
        # Which window rule `window` applies: SMS has none, WhatsApp through Twilio has WhatsApp's. `send`
        # follows each request's own channel.
        self.channel = channel

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

    def refusal(self, request: OutboundRequest) -> str | None:
        if request.template is not None:
            return "WhatsApp templates through Twilio are Content API templates, which Switchboard does not send yet"
        if request.channel == Channel.WHATSAPP and len(request.attachments) > MAX_WHATSAPP_MEDIA:
            return "WhatsApp through Twilio carries one attachment per message: send the others as separate replies"
        return None

    def resend_is_safe(self, request: OutboundRequest) -> bool:
        # The Messages API takes no idempotency key: a repeat is a second message.
        return False

    def window(
        self, *, last_customer_message_at: datetime | None, now: datetime, human_agent: bool, template: bool
    ) -> WindowVerdict:
        if self.channel != Channel.WHATSAPP:
            return WindowVerdict.opened()  # SMS can be sent at any time; opt-outs are Twilio's (error 21610)
        if template:
            # Twilio sends WhatsApp templates only as Content API templates (ContentSid and ContentVariables; a
            # Body sent as a template outside the window fails with 63016 since 2025-04-01, Twilio error 63016).
            return WindowVerdict.closed(
                "WhatsApp templates through Twilio are Content API templates (ContentSid), which Switchboard "
                "does not send yet."
            )
        # WhatsApp: free-form messages only within 24 hours of the customer's last message (Twilio error
        # 63016, "Failed to send freeform message because you are outside the allowed window").
        if last_customer_message_at is not None and now - last_customer_message_at < WHATSAPP_WINDOW:
            return WindowVerdict.opened()
        return WindowVerdict.closed(
            "The customer last wrote on WhatsApp more than 24 hours ago. WhatsApp accepts only an approved "
            "template until they write again.",
            allowed=("template",),
        )

    def send(self, request: OutboundRequest, secrets: ChannelSecrets, context: SendContext) -> SendOutcome:
        whatsapp = request.channel == Channel.WHATSAPP
        if request.template is not None:
            return SendOutcome.rejected(
                "template_unsupported",
                "WhatsApp templates through Twilio are Content API templates (ContentSid), which Switchboard "
                "does not send yet.",
            )
        if whatsapp and len(request.attachments) > MAX_WHATSAPP_MEDIA:
            # "Unlike MMS, a WhatsApp media message can only contain one media attachment. Any additional
            # attachments will be ignored." (Twilio, "Sending and Receiving Media with WhatsApp Messaging").
            return SendOutcome.rejected(
                "too_many_attachments",
                "WhatsApp through Twilio carries one attachment per message: send the others as separate replies.",
            )
        credentials = sending_credentials(secrets, request.channel_account_id)
        if credentials is None:
            return SendOutcome.rejected(
                "not_configured",
                "No Twilio Account SID and credentials are configured for this number (the Twilio channel secret).",
            )
        prefix = WHATSAPP_PREFIX if whatsapp else ""
        form: list[tuple[str, str]] = [
            ("To", prefix + request.recipient_id),
            ("From", prefix + request.channel_account_id),
        ]
        if request.text:
            form.append(("Body", request.text))
        form.extend(("MediaUrl", attachment.url) for attachment in request.attachments)
        if request.status_callback_url:
            form.append(("StatusCallback", request.status_callback_url))
        url = context.endpoints.twilio.rstrip("/") + messages_path(credentials.account_sid)
        try:
            answer = context.http.post(url, form=form, headers={"Authorization": credentials.authorization})
        except ProviderUnreachable:
            return SendOutcome.retry("Twilio could not be reached")
        except ProviderTimeout:
            return SendOutcome.unknown(
                "Twilio did not answer in time. It may have accepted the message, and its Messages API takes no "
                "idempotency key, so it is not sent again by itself; a delivery receipt will settle it."
            )
        return outcome_of_answer(answer)


@dataclass(frozen=True)
class SendingCredentials:
    account_sid: str
    authorization: str  # the HTTP basic Authorization header value


def sends_through_twilio(channel: Channel, account_id: str) -> bool:
    """Whether a conversation's replies go out through Twilio: every SMS conversation, and WhatsApp conversations
    filed under a Twilio WhatsApp sender, whose account id is its E.164 number (the WhatsApp Cloud API files them
    under a numeric phone-number id, which has no "+")."""
    return channel == Channel.SMS or (channel == Channel.WHATSAPP and account_id.startswith("+"))


def messages_path(account_sid: str) -> str:
    """The Messages API path (Twilio's Message resource: POST /2010-04-01/Accounts/{AccountSid}/Messages.json)."""
    return f"/2010-04-01/Accounts/{quote(account_sid, safe='')}/Messages.json"


def sending_credentials(secrets: ChannelSecrets, business_number: str) -> SendingCredentials | None:
    """The account that sends from `business_number` and its basic auth (the module docstring), or None when
    the channel secret holds no Account SID with an auth token or API key for it."""
    account = {key: value for key, value in secrets.items() if key != "accounts"}
    accounts = secrets.get("accounts")
    if isinstance(accounts, Mapping):
        for key, entry in accounts.items():
            if isinstance(entry, Mapping) and _lists_number(entry.get("numbers"), business_number):
                account = {**account, "account_sid": str(key), **entry}
                break
    account_sid, auth_token = account.get("account_sid"), account.get("auth_token")
    key_sid, key_secret = account.get("api_key_sid"), account.get("api_key_secret")
    if not isinstance(account_sid, str) or not account_sid:
        return None
    if isinstance(key_sid, str) and key_sid and isinstance(key_secret, str) and key_secret:
        user, password = key_sid, key_secret
    elif isinstance(auth_token, str) and auth_token:
        user, password = account_sid, auth_token
    else:
        return None
    basic = base64.b64encode(f"{user}:{password}".encode()).decode()
    return SendingCredentials(account_sid=account_sid, authorization=f"Basic {basic}")


def _lists_number(numbers: object, business_number: str) -> bool:
    if isinstance(numbers, str):
        numbers = [numbers]
    return isinstance(numbers, Sequence) and any(
        isinstance(number, str) and number.removeprefix(WHATSAPP_PREFIX) == business_number for number in numbers
    )


def outcome_of_answer(answer: ProviderAnswer) -> SendOutcome:
    """The Messages API's answer in our terms: 201 with the Message resource, or Twilio's error JSON
    {"code", "message", "more_info", "status"} (Twilio's REST API "Errors")."""
    document = answer.json()
    document = document if isinstance(document, dict) else {}
    if 200 <= answer.status < 300:
        sid = document.get("sid")
        if not (isinstance(sid, str) and _MESSAGE_SID.match(sid)):
            return SendOutcome.unknown("Twilio accepted the message but its answer named no message SID")
        return SendOutcome.sent(sid)
    raw_code = document.get("code")
    code = str(raw_code) if isinstance(raw_code, int | str) and str(raw_code).isdigit() else None
    reason = _reason(code, document.get("message"))
    if code == TOO_MANY_REQUESTS:
        # 20429: "Requests that receive 429 responses aren't processed and are safe to retry" (Twilio error 20429).
        return SendOutcome.retry(reason or "Twilio is rate-limiting this account", answer.retry_after_seconds(), code)
    return outcome_of_http(answer, provider_message_id=None, code=code, reason=reason)


def _reason(code: str | None, message: object) -> str | None:
    """What an agent reads: our explanation of the codes a reply meets, else Twilio's message with any phone
    number in it left out (Twilio quotes the To number in some messages)."""
    if code in REJECTION_REASONS:
        return f"{REJECTION_REASONS[code]} (Twilio error {code})"
    if not isinstance(message, str) or not message:
        return f"Twilio error {code}" if code else None
    return _PHONE_NUMBER.sub("<number>", message)[:900] + (f" (Twilio error {code})" if code else "")


def sms_segments(text: str) -> int:
    """How many SMS a carrier splits `text` into: 160 GSM-7 septets in one, 153 per part when concatenated (the
    user data header takes the rest), an extension character (^ { } [ ] ~ | \\ € and form feed) taking two
    septets and never split from its escape; with any character outside GSM-7 (Korean, most emoji) the whole
    text is UCS-2: 70 UTF-16 code units in one, 67 per part, a surrogate pair never split. 3GPP TS 23.038
    §6.2.1 (the alphabet), TS 23.040 §9.2.3.24.1 (concatenation); Twilio, "What the heck is a segment?".
    An empty text is no segment."""
    if not text:
        return 0
    if all(character in GSM7_BASIC or character in GSM7_EXTENSION for character in text):
        units = [2 if character in GSM7_EXTENSION else 1 for character in text]
        single, part = 160, 153
    else:
        units = [2 if ord(character) > 0xFFFF else 1 for character in text]
        single, part = 70, 67
    if sum(units) <= single:
        return 1
    segments, filled = 1, 0
    for size in units:
        if filled + size > part:
            segments, filled = segments + 1, 0
        filled += size
    return segments


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


# The sending adapters (switchboard/outbound/adapters.py): the webhook builds its own with TwilioPublicBaseUrl. One
# per channel, since WhatsApp through Twilio keeps WhatsApp's 24-hour window and SMS has none.
ADAPTER = TwilioAdapter()
WHATSAPP_ADAPTER = TwilioAdapter(channel=Channel.WHATSAPP)


def adapter_for(channel: Channel) -> TwilioAdapter:
    """The Twilio adapter whose `window` is the channel's rule (`send` follows each request's channel anyway)."""
    return WHATSAPP_ADAPTER if channel == Channel.WHATSAPP else ADAPTER
