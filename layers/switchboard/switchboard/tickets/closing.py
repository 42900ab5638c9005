"""Solved tickets close by themselves some days later, as Zendesk's standard automation "Close ticket 4 days after
status is set to solved" closes them (support.zendesk.com, "About the standard automations": the time can be
changed, up to 28 days). Until then the customer's answer reopens a solved ticket (tickets/lifecycle.py); once
closed it is final, and their next message opens a follow-up ticket.

The rule is pure; `close_due_tickets` runs it over what the store says is due, with the clock as a parameter.
A close is a ticket change by the actor "system", written on the version read: a ticket reopened or changed
meanwhile is skipped, and two sweeps racing close it once, with one audit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from switchboard.models import FieldChange, Ticket, TicketAudit, TicketStatus, utc_now
from switchboard.observability import logger, metrics
from switchboard.store.table import WriteConflict
from switchboard.store.tickets import VersionedTicket

# Zendesk's default, and the bounds of its closing automation (whole days here).
DEFAULT_AUTO_CLOSE_DAYS = 4
MIN_AUTO_CLOSE_DAYS = 1
MAX_AUTO_CLOSE_DAYS = 28
# The actor of changes no agent made, on their audits.
SYSTEM_ACTOR = "system"
# One run closes at most this many; the next run (an hour later) goes on from the oldest left.
MAX_CLOSED_PER_RUN = 500


def solved_since(ticket: Ticket) -> datetime:
    """When the ticket became solved; a ticket solved before `solved_at` was recorded counts from its last
    update (the store's ByCloseDue key does the same)."""
    return ticket.solved_at or ticket.updated_at


def closing_cutoff(now: datetime, days: int) -> datetime:
    """Tickets solved at or before this moment are due to close at `now`."""
    return now - timedelta(days=days)


def is_due(ticket: Ticket, now: datetime, days: int) -> bool:
    return ticket.status is TicketStatus.SOLVED and solved_since(ticket) <= closing_cutoff(now, days)


def closed(ticket: Ticket, *, at: datetime, version: int) -> tuple[Ticket, TicketAudit]:
    """The ticket closed at `at`, and the audit of the version that makes it."""
    if ticket.status is not TicketStatus.SOLVED:
        raise ValueError("only a solved ticket closes")
    after = ticket.model_copy(update={"status": TicketStatus.CLOSED, "updated_at": at})
    audit = TicketAudit(
        ticket_id=ticket.id,
        ticket_version=version,
        actor_id=SYSTEM_ACTOR,
        at=at,
        changes=(FieldChange(field="status", before=TicketStatus.SOLVED.value, after=TicketStatus.CLOSED.value),),
    )
    return after, audit


class ClosableTickets(Protocol):
    def solved_tickets_due(self, *, solved_until: datetime, limit: int) -> list[VersionedTicket]: ...

    def change_ticket(self, *, current: VersionedTicket, ticket_after: Ticket, audit: TicketAudit) -> None: ...


@dataclass(frozen=True)
class SweepReport:
    """What one run did: `closed`, and `skipped` (reopened, changed or closed by another run since listed)."""

    listed: int
    closed: int
    skipped: int
    more_due: bool

    def as_dict(self) -> dict[str, int | bool]:
        return {"listed": self.listed, "closed": self.closed, "skipped": self.skipped, "more_due": self.more_due}


def close_due_tickets(
    now: datetime, *, days: int, tickets: ClosableTickets, limit: int = MAX_CLOSED_PER_RUN
) -> SweepReport:
    """Closes the tickets solved `days` or more before `now`, oldest first, at most `limit` of them."""
    due = tickets.solved_tickets_due(solved_until=closing_cutoff(now, days), limit=limit)
    closed_count = 0
    for current in due:
        if not is_due(current.ticket, now, days):
            continue
        after, audit = closed(current.ticket, at=now, version=current.version + 1)
        try:
            tickets.change_ticket(current=current, ticket_after=after, audit=audit)
        except WriteConflict:
            # Changed since it was read (a customer's message, an agent, another run): left as it now is.
            continue
        closed_count += 1
    return SweepReport(
        listed=len(due), closed=closed_count, skipped=len(due) - closed_count, more_due=len(due) >= limit
    )


def close_solved_tickets(*, tickets: ClosableTickets, days: int) -> dict[str, int | bool]:
    """The scheduled run: closes what is due now, and reports it (logs, metrics, and the answer)."""
    report = close_due_tickets(utc_now(), days=days, tickets=tickets)
    logger.info("solved tickets closed", extra=report.as_dict())
    metrics.add_metric(name="TicketsAutoClosed", unit="Count", value=report.closed)
    return report.as_dict()
