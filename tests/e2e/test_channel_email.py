"""Email on the local runner: a raw mail that SES would store in the mail bucket, and mail posted by Mailgun
and Postmark, each become messages agents read over the API, a reply joining its thread's ticket; a forged
Mailgun signature is refused before anything is stored. The bucket's notification reaches the intake
through moto's S3 -> SQS notifications and the runner's MailQueue poller, as in AWS. The runner seeds the
providers' secrets from template Metadata; the tests sign with what it seeded (local.json)."""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import boto3
import pytest

from switchboard.email.providers.mailgun import signature
from tests.e2e.local_stack import LocalStack, Response, eventually
from tests.support.drivers import Customer
from tests.support.drivers.email import MAILBOX, PostmarkDriver, raw_mail

pytestmark = pytest.mark.e2e

SUBJECT = "환불 요청드립니다"


def a_customer() -> Customer:
    """A customer no other test writes as."""
    return Customer(f"customer.{uuid.uuid4().hex[:12]}@example.com", "이서연")


def a_message_id() -> str:
    return f"{uuid.uuid4().hex}@mail.example.com"


def mail(
    customer: Customer, message_id: str, text: str, *, in_reply_to: str | None = None, sent_at: datetime | None = None
) -> bytes:
    return raw_mail(
        customer,
        message_id=message_id,
        text=text,
        subject=SUBJECT if in_reply_to is None else f"Re: {SUBJECT}",
        sent_at=sent_at or datetime.now(UTC),
        in_reply_to=in_reply_to,
    )


def s3(local_stack: LocalStack):
    return boto3.client(
        "s3",
        endpoint_url=local_stack.state["aws_endpoint_url"],
        region_name=local_stack.state["region"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def put_as_ses(local_stack: LocalStack, raw: bytes) -> str:
    """What SES's receipt rule does: the raw mail into the mail bucket under inbound/ses/<SES message id>."""
    key = f"inbound/ses/{uuid.uuid4().hex}{uuid.uuid4().hex[:8]}"
    s3(local_stack).put_object(Bucket=local_stack.resource("MailBucket"), Key=key, Body=raw)
    return key


def mail_keys(local_stack: LocalStack, prefix: str = "inbound/") -> set[str]:
    pages = (
        s3(local_stack)
        .get_paginator("list_objects_v2")
        .paginate(Bucket=local_stack.resource("MailBucket"), Prefix=prefix)
    )
    return {item["Key"] for page in pages for item in page.get("Contents", [])}


def mailgun_form(raw: bytes, signing_key: str, *, signature_value: str | None = None) -> bytes:
    """Mailgun's forward of `raw` to a URL ending in "mime", signed now over timestamp + token."""
    timestamp, token = str(int(time.time())), uuid.uuid4().hex + uuid.uuid4().hex[:18]
    return urlencode(
        [
            ("recipient", MAILBOX),
            ("sender", "bounce@example.com"),
            ("subject", SUBJECT),
            ("body-mime", raw.decode("ascii")),
            ("timestamp", timestamp),
            ("token", token),
            ("signature", signature_value if signature_value is not None else signature(signing_key, timestamp, token)),
        ]
    ).encode()


def post_mailgun(local_stack: LocalStack, body: bytes) -> Response:
    return local_stack.request(
        "POST", "/webhooks/email/mailgun", body, {"Content-Type": "application/x-www-form-urlencoded"}
    )


def post_postmark(local_stack: LocalStack, raw: bytes) -> Response:
    credentials = local_stack.state["secrets"]["postmark"]
    basic = base64.b64encode(f"{credentials['username']}:{credentials['password']}".encode()).decode()
    headers = {"Content-Type": "application/json", "Authorization": f"Basic {basic}"}
    return local_stack.request("POST", "/webhooks/email/postmark", PostmarkDriver().wrap(raw), headers)


def ticket_with(local_stack: LocalStack, message_id: str) -> dict | None:
    """The email ticket holding the mail with this Message-ID, as the API shows it (ticket and messages)."""
    for ticket in local_stack.tickets():
        if ticket["channel"] != "email":
            continue
        found = local_stack.as_agent(f"/tickets/{ticket['id']}").json()
        if any(m["external_id"] == message_id for m in found["messages"]):
            return found
    return None


def wait_for_messages(local_stack: LocalStack, message_id: str, count: int) -> dict:
    """The ticket holding `message_id` once it shows `count` messages."""

    def probe() -> dict | None:
        found = ticket_with(local_stack, message_id)
        return found if found and len(found["messages"]) == count else None

    return eventually(probe, timeout=30, interval=0.5, what=f"a ticket with {count} messages holding <{message_id}>")


def test_mail_stored_by_ses_becomes_a_ticket_and_its_reply_joins_it(local_stack: LocalStack):
    # Given a customer's Korean mail, stored in the mail bucket the way SES's receipt rule stores it
    customer, first = a_customer(), a_message_id()
    put_as_ses(local_stack, mail(customer, first, "지난주에 주문한 운동화 사이즈가 맞지 않아요.\n환불 가능할까요?"))
    # When the bucket's notification reaches the intake
    opened = wait_for_messages(local_stack, first, 1)
    # Then an agent reads it on an email ticket from that customer, with the subject and the text
    (shown,) = opened["messages"]
    assert opened["ticket"]["channel"] == "email"
    assert opened["ticket"]["subject"] == SUBJECT
    assert shown["text"] == "지난주에 주문한 운동화 사이즈가 맞지 않아요.\n환불 가능할까요?"
    assert (shown["email"]["from_address"], shown["email"]["provider"]) == (customer.external_id, "ses")
    # When the customer writes again, In-Reply-To their first mail
    reply = a_message_id()
    put_as_ses(
        local_stack,
        mail(
            customer, reply, "영수증도 첨부할까요?", in_reply_to=first, sent_at=datetime.now(UTC) + timedelta(seconds=1)
        ),
    )
    # Then the reply is the second message of the same ticket
    threaded = wait_for_messages(local_stack, reply, 2)
    assert threaded["ticket"]["id"] == opened["ticket"]["id"]
    assert [m["external_id"] for m in threaded["messages"]] == [first, reply]
    assert threaded["messages"][1]["text"] == "영수증도 첨부할까요?"


def test_mail_posted_by_mailgun_becomes_a_ticket_and_a_reply_posted_by_postmark_joins_it(local_stack: LocalStack):
    # Given a customer's mail, forwarded by a Mailgun route and signed with the seeded signing key, now
    customer, first = a_customer(), a_message_id()
    raw = mail(customer, first, "결제가 두 번 된 것 같아요.")
    # When Mailgun posts it
    accepted = post_mailgun(local_stack, mailgun_form(raw, local_stack.state["secrets"]["mailgun"]["signing_key"]))
    # Then Mailgun gets a 200, the raw mail is kept in the bucket, and an agent reads it on a ticket
    assert (accepted.status, accepted.json()) == (200, {"received": 1})
    assert f"inbound/mailgun/{hashlib.sha256(raw).hexdigest()}" in mail_keys(local_stack, "inbound/mailgun/")
    opened = wait_for_messages(local_stack, first, 1)
    assert opened["messages"][0]["text"] == "결제가 두 번 된 것 같아요."
    assert opened["messages"][0]["email"]["provider"] == "mailgun"
    # When the customer's reply comes through Postmark, behind the seeded basic auth
    reply = a_message_id()
    answered = post_postmark(
        local_stack,
        mail(
            customer,
            reply,
            "카드 명세서를 확인해 주세요.",
            in_reply_to=first,
            sent_at=datetime.now(UTC) + timedelta(seconds=1),
        ),
    )
    # Then it is the second message of the same ticket
    assert (answered.status, answered.json()) == (200, {"received": 1})
    threaded = wait_for_messages(local_stack, reply, 2)
    assert threaded["ticket"]["id"] == opened["ticket"]["id"]
    assert [(m["external_id"], m["email"]["provider"]) for m in threaded["messages"]] == [
        (first, "mailgun"),
        (reply, "postmark"),
    ]


def test_forged_mailgun_signature_is_refused_and_nothing_is_stored(local_stack: LocalStack):
    # Given a mail posted with a signature made with another key
    customer, message_id = a_customer(), a_message_id()
    raw = mail(customer, message_id, "비밀번호를 알려 주세요.")
    forged = mailgun_form(raw, "key-not-the-signing-key")
    stored_before = mail_keys(local_stack)
    # When it reaches the Mailgun webhook
    refused = post_mailgun(local_stack, forged)
    # Then it is refused with a JSON error, and no mail is added to the bucket
    assert (refused.status, refused.headers["content-type"]) == (401, "application/json")
    assert refused.json()["error"] == "invalid_signature"
    assert refused.json()["message"]
    assert mail_keys(local_stack) == stored_before
    assert f"inbound/mailgun/{hashlib.sha256(raw).hexdigest()}" not in stored_before
    assert ticket_with(local_stack, message_id) is None


def test_mail_ses_judged_spam_is_held_until_an_agent_releases_it_onto_a_ticket(local_stack: LocalStack):
    # Given a customer's mail that SES stored with a spam verdict of FAIL
    customer, message_id = a_customer(), a_message_id()
    put_as_ses(
        local_stack,
        b"X-SES-Spam-Verdict: FAIL\r\nX-SES-Virus-Verdict: PASS\r\n"
        + mail(customer, message_id, "주문 취소하고 싶어요."),
    )

    def quarantined() -> list[str]:
        return [
            h["external_id"] for h in local_stack.as_agent("/mail/held?reason=quarantined&limit=100").json()["held"]
        ]

    # Then it is held, on no ticket
    eventually(lambda: message_id in quarantined() or None, timeout=30, interval=0.5, what=f"<{message_id}> held")
    assert ticket_with(local_stack, message_id) is None
    # When an agent tries to release it, and then an admin does, each with their token
    release = f'{{"external_id": "{message_id}"}}'.encode()
    as_agent = {"Content-Type": "application/json", "Authorization": f"Bearer {local_stack.token_of('agent')}"}
    refused = local_stack.request("POST", "/mail/held/release", release, as_agent)
    as_admin = {"Content-Type": "application/json", "Authorization": f"Bearer {local_stack.token_of('admin')}"}
    released = local_stack.request("POST", "/mail/held/release", release, as_admin)
    # Then only the admin's is accepted; the mail leaves the held list and becomes the customer's message on a ticket
    assert (refused.status, refused.json()["error"]) == (403, "forbidden")
    assert released.status == 202 and released.json()["held"]["released_by"] == "dev-admin"
    opened = wait_for_messages(local_stack, message_id, 1)
    assert opened["messages"][0]["text"] == "주문 취소하고 싶어요."
    assert message_id not in quarantined()
    # And without a token the release route is refused at the gateway
    unauthorized = local_stack.request(
        "POST", "/mail/held/release", b'{"external_id": "x"}', {"Content-Type": "application/json"}
    )
    assert unauthorized.status == 401
