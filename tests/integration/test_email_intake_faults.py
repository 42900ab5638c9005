"""The email intake under failure: any one of its AWS calls failing, in any way a call can fail, is retried
through the mail queue and ends in exactly the table and attachments of a run without faults."""

import json
from email.message import EmailMessage
from email.policy import SMTP

import pytest

from tests.support.faults import Fault, FaultyClient

pytestmark = pytest.mark.slow

SES_KEY = "inbound/ses/0100019750e2aaaa-intake-faults"


def mail_with_two_attachments() -> bytes:
    mail = EmailMessage(policy=SMTP)
    mail["From"] = "김민준 <minjun.kim@example.com>"
    mail["To"] = "support@shop.example"
    mail["Subject"] = "교환 요청 (사진 첨부)"
    mail["Date"] = "Sun, 08 Jun 2025 21:00:00 +0900"
    mail["Message-ID"] = "<exchange-photos@mail.example.com>"
    mail.set_content("사이즈가 맞지 않아 교환하고 싶어요. 사진 첨부합니다.")
    mail.add_alternative("<p>사이즈가 맞지 않아 교환하고 싶어요. 사진 첨부합니다.</p>", subtype="html")
    mail.add_attachment(
        b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40, maintype="image", subtype="png", filename="신발.png"
    )
    mail.add_attachment(b"%PDF-1.4 receipt" * 100, maintype="application", subtype="pdf", filename="영수증.pdf")
    return mail.as_bytes()


def run_mail_through(stack):
    """From an empty table: the bucket announces the stored mail (as a redrive of its notification would),
    and the intake and the writer run until their queues are empty."""
    stack.empty_table()
    notification = {
        "Records": [
            {
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": stack.mail_bucket}, "object": {"key": SES_KEY}},
            }
        ]
    }
    stack.sqs.send_message(QueueUrl=stack.mail_queue_url, MessageBody=json.dumps(notification))
    stack.drain_mail_queue()
    stack.drain_queue()
    assert stack.dead_lettered_mail() == 0 and stack.dead_lettered_count() == 0
    return stack.table_items(), [(key, stack.attachment_bytes(key)) for key in stack.attachment_keys()]


def test_any_single_failed_intake_call_is_retried_to_the_same_table_and_attachments(stack, queue_dedup_window_lapsed):
    # Given a mail with two attachments and an HTML body, and what a run without faults leaves
    stack.put_mail(mail_with_two_attachments(), key=SES_KEY)
    stack.drain_mail_queue()
    clean = run_mail_through(stack)
    (ticket,) = stack.tickets()
    assert ticket["message_count"] == 1 and len(clean[1]) == 3
    # And the intake's S3 and SQS clients wrapped so that one chosen call fails
    clients = {service: stack.wrap_runtime_client(service, FaultyClient) for service in ("s3", "sqs")}
    calls = {}
    for service, client in clients.items():
        client.disarm()
        run_mail_through(stack)
        calls[service] = list(client.calls)
    assert calls["s3"].count("PutObject") == 3 and "GetObject" in calls["s3"] and "SendMessageBatch" in calls["sqs"]
    # When each call in turn fails once, in each way a call can fail
    differences = []
    for service, client in clients.items():
        for fault in Fault:
            for call_number, operation in enumerate(calls[service], start=1):
                client.arm(call_number, fault)
                if run_mail_through(stack) != clean:
                    differences.append(f"{service} call {call_number} ({operation}) {fault.value}")
                client.disarm()
    # Then every run ends with the clean run's table and attachments: the mail once, its files once
    assert differences == []
