"""events/email-*.json and events/email-ses-mail.eml: the notification names the committed mail (its key,
size and eTag), and each webhook sample passes its provider's check with the documented sample secrets
and carries the customer's mail."""

import hashlib
import importlib
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote_plus

import pytest

from switchboard.email.intake import mail_objects
from switchboard.email.mime import parse_mail
from switchboard.email.providers import mailgun, postmark, sendgrid
from switchboard.errors import InvalidSignature
from switchboard.http_request import WebhookRequest
from tests.support.drivers.email import MailgunDriver, PostmarkDriver, SendGridDriver
from tests.support.paths import EVENTS_DIR

MAX_AGE_SECONDS = 300  # template.yaml's MailWebhookMaxAgeSeconds default
WEBHOOK_SAMPLES = [
    (
        "email-mailgun.json",
        mailgun.WEBHOOK,
        MailgunDriver.secrets,
        "배송 조회를 해 보니 5일째 같은 곳에 머물러 있어요.",
    ),
    ("email-postmark.json", postmark.WEBHOOK, PostmarkDriver.secrets, "혹시 다른 주소로 배송된 건 아닐까요?"),
    ("email-sendgrid.json", sendgrid.WEBHOOK, SendGridDriver.secrets, "빠른 확인 부탁드립니다. 감사합니다."),
]


def load(name: str) -> dict:
    return json.loads((EVENTS_DIR / name).read_text())


def received_at(event: dict) -> datetime:
    return datetime.fromtimestamp(event["requestContext"]["timeEpoch"] / 1000, UTC)


def test_committed_mail_is_what_generate_writes():
    generate = importlib.import_module("events.generate")

    assert {name: (EVENTS_DIR / name).read_bytes() for name in generate.build_files()} == generate.build_files()


def test_ses_notification_names_the_committed_mail_as_s3_announces_it():
    (record,) = load("email-ses-notification.json")["Records"]
    (notification,) = json.loads(record["body"])["Records"]
    mail = (EVENTS_DIR / "email-ses-mail.eml").read_bytes()

    assert (notification["eventSource"], notification["eventName"]) == ("aws:s3", "ObjectCreated:Put")
    assert mail_objects(record["body"]) == [
        (notification["s3"]["bucket"]["name"], unquote_plus(notification["s3"]["object"]["key"]))
    ]
    assert unquote_plus(notification["s3"]["object"]["key"]).startswith("inbound/ses/")
    assert notification["s3"]["object"]["size"] == len(mail)
    assert notification["s3"]["object"]["eTag"] == hashlib.md5(mail, usedforsecurity=False).hexdigest()
    parsed = parse_mail(mail)
    assert (parsed.subject, parsed.spam_verdict, parsed.virus_verdict) == ("주문 문의", "PASS", "PASS")


@pytest.mark.parametrize(("name", "webhook", "secrets", "text"), WEBHOOK_SAMPLES, ids=[s[0] for s in WEBHOOK_SAMPLES])
def test_webhook_sample_passes_the_providers_check_and_carries_the_customers_mail(name, webhook, secrets, text):
    event = load(name)
    request = WebhookRequest.from_http_api_event(event)

    webhook.verify(request, dict(secrets), received_at(event), MAX_AGE_SECONDS)
    delivery = webhook.extract(request)

    assert parse_mail(delivery.raw_mime).reply_text.strip() == text


def test_mailgun_sample_is_refused_once_its_timestamp_is_older_than_the_max_age():
    event = load("email-mailgun.json")
    later = received_at(event) + timedelta(seconds=MAX_AGE_SECONDS + 1)

    with pytest.raises(InvalidSignature, match="seconds from now"):
        mailgun.WEBHOOK.verify(
            WebhookRequest.from_http_api_event(event), dict(MailgunDriver.secrets), later, MAX_AGE_SECONDS
        )
