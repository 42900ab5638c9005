"""Replies by mail through SES v2 SendEmail (switchboard/email/sender.py): the request boto3 makes and the MIME
in it, SES's answers in our terms, and the timeout after which a mail is never sent again blindly.

A real boto3 sesv2 client against the fake providers server (infra/fakes/outbound_ses.py), signed with dummy
credentials; nothing reaches AWS.
"""

from __future__ import annotations

import base64
import re
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from typing import Any

import boto3
import pytest
from botocore.config import Config

from infra.fakes.outbound_ses import SEND_EMAIL_PATH, UNVERIFIED_DOMAIN
from infra.fakes.providers import FakeProviders
from switchboard.channels.base import Sends
from switchboard.channels.sending import (
    OutboundAttachment,
    OutboundEmail,
    OutboundRequest,
    SendContext,
    SendEndpoints,
    SendHttp,
)
from switchboard.email.outgoing import new_message_id, quoted_history, reply_subject
from switchboard.email.sender import EmailSender, ses_client_config, ses_message_id_header
from switchboard.email.ses_events import read_notification
from switchboard.models import Channel

NOW = datetime(2025, 6, 9, 12, 0, tzinfo=UTC)
REGION = "ap-northeast-2"
MAILBOX = "support@help.shop.example"
CUSTOMER = "kim.minjun@example.com"
REPLY_TO = "support+0123456789abcdef01234567abcdefghijklmnop@help.shop.example"
SES_ID = re.compile(r"^[0-9a-f]{16}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-000000$")
SENDER = EmailSender()


@pytest.fixture(scope="module")
def server() -> Iterator[FakeProviders]:
    fake = FakeProviders().start()
    yield fake
    fake.stop()


@pytest.fixture
def providers(server: FakeProviders) -> FakeProviders:
    server.reset()
    return server


def ses_client(endpoint: str, config: Config | None = None) -> Any:
    return boto3.client(
        "sesv2",
        region_name=REGION,
        endpoint_url=f"{endpoint}/ses",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="fake-secret",
        config=config or ses_client_config(),
    )


def context_for(client: Any) -> SendContext:
    return SendContext(
        http=SendHttp(),
        endpoints=SendEndpoints("http://127.0.0.1:9", "http://127.0.0.1:9", "http://127.0.0.1:9", "http://127.0.0.1:9"),
        ses=client,
    )


def reply(mailbox: str = MAILBOX, attachments: tuple[OutboundAttachment, ...] = (), **email: object) -> OutboundRequest:
    quoted_text, quoted_html = quoted_history(
        [("김민준", datetime(2025, 6, 9, 9, 0, tzinfo=UTC), "택배가 아직 안 왔어요.")]
    )
    fields: dict[str, object] = {
        "mailbox": mailbox,
        "to": (CUSTOMER,),
        "cc": ("lee@example.com",),
        "reply_to": REPLY_TO,
        "subject": reply_subject("RE: 배송 문의", 1042),
        "message_id": new_message_id("attempt-1", mailbox.rpartition("@")[2]),
        "in_reply_to": "customer-2@mail.example.com",
        "references": ("root-1@mail.example.com",),
        "quoted_text": quoted_text,
        "quoted_html": quoted_html,
    }
    fields.update(email)
    return OutboundRequest(
        attempt_id="attempt-1",
        message_id="m_1",
        ticket_id="t_0123456789abcdef01234567",
        channel=Channel.EMAIL,
        channel_account_id=mailbox,
        recipient_id=CUSTOMER,
        text="안녕하세요 고객님, 내일 도착합니다.",
        attachments=attachments,
        email=OutboundEmail.model_validate(fields),
        now=NOW,
    )


def received_mail(providers: FakeProviders) -> EmailMessage:
    (call,) = providers.calls("ses")
    message = message_from_bytes(base64.b64decode(call.json()["Content"]["Raw"]["Data"]), policy=default)
    assert isinstance(message, EmailMessage)
    return message


def test_reply_is_sent_as_raw_mime(providers: FakeProviders) -> None:
    # Given an agent's Korean reply to the customer's second mail, with a colleague of theirs copied
    # When it is sent
    outcome = SENDER.send(reply(), {}, context_for(ses_client(providers.base_url)))
    # Then SES took it, and its MessageId is the provider id
    assert outcome.kind == "sent"
    assert outcome.provider_message_id is not None and SES_ID.match(outcome.provider_message_id)
    # And the one request is SendEmail with raw content, from our mailbox to the customer and the colleague
    (call,) = providers.calls("ses")
    assert call.path == SEND_EMAIL_PATH
    assert (call.header("Authorization") or "").startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert f"/{REGION}/ses/aws4_request" in (call.header("Authorization") or "")
    document = call.json()
    assert document["FromEmailAddress"] == MAILBOX
    assert document["Destination"] == {"ToAddresses": [CUSTOMER], "CcAddresses": ["lee@example.com"]}
    # And the MIME carries the thread and the reply
    message = received_mail(providers)
    assert message["From"] == MAILBOX
    assert message["To"] == CUSTOMER
    assert message["Cc"] == "lee@example.com"
    assert message["Reply-To"] == REPLY_TO
    assert message["Subject"] == "Re: 배송 문의 [#1042]"
    assert message["Message-ID"] == new_message_id("attempt-1", "help.shop.example")
    assert message["In-Reply-To"] == "<customer-2@mail.example.com>"
    assert message["References"].split() == ["<root-1@mail.example.com>", "<customer-2@mail.example.com>"]
    plain = message.get_body(preferencelist=("plain",))
    assert plain is not None
    text = plain.get_content()
    assert text.index("안녕하세요 고객님") < text.index("> 택배가 아직 안 왔어요.")


def test_the_local_outbox_shows_the_mime(providers: FakeProviders) -> None:
    # Given a reply sent
    SENDER.send(reply(), {}, context_for(ses_client(providers.base_url)))
    # When the fake's outbox is listed
    (entry,) = providers.sent()
    # Then it shows the mail readable, with its threading headers
    assert entry["provider"] == "ses" and entry["path"] == SEND_EMAIL_PATH
    assert "In-Reply-To: <customer-2@mail.example.com>" in entry["mime"]
    assert "Authorization" not in entry["headers"]


def test_with_its_configuration_set_ses_reports_what_became_of_the_mail(providers: FakeProviders) -> None:
    # Given the sender configured with the stack's configuration set
    sender = EmailSender(configuration_set="switchboard-local-replies")
    # When a reply to the customer, copying an address that bounces (the fake's bounce.example), is sent
    outcome = sender.send(reply(cc=("lee@bounce.example",)), {}, context_for(ses_client(providers.base_url)))
    # Then SendEmail names the set, and tags the mail with its attempt (SES publishes the tags with its events)
    (call,) = providers.calls("ses")
    assert call.json()["ConfigurationSetName"] == "switchboard-local-replies"
    assert call.json()["EmailTags"] == [{"Name": "switchboard-attempt", "Value": "attempt-1"}]
    # And SES's events follow as SNS puts them on MailEventsQueue: the customer's delivery, then the Cc's bounce
    receipts = providers.take_receipts()
    assert [receipt.queue for receipt in receipts] == ["MailEventsQueue", "MailEventsQueue"]
    delivered, bounced = (read_notification(receipt.body) for receipt in receipts)
    assert (delivered.kind, bounced.kind) == ("Delivery", "Bounce")
    assert delivered.receipt is not None and bounced.receipt is not None
    assert delivered.receipt.external_id == bounced.receipt.external_id == outcome.provider_message_id
    assert bounced.receipt.errors == (
        "bounced: Permanent/General for 1 of 2 recipients (smtp; 550 5.1.1 user unknown)",
    )


def test_without_a_configuration_set_ses_reports_nothing(providers: FakeProviders) -> None:
    SENDER.send(reply(), {}, context_for(ses_client(providers.base_url)))

    (call,) = providers.calls("ses")
    assert "ConfigurationSetName" not in call.json() and "EmailTags" not in call.json()
    assert providers.take_receipts() == []


def test_attachment_bytes_travel_inside_the_mime(providers: FakeProviders) -> None:
    # Given a sender that reads files from the attachments bucket, and a reply with a photo
    files = {"attachments/t_1/m_1/0": b"\x89PNG\r\n\x1a\nphoto"}
    sender = EmailSender(read_attachment=files.__getitem__)
    photo = OutboundAttachment(
        kind="image", storage_key="attachments/t_1/m_1/0", filename="사진.png", mime_type="image/png", url="https://x"
    )
    # When it is sent
    outcome = sender.send(reply(attachments=(photo,)), {}, context_for(ses_client(providers.base_url)))
    # Then the photo is part of the mail
    assert outcome.kind == "sent"
    (file,) = list(received_mail(providers).iter_attachments())
    assert (file.get_filename(), file.get_content()) == ("사진.png", b"\x89PNG\r\n\x1a\nphoto")


@pytest.mark.parametrize("status", [429, 500, 503])
def test_throttling_and_server_errors_are_retried(providers: FakeProviders, status: int) -> None:
    # Given SES answering with a throttle or a server error
    providers.fail(SEND_EMAIL_PATH, status=status)
    # When a reply is sent
    outcome = SENDER.send(reply(), {}, context_for(ses_client(providers.base_url)))
    # Then it goes back to the queue, and the SDK did not repeat the call by itself
    assert outcome.kind == "retry"
    assert len(providers.calls("ses")) == 1


def test_retry_after_is_honoured_when_given(providers: FakeProviders) -> None:
    providers.fail(SEND_EMAIL_PATH, status=429, retry_after="7")
    outcome = SENDER.send(reply(), {}, context_for(ses_client(providers.base_url)))
    assert (outcome.kind, outcome.retry_after_seconds) == ("retry", 7.0)


def test_unverified_sender_is_rejected_without_addresses_in_the_reason(providers: FakeProviders) -> None:
    # Given a mailbox whose identity SES has not verified (SES names the address in its message)
    outcome = SENDER.send(reply(mailbox=f"help@{UNVERIFIED_DOMAIN}"), {}, context_for(ses_client(providers.base_url)))
    # Then the reply failed for good, with SES's code and a reason that names no address
    assert outcome.kind == "rejected"
    assert outcome.code == "MessageRejected"
    assert outcome.reason is not None
    assert "not verified" in outcome.reason and "AP-NORTHEAST-2" in outcome.reason
    assert "@" not in outcome.reason.replace("<address>", "")
    assert len(providers.calls("ses")) == 1


def test_read_timeout_is_unknown_and_never_resent(providers: FakeProviders) -> None:
    # Given SES that takes the mail but answers after the client stopped waiting
    providers.stall(SEND_EMAIL_PATH, seconds=1.0)
    client = ses_client(providers.base_url, ses_client_config(read_timeout=0.3))
    # When a reply is sent
    outcome = SENDER.send(reply(), {}, context_for(client))
    # Then the attempt is unknown (SES may have sent it) and was made once
    assert outcome.kind == "unknown"
    assert len(providers.calls("ses")) == 1
    assert SENDER.resend_is_safe(reply()) is False


def test_no_connection_is_retried() -> None:
    # Given an endpoint where nothing listens
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    # When a reply is sent
    outcome = SENDER.send(reply(), {}, context_for(ses_client(f"http://127.0.0.1:{closed_port}")))
    # Then nothing can have been sent, so it is retried
    assert outcome.kind == "retry"


def test_client_that_retries_by_itself_is_refused(providers: FakeProviders) -> None:
    # Given a client with botocore's default retries, which would repeat a timed-out SendEmail
    client = ses_client(providers.base_url, Config(retries={"max_attempts": 1}))
    # When a reply is sent through it
    with pytest.raises(RuntimeError):
        SENDER.send(reply(), {}, context_for(client))
    # Then nothing was sent
    assert providers.calls("ses") == []


def test_reply_ses_cannot_take_is_rejected_before_the_call(providers: FakeProviders) -> None:
    # Given a reply copied to more people than SES sends one mail to
    cc = tuple(f"person{number}@example.com" for number in range(60))
    # When it is sent
    outcome = SENDER.send(reply(cc=cc), {}, context_for(ses_client(providers.base_url)))
    # Then it fails with the reason, and SES was never called
    assert (outcome.kind, outcome.code) == ("rejected", "too_many_recipients")
    assert providers.calls("ses") == []


def test_mail_has_no_window() -> None:
    # Given a customer who wrote a month ago
    verdict = SENDER.window(
        last_customer_message_at=datetime(2025, 5, 1, tzinfo=UTC), now=NOW, human_agent=True, template=False
    )
    # Then a reply may still go out
    assert verdict.open
    assert isinstance(SENDER, Sends)


def test_ses_message_id_header() -> None:
    assert ses_message_id_header("0100abc-000000", "us-east-1") == "<0100abc-000000@email.amazonses.com>"
    assert ses_message_id_header("0102abc-000000", REGION) == "<0102abc-000000@ap-northeast-2.amazonses.com>"
