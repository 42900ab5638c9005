"""SendGrid Inbound Parse webhook: multipart/form-data, one POST per mail.

With the Parse setting "POST the raw, full MIME message" (send_raw), the mail as received arrives in the
`email` field, which we pass on byte for byte. Without it SendGrid posts its parse: `headers` (the raw
header block), `text`, `html`, `from`, `to`, `cc`, `subject`, `attachments` (a count), the files
`attachment1` .. `attachmentN` (no hyphen, unlike Mailgun), `attachment-info` (JSON per file: filename,
name, type, content-id) and `content-ids` (JSON, Content-ID -> file field). Text fields are in the
charsets the `charsets` field names ({"text": "iso-8859-1", "subject": "UTF-8", ...}), not necessarily
UTF-8: each is decoded by its own. Both modes add envelope, SPF, dkim, spam_score, spam_report, sender_ip.
SendGrid gives an inbound mail no id, so provider_id is None.

Proof of origin, per account of the secret, every proof that account configures:
- HTTP basic auth, with the credentials in the destination URL (https://<username>:<password>@host/path),
  checked against the account's `username` and `password`;
- a signature, when the account has `public_key`: SendGrid's signed Inbound Parse. A "security policy"
  created with POST /v3/user/webhooks/security/policies ({"signature": {"enabled": true}}) and attached to
  the Parse setting makes SendGrid sign every POST with ECDSA and answer the policy's base64 public key
  (https://www.twilio.com/docs/sendgrid/for-developers/parsing-email/securing-your-parse-webhooks: "verify
  the signature included in the HTTP headers with the public key"). The page as retrieved stops before
  naming the headers; Twilio's own Inbound Parse starter kit (danbartlett-twilio/SendGrid-Inbound-Parse-Plus-
  AI-Processing, inbound-email-to-s3) verifies it with @sendgrid/eventwebhook's verifySignature, that is the
  Signed Event Webhook's scheme: X-Twilio-Email-Event-Webhook-Signature = base64 DER ECDSA P-256/SHA-256
  over X-Twilio-Email-Event-Webhook-Timestamp + the raw body. The check is tested against the vector
  SendGrid's libraries ship for that scheme (sendgrid-python test_eventwebhook.py).
An account with neither is no account; a secret without any is refused whole (fail closed).

Field names: https://www.twilio.com/docs/sendgrid/for-developers/parsing-email/setting-up-the-inbound-parse-webhook
and the Inbound Email Parse Webhook reference (https://sendgrid.com/docs/API_Reference/Webhooks/parse.html);
the parsed mode's attachment-info/charsets handling follows django-anymail's inbound view
(anymail/webhooks/sendgrid.py).
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from email.parser import Parser
from email.policy import compat32
from functools import lru_cache
from typing import TYPE_CHECKING

from switchboard.email.providers.base import (
    MAX_BODY_BYTES,
    MAX_FORM_PARTS,
    FormFile,
    MailDelivery,
    MailFileSpec,
    ReplayToken,
    check_basic_auth,
    compose_mime,
    form_errors,
    form_fields,
    has_basic_auth,
    text_field,
)
from switchboard.errors import InvalidSignature, MalformedPayload
from switchboard.http_request import WebhookRequest, check_body_size, read_json
from switchboard.proof import ChannelSecrets, every_account
from switchboard.provider_payloads import dict_at

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey

SIGNATURE_HEADER = "x-twilio-email-event-webhook-signature"
TIMESTAMP_HEADER = "x-twilio-email-event-webhook-timestamp"
# SendGrid retries a POST that failed for 3 days and does not say whether a retry is signed afresh, so a
# signature is good for that long: a replayed signed body can only bring the same mail again, which the
# intake stores once (Message-ID).
SIGNATURE_MAX_AGE_SECONDS = 3 * 24 * 3600
_MAX_SIGNATURE_CHARS = 200  # a DER P-256 signature is at most 72 bytes, 96 in base64
_ATTACHMENT_FIELD = re.compile(r"^attachment([1-9][0-9]{0,3})$")
# Header fields SendGrid also posts on their own, used when the header block lacks them.
_ADDRESS_FIELDS = (("from", "From"), ("to", "To"), ("cc", "Cc"), ("subject", "Subject"))
_TEXT_FIELDS = (
    "headers",
    "text",
    "html",
    "from",
    "to",
    "cc",
    "subject",
    "charsets",
    "attachments",
    "attachment-info",
    "content-ids",
)


class SendGridWebhook:
    name = "sendgrid"

    def verify(
        self, request: WebhookRequest, secrets: ChannelSecrets, now: datetime, max_age_seconds: int
    ) -> ReplayToken | None:
        check_body_size(request.body, MAX_BODY_BYTES)
        accounts = [
            account for _, account in every_account(secrets) if has_basic_auth(account) or account.get("public_key")
        ]
        if not accounts:
            raise InvalidSignature("no SendGrid credentials are configured (username and password, or public_key)")
        refusals = []
        for account in accounts:
            try:
                if account.get("public_key"):
                    check_signature(request, str(account["public_key"]), now)
                if has_basic_auth(account):
                    check_basic_auth(request, {"username": account["username"], "password": account["password"]})
                return None
            except InvalidSignature as refused:
                refusals.append(refused)
        raise refusals[0]

    def extract(self, request: WebhookRequest) -> MailDelivery:
        fields = form_fields(request, raw_text=True)
        raw = [value for name, value in fields if name == "email"]
        if raw:
            if len(raw) > 1 or not raw[0]:
                raise MalformedPayload("not a SendGrid Inbound Parse post: email must be sent once and not be empty")
            mime = raw[0]
            return MailDelivery(
                provider="sendgrid",
                provider_id=None,
                raw_mime=bytes(mime) if isinstance(mime, bytes) else mime.encode(),
            )
        if not any(name == "headers" for name, _ in fields):
            raise MalformedPayload("not a SendGrid Inbound Parse post: neither email (raw, full MIME) nor headers")
        return MailDelivery(provider="sendgrid", provider_id=None, raw_mime=_composed(fields))


def check_signature(request: WebhookRequest, public_key: str, now: datetime) -> None:
    """Raises InvalidSignature unless the request carries SendGrid's ECDSA signature of its timestamp
    header + raw body under `public_key`, timestamped within SIGNATURE_MAX_AGE_SECONDS of now."""
    presented, timestamp = request.header(SIGNATURE_HEADER), request.header(TIMESTAMP_HEADER)
    if not presented or not timestamp:
        raise InvalidSignature(
            "missing X-Twilio-Email-Event-Webhook-Signature or -Timestamp header (the Parse setting's security policy signs every POST)"
        )
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise InvalidSignature("X-Twilio-Email-Event-Webhook-Timestamp is not a Unix time in seconds")
    if abs(now.timestamp() - int(timestamp)) > SIGNATURE_MAX_AGE_SECONDS:
        raise InvalidSignature(
            f"SendGrid signature timestamp is more than {SIGNATURE_MAX_AGE_SECONDS} seconds from now"
        )
    if len(presented) > _MAX_SIGNATURE_CHARS:
        raise InvalidSignature("X-Twilio-Email-Event-Webhook-Signature is too long for an ECDSA P-256 signature")
    try:
        signature = base64.b64decode(presented.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidSignature("X-Twilio-Email-Event-Webhook-Signature is not base64") from exc
    key = _public_key(public_key)
    # Imported here, not with the module: a SendGrid account without a security policy never needs it, and
    # cryptography would add ~25 ms to every cold start of the webhook.
    from cryptography.exceptions import InvalidSignature as BadEcdsaSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        key.verify(signature, timestamp.encode("ascii") + request.body, ec.ECDSA(hashes.SHA256()))
    except BadEcdsaSignature as exc:
        raise InvalidSignature("SendGrid signature does not match the timestamp and body") from exc


@lru_cache(maxsize=16)
def _public_key(configured: str) -> EllipticCurvePublicKey:
    """The security policy's public key: base64 DER as SendGrid's API returns it, or the same in PEM."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_der_public_key, load_pem_public_key

    text = configured.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = load_pem_public_key(text.encode("ascii"))
        else:
            key = load_der_public_key(base64.b64decode(text, validate=True))
    except (ValueError, TypeError, UnicodeEncodeError, binascii.Error) as exc:
        # A secret we cannot use refuses every delivery rather than let one through unchecked.
        raise InvalidSignature("the configured SendGrid public_key is not a public key") from exc
    if not (isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1)):
        raise InvalidSignature("the configured SendGrid public_key is not an ECDSA P-256 key")
    return key


def _composed(fields: list[tuple[str, str | bytes]]) -> bytes:
    raw: dict[str, bytes] = {}
    files: dict[int, FormFile] = {}
    for name, value in fields:
        found = _ATTACHMENT_FIELD.match(name)
        if found and isinstance(value, FormFile):
            files[int(found.group(1))] = value
        elif name in _TEXT_FIELDS and not isinstance(value, FormFile):
            raw.setdefault(name, bytes(value) if isinstance(value, bytes) else value.encode("utf-8"))
    charsets = _json_object(raw, "charsets")

    def text(name: str) -> str | None:
        if name not in raw:
            return None
        charset = charsets.get(name)
        # The sender's charset label may be wrong; a mis-decoded character beats refusing the mail.
        return text_field(raw[name], name, charset if isinstance(charset, str) else "utf-8", strict=False)

    headers = _header_block(text("headers") or "")
    present = {name.lower() for name, _ in headers}
    headers += [
        (header, address)
        for field, header in _ADDRESS_FIELDS
        if header.lower() not in present and (address := text(field))
    ]
    return compose_mime(headers, text("text"), text("html"), _attachments(raw, files))


def _header_block(block: str) -> list[tuple[str, str]]:
    with form_errors():
        parsed = Parser(policy=compat32).parsestr(block, headersonly=True)
        return [(name, str(value)) for name, value in parsed.raw_items()]


def _attachments(raw: dict[str, bytes], files: dict[int, FormFile]) -> list[MailFileSpec]:
    declared = raw.get("attachments", b"0").decode("ascii", "replace").strip() or "0"
    if not (declared.isdigit() and int(declared) <= MAX_FORM_PARTS) or int(declared) != len(files):
        raise MalformedPayload(
            f"not a SendGrid Inbound Parse post: attachments says {declared[:8]} but {len(files)} files arrived"
        )
    info = _json_object(raw, "attachment-info")
    content_ids = {field: cid for cid, field in _json_object(raw, "content-ids").items() if isinstance(field, str)}
    attachments = []
    for number, file in sorted(files.items()):
        field = f"attachment{number}"
        described = dict_at(info, field)
        content_id = described.get("content-id") or content_ids.get(field)
        content_id = content_id if isinstance(content_id, str) and content_id.strip("<> ") else None
        filename = described.get("filename")
        content_type = described.get("type")
        attachments.append(
            MailFileSpec(
                filename=filename if isinstance(filename, str) and filename else file.filename,
                content_type=content_type if isinstance(content_type, str) and content_type else file.content_type,
                data=bytes(file),
                content_id=content_id,
                inline=content_id is not None,
            )
        )
    return attachments


def _json_object(raw: dict[str, bytes], name: str) -> dict:
    if name not in raw:
        return {}
    found = read_json(raw[name])
    if not isinstance(found, dict):
        raise MalformedPayload(f"not a SendGrid Inbound Parse post: {name} is not a JSON object")
    return found


WEBHOOK = SendGridWebhook()
