"""Mailgun inbound routes with a forward("https://...") action.

Mailgun POSTs the mail as form fields: application/x-www-form-urlencoded, or multipart/form-data when the
mail has attachments. A route whose destination URL ends in "mime" receives the mail as received in
`body-mime`; any other gets Mailgun's parse of it: `message-headers` (a JSON list of [name, value] pairs,
in header order), `body-plain`, `body-html`, `stripped-*`, `attachment-count`, the files `attachment-1` ..
`attachment-N`, and `content-id-map`, a JSON object from each inline part's "<Content-ID>" to its
attachment field. Every POST also carries `timestamp`, `token` (50 random characters) and `signature`,
the hex HMAC-SHA256 of timestamp + token (no separator) under the domain's webhook signing key.

Sources:
- https://documentation.mailgun.com/docs/mailgun/user-manual/receive-forward-store/receive-http
  (both formats, "the destination URL must end with mime", the form encodings, signature/timestamp/token,
  message-headers, body-plain, body-html, stripped-text)
- https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/securing-webhooks (the signature;
  caching the token against replays; "check if the timestamp is not too far from the current time")
- attachment-count, attachment-N and content-id-map as read by django-anymail's inbound view
  (anymail/webhooks/mailgun.py) and listed with body-mime by Rails' Action Mailbox Mailgun ingress; the
  documentation pages as retrieved show the base fields only.

Mailgun gives an inbound mail no id of its own, so provider_id is None; the token is per delivery.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import UTC, datetime, timedelta

from switchboard.email.providers.base import (
    MAX_BODY_BYTES,
    MAX_FORM_PARTS,
    FormFile,
    MailDelivery,
    MailFileSpec,
    ReplayToken,
    compose_mime,
    form_fields,
    text_field,
)
from switchboard.errors import InvalidSignature, MalformedPayload
from switchboard.http_request import WebhookRequest, check_body_size, read_json
from switchboard.proof import ChannelSecrets, every_account, same_secret

SIGNED_FIELDS = ("timestamp", "token", "signature")
MAX_TOKEN_LENGTH = 512  # Mailgun's are 50 characters
_ATTACHMENT_FIELD = re.compile(r"^attachment-([1-9][0-9]{0,3})$")


class MailgunWebhook:
    name = "mailgun"

    def verify(
        self, request: WebhookRequest, secrets: ChannelSecrets, now: datetime, max_age_seconds: int
    ) -> ReplayToken:
        check_body_size(request.body, MAX_BODY_BYTES)
        try:
            fields = form_fields(request, raw_text=True)
        except MalformedPayload as exc:
            raise InvalidSignature("the body is not a form, so it carries no Mailgun signature") from exc
        timestamp, token, presented = (_signed_field(fields, name) for name in SIGNED_FIELDS)
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
            raise InvalidSignature("Mailgun timestamp is not a Unix time in seconds")
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise InvalidSignature("Mailgun token is empty or too long")
        # Mailgun warns its deliveries can be delayed, so the caller picks a generous max age. Compared as
        # numbers first: a timestamp centuries away is no datetime at all.
        if abs(now.timestamp() - int(timestamp)) > max_age_seconds:
            raise InvalidSignature(f"Mailgun timestamp is more than {max_age_seconds} seconds from now")
        signed_at = datetime.fromtimestamp(int(timestamp), UTC)
        keys = [
            account["signing_key"]
            for _, account in every_account(secrets)
            if isinstance(account.get("signing_key"), str) and account["signing_key"]
        ]
        if not keys:
            raise InvalidSignature("no Mailgun signing key is configured")
        matches = [same_secret(signature(key, timestamp, token), presented.lower()) for key in keys]
        if not any(matches):
            raise InvalidSignature("Mailgun signature does not match timestamp and token")
        return ReplayToken(value=token, expires_at=signed_at + timedelta(seconds=max_age_seconds))

    def extract(self, request: WebhookRequest) -> MailDelivery:
        fields = form_fields(request, raw_text=True)
        raw = [value for name, value in fields if name == "body-mime"]
        if raw:
            if len(raw) > 1 or not raw[0]:
                raise MalformedPayload("not a Mailgun forward: body-mime must be sent once and not be empty")
            mime = raw[0]
            return MailDelivery(
                provider="mailgun", provider_id=None, raw_mime=bytes(mime) if isinstance(mime, bytes) else mime.encode()
            )
        if not any(name == "message-headers" for name, _ in fields):
            raise MalformedPayload(
                "not a Mailgun forward: neither body-mime (routes whose URL ends in 'mime') nor message-headers"
            )
        return MailDelivery(provider="mailgun", provider_id=None, raw_mime=_composed(fields))


def signature(signing_key: str, timestamp: str, token: str) -> str:
    """Mailgun's signature of a delivery (also used by tests and sample events)."""
    message = (timestamp + token).encode("utf-8", "surrogatepass")
    return hmac.new(signing_key.encode("utf-8", "surrogatepass"), message, hashlib.sha256).hexdigest()


def _signed_field(fields: list[tuple[str, str | bytes]], name: str) -> str:
    values = [value for field, value in fields if field == name]
    # Two values would leave open which one Mailgun signed.
    if len(values) != 1 or isinstance(values[0], FormFile):
        raise InvalidSignature(f"Mailgun {name} field must be sent once")
    return values[0].decode("utf-8", "surrogateescape") if isinstance(values[0], bytes) else values[0]


def _composed(fields: list[tuple[str, str | bytes]]) -> bytes:
    texts: dict[str, list[str]] = {}
    files: dict[int, FormFile] = {}
    for name, value in fields:
        found = _ATTACHMENT_FIELD.match(name)
        if found and isinstance(value, FormFile):
            files[int(found.group(1))] = value
        elif name in ("message-headers", "body-plain", "body-html", "attachment-count", "content-id-map"):
            # Mailgun transcodes a parsed mail to UTF-8, so anything else is a broken body.
            texts.setdefault(name, []).append(text_field(value, name))
    headers = _message_headers(texts["message-headers"][0])
    declared = texts.get("attachment-count", ["0"])[0]
    if not (declared.isascii() and declared.isdigit() and int(declared) <= MAX_FORM_PARTS):
        raise MalformedPayload("not a Mailgun forward: attachment-count is not a count")
    if int(declared) != len(files) or (files and sorted(files) != list(range(1, len(files) + 1))):
        raise MalformedPayload(
            f"not a Mailgun forward: attachment-count is {declared} but {len(files)} attachment files arrived"
        )
    content_ids = _content_id_map(texts.get("content-id-map", ["{}"])[0])
    attachments = [
        MailFileSpec(
            filename=file.filename,
            content_type=file.content_type,
            data=bytes(file),
            content_id=content_ids.get(f"attachment-{number}"),
            inline=f"attachment-{number}" in content_ids,
        )
        for number, file in sorted(files.items())
    ]
    # The documentation types body-html as an array of the mail's HTML parts; they arrive as repeated fields.
    html = "\n".join(texts["body-html"]) if "body-html" in texts else None
    text = texts["body-plain"][0] if "body-plain" in texts else None
    return compose_mime(headers, text, html, attachments)


def _message_headers(value: str) -> list[tuple[str, str]]:
    pairs = read_json(value.encode("utf-8"))
    if not isinstance(pairs, list) or not all(
        isinstance(pair, list) and len(pair) == 2 and all(isinstance(part, str) for part in pair) for pair in pairs
    ):
        raise MalformedPayload("not a Mailgun forward: message-headers is not a JSON list of [name, value] pairs")
    return [(name, header_value) for name, header_value in pairs]


def _content_id_map(value: str) -> dict[str, str]:
    """content-id-map turned around: attachment field -> Content-ID."""
    mapping = read_json(value.encode("utf-8"))
    if not isinstance(mapping, dict) or not all(isinstance(field, str) for field in mapping.values()):
        raise MalformedPayload("not a Mailgun forward: content-id-map is not a JSON object of attachment fields")
    return {field: content_id for content_id, field in mapping.items()}


WEBHOOK = MailgunWebhook()
