"""A fake of Amazon SES v2 `SendEmail` (raw content): `POST /ses/v2/email/outbound-emails`.

boto3's sesv2 client pointed at `endpoint_url=<fake>/ses` POSTs `/ses/v2/email/outbound-emails` with JSON
`{"FromEmailAddress", "Destination": {"ToAddresses", "CcAddresses", "BccAddresses"}, "Content": {"Raw":
{"Data": <base64 MIME>}}}` (the sesv2 service model: rest-json, requestUri /v2/email/outbound-emails). It
answers 200 `{"MessageId": ...}`, or an error as AWS's rest-json services do: the error code in the
`x-amzn-ErrorType` header and `{"message": ...}` as body, which botocore's RestJSONParser turns into a
ClientError with that code.

What it checks, as SES does (https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_RawMessage.html,
https://docs.aws.amazon.com/ses/latest/dg/quotas.html):
- a SigV4 `Authorization` header is present (its signature is not checked);
- the raw message is base64, at most 40 MB so encoded, has a header and a body separated by a blank line,
  a From header, and no line over 1,000 characters;
- at most 50 recipients across To, Cc and Bcc;
- the sender's identity is verified: every domain is, except the reserved `unverified.example`, which
  answers MessageRejected with SES's sandbox wording ("Email address is not verified. The following
  identities failed the check in region ...: <address>") so that tests see an address in SES's message.

SES reports deliveries, bounces and complaints through SNS or event destinations, not webhooks our stack
serves yet, so a send posts no receipt.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
import uuid
from typing import Any

from infra.fakes.outbound import FakeAnswer, FakeContext, OutboundCall, Receipt, register

SEND_EMAIL_PATH = "/ses/v2/email/outbound-emails"
MAX_ENCODED_BYTES = 40_000_000  # "40 MB per message (after base64 encoding)" (SES quotas)
MAX_RECIPIENTS = 50
MAX_LINE_BYTES = 1000  # RFC 5321, counting CRLF
UNVERIFIED_DOMAIN = "unverified.example"
_REGION = re.compile(r"Credential=[^/,\s]+/\d{8}/([a-z0-9-]+)/")


class SesOutbound:
    name = "ses"

    def handles(self, path: str) -> bool:
        return path == SEND_EMAIL_PATH

    def answer(self, call: OutboundCall, context: FakeContext) -> tuple[FakeAnswer, list[Receipt]]:
        authorization = call.header("Authorization") or ""
        if not authorization.startswith("AWS4-HMAC-SHA256 "):
            return _error(403, "MissingAuthenticationTokenException", "Missing Authentication Token"), []
        document = call.json()
        if not isinstance(document, dict):
            return _error(400, "BadRequestException", "The request body is not valid JSON."), []
        data = ((document.get("Content") or {}).get("Raw") or {}).get("Data")
        if not isinstance(data, str):
            return _error(400, "BadRequestException", "Content.Raw.Data is required for a raw message."), []
        if len(data) > MAX_ENCODED_BYTES:
            return _error(400, "MessageRejected", "Message length is more than 40 MB."), []
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            return _error(400, "BadRequestException", "Content.Raw.Data is not valid base64."), []
        problem = _mime_problem(raw)
        if problem is not None:
            return _error(400, "MessageRejected", problem), []
        destination = document.get("Destination") or {}
        recipients = [
            address
            for field in ("ToAddresses", "CcAddresses", "BccAddresses")
            for address in (destination.get(field) or [])
        ]
        if len(recipients) > MAX_RECIPIENTS:
            return _error(400, "BadRequestException", f"Recipient count exceeds {MAX_RECIPIENTS}."), []
        sender = str(document.get("FromEmailAddress") or "")
        if sender.rpartition("@")[2].lower() == UNVERIFIED_DOMAIN:
            region = _region(authorization).upper()
            message = (
                f"Email address is not verified. The following identities failed the check in region {region}: {sender}"
            )
            return _error(400, "MessageRejected", message), []
        return FakeAnswer(200, {"MessageId": _message_id()}, {"x-amzn-RequestId": str(uuid.uuid4())}), []


def _mime_problem(raw: bytes) -> str | None:
    head, separator, _ = raw.partition(b"\r\n\r\n")
    if not separator:
        head, separator, _ = raw.partition(b"\n\n")
    if not separator:
        return "The message must have a header and a body, separated by a blank line."
    if not re.search(rb"(?im)^From:[ \t]*\S", head):
        return "Missing required header 'From'."
    if any(len(line.rstrip(b"\r")) > MAX_LINE_BYTES - 2 for line in raw.split(b"\n")):
        return "The message has a line longer than 1000 characters."
    return None


def _region(authorization: str) -> str:
    found = _REGION.search(authorization)
    return found.group(1) if found else "us-east-1"


def _message_id() -> str:
    """Shaped like SES's ids (e.g. 0000014644fe5ef6-9a483358-9170-4cb4-a269-f5dcdf415321-000000 in SES's
    notification examples): sixteen hex digits ending in the send time in milliseconds, a UUID, a counter."""
    return f"0100{int(time.time() * 1000):012x}-{uuid.uuid4()}-000000"


def _error(status: int, code: str, message: str) -> FakeAnswer:
    body: dict[str, Any] = {"message": message}
    return FakeAnswer(status, body, {"x-amzn-ErrorType": code, "x-amzn-RequestId": str(uuid.uuid4())})


register(SesOutbound())
