"""SES's reports on an agent's mail reply settle it: a delivery makes it `delivered`, a bounce or a complaint
`failed` with the reason, each recorded once. The fake SES publishes them as SES's event destination would (SNS's
envelope on MailEventsQueue, infra/fakes/outbound_ses.py), MailEventsFunction turns them into receipts, and the
ticket writer records those like every channel's."""

import json

from switchboard import queue
from switchboard.email.ses_events import read_notification
from switchboard.models import utc_now
from tests.support.drivers import Customer
from tests.support.drivers.email import SesDriver, raw_mail
from tests.support.lambda_events import AGENT_CLAIMS
from tests.support.stack import QueuedMessage


def mail_reply(stack, fake_providers, customer: Customer, *, sent: str = "sent") -> str:
    """A customer's mail opens a ticket, an agent answers it and the sender sends it through SES (the reply then
    `sent`); the ticket id."""
    mail = stack.channel(SesDriver())
    mail.deliver(
        raw_mail(
            customer,
            message_id=mail.driver.message_id(customer.external_id),
            text="주문한 신발 사이즈를 바꾸고 싶어요",
            sent_at=utc_now(),
            subject="사이즈 교환",
        )
    )
    assert stack.drain_queue().failed_records == 0
    (listed,) = stack.tickets()
    answer = stack.http(
        "POST",
        f"/tickets/{listed['id']}/replies",
        headers={"content-type": "application/json", "idempotency-key": "mail-reply-1"},
        body=json.dumps({"text": "네, 교환해 드리겠습니다. 회수 기사님이 내일 방문합니다."}).encode(),
        claims=AGENT_CLAIMS,
    )
    assert answer.status == 202, answer.body
    assert stack.drain_outbound_queue().failed_records == 0
    assert last_message(stack, listed["id"])["delivery_status"] == sent
    return listed["id"]


def last_message(stack, ticket_id: str) -> dict:
    return stack.ticket(ticket_id)["messages"][-1]


def history(message: dict) -> list[tuple[str, str]]:
    return [(step["status"], step["by"]) for step in message["delivery_history"]]


def test_a_reply_ses_delivered_ends_delivered_and_a_redelivered_notification_changes_nothing(stack, fake_providers):
    # Given a mail reply SES took, and its Delivery event published to SNS
    ticket_id = mail_reply(stack, fake_providers, Customer("kim.minjun@example.com", "김민준"))
    receipts = fake_providers.take_receipts()
    assert [receipt.target for receipt in receipts] == ["sqs:MailEventsQueue"]
    # When it reaches MailEventsQueue, and the mail events function and the writer run
    stack.deliver_receipts(receipts)
    # Then the reply is delivered, reported once by the provider
    delivered = last_message(stack, ticket_id)
    assert delivered["delivery_status"] == "delivered" and delivered.get("delivery_error") is None
    assert history(delivered) == [("queued", "outbox"), ("sent", "sender"), ("delivered", "provider")]
    # When SNS delivers the same notification again (at least once), the table is as it was
    before = stack.table_items()
    stack.deliver_receipts(receipts)
    assert stack.table_items() == before
    # And so it is when the writer gets the receipt again after the inbound queue's 5-minute deduplication window
    receipt = read_notification(receipts[0].body).receipt
    assert receipt is not None
    late = QueuedMessage(queue.encode(receipt), queue.message_group_id(receipt), queue.deduplication_id(receipt))
    assert stack.write(stack.writer_event([late])).failed == frozenset()
    assert stack.table_items() == before
    assert stack.dead_lettered_mail_events() == 0


def test_a_reply_to_an_address_that_bounces_ends_failed_with_the_bounce(stack, fake_providers):
    # Given a customer whose address bounces (SES's mailbox simulator answers 550 5.1.1 user unknown)
    ticket_id = mail_reply(stack, fake_providers, Customer("kim.minjun@bounce.example", "김민준"))
    # When SES's Bounce event arrives
    stack.deliver_receipts(fake_providers.take_receipts())
    # Then the reply failed, saying why, without the customer's address
    failed = last_message(stack, ticket_id)
    assert failed["delivery_status"] == "failed"
    assert failed["delivery_error"] == "bounced: Permanent/General (smtp; 550 5.1.1 user unknown)"
    assert history(failed) == [("queued", "outbox"), ("sent", "sender"), ("failed", "provider")]
    # And the agent may send it again (a failed reply is resendable)
    resent = stack.http("POST", f"/tickets/{ticket_id}/messages/{failed['message_key']}/resend", claims=AGENT_CLAIMS)
    assert resent.status == 202


def test_a_reply_the_customer_marks_as_spam_ends_failed_after_its_delivery(stack, fake_providers):
    # Given a reply SES delivered, which the recipient then reports as spam (SES's complaint simulator)
    ticket_id = mail_reply(stack, fake_providers, Customer("lee.seoyeon@complaint.example", "이서연"))
    receipts = fake_providers.take_receipts()
    assert len(receipts) == 2
    # When the Delivery and the Complaint arrive
    stack.deliver_receipts(receipts)
    # Then the complaint, which comes after the delivery, fails the reply
    failed = last_message(stack, ticket_id)
    assert (failed["delivery_status"], failed["delivery_error"]) == ("failed", "marked as spam by the recipient")
    assert history(failed)[-2:] == [("delivered", "provider"), ("failed", "provider")]
    # And a late Delivery (SNS does not keep order) moves a failed reply nowhere
    stack.deliver_receipts(receipts[:1])
    assert last_message(stack, ticket_id)["delivery_status"] == "failed"


def test_a_reply_whose_sendemail_answer_never_came_is_settled_by_its_bounce(stack, fake_providers, monkeypatch):
    # Given SES takes the mail but answers after the sender's read timeout: the reply is unknown, its MessageId
    # never recorded
    from botocore.config import Config

    from infra.fakes.outbound_ses import SEND_EMAIL_PATH
    from switchboard.email import sender

    monkeypatch.setattr(
        sender, "ses_client_config", lambda: Config(read_timeout=0.3, retries={"total_max_attempts": 1})
    )
    fake_providers.stall(SEND_EMAIL_PATH, seconds=1.0)
    ticket_id = mail_reply(stack, fake_providers, Customer("kim.minjun@bounce.example", "김민준"), sent="unknown")
    # When SES's Bounce event arrives, naming the attempt the sender tagged the mail with
    receipts = _receipts_within(fake_providers, seconds=3)
    stack.deliver_receipts(receipts)
    # Then it settles the reply: failed with the bounce, and the attempt now knows SES's MessageId
    failed = last_message(stack, ticket_id)
    assert failed["delivery_status"] == "failed"
    assert failed["delivery_error"] == "bounced: Permanent/General (smtp; 550 5.1.1 user unknown)"
    attempt = stack.repositories().outbox.attempt(failed["attempt_id"])
    assert (
        attempt is not None
        and attempt.provider_message_id == json.loads(json.loads(receipts[0].body)["Message"])["mail"]["messageId"]
    )


def _receipts_within(fake_providers, *, seconds: float) -> list:
    """The receipts of a request answered after our timeout: the fake publishes them once it has answered."""
    import time

    deadline, taken = time.monotonic() + seconds, []
    while time.monotonic() < deadline and not taken:
        taken += fake_providers.take_receipts()
        time.sleep(0.05)
    return taken


def test_a_notification_that_never_reads_is_dead_lettered_not_lost_and_writes_nothing(stack):
    # Given a message on MailEventsQueue that is not SES's notification
    before = stack.table_items()
    body = '{"Type": "Notification", "Message": "{}"}'
    stack.sqs.send_message(QueueUrl=stack.queue_url_of("MailEventsQueue"), MessageBody=body)
    # When the mail events function takes it until the queue gives up on it
    report = stack.drain_mail_events_queue()
    # Then each receive failed, it is kept in the dead-letter queue (maxReceiveCount 5), and nothing was written
    assert report.failed_records == report.records == 5
    assert stack.dead_lettered_mail_events() == 1
    assert stack.table_items() == before
