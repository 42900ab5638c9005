"""Solved tickets close by themselves AutoCloseDays after solving (TicketCloserFunction, tickets/closing.py):
on time, once, never a ticket reopened meanwhile, and reading only what is due."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta

from switchboard.models import utc_now
from switchboard.store.repositories import Repositories
from switchboard.store.tickets import VersionedTicket
from switchboard.tickets.closing import SYSTEM_ACTOR, close_due_tickets
from tests.support.paths import EVENTS_DIR
from tests.support.stack import run_together
from tests.support.ticket_views import SENT, agent_sets, customer_writes

DAYS = 4
SOLVED = SENT + timedelta(days=1)


def status_of(stack, ticket_id: str) -> str:
    return stack.ticket(ticket_id)["ticket"]["status"]


def audits(stack, ticket_id: str) -> list[dict]:
    response = stack.api_get(f"/tickets/{ticket_id}/audits")
    assert response.status == 200
    return response.json()["audits"]


def sweep(stack, now: datetime, tickets=None):
    return close_due_tickets(now, days=DAYS, tickets=tickets or stack.repositories().tickets)


def test_a_ticket_closes_auto_close_days_after_it_was_solved_and_not_a_second_before(stack):
    # Given two tickets an agent solved a second apart
    early, late = customer_writes(stack, 1), customer_writes(stack, 2)
    agent_sets(stack, early, status="solved", at=SOLVED)
    agent_sets(stack, late, status="solved", at=SOLVED + timedelta(seconds=2))
    # When the closer runs 4 days and 1 second after the first was solved
    report = sweep(stack, SOLVED + timedelta(days=DAYS, seconds=1))
    # Then the first is closed by the system, and the second (solved 4 days less a second ago) stays solved
    assert (status_of(stack, early), status_of(stack, late)) == ("closed", "solved")
    assert (report.listed, report.closed, report.skipped) == (1, 1, 0)
    closing = audits(stack, early)[-1]
    assert closing["actor_id"] == SYSTEM_ACTOR
    assert closing["changes"] == [{"field": "status", "before": "solved", "after": "closed"}]
    # And a run a second later closes the second too
    assert sweep(stack, SOLVED + timedelta(days=DAYS, seconds=3)).closed == 1
    assert status_of(stack, late) == "closed"


def test_a_ticket_the_customer_reopened_is_not_closed(stack):
    # Given a solved ticket the customer answered (it is open again)
    ticket_id = customer_writes(stack, 1)
    agent_sets(stack, ticket_id, status="solved", at=SOLVED)
    customer_writes(stack, 1, at=SOLVED + timedelta(days=1), text="아직 안 왔어요")
    # When the closer runs long after
    report = sweep(stack, SOLVED + timedelta(days=10))
    # Then nothing was even listed, and the ticket stays open
    assert (report.listed, report.closed) == (0, 0)
    assert status_of(stack, ticket_id) == "open"


def test_a_ticket_reopened_between_the_listing_and_the_close_is_skipped(stack):
    # Given a due ticket, and a customer whose answer lands just after the closer listed it
    ticket_id = customer_writes(stack, 1)
    agent_sets(stack, ticket_id, status="solved", at=SOLVED)
    real = stack.repositories().tickets

    class CustomerAnswersMeanwhile:
        def solved_tickets_due(self, *, solved_until: datetime, limit: int) -> list[VersionedTicket]:
            due = real.solved_tickets_due(solved_until=solved_until, limit=limit)
            customer_writes(stack, 1, at=SOLVED + timedelta(days=DAYS), text="잠깐만요, 문제가 있어요")
            return due

        def change_ticket(self, **change) -> None:
            real.change_ticket(**change)

    # When the closer runs
    report = sweep(stack, SOLVED + timedelta(days=DAYS, hours=1), CustomerAnswersMeanwhile())
    # Then it skipped the ticket, which stays open with its customer's answer, and no close was audited
    assert (report.listed, report.closed, report.skipped) == (1, 0, 1)
    assert status_of(stack, ticket_id) == "open"
    assert [a["actor_id"] for a in audits(stack, ticket_id)] != [] and SYSTEM_ACTOR not in {
        a["actor_id"] for a in audits(stack, ticket_id)
    }


def test_two_sweeps_at_once_close_a_ticket_once_with_one_audit(stack):
    # Given a due ticket, and two runs that both list it before either closes it
    ticket_id = customer_writes(stack, 1)
    agent_sets(stack, ticket_id, status="solved", at=SOLVED)
    both_listed = threading.Barrier(2)
    real = stack.repositories().tickets

    class ListsThenWaits:
        def solved_tickets_due(self, *, solved_until: datetime, limit: int) -> list[VersionedTicket]:
            due = real.solved_tickets_due(solved_until=solved_until, limit=limit)
            both_listed.wait(timeout=10)
            return due

        def change_ticket(self, **change) -> None:
            real.change_ticket(**change)

    now = SOLVED + timedelta(days=DAYS, hours=1)
    reports = run_together([lambda: sweep(stack, now, ListsThenWaits()) for _ in range(2)])
    # Then one closed it and the other skipped it; one close is audited
    assert sorted((r.closed, r.skipped) for r in reports) == [(0, 1), (1, 0)]
    assert status_of(stack, ticket_id) == "closed"
    assert [a["actor_id"] for a in audits(stack, ticket_id)].count(SYSTEM_ACTOR) == 1


class ReadCounter:
    """The table client, counting the items its reads evaluate: Query's ScannedCount, BatchGetItem's keys."""

    def __init__(self, client) -> None:
        self._client = client
        self.items_read = 0

    def query(self, **request):
        response = self._client.query(**request)
        self.items_read += response["ScannedCount"]
        return response

    def batch_get_item(self, **request):
        self.items_read += sum(len(table["Keys"]) for table in request["RequestItems"].values())
        return self._client.batch_get_item(**request)

    def __getattr__(self, name):
        return getattr(self._client, name)


def test_a_run_reads_what_is_due_not_the_open_or_recently_solved_tickets(stack):
    # Given 30 open tickets, 10 solved a day ago, and 3 solved 5 days ago
    for n in range(30):
        customer_writes(stack, n)
    for n in range(30, 40):
        agent_sets(stack, customer_writes(stack, n), status="solved", at=SOLVED + timedelta(days=4))
    due = [customer_writes(stack, n) for n in range(40, 43)]
    for ticket_id in due:
        agent_sets(stack, ticket_id, status="solved", at=SOLVED)
    # When the closer runs
    counter = ReadCounter(stack.dynamodb)
    report = sweep(stack, SOLVED + timedelta(days=5), Repositories.on(counter, stack.table_name).tickets)
    # Then it closed the 3, reading their index entries and their items only: 3 + 3
    assert report.closed == 3 and {status_of(stack, t) for t in due} == {"closed"}
    assert counter.items_read == 2 * len(due)


def test_the_scheduled_function_closes_what_is_due_now(stack):
    # Given a ticket solved five days ago, and one solved today
    old, recent = customer_writes(stack, 1), customer_writes(stack, 2)
    agent_sets(stack, old, status="solved", at=utc_now() - timedelta(days=5))
    agent_sets(stack, recent, status="solved", at=utc_now())
    # When EventBridge runs the closer (AutoCloseDays at its default, 4)
    report = stack.invoke("TicketCloserFunction", _scheduled_event())
    # Then it reports and did one close
    assert report == {"listed": 1, "closed": 1, "skipped": 0, "more_due": False}
    assert (status_of(stack, old), status_of(stack, recent)) == ("closed", "solved")


def _scheduled_event() -> dict:
    return json.loads((EVENTS_DIR / "ticket-closer-schedule.json").read_text())
