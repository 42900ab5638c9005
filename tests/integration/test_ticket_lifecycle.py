"""What the writer does with a customer's next message: append, reopen, or start a follow-up."""

from datetime import UTC, datetime, timedelta

import pytest

from switchboard.models import TicketStatus
from tests.support.agents import agent_replies, ticket_closes

SENT = datetime(2025, 6, 8, 21, 0, tzinfo=UTC)


def customer_writes(
    whatsapp, label: str, text: str, *, minutes: int = 0, name: str | None = "김민준", customer: int = 1
) -> None:
    driver = whatsapp.driver
    body = driver.text_message(
        driver.customer(customer, name),
        message_id=driver.message_id(label),
        text=text,
        sent_at=SENT + timedelta(minutes=minutes),
    )
    assert whatsapp.deliver(body).status == 200


def test_next_message_appends_to_the_open_ticket_in_four_requests(stack, whatsapp):
    # Given a customer's first message opened a ticket
    customer_writes(whatsapp, "first", "주문한 신발이 아직 안 왔어요")
    stack.drain_queue()
    # When the customer writes again
    customer_writes(whatsapp, "second", "주문번호는 2025-0608-17 입니다", minutes=2)
    with stack.requests_sent("dynamodb") as sent:
        stack.drain_queue()
    # Then it lands on the same ticket: read the conversation, the ticket and the SLA rules, one transaction
    assert sent.operations == ["GetItem", "GetItem", "GetItem", "TransactWriteItems"]
    found = stack.only_ticket()
    assert (found["ticket"]["number"], found["ticket"]["message_count"]) == (1, 2)
    assert [m["text"] for m in found["messages"]] == ["주문한 신발이 아직 안 왔어요", "주문번호는 2025-0608-17 입니다"]
    assert found["ticket"]["last_customer_message_at"] == "2025-06-08T21:02:00Z"


@pytest.mark.parametrize(
    ("status", "after"),
    [
        (TicketStatus.PENDING, "open"),
        (TicketStatus.SOLVED, "open"),
        (TicketStatus.ON_HOLD, "on_hold"),
        (TicketStatus.OPEN, "open"),
    ],
)
def test_customer_message_reopens_a_pending_or_solved_ticket(stack, whatsapp, status, after):
    # Given an agent answered the customer and set the ticket's status
    customer_writes(whatsapp, "first", "환불 가능할까요?")
    stack.drain_queue()
    ticket_id = stack.tickets()[0]["id"]
    agent_replies(
        stack.repositories(),
        ticket_id,
        external_id="wamid.agent-1",
        text="네, 가능합니다.",
        at=SENT + timedelta(minutes=5),
        then=status,
    )
    # When the customer writes back
    customer_writes(whatsapp, "thanks", "감사합니다!", minutes=10)
    stack.drain_queue()
    # Then the same ticket holds the reply, and is open again unless it was on hold
    found = stack.ticket(ticket_id)
    assert found["ticket"]["status"] == after
    assert [(m["author_kind"], m["text"]) for m in found["messages"]] == [
        ("customer", "환불 가능할까요?"),
        ("agent", "네, 가능합니다."),
        ("customer", "감사합니다!"),
    ]
    assert [t["id"] for t in stack.tickets(status=after)] == [ticket_id]


def test_message_after_the_ticket_closed_starts_a_follow_up(stack, whatsapp):
    # Given the customer's ticket was solved and then closed
    customer_writes(whatsapp, "first", "배송이 아직 안 왔어요")
    stack.drain_queue()
    closed_id = stack.tickets()[0]["id"]
    store = stack.repositories()
    agent_replies(
        store,
        closed_id,
        external_id="wamid.agent-1",
        text="오늘 도착 예정입니다.",
        at=SENT + timedelta(minutes=5),
        then=TicketStatus.SOLVED,
    )
    ticket_closes(store, closed_id, at=SENT + timedelta(days=4))
    # When the same customer writes again
    customer_writes(whatsapp, "again", "다른 문의가 있어요", minutes=60 * 24 * 5)
    stack.drain_queue()
    # Then a new ticket follows up the closed one, for the same contact, and the closed one is untouched
    closed = stack.ticket(closed_id)
    (follow_up,) = [t for t in stack.tickets() if t["id"] != closed_id]
    assert (follow_up["number"], follow_up["status"], follow_up["follow_up_of"]) == (2, "new", closed_id)
    assert follow_up["requester"] == closed["ticket"]["requester"]
    assert follow_up["subject"] == "다른 문의가 있어요"
    assert [m["text"] for m in stack.ticket(follow_up["id"])["messages"]] == ["다른 문의가 있어요"]
    assert (closed["ticket"]["status"], closed["ticket"]["message_count"]) == ("closed", 3)
    # And the customer's next message goes to the follow-up
    customer_writes(whatsapp, "again-2", "주문번호 2025-0613-02", minutes=60 * 24 * 5 + 1)
    stack.drain_queue()
    assert stack.ticket(follow_up["id"])["ticket"]["message_count"] == 2


def test_korean_name_and_text_come_back_exactly_as_sent(stack, whatsapp):
    # Given a customer whose name and message use Hangul, emoji and a combining sequence
    text = "안녕하세요 👋 주문한 신발(270mm)이 아직 안 왔어요.\n송장번호: 6892-1234-5678 — 확인 부탁드립니다 🙏 한글 자모: ᄒ\u1161\u11ab"
    customer_writes(whatsapp, "korean", text, name="김민준 (Minjun)")
    # When the writer stores it and an agent reads it
    stack.drain_queue()
    found = stack.only_ticket()
    # Then every character survives the webhook, the queue, the table and the API
    (message,) = found["messages"]
    assert message["text"] == text
    assert message["sender_name"] == found["ticket"]["requester"]["display_name"] == "김민준 (Minjun)"
    assert found["ticket"]["subject"] == "안녕하세요 👋 주문한 신발(270mm)이 아직 안 왔어요."
    contact = stack.repositories().contacts.contact(found["ticket"]["requester"]["contact_id"])
    assert (contact.display_name, contact.phone_e164) == ("김민준 (Minjun)", "+821000000001")
