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

A send that names a configuration set (`ConfigurationSetName`, as the channel sender does) is reported as SES's
event destination would: each event SES publishes to SNS ("Examples of event data that Amazon SES publishes to
Amazon SNS"), in SNS's notification envelope, is a receipt for the stack's MailEventsQueue (target
`sqs:MailEventsQueue`), which SNS feeds in AWS. Like SES's mailbox simulator, whose bounce@ and complaint@
simulator.amazonses.com addresses answer a hard bounce ("550 5.1.1 user unknown") and a complaint (SES developer
guide, "Using the mailbox simulator"), the recipient decides:
- an address at `bounce.example` (or bounce@simulator.amazonses.com): a Bounce, Permanent/General, 5.1.1;
- an address at `complaint.example` (or complaint@simulator.amazonses.com): a Delivery, then a Complaint (abuse);
- any other: a Delivery.
The mail's `EmailTags` are in each event's `mail.tags`, as SES publishes them. Without a configuration set SES
publishes nothing, and the fake posts no receipt.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default as default_policy
from email.utils import parseaddr
from typing import Any

from infra.fakes.outbound import QUEUE_TARGET, FakeAnswer, FakeContext, OutboundCall, Receipt, register

SEND_EMAIL_PATH = "/ses/v2/email/outbound-emails"
MAX_ENCODED_BYTES = 40_000_000  # "40 MB per message (after base64 encoding)" (SES quotas)
MAX_RECIPIENTS = 50
MAX_LINE_BYTES = 1000  # RFC 5321, counting CRLF
UNVERIFIED_DOMAIN = "unverified.example"
BOUNCE_DOMAIN = "bounce.example"
COMPLAINT_DOMAIN = "complaint.example"
SIMULATOR_DOMAIN = "simulator.amazonses.com"
MAIL_EVENTS_QUEUE = "MailEventsQueue"
ACCOUNT_ID = "123456789012"  # moto's, as the local stack's
REPORTING_MTA = "a8-12.smtp-out.amazonses.com"
USER_UNKNOWN = "smtp; 550 5.1.1 user unknown"  # the mailbox simulator's bounce
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
        message_id = _message_id()
        answer = FakeAnswer(200, {"MessageId": message_id}, {"x-amzn-RequestId": str(uuid.uuid4())})
        configuration_set = document.get("ConfigurationSetName")
        if not configuration_set:
            return answer, []
        mail = _mail_object(document, raw, message_id, recipients, str(configuration_set), _region(authorization))
        return answer, _events(mail, recipients, context.now, _region(authorization))


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


def _mail_object(
    document: dict[str, Any], raw: bytes, message_id: str, recipients: list[str], configuration_set: str, region: str
) -> dict[str, Any]:
    """The `mail` object of every event of this send: the original headers and SES's common ones."""
    parsed = message_from_bytes(raw, policy=default_policy)
    source = str(document.get("FromEmailAddress") or "")
    return {
        "source": source,
        "sourceArn": f"arn:aws:ses:{region}:{ACCOUNT_ID}:identity/{source.rpartition('@')[2]}",
        "sendingAccountId": ACCOUNT_ID,
        "messageId": message_id,
        "destination": recipients,
        "headersTruncated": False,
        "headers": [{"name": name, "value": str(value)} for name, value in parsed.items()],
        "commonHeaders": {
            "from": [str(parsed.get("From", ""))],
            "to": [str(parsed.get("To", ""))],
            "messageId": message_id,
            "subject": str(parsed.get("Subject", "")),
        },
        "tags": {
            "ses:configuration-set": [configuration_set],
            "ses:from-domain": [source.rpartition("@")[2]],
            **{str(tag.get("Name")): [str(tag.get("Value"))] for tag in document.get("EmailTags") or []},
        },
    }


def _simulates(address: str, outcome: str) -> bool:
    local, _, domain = (parseaddr(address)[1] or address).lower().rpartition("@")
    return domain == f"{outcome}.example" or (domain == SIMULATOR_DOMAIN and local == outcome)


def _events(mail: dict[str, Any], recipients: list[str], now: datetime, region: str) -> list[Receipt]:
    """What SES publishes for the send, in order: the delivery, the bounces, then the complaints."""
    bounced = [address for address in recipients if _simulates(address, "bounce")]
    complained = [address for address in recipients if _simulates(address, "complaint")]
    delivered = [address for address in recipients if address not in bounced]
    sent_at = now.astimezone(UTC)
    events: list[dict[str, Any]] = []
    mail = {**mail, "timestamp": _iso(sent_at)}
    if delivered:
        delivery = {
            "timestamp": _iso(sent_at + timedelta(seconds=1)),
            "processingTimeMillis": 1000,
            "recipients": delivered,
            "smtpResponse": "250 2.6.0 Message received",
            "reportingMTA": REPORTING_MTA,
        }
        events.append({"eventType": "Delivery", "mail": mail, "delivery": delivery})
    if bounced:
        bounce = {
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "bouncedRecipients": [
                {"emailAddress": address, "action": "failed", "status": "5.1.1", "diagnosticCode": USER_UNKNOWN}
                for address in bounced
            ],
            "timestamp": _iso(sent_at + timedelta(seconds=1)),
            "feedbackId": _message_id(),
            "reportingMTA": f"dsn; {REPORTING_MTA}",
        }
        events.append({"eventType": "Bounce", "mail": mail, "bounce": bounce})
    if complained:
        complaint = {
            "complainedRecipients": [{"emailAddress": address} for address in complained],
            "timestamp": _iso(sent_at + timedelta(seconds=2)),
            "feedbackId": _message_id(),
            "userAgent": "Amazon SES Mailbox Simulator",
            "complaintFeedbackType": "abuse",
            "arrivalDate": _iso(sent_at + timedelta(seconds=2)),
        }
        events.append({"eventType": "Complaint", "mail": mail, "complaint": complaint})
    return [_sns_notification(event, region, sent_at) for event in events]


def _sns_notification(event: dict[str, Any], region: str, at: datetime) -> Receipt:
    """SNS's envelope around SES's event, as an SQS subscription without raw message delivery receives it (its
    signature is not checked: the queue's policy admits only the topic)."""
    topic = f"arn:aws:sns:{region}:{ACCOUNT_ID}:switchboard-local-MailEventsTopic"
    envelope = {
        "Type": "Notification",
        "MessageId": str(uuid.uuid4()),
        "TopicArn": topic,
        "Message": json.dumps(event),
        "Timestamp": _iso(at),
        "SignatureVersion": "1",
        "Signature": base64.b64encode(uuid.uuid4().bytes * 8).decode(),
        "SigningCertURL": f"https://sns.{region}.amazonaws.com/SimpleNotificationService-fake.pem",
        "UnsubscribeURL": f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={topic}:{uuid.uuid4()}",
    }
    return Receipt(
        provider="ses", target=QUEUE_TARGET + MAIL_EVENTS_QUEUE, headers={}, body=json.dumps(envelope).encode()
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _error(status: int, code: str, message: str) -> FakeAnswer:
    body: dict[str, Any] = {"message": message}
    return FakeAnswer(status, body, {"x-amzn-ErrorType": code, "x-amzn-RequestId": str(uuid.uuid4())})


register(SesOutbound())
