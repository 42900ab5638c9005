"""How mail finds its ticket, end to end through the mail bucket, the email intake and the writer: the
four threading rules in order, follow-ups, one ticket per mail whatever the addresses, and automatic
mail (auto-replies, bounces, lists, our own mail, SES quarantine) that never opens a ticket."""

from datetime import UTC, datetime, timedelta

import pytest

from switchboard.email.reply_address import reply_address
from switchboard.models import TicketStatus
from tests.support.agents import agent_replies, ticket_closes
from tests.support.drivers import Customer
from tests.support.drivers.email import MAILBOX, MailgunDriver, SesDriver, raw_mail

SENT = datetime(2025, 6, 8, 12, 0, tzinfo=UTC)
MINJUN = Customer("minjun.kim@example.com", "김민준")
SEOYEON = Customer("seoyeon.lee@example.net", "이서연")
REPLY_KEY = SesDriver.secrets["reply_token_key"]


@pytest.fixture
def mail(stack):
    """Delivers raw mail the way SES does and runs the writer over what the intake enqueued."""
    ses = stack.channel(SesDriver())

    def deliver(raw: bytes) -> None:
        assert ses.deliver(raw).status == 200
        report = stack.drain_queue()
        assert report.failed_records == 0, report

    return deliver


def first_mail(customer=MINJUN, *, message_id="first@mail.example.com", subject="배송 문의", **headers) -> bytes:
    # A new conversation: the customer's client names no earlier mail.
    return raw_mail(
        customer,
        message_id=message_id,
        text="주문한 신발이 아직 안 왔어요",
        sent_at=SENT,
        subject=subject,
        thread_headers=False,
        **headers,
    )


def bare_mail(customer, *, message_id, text="다시 문의드립니다", to=MAILBOX, subject="배송 문의", headers=()) -> bytes:
    """A mail with no In-Reply-To or References but those in `headers` (some webmail and mobile clients keep none)."""
    return raw_mail(
        customer,
        message_id=message_id,
        text=text,
        sent_at=SENT + timedelta(hours=1),
        subject=subject,
        to=to,
        thread_headers=False,
        extra_headers=headers,
    )


def test_a_reply_to_our_reply_address_joins_its_ticket_without_any_thread_headers(stack, mail):
    # Given a customer's mail opened ticket #1 and an agent answered it with our reply address
    mail(first_mail())
    (ticket,) = stack.tickets()
    address = reply_address(MAILBOX, ticket["id"], REPLY_KEY)
    # When the customer answers from a client that keeps no thread headers, to that address
    mail(bare_mail(MINJUN, message_id="second@mail.example.com", to=address, subject="안녕하세요"))
    # Then the answer is on ticket #1
    (listed,) = stack.tickets()
    assert [m["external_id"] for m in stack.ticket(listed["id"])["messages"]] == [
        "first@mail.example.com",
        "second@mail.example.com",
    ]


def test_a_made_up_reply_token_joins_nothing(stack, mail):
    # Given ticket #1 exists
    mail(first_mail())
    (ticket,) = stack.tickets()
    forged = reply_address(MAILBOX, ticket["id"], "not-our-key")
    # When someone else writes to a reply address with a token they made up for that ticket
    mail(bare_mail(SEOYEON, message_id="intruder@mail.example.net", to=forged))
    # Then their mail opens its own ticket and ticket #1 still holds one message
    numbers = {t["number"]: t for t in stack.tickets()}
    assert sorted(numbers) == [1, 2]
    assert numbers[1]["message_count"] == 1 and numbers[2]["requester"]["display_name"] == "이서연"


def test_an_outlook_reply_naming_only_our_sent_mail_in_in_reply_to_joins_its_ticket(stack, mail):
    # Given ticket #1, answered by an agent in a mail we sent with our own Message-ID
    mail(first_mail())
    (ticket,) = stack.tickets()
    agent_replies(
        stack.repositories(),
        ticket["id"],
        external_id="sb.reply-1@shop.example",
        text="확인해 보겠습니다",
        at=SENT + timedelta(minutes=5),
    )
    # When the customer answers from Outlook, which sends In-Reply-To but no References
    answer = bare_mail(
        MINJUN, message_id="outlook-answer@mail.example.com", headers=(("In-Reply-To", "<sb.reply-1@shop.example>"),)
    )
    mail(answer)
    # Then it joins ticket #1
    (listed,) = stack.tickets()
    assert listed["message_count"] == 3


def test_a_subject_token_joins_only_for_the_same_requester(stack, mail):
    # Given ticket #1 of Minjun
    mail(first_mail())
    # When Minjun writes a new mail titled "[#1]", and Seoyeon writes one with the same token
    mail(bare_mail(MINJUN, message_id="minjun-token@mail.example.com", subject="Re: [#1] 배송 문의"))
    mail(bare_mail(SEOYEON, message_id="seoyeon-token@mail.example.net", subject="Re: [#1] 배송 문의"))
    # Then Minjun's joins ticket #1 and Seoyeon's opens ticket #2
    numbers = {t["number"]: t for t in stack.tickets()}
    assert (numbers[1]["message_count"], numbers[2]["message_count"]) == (2, 1)
    assert numbers[2]["requester"]["display_name"] == "이서연"


def test_the_same_subject_alone_never_joins_a_ticket(stack, mail):
    # Given ticket #1 titled "배송 문의"
    mail(first_mail())
    # When the same customer sends a new mail with the same subject and no thread headers or token
    mail(bare_mail(MINJUN, message_id="same-subject@mail.example.com"))
    # Then it is a new ticket
    assert sorted(t["number"] for t in stack.tickets()) == [1, 2]


def test_a_reply_to_a_closed_ticket_opens_a_linked_follow_up_and_later_replies_join_the_follow_up(stack, mail):
    # Given ticket #1 was closed
    mail(first_mail())
    (ticket,) = stack.tickets()
    ticket_closes(stack.repositories(), ticket["id"], at=SENT + timedelta(days=5))
    # When the customer answers in the thread, twice
    for n in (1, 2):
        reply = bare_mail(
            MINJUN, message_id=f"late-{n}@mail.example.com", headers=(("In-Reply-To", "<first@mail.example.com>"),)
        )
        mail(reply)
    # Then one follow-up ticket holds both answers and names the closed one
    numbers = {t["number"]: t for t in stack.tickets()}
    assert sorted(numbers) == [1, 2]
    assert numbers[2]["follow_up_of"] == ticket["id"] and numbers[2]["message_count"] == 2
    assert numbers[1]["status"] == TicketStatus.CLOSED.value


def test_a_mail_to_several_of_our_addresses_delivered_by_ses_and_by_a_webhook_is_one_message_on_one_ticket(stack, mail):
    # Given a customer wrote to support@ and sales@, copying a colleague
    raw = first_mail(extra_headers=(("Cc", "sales@shop.example, Park Jiho <jiho.park@example.com>"),))
    # When SES stores it, and Mailgun forwards the same mail again
    mail(raw)
    mailgun = stack.channel(MailgunDriver())
    assert mailgun.deliver(mailgun.driver.wrap(raw)).status == 200
    stack.drain_queue()
    # Then there is one ticket with the mail once, and the colleague is recorded as copied
    (listed,) = stack.tickets()
    found = stack.ticket(listed["id"])
    assert [m["external_id"] for m in found["messages"]] == ["first@mail.example.com"]
    assert found["ticket"]["cc"] == ["jiho.park@example.com"]


def test_an_out_of_office_about_our_reply_is_an_internal_note_that_changes_nothing(stack, mail):
    # Given ticket #1 waits on the customer after an agent's reply
    mail(first_mail())
    (ticket,) = stack.tickets()
    agent_replies(
        stack.repositories(),
        ticket["id"],
        external_id="sb.reply-2@shop.example",
        text="송장번호 안내드립니다",
        at=SENT,
        then=TicketStatus.PENDING,
    )
    # When the customer's mailbox answers automatically
    auto = bare_mail(
        MINJUN,
        message_id="ooo@mail.example.com",
        text="부재중입니다. 6월 10일에 복귀합니다.",
        subject="자동 회신: 배송 문의",
        headers=(("In-Reply-To", "<sb.reply-2@shop.example>"), ("Auto-Submitted", "auto-replied")),
    )
    mail(auto)
    # Then the ticket keeps waiting on the customer, with the auto-reply as an internal system note
    found = stack.ticket(ticket["id"])
    assert found["ticket"]["status"] == TicketStatus.PENDING.value
    note = found["messages"][-1]
    assert (note["author_kind"], note["public"], note["email"]["handling"]) == ("system", False, "auto_reply")


def test_an_auto_reply_about_no_ticket_is_held_and_opens_nothing(stack, mail):
    # Given no ticket; When a vacation responder writes to us
    vacation = bare_mail(SEOYEON, message_id="vacation@mail.example.net", headers=(("X-Autoreply", "yes"),))
    mail(vacation)
    # Then there is no ticket, and the mail is held for review with why
    assert stack.tickets() == []
    held = stack.repositories().held_mail.held_mail("vacation@mail.example.net")
    assert (held.handling.value, held.from_address) == ("auto_reply", SEOYEON.external_id)


def test_a_bounce_of_our_reply_is_noted_on_its_ticket_and_marks_the_reply_failed(stack, mail):
    # Given an agent's reply on ticket #1
    mail(first_mail())
    (ticket,) = stack.tickets()
    agent_replies(
        stack.repositories(), ticket["id"], external_id="sb.reply-3@shop.example", text="교환 접수되었습니다", at=SENT
    )
    # When the customer's server bounces it with a delivery status notification
    bounce = (
        "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\r\n"
        f"To: {MAILBOX}\r\n"
        "Subject: Delivery Status Notification (Failure)\r\n"
        "Message-ID: <bounce-1@mx.google.com>\r\n"
        "Date: Sun, 08 Jun 2025 12:30:00 +0000\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n\r\n'
        "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nAddress not found.\r\n"
        "--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; googlemail.com\r\n\r\nFinal-Recipient: rfc822; minjun.kim@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "--b1\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: {MAILBOX}\r\nTo: minjun.kim@example.com\r\nMessage-ID: <sb.reply-3@shop.example>\r\nSubject: Re: 배송 문의\r\n"
        "--b1--\r\n"
    ).encode()
    mail(bounce)
    # Then the reply is marked failed and the bounce is an internal note on the ticket; no new ticket
    assert len(stack.tickets()) == 1
    messages = stack.ticket(ticket["id"])["messages"]
    reply = next(m for m in messages if m["external_id"] == "sb.reply-3@shop.example")
    assert reply["delivery_status"] == "failed"
    assert (messages[-1]["email"]["handling"], messages[-1]["public"]) == ("bounce", False)


def test_our_own_mail_coming_back_is_held_as_a_loop(stack, mail):
    # Given a reply we sent (our Message-ID) coming back, and a mail from the very mailbox it reached
    sent_by_us = bare_mail(Customer("sales@shop.example", "Shop"), message_id="sb.echo@shop.example")
    from_itself = bare_mail(Customer(MAILBOX, "Support"), message_id="self@shop.example")
    # When they arrive
    mail(sent_by_us)
    mail(from_itself)
    # Then neither opens a ticket; both are held as loops
    assert stack.tickets() == []
    store = stack.repositories()
    assert [store.held_mail.held_mail(i).handling.value for i in ("sb.echo@shop.example", "self@shop.example")] == [
        "loop",
        "loop",
    ]


def test_a_colleague_at_our_domain_writing_to_support_opens_a_ticket(stack, mail):
    # Given a colleague in the warehouse, at the shop's own domain
    colleague = Customer("jiho.park@shop.example", "박지호")
    # When they write to support
    mail(bare_mail(colleague, message_id="warehouse-1@shop.example", subject="반품 입고 확인 요청"))
    # Then it is a ticket like any other
    (ticket,) = stack.tickets()
    assert ticket["requester"]["display_name"] == "박지호"


def test_mail_ses_marks_as_a_virus_is_quarantined_not_dropped(stack, mail):
    # Given SES scanned a mail and prepended its verdicts (a sender's own fake verdict below them)
    raw = b"X-SES-Spam-Verdict: PASS\r\nX-SES-Virus-Verdict: FAIL\r\n" + first_mail(
        extra_headers=(("X-SES-Virus-Verdict", "PASS"),)
    )
    # When it is stored by SES
    mail(raw)
    # Then no ticket shows it, and it is kept, flagged, with the raw mail still in the bucket
    assert stack.tickets() == []
    held = stack.repositories().held_mail.held_mail("first@mail.example.com")
    assert (held.handling.value, held.reason) == ("quarantined", "SES virus verdict FAIL")
    assert held.raw_mail_key in stack.mail_keys()


def test_a_webhook_mail_cannot_quarantine_itself_with_a_forged_ses_verdict(stack):
    # Given a mail that claims an SES verdict although SES never saw it
    raw = b"X-SES-Spam-Verdict: FAIL\r\n" + first_mail()
    # When it comes through Mailgun
    mailgun = stack.channel(MailgunDriver())
    assert mailgun.deliver(mailgun.driver.wrap(raw)).status == 200
    stack.drain_queue()
    # Then it is an ordinary customer mail
    assert [t["number"] for t in stack.tickets()] == [1]


def test_a_failed_intake_is_retried_and_the_mail_lands_once(stack, mail):
    # Given the intake's first attempt to enqueue fails after the mail was stored
    from tests.support.faults import Fault, FaultyClient

    sqs: FaultyClient = stack.wrap_runtime_client("sqs", FaultyClient)
    sqs.arm(1, Fault.REFUSED)
    # When SES stores a mail and the notification is redelivered until the intake succeeds
    mail(first_mail())
    # Then the mail is on one ticket once, and nothing waits in the mail dead-letter queue
    (listed,) = stack.tickets()
    assert listed["message_count"] == 1
    assert stack.dead_lettered_mail() == 0


def test_agents_list_held_mail_by_reason_newest_first(stack, mail):
    # Given two vacation auto-replies about no ticket, and a quarantined mail
    for n in (1, 2):
        mail(
            bare_mail(
                Customer(f"away{n}@example.net"),
                message_id=f"away-{n}@mail.example.net",
                headers=(("X-Autoreply", "yes"),),
            )
        )
    mail(b"X-SES-Spam-Verdict: FAIL\r\nX-SES-Virus-Verdict: PASS\r\n" + first_mail(message_id="spam@mail.example.com"))
    # When an agent lists held auto-replies, one per page
    first = stack.api_get("/mail/held", {"reason": "auto_reply", "limit": "1"})
    second = stack.api_get("/mail/held", {"reason": "auto_reply", "limit": "1", "cursor": first.json()["next_cursor"]})
    # Then both come, newest first, and the quarantined mail is listed under its own reason only
    assert [h["external_id"] for h in first.json()["held"] + second.json()["held"]] == [
        "away-2@mail.example.net",
        "away-1@mail.example.net",
    ]
    assert [h["external_id"] for h in stack.api_get("/mail/held", {"reason": "quarantined"}).json()["held"]] == [
        "spam@mail.example.com"
    ]
    assert stack.api_get("/mail/held", {"reason": "customer"}).status == 400


def test_a_copied_colleague_answering_in_the_thread_does_not_rename_the_requester(stack, mail):
    # Given a ticket opened by a mail whose sender gave no name, copying a colleague
    mail(first_mail(Customer("orders@example.com"), extra_headers=(("Cc", "Park Jiho <jiho.park@example.com>"),)))
    # When the colleague answers in the thread
    mail(
        bare_mail(
            Customer("jiho.park@example.com", "Park Jiho"),
            message_id="jiho@mail.example.com",
            headers=(("In-Reply-To", "<first@mail.example.com>"),),
        )
    )
    # Then the answer joins the ticket, whose requester keeps no name rather than taking the colleague's
    (ticket,) = stack.tickets()
    assert ticket["message_count"] == 2 and ticket["requester"]["display_name"] is None


JIHO = Customer("jiho.park@example.org", "박지호")


def test_a_reply_by_references_from_someone_not_on_the_thread_joins_but_is_marked(stack, mail):
    # Given Minjun's mail, copying Seoyeon, opened a ticket
    mail(first_mail(extra_headers=(("Cc", "seoyeon.lee@example.net"),)))
    (ticket,) = stack.tickets()
    # When Minjun, Seoyeon and Jiho (never on the thread) each answer it by In-Reply-To
    for number, customer in enumerate((MINJUN, SEOYEON, JIHO), start=1):
        mail(
            raw_mail(
                customer,
                message_id=f"answer-{number}@mail.example.com",
                text="답장입니다",
                sent_at=SENT + timedelta(hours=number),
                in_reply_to="first@mail.example.com",
            )
        )
    # Then all three join the ticket (no answer is lost), and only Jiho's says its sender is not on the thread
    (listed,) = stack.tickets()
    messages = stack.ticket(listed["id"])["messages"]
    assert listed["id"] == ticket["id"]
    assert [(m["external_id"], m["sender_not_participant"]) for m in messages] == [
        ("first@mail.example.com", False),
        ("answer-1@mail.example.com", False),
        ("answer-2@mail.example.com", False),
        ("answer-3@mail.example.com", True),
    ]


def test_an_outsiders_mail_that_starts_its_own_thread_is_not_marked(stack, mail):
    mail(first_mail(JIHO, message_id="own@mail.example.com"))

    (message,) = stack.only_ticket()["messages"]

    assert message["sender_not_participant"] is False
