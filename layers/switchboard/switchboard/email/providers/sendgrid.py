"""SendGrid Inbound Parse webhook: multipart/form-data, one POST per mail.

With the Parse setting "POST the raw, full MIME message" (send_raw), the mail as received arrives in the
`email` field, which we pass on byte for byte. Without it SendGrid posts its parse: `headers` (the raw
header block), `text`, `html`, `from`, `to`, `cc`, `subject`, `attachments` (a count), the files
`attachment1` .. `attachmentN` (no hyphen, unlike Mailgun), `attachment-info` (JSON per file: filename,
name, type, content-id) and `content-ids` (JSON, Content-ID -> file field). Text fields are in the
charsets the `charsets` field names ({"text": "iso-8859-1", "subject": "UTF-8", ...}), not necessarily
UTF-8: each is decoded by its own. Both modes add envelope, SPF, dkim, spam_score, spam_report, sender_ip.
SendGrid gives an inbound mail no id, so provider_id is None.

Proof of origin: HTTP basic auth, with the credentials in the destination URL
(https://<username>:<password>@host/path), checked against the secret's `username` and `password`.

SendGrid also documents signed Inbound Parse requests: a "security policy" created with
POST /v3/user/webhooks/security/policies ({"signature": {"enabled": true}} and/or OAuth) and attached to the
Parse setting; SendGrid then signs the payload with ECDSA and returns the base64 public key
(https://www.twilio.com/docs/sendgrid/for-developers/parsing-email/securing-your-parse-webhooks). The pages
as retrieved stop before the verification step, so they do not confirm the header names, the signed
bytes or the signature encoding. The only implementation found (dust-tt/dust pull request 23497,
sendgrid_parse_webhook_signature.ts) reuses the Event Webhook's scheme: X-Twilio-Email-Event-Webhook-Signature
(base64 ECDSA P-256/SHA-256) over X-Twilio-Email-Event-Webhook-Timestamp + raw body. That is one
project's reading, not SendGrid's word, so it is not implemented here: a guessed check would either refuse
real deliveries or give false assurance. Until SendGrid's page confirms it, basic auth is the proof.

Field names: https://www.twilio.com/docs/sendgrid/for-developers/parsing-email/setting-up-the-inbound-parse-webhook
and the Inbound Email Parse Webhook reference (https://sendgrid.com/docs/API_Reference/Webhooks/parse.html);
the parsed mode's attachment-info/charsets handling follows django-anymail's inbound view
(anymail/webhooks/sendgrid.py).
"""

from __future__ import annotations

import re
from datetime import datetime
from email.parser import Parser
from email.policy import compat32

from switchboard.channels.base import ChannelSecrets, WebhookRequest, read_json
from switchboard.email.providers.base import (
    MAX_FORM_PARTS,
    FormFile,
    MailDelivery,
    MailFileSpec,
    ReplayToken,
    check_basic_auth,
    compose_mime,
    form_errors,
    form_fields,
    text_field,
)
from switchboard.errors import MalformedPayload

_ATTACHMENT_FIELD = re.compile(r"^attachment([1-9][0-9]{0,3})$")
# Header fields SendGrid also posts on their own, used when the header block lacks them.
_ADDRESS_FIELDS = (("from", "From"), ("to", "To"), ("cc", "Cc"), ("subject", "Subject"))
_TEXT_FIELDS = ("headers", "text", "html", "from", "to", "cc", "subject", "charsets", "attachments", "attachment-info", "content-ids")


class SendGridWebhook:
    name = "sendgrid"

    def verify(self, request: WebhookRequest, secrets: ChannelSecrets, now: datetime, max_age_seconds: int) -> ReplayToken | None:
        check_basic_auth(request, secrets)
        return None

    def extract(self, request: WebhookRequest) -> MailDelivery:
        fields = form_fields(request, raw_text=True)
        raw = [value for name, value in fields if name == "email"]
        if raw:
            if len(raw) > 1 or not raw[0]:
                raise MalformedPayload("not a SendGrid Inbound Parse post: email must be sent once and not be empty")
            return MailDelivery(provider="sendgrid", provider_id=None, raw_mime=bytes(raw[0]))
        if not any(name == "headers" for name, _ in fields):
            raise MalformedPayload("not a SendGrid Inbound Parse post: neither email (raw, full MIME) nor headers")
        return MailDelivery(provider="sendgrid", provider_id=None, raw_mime=_composed(fields))


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
    headers += [(header, value) for field, header in _ADDRESS_FIELDS if header.lower() not in present and (value := text(field))]
    return compose_mime(headers, text("text"), text("html"), _attachments(raw, files))


def _header_block(block: str) -> list[tuple[str, str]]:
    with form_errors():
        parsed = Parser(policy=compat32).parsestr(block, headersonly=True)
        return [(name, str(value)) for name, value in parsed.raw_items()]


def _attachments(raw: dict[str, bytes], files: dict[int, FormFile]) -> list[MailFileSpec]:
    declared = raw.get("attachments", b"0").decode("ascii", "replace").strip() or "0"
    if not (declared.isdigit() and int(declared) <= MAX_FORM_PARTS) or int(declared) != len(files):
        raise MalformedPayload(f"not a SendGrid Inbound Parse post: attachments says {declared[:8]} but {len(files)} files arrived")
    info = _json_object(raw, "attachment-info")
    content_ids = {field: cid for cid, field in _json_object(raw, "content-ids").items() if isinstance(field, str)}
    attachments = []
    for number, file in sorted(files.items()):
        field = f"attachment{number}"
        described = info.get(field) if isinstance(info.get(field), dict) else {}
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
