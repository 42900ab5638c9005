"""SES's reports on sent mail, as MailEventsFunction receives them (written by events/generate.py, read by
tests/unit/test_ses_events.py).

Each SES event is one of SES's documented records ("Examples of event data that Amazon SES publishes to Amazon
SNS": Bounce, Complaint, Delivery, Reject), with its `mail.headers` left out (SES sends them; nothing reads them),
wrapped in SNS's notification envelope ("HTTP/HTTPS notification JSON format"; an SQS subscription without raw
message delivery receives the same document), as a record of MailEventsQueue. SES's own setup message, published
once when the event destination is created, is the batch's last record.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from tests.support.lambda_events import ACCOUNT_ID, REGION, sqs_event, sqs_record

MAIL_EVENTS_QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:switchboard-dev-MailEventsQueue-5KJ2N8RT4W1X"
MAIL_EVENTS_TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:switchboard-dev-MailEventsTopic-9QX3M7VB2C4D"
SNS_SENDER_ID = "AIDAIT2UOQQY3AUEKVGXU"  # SNS's, as SQS names it on the messages SNS sends
SES_MESSAGE_ID = "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000"
SETUP_MESSAGE = "Successfully validated SNS topic for Amazon SES event publishing."

_TAGS = {
    "ses:configuration-set": ["ConfigSet"],
    "ses:source-ip": ["192.0.2.0"],
    "ses:from-domain": ["example.com"],
    "ses:caller-identity": ["ses_user"],
}


def _mail(timestamp: str, source: str, destination: str) -> dict[str, Any]:
    return {
        "timestamp": timestamp,
        "source": source,
        "sourceArn": f"arn:aws:ses:{REGION}:{ACCOUNT_ID}:identity/sender@example.com",
        "sendingAccountId": ACCOUNT_ID,
        "messageId": SES_MESSAGE_ID,
        "destination": [destination],
        "headersTruncated": False,
        "commonHeaders": {
            "from": [source],
            "to": ["recipient@example.com"],
            "messageId": SES_MESSAGE_ID,
            "subject": "Message sent from Amazon SES",
        },
        "tags": _TAGS,
    }


BOUNCE: dict[str, Any] = {
    "eventType": "Bounce",
    "bounce": {
        "bounceType": "Permanent",
        "bounceSubType": "General",
        "bouncedRecipients": [
            {
                "emailAddress": "recipient@example.com",
                "action": "failed",
                "status": "5.1.1",
                "diagnosticCode": "smtp; 550 5.1.1 user unknown",
            }
        ],
        "timestamp": "2017-08-05T00:41:02.669Z",
        "feedbackId": "01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000",
        "reportingMTA": "dsn; mta.example.com",
    },
    "mail": _mail("2017-08-05T00:40:02.012Z", "Sender Name <sender@example.com>", "recipient@example.com"),
}

COMPLAINT: dict[str, Any] = {
    "eventType": "Complaint",
    "complaint": {
        "complainedRecipients": [{"emailAddress": "recipient@example.com"}],
        "timestamp": "2017-08-05T00:41:02.669Z",
        "feedbackId": "01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000",
        "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)",
        "complaintFeedbackType": "abuse",
        "arrivalDate": "2017-08-05T00:41:02.669Z",
    },
    "mail": _mail("2017-08-05T00:40:01.123Z", "Sender Name <sender@example.com>", "recipient@example.com"),
}

DELIVERY: dict[str, Any] = {
    "eventType": "Delivery",
    "mail": _mail("2016-10-19T23:20:52.240Z", "sender@example.com", "recipient@example.com"),
    "delivery": {
        "timestamp": "2016-10-19T23:21:04.133Z",
        "processingTimeMillis": 11893,
        "recipients": ["recipient@example.com"],
        "smtpResponse": "250 2.6.0 Message received",
        "reportingMTA": "mta.example.com",
    },
}

# SES's example names the sender as the destination; it is kept as documented.
REJECT: dict[str, Any] = {
    "eventType": "Reject",
    "mail": _mail("2016-10-14T17:38:15.211Z", "sender@example.com", "sender@example.com"),
    "reject": {"reason": "Bad content"},
}


def sns_envelope(message: str, *, message_id: str, timestamp: str) -> str:
    """SNS's notification around `message` (its signature is a placeholder: nothing verifies it, the queue's
    policy admits only the topic)."""
    return json.dumps(
        {
            "Type": "Notification",
            "MessageId": message_id,
            "TopicArn": MAIL_EVENTS_TOPIC_ARN,
            "Message": message,
            "Timestamp": timestamp,
            "SignatureVersion": "1",
            "Signature": "EXAMPLEpH+DcEwjAPg8O9mY8dReBSwksfg2S7WKQcikcNKWLQjwu6A4VbeS0QHVCkhRS7fUQvi2egU3N858fiTDN6bkkOxYDVrY0Ad8L10Hs3zH81mtnPk5uvvolIC1CXGu43obcgFxeL3khZl8IKvO61GWB6jI9b5+gLPoBc1Q=",
            "SigningCertURL": f"https://sns.{REGION}.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem",
            "UnsubscribeURL": (
                f"https://sns.{REGION}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={MAIL_EVENTS_TOPIC_ARN}"
                ":c9135db0-26c4-47ec-8998-413945fb5a96"
            ),
        }
    )


def notification(event: dict[str, Any], *, message_id: str = "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324") -> str:
    """One SES event as MailEventsQueue holds it."""
    return sns_envelope(json.dumps(event), message_id=message_id, timestamp=_published_at(event))


def _published_at(event: dict[str, Any]) -> str:
    """When SNS took the event: the time of its detail object, else the mail's (a hostile event may have neither)."""
    detail = event.get(str(event.get("eventType", "")).lower())
    mail = event.get("mail")
    moments = [part.get("timestamp") for part in (detail, mail) if isinstance(part, dict)]
    return str(next((moment for moment in moments if moment), "2017-08-05T00:41:03.000Z"))


def build_mail_events_events(ids: Callable[[str], uuid.UUID]) -> dict[str, dict[str, Any]]:
    bodies = [
        ("delivery", notification(DELIVERY, message_id=str(ids("sns:delivery")))),
        ("bounce", notification(BOUNCE, message_id=str(ids("sns:bounce")))),
        ("complaint", notification(COMPLAINT, message_id=str(ids("sns:complaint")))),
        ("setup", sns_envelope(SETUP_MESSAGE, message_id=str(ids("sns:setup")), timestamp="2016-10-14T05:00:00.000Z")),
    ]
    records = [
        sqs_record(
            message_id=str(ids(f"mail-event:{name}")),
            receipt_handle="AQEB" + ids(f"receipt:mail-event:{name}").hex * 4,
            body=body,
            attributes={
                "ApproximateReceiveCount": "1",
                "SentTimestamp": "1501893662700",
                "SenderId": SNS_SENDER_ID,
                "ApproximateFirstReceiveTimestamp": "1501893662740",
            },
            queue_arn=MAIL_EVENTS_QUEUE_ARN,
        )
        for name, body in bodies
    ]
    return {"mail-events-batch.json": sqs_event(records)}
