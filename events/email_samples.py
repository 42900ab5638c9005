"""Sample events for the email functions (written by events/generate.py).

One customer writes four mails in one thread of theirs (tests/support/drivers/email.py builds them), each
arriving by another path:
- SES stores the first in the mail bucket under inbound/ses/<SES message id>, with its verdict headers on
  top; the bucket announces it on MailQueue, and EmailInboundFunction gets the SQS record whose body is
  that S3 event notification. The mail itself is `email-ses-mail.eml`: the notification only names it.
- Mailgun posts the second (form fields, the mail in `body-mime`), signed over its fixed timestamp and
  token with the sample signing key. Mailgun's timestamp must be recent, so a real invoke refuses this
  sample as too old (401); the signature is correct for its timestamp.
- Postmark posts the third as its JSON parse, and SendGrid the fourth as Inbound Parse's raw MIME
  (multipart/form-data, which API Gateway passes base64-encoded), both behind the sample basic auth.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import quote_plus, urlencode

from tests.support.drivers.email import (
    MAILBOX,
    EmailDriver,
    MailgunDriver,
    PostmarkDriver,
    SendGridDriver,
    SesDriver,
    raw_mail,
)
from tests.support.lambda_events import ACCOUNT_ID, REGION, http_api_event, sqs_event, sqs_record

SES = SesDriver()
MAILGUN = MailgunDriver()
POSTMARK = PostmarkDriver()
SENDGRID = SendGridDriver(signed=False)  # a Parse setting without a security policy: basic auth alone
CUSTOMER = SES.customer(1, "김민지")
SENT_AT = datetime(2025, 6, 8, 20, 59, 58, tzinfo=UTC)
# The bucket and queue as the local runner and the in-process test stack name them (infra/provision.py);
# the intake reads the bucket its MAIL_BUCKET names, whatever bucket the notification says.
MAIL_BUCKET = "switchboard-local-mailbucket"
MAIL_QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:switchboard-dev-MailQueue-4TQ8ZC1N6W2D"
SES_MAIL_FILE = "email-ses-mail.eml"
# (event file, driver, label of the mail's Message-ID, what the customer writes, seconds after SENT_AT)
MAILS = [
    (
        "email-ses-notification.json",
        SES,
        "ses",
        "안녕하세요, 6월 5일에 주문한 상품이 아직 도착하지 않았어요.\n주문번호는 20250605-1234입니다.",
        0,
    ),
    ("email-mailgun.json", MAILGUN, "mailgun", "배송 조회를 해 보니 5일째 같은 곳에 머물러 있어요.", 60),
    ("email-postmark.json", POSTMARK, "postmark", "혹시 다른 주소로 배송된 건 아닐까요?", 120),
    ("email-sendgrid.json", SENDGRID, "sendgrid", "빠른 확인 부탁드립니다. 감사합니다.", 180),
]


def customer_mail(driver: EmailDriver, label: str, text: str, delay_seconds: int) -> bytes:
    """The customer's mail as their client sent it: UTF-8, base64 body, the Korean subject encoded."""
    return raw_mail(
        CUSTOMER,
        message_id=driver.message_id(f"sample:{label}"),
        text=text,
        sent_at=SENT_AT + timedelta(seconds=delay_seconds),
    )


def ses_message_id(event_id: Callable[[str], uuid.UUID]) -> str:
    """40 lowercase letters and digits, like SES's inbound message ids (it names the object)."""
    return (event_id("ses:message").hex + event_id("ses:message:tail").hex)[:40]


def ses_stored_mail(event_id: Callable[[str], uuid.UUID]) -> bytes:
    """The first mail as SES's S3 action writes it: SES's trace and verdict headers prepended."""
    name, driver, label, text, delay = MAILS[0]
    received_at = SENT_AT + timedelta(seconds=delay + 2)
    envelope_from = CUSTOMER.external_id
    headers = [
        f"Return-Path: <{envelope_from}>",
        "Received: from mail.example.com (mail.example.com [203.0.113.7])",
        f" by inbound-smtp.{REGION}.amazonaws.com with SMTP id {ses_message_id(event_id)}",
        f" for {MAILBOX};",
        f" {format_datetime(received_at)} (UTC)",
        "X-SES-Spam-Verdict: PASS",
        "X-SES-Virus-Verdict: PASS",
        f"Received-SPF: pass (spfCheck: domain of example.com designates 203.0.113.7 as permitted sender) client-ip=203.0.113.7; envelope-from={envelope_from}; helo=mail.example.com;",
        "Authentication-Results: amazonses.com;",
        f" spf=pass (spfCheck: domain of example.com designates 203.0.113.7 as permitted sender) client-ip=203.0.113.7; envelope-from={envelope_from}; helo=mail.example.com;",
        " dkim=pass header.i=@example.com;",
        " dmarc=pass header.from=example.com;",
    ]
    return "\r\n".join(headers).encode() + b"\r\n" + customer_mail(driver, label, text, delay)


def ses_mail_key(event_id: Callable[[str], uuid.UUID]) -> str:
    return f"inbound/ses/{ses_message_id(event_id)}"


def build_email_files(event_id: Callable[[str], uuid.UUID]) -> dict[str, bytes]:
    """Files the events refer to: the raw mail SES stores, to put into the bucket before invoking."""
    return {SES_MAIL_FILE: ses_stored_mail(event_id)}


def build_email_events(event_id: Callable[[str], uuid.UUID]) -> dict[str, dict[str, Any]]:
    events = {"email-ses-notification.json": _ses_notification(event_id)}
    for name, driver, label, text, delay in MAILS[1:]:
        raw = customer_mail(driver, label, text, delay)
        # The provider posts a few seconds after the mail was sent.
        arrived_at = SENT_AT + timedelta(seconds=delay + 3)
        if driver is MAILGUN:
            headers, body = _mailgun(raw, arrived_at, event_id)
        else:
            body = driver.wrap(raw)
            headers = driver.headers(body)
        events[name] = http_api_event(
            method="POST",
            path=driver.webhook_path,
            route_key=f"POST {driver.webhook_path}",
            headers={"user-agent": _USER_AGENTS[driver.provider], **headers},
            body=body,
            request_id=event_id(f"request:email-{driver.provider}").hex[:16],
            at=arrived_at,
        )
    return events


_USER_AGENTS = {"mailgun": "mailgun/treq-16.12.0", "postmark": "Postmark", "sendgrid": "Sendlib/1.0 mx.sendgrid.net"}


def _mailgun(raw: bytes, arrived_at: datetime, event_id: Callable[[str], uuid.UUID]) -> tuple[dict[str, str], bytes]:
    """Mailgun's forward of the mail to a URL ending in "mime"; the timestamp is when Mailgun posted it,
    the token its 50 one-time characters. MailgunDriver.request adds the signature over both."""
    token = (event_id("mailgun:token").hex + event_id("mailgun:token:tail").hex)[:50]
    form = urlencode(
        [
            ("recipient", MAILBOX),
            ("sender", CUSTOMER.external_id),
            ("from", f"김민지 <{CUSTOMER.external_id}>"),
            ("subject", "주문 문의"),
            ("body-mime", raw.decode("ascii")),
            ("timestamp", str(int(arrived_at.timestamp()))),
            ("token", token),
        ]
    ).encode()
    return MAILGUN.request(form)


def _ses_notification(event_id: Callable[[str], uuid.UUID]) -> dict[str, Any]:
    """The SQS record Lambda hands EmailInboundFunction for SES's object: the body is S3's event
    notification (event structure version 2.1), the key URL-encoded as S3 sends it."""
    stored = ses_stored_mail(event_id)
    stored_at = SENT_AT + timedelta(seconds=2, milliseconds=412)
    notification = {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": REGION,
                "eventTime": stored_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "AWS:AROAZ2RJ4EXAMPLESES7Q:ses-receipt-rule"},
                "requestParameters": {"sourceIPAddress": "10.0.137.24"},
                "responseElements": {
                    "x-amz-request-id": event_id("s3:request").hex[:16].upper(),
                    "x-amz-id-2": hashlib.sha256(event_id("s3:id-2").bytes).hexdigest(),
                },
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "switchboard-dev-MailBucket-notification-1",
                    "bucket": {
                        "name": MAIL_BUCKET,
                        "ownerIdentity": {"principalId": "A3NL1KOZZKEXAMPLE"},
                        "arn": f"arn:aws:s3:::{MAIL_BUCKET}",
                    },
                    "object": {
                        "key": quote_plus(ses_mail_key(event_id), safe="/"),
                        "size": len(stored),
                        "eTag": hashlib.md5(stored, usedforsecurity=False).hexdigest(),
                        "sequencer": f"00{int(stored_at.timestamp() * 1000):X}{event_id('s3:sequencer').hex[:5].upper()}",
                    },
                },
            }
        ]
    }
    sent_ms = int(stored_at.timestamp() * 1000) + 35
    record = sqs_record(
        message_id=str(event_id("message:email-ses")),
        receipt_handle="AQEB" + event_id("receipt:email-ses").hex * 4,
        body=json.dumps(notification),
        attributes={
            "ApproximateReceiveCount": "1",
            "SentTimestamp": str(sent_ms),
            # Notifications are sent by S3's own service principal.
            "SenderId": "AIDAJHIPRHEMV73VRJEBU",
            "ApproximateFirstReceiveTimestamp": str(sent_ms + 40),
        },
        queue_arn=MAIL_QUEUE_ARN,
    )
    return sqs_event([record])
