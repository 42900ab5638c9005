"""What a public reply, a note and a customer's message do to the ticket's reply clocks (the SLA issue computes
from them): a public reply answers every customer message before it; a note answers nothing."""

from datetime import UTC, datetime, timedelta

import pytest

from switchboard.models import (
    AttemptIntent,
    Channel,
    InboundMessage,
    Requester,
    SenderIdentity,
    Ticket,
    TicketStatus,
)
from switchboard.tickets.changes import InvalidChange
from switchboard.tickets.lifecycle import status_audit, with_customer_message
from switchboard.tickets.notes import note_on
from switchboard.tickets.replies import reply_on, resend_of

OPENED = datetime(2025, 6, 9, 9, 0, tzinfo=UTC)


def ticket(status: TicketStatus = TicketStatus.NEW, **fields) -> Ticket:
    base = {
        "id": "t_0123456789abcdef01234567",
        "number": 7,
        "status": status,
        "channel": Channel.WHATSAPP,
        "channel_account_id": "106540352242922",
        "conversation_key": "whatsapp:106540352242922:821012345678",
        "subject": "배송 문의",
        "requester": Requester(contact_id="c_1", display_name="김민준"),
        "message_count": 1,
        "created_at": OPENED,
        "updated_at": OPENED,
        "first_customer_message_at": OPENED,
        "last_customer_message_at": OPENED,
        "awaiting_agent_since": OPENED,
    }
    return Ticket(**(base | fields))


def reply(current: Ticket, at: datetime, status: TicketStatus | None = None, key: str = "k1"):
    return reply_on(
        current,
        intent=AttemptIntent(text="곧 출고됩니다"),
        status=status,
        agent_id="agent-1",
        idempotency_key=key,
        at=at,
        version=2,
        timeline_key=lambda message, sequence: f"{message.created_at.isoformat()}.{sequence:08d}",
    )


def customer_message(sent_at: datetime) -> InboundMessage:
    return InboundMessage(
        channel=Channel.WHATSAPP,
        channel_account_id="106540352242922",
        conversation_id="821012345678",
        external_id=f"wamid.{sent_at.timestamp():.0f}",
        sender=SenderIdentity(external_id="821012345678"),
        message_type="text",
        text="아직인가요?",
        provider_timestamp=sent_at,
        received_at=sent_at + timedelta(seconds=1),
    )


def test_a_public_reply_answers_everything_before_it_and_sets_the_clocks_once():
    # Given a ticket waiting on an agent since it opened
    at = OPENED + timedelta(minutes=12)
    # When an agent replies, and later again
    _, first, _, _ = reply(ticket(), at)
    _, second, _, _ = reply(first, at + timedelta(hours=1), key="k2")
    # Then nothing waits, the first reply time stays the first, the last ones move
    assert first.awaiting_agent_since is None
    assert second.first_agent_reply_at == at
    assert second.last_public_agent_reply_at == second.last_agent_reply_at == at + timedelta(hours=1)


def test_a_note_answers_nothing():
    # Given a ticket waiting on an agent
    waiting = ticket()
    # When an agent adds a note
    _, after = note_on(
        waiting, text="물류팀 확인 중", agent_id="agent-1", idempotency_key="n1", at=OPENED + timedelta(minutes=5)
    )
    # Then the customer still waits since their message, and no reply time is set but the last agent's word
    assert after.awaiting_agent_since == OPENED
    assert after.first_agent_reply_at is None and after.last_public_agent_reply_at is None
    assert after.last_agent_reply_at == OPENED + timedelta(minutes=5)


def test_a_customer_message_after_a_reply_starts_a_new_wait_but_one_sent_before_it_does_not():
    # Given a reply at 10:00
    _, replied, _, _ = reply(ticket(), OPENED + timedelta(hours=1))
    # When a message the customer sent at 9:59 arrives late, then one sent at 10:05
    late = with_customer_message(replied, customer_message(OPENED + timedelta(minutes=59)))
    new = with_customer_message(late, customer_message(OPENED + timedelta(hours=1, minutes=5)))
    # Then the late one was answered by the reply, and the new one starts the wait
    assert late.awaiting_agent_since is None
    assert new.awaiting_agent_since == OPENED + timedelta(hours=1, minutes=5)


@pytest.mark.parametrize(
    ("status", "given", "after"),
    [
        (TicketStatus.NEW, None, TicketStatus.OPEN),
        (TicketStatus.PENDING, None, TicketStatus.PENDING),
        (TicketStatus.SOLVED, None, TicketStatus.SOLVED),
        (TicketStatus.NEW, TicketStatus.PENDING, TicketStatus.PENDING),
        (TicketStatus.OPEN, TicketStatus.SOLVED, TicketStatus.SOLVED),
        (TicketStatus.ON_HOLD, TicketStatus.OPEN, TicketStatus.OPEN),
    ],
)
def test_a_reply_takes_the_status_submitted_else_new_becomes_open(status, given, after):
    _, replied, _, audit = reply(ticket(status), OPENED + timedelta(minutes=1), given)
    assert replied.status is after
    changes = {change.field: (change.before, change.after) for change in audit.changes}
    assert "reply" in changes
    assert ("status" in changes) is (after is not status)


def test_a_reply_submitted_as_solved_starts_the_auto_close_clock():
    at = OPENED + timedelta(minutes=3)
    _, solved, _, _ = reply(ticket(TicketStatus.OPEN), at, TicketStatus.SOLVED)
    assert solved.solved_at == at


def test_a_closed_ticket_takes_no_reply_and_new_cannot_be_submitted():
    with pytest.raises(InvalidChange):
        reply(ticket(TicketStatus.CLOSED), OPENED)
    with pytest.raises(InvalidChange):
        reply(ticket(TicketStatus.OPEN), OPENED, TicketStatus.NEW)


def test_a_reply_claims_the_line_reply_token_so_no_second_reply_spends_it():
    # Given a LINE ticket holding the customer's reply token
    line = ticket(
        channel=Channel.LINE,
        conversation_key="line:U1:U2",
        reply_token="token-1",
        reply_token_expires_at=OPENED + timedelta(minutes=1),
    )
    # When two replies follow one another
    _, after_first, first_attempt, _ = reply(line, OPENED + timedelta(seconds=5))
    _, _, second_attempt, _ = reply(after_first, OPENED + timedelta(seconds=6), key="k2")
    # Then only the first carries the token
    assert first_attempt.intent.reply_token == "token-1"
    assert second_attempt.intent.reply_token is None and after_first.reply_token is None


def test_a_resend_is_a_new_attempt_with_its_own_id_and_no_reply_token():
    _, _, attempt, _ = reply(ticket(reply_token="t", reply_token_expires_at=OPENED + timedelta(minutes=1)), OPENED)
    again = resend_of(attempt, at=OPENED + timedelta(minutes=5))
    assert again.id != attempt.id and again.number == 2 and again.tries == 0
    assert again.intent.reply_token is None and again.message_key == attempt.message_key


def test_a_customer_reopening_a_solved_ticket_is_audited_as_the_customer():
    solved = ticket(TicketStatus.SOLVED)
    reopened = with_customer_message(solved, customer_message(OPENED + timedelta(days=1)))
    audit = status_audit(solved, reopened, version=5)
    assert audit is not None and audit.actor_id == "customer:c_1"
    assert [(c.field, c.before, c.after) for c in audit.changes] == [("status", "solved", "open")]
    assert status_audit(reopened, reopened, version=6) is None
