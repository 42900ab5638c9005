"""How a customer's message changes a ticket: reopen rules, follow-ups, subjects, timeline facts."""

from datetime import UTC, datetime, timedelta

import pytest

from switchboard.models import Channel, InboundMessage, SenderIdentity, TicketStatus
from switchboard.tickets import lifecycle

SENT = datetime(2025, 6, 8, 20, 59, 43, tzinfo=UTC)


def inbound(
    text: str | None = "배송이 아직 안 왔어요",
    *,
    name: str | None = "김민준",
    kind: str = "text",
    sent: datetime = SENT,
    wamid: str = "wamid.1",
) -> InboundMessage:
    return InboundMessage(
        channel=Channel.WHATSAPP,
        channel_account_id="106540352242922",
        conversation_id="821012345678",
        external_id=wamid,
        sender=SenderIdentity(external_id="821012345678", display_name=name),
        message_type=kind,
        text=text,
        provider_timestamp=sent,
        received_at=sent + timedelta(seconds=2),
    )


def opened(message: InboundMessage | None = None):
    return lifecycle.opened_ticket(message or inbound(), number=7, contact_id="c_1", follows_up=None)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (TicketStatus.PENDING, TicketStatus.OPEN),
        (TicketStatus.SOLVED, TicketStatus.OPEN),
        (TicketStatus.NEW, TicketStatus.NEW),
        (TicketStatus.OPEN, TicketStatus.OPEN),
        (TicketStatus.ON_HOLD, TicketStatus.ON_HOLD),
    ],
)
def test_customer_message_reopens_only_pending_and_solved_tickets(before, after):
    ticket = opened().model_copy(update={"status": before})

    assert lifecycle.with_customer_message(ticket, inbound(wamid="wamid.2")).status is after


@pytest.mark.parametrize("status", list(TicketStatus))
def test_only_a_closed_ticket_needs_a_follow_up(status):
    ticket = opened().model_copy(update={"status": status})

    assert lifecycle.needs_follow_up(ticket) is (status is TicketStatus.CLOSED)


def test_new_ticket_is_built_from_its_first_message():
    message = inbound()

    ticket = opened(message)

    assert (ticket.status, ticket.number, ticket.message_count, ticket.follow_up_of) == (TicketStatus.NEW, 7, 1, None)
    assert (ticket.subject, ticket.requester.display_name, ticket.conversation_key) == (
        "배송이 아직 안 왔어요",
        "김민준",
        "whatsapp:106540352242922:821012345678",
    )
    assert (ticket.created_at, ticket.first_customer_message_at) == (message.received_at, message.provider_timestamp)


def test_ticket_id_derives_from_the_opening_message_so_a_retry_rebuilds_the_same_ticket():
    assert opened(inbound()).id == opened(inbound()).id != opened(inbound(wamid="wamid.2")).id


def test_follow_up_points_at_the_closed_ticket():
    closed = opened().model_copy(update={"status": TicketStatus.CLOSED})

    follow_up = lifecycle.opened_ticket(inbound(wamid="wamid.9"), number=8, contact_id="c_1", follows_up=closed)

    assert (follow_up.follow_up_of, follow_up.number, follow_up.status) == (closed.id, 8, TicketStatus.NEW)


def test_customer_message_counts_and_moves_the_last_message_time():
    later = inbound(wamid="wamid.2", sent=SENT + timedelta(minutes=5))

    ticket = lifecycle.with_customer_message(opened(), later)

    assert ticket.message_count == 2
    assert ticket.last_customer_message_at == later.provider_timestamp
    assert ticket.updated_at == later.received_at


def test_late_arriving_earlier_message_moves_the_first_message_time_back_but_not_the_last():
    # Meta does not promise delivery order: the ticket may open on the customer's second message.
    ticket = opened(inbound(wamid="wamid.2", sent=SENT + timedelta(minutes=5)))
    earlier = inbound(wamid="wamid.1", sent=SENT)

    ticket = lifecycle.with_customer_message(ticket, earlier)

    assert ticket.first_customer_message_at == SENT
    assert ticket.last_customer_message_at == SENT + timedelta(minutes=5)


def test_requester_name_is_filled_in_once_known_and_never_overwritten():
    anonymous = opened(inbound(name=None))

    named = lifecycle.with_customer_message(anonymous, inbound(wamid="wamid.2", name="김민준"))
    renamed = lifecycle.with_customer_message(named, inbound(wamid="wamid.3", name="Minjun"))

    assert (anonymous.requester.display_name, named.requester.display_name, renamed.requester.display_name) == (
        None,
        "김민준",
        "김민준",
    )


@pytest.mark.parametrize(
    ("text", "subject"),
    [
        ("주문한 신발이 아직 안 왔어요", "주문한 신발이 아직 안 왔어요"),
        ("  환불 요청합니다  \n주문번호 2025-0608-17", "환불 요청합니다"),
        ("\n\nsecond line first", "second line first"),
        ("x" * 80, "x" * 80),
        ("x" * 81, "x" * 79 + "…"),
        ("가" * 200, "가" * 79 + "…"),
    ],
    ids=["korean", "first-line", "blank-lines-first", "exactly-80", "81-chars", "long-korean"],
)
def test_subject_is_the_first_line_of_the_text_cut_at_80_characters(text, subject):
    assert lifecycle.subject_of(inbound(text)) == subject


@pytest.mark.parametrize(
    ("kind", "name", "subject"),
    [
        ("image", "김민준", "Image from 김민준"),
        ("sticker", None, "Sticker from whatsapp"),
        ("text", "Sheena", "Text from Sheena"),
    ],
)
def test_subject_without_text_says_what_was_sent_and_by_whom(kind, name, subject):
    assert lifecycle.subject_of(inbound(None if kind != "text" else "   ", name=name, kind=kind)) == subject


def test_customer_message_on_the_timeline():
    message = inbound()

    entry = lifecycle.timeline_message("t_1", message)

    assert (entry.ticket_id, entry.direction, entry.author_kind, entry.public) == ("t_1", "inbound", "customer", True)
    assert (entry.text, entry.sender_name, entry.created_at, entry.received_at) == (
        message.text,
        "김민준",
        message.provider_timestamp,
        message.received_at,
    )
    assert entry.id == lifecycle.timeline_message("t_other", message).id
