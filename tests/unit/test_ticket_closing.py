"""The rule that closes solved tickets (tickets/closing.py): due at AutoCloseDays after solving, not a second
before; only solved tickets; a close is the system's change of one status, audited."""

from datetime import UTC, datetime, timedelta

import pytest

from switchboard.models import Channel, Requester, Ticket, TicketStatus
from switchboard.tickets.closing import SYSTEM_ACTOR, closed, is_due, solved_since

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
DAYS = 4


def ticket(status: TicketStatus = TicketStatus.SOLVED, solved_at: datetime | None = None, **fields) -> Ticket:
    return Ticket(
        id="t_0123456789abcdef01234567",
        number=7,
        status=status,
        channel=Channel.WHATSAPP,
        channel_account_id="waba",
        conversation_key="whatsapp:waba:821055501234",
        subject="교환 문의",
        requester=Requester(contact_id="c_0123456789abcdef01234567"),
        created_at=NOW - timedelta(days=30),
        updated_at=fields.pop("updated_at", NOW - timedelta(days=1)),
        solved_at=solved_at,
        **fields,
    )


@pytest.mark.parametrize(
    ("solved_ago", "due"),
    [
        (timedelta(days=DAYS, seconds=1), True),
        (timedelta(days=DAYS), True),
        (timedelta(days=DAYS, seconds=-1), False),
        (timedelta(days=40), True),
        (timedelta(0), False),
    ],
    ids=["4d+1s", "4d", "4d-1s", "40d", "just-solved"],
)
def test_a_solved_ticket_is_due_from_auto_close_days_after_it_was_solved(solved_ago, due):
    assert is_due(ticket(solved_at=NOW - solved_ago), NOW, DAYS) is due


@pytest.mark.parametrize("status", [s for s in TicketStatus if s is not TicketStatus.SOLVED])
def test_only_a_solved_ticket_is_ever_due(status):
    # Given a ticket solved long ago, then reopened or moved on (solved_at stays as it was)
    moved_on = ticket(status=status, solved_at=NOW - timedelta(days=40))
    # Then it is not due, and cannot be closed
    assert not is_due(moved_on, NOW, DAYS)
    with pytest.raises(ValueError, match="solved"):
        closed(moved_on, at=NOW, version=5)


def test_a_ticket_solved_before_solved_at_was_recorded_counts_from_its_last_update():
    old = ticket(solved_at=None, updated_at=NOW - timedelta(days=DAYS, seconds=1))
    assert solved_since(old) == old.updated_at and is_due(old, NOW, DAYS)


def test_closing_is_the_systems_change_of_the_status_alone():
    solved = ticket(solved_at=NOW - timedelta(days=5), assignee_id="agent-1", tags=("vip",))
    after, audit = closed(solved, at=NOW, version=6)
    assert after == solved.model_copy(update={"status": TicketStatus.CLOSED, "updated_at": NOW})
    assert (audit.actor_id, audit.ticket_version, audit.at) == (SYSTEM_ACTOR, 6, NOW)
    assert [(c.field, c.before, c.after) for c in audit.changes] == [("status", "solved", "closed")]
