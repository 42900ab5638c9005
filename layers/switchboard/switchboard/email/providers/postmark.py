"""Postmark inbound webhook: one JSON document per mail.

Postmark POSTs its parse of the mail: FromFull/ToFull/CcFull ({Email, Name, MailboxHash}), Subject, Date,
ReplyTo, TextBody, HtmlBody, Headers ([{Name, Value}], without the headers it lifts into fields of their
own), Attachments ([{Name, Content (base64), ContentType, ContentLength, ContentID}]) and MessageID.
MessageID is Postmark's id for the inbound mail, not the RFC Message-ID: that one, when the mail had one,
is among Headers. With the inbound stream's "include raw email content in JSON payload" setting, Postmark
adds RawEmail, the mail as received, which we pass on instead of rebuilding it.

Nothing signs the body. Postmark's advice is HTTP basic auth in the webhook URL
(https://<username>:<password>@example.com/webhook) over HTTPS, or an allow-list of its IP addresses.

Sources:
- https://postmarkapp.com/developer/webhooks/inbound-webhook (the payload and its example, which the
  shared fixture copies; Date is in whatever format the sending server used)
- https://postmarkapp.com/developer/webhooks/webhooks-overview ("Basic HTTP authentication")
- RawEmail: the `RawEmail?: string` field of InboundWebhook in Postmark's official Node.js client
  (postmark@4 dist/client/models/webhooks/payload/InboundWebhook.d.ts) and the server's RawEmailEnabled
  setting; the documentation pages as retrieved do not show the field itself.
- MessageID versus the Message-ID header: django-anymail's inbound view keeps them apart ("Postmark uuid,
  different from Message-ID mime header"), as does mvdnbrk/postmark-inbound (messageId vs
  messageIdFromHeaders).
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from email.utils import formataddr

from pydantic import BaseModel, ConfigDict, Field

from switchboard.email.providers.base import (
    MAX_BODY_BYTES,
    MailDelivery,
    MailFileSpec,
    ReplayToken,
    check_basic_auth,
    compose_mime,
)
from switchboard.errors import MalformedPayload
from switchboard.http_request import WebhookRequest, check_body_size, read_json
from switchboard.proof import ChannelSecrets
from switchboard.provider_payloads import payload_errors

MAX_ATTACHMENTS = 200


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class _Address(_Model):
    Email: str = ""
    Name: str = ""


class _Header(_Model):
    Name: str
    Value: str


class _Attachment(_Model):
    Name: str = ""
    Content: str
    ContentType: str = "application/octet-stream"
    ContentID: str = ""


class _Inbound(_Model):
    MessageID: str = Field(min_length=1, max_length=512)
    RawEmail: str | None = None
    From: str = ""
    FromFull: _Address | None = None
    To: str = ""
    ToFull: list[_Address] = []
    Cc: str = ""
    CcFull: list[_Address] = []
    ReplyTo: str = ""
    Subject: str = ""
    Date: str = ""
    TextBody: str | None = None
    HtmlBody: str | None = None
    Headers: list[_Header] = []
    Attachments: list[_Attachment] = Field(default=[], max_length=MAX_ATTACHMENTS)


class PostmarkWebhook:
    name = "postmark"

    def verify(
        self, request: WebhookRequest, secrets: ChannelSecrets, now: datetime, max_age_seconds: int
    ) -> ReplayToken | None:
        check_body_size(request.body, MAX_BODY_BYTES)
        check_basic_auth(request, secrets)
        return None

    def extract(self, request: WebhookRequest) -> MailDelivery:
        with payload_errors("a Postmark inbound webhook"):
            inbound = _Inbound.model_validate(read_json(request.body))
        if inbound.RawEmail:
            return MailDelivery(
                provider="postmark", provider_id=inbound.MessageID, raw_mime=inbound.RawEmail.encode("utf-8")
            )
        return MailDelivery(provider="postmark", provider_id=inbound.MessageID, raw_mime=_composed(inbound))


def _composed(inbound: _Inbound) -> bytes:
    headers = [(header.Name, header.Value) for header in inbound.Headers]
    present = {name.lower() for name, _ in headers}
    sender = _addresses([inbound.FromFull] if inbound.FromFull else []) or inbound.From
    if not sender:
        raise MalformedPayload("not a Postmark inbound webhook: From and FromFull are missing")
    # Postmark lifts these out of Headers; a copy left in Headers wins, being the mail's own spelling.
    lifted = [
        ("From", sender),
        ("To", _addresses(inbound.ToFull) or inbound.To),
        ("Cc", _addresses(inbound.CcFull) or inbound.Cc),
        ("Reply-To", inbound.ReplyTo),
        ("Subject", inbound.Subject),
        ("Date", inbound.Date),
    ]
    headers = [(name, value) for name, value in lifted if value and name.lower() not in present] + headers
    attachments = [_attachment(attachment, inbound.HtmlBody or "") for attachment in inbound.Attachments]
    # Postmark sends "" for a body the mail did not have.
    return compose_mime(headers, inbound.TextBody or None, inbound.HtmlBody or None, attachments)


def _addresses(addresses: list[_Address]) -> str:
    return ", ".join(formataddr((address.Name, address.Email)) for address in addresses if address.Email)


def _attachment(attachment: _Attachment, html: str) -> MailFileSpec:
    try:
        data = base64.b64decode("".join(attachment.Content.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedPayload("not a Postmark inbound webhook: an attachment's Content is not base64") from exc
    content_id = attachment.ContentID.strip().strip("<>") or None
    return MailFileSpec(
        filename=attachment.Name or None,
        content_type=attachment.ContentType or "application/octet-stream",
        data=data,
        content_id=content_id,
        # Postmark does not say how a part was disposed; one the HTML shows by cid: was inline.
        inline=bool(content_id) and f"cid:{content_id}" in html,
    )


WEBHOOK = PostmarkWebhook()
