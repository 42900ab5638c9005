"""Every repository over the one table, for code that works several aggregates at once (the ticket writer)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING

from switchboard.models import utc_now
from switchboard.store.audits import AuditRepository
from switchboard.store.contacts import ContactRepository
from switchboard.store.held_mail import HeldMailRepository
from switchboard.store.messages import MessageRepository
from switchboard.store.outbox import OutboxRepository
from switchboard.store.replay_tokens import ReplayTokenRepository
from switchboard.store.send_rates import SendRates
from switchboard.store.sla_notices import SlaNotices
from switchboard.store.sla_rules import SlaRulesRepository
from switchboard.store.sla_timers import SlaTimers
from switchboard.store.table import Table
from switchboard.store.tickets import TicketRepository

if TYPE_CHECKING:
    from switchboard.store.notification_rules import NotificationRulesRepository
    from switchboard.store.notifications import NotificationRepository
    from switchboard.store.orders import OrderRepository


@dataclass(frozen=True)
class Repositories:
    tickets: TicketRepository
    messages: MessageRepository
    contacts: ContactRepository
    audits: AuditRepository
    held_mail: HeldMailRepository
    replay_tokens: ReplayTokenRepository
    outbox: OutboxRepository
    send_rates: SendRates
    sla_rules: SlaRulesRepository
    sla_timers: SlaTimers
    sla_notices: SlaNotices
    table: Table = field(repr=False)
    clock: Callable[[], datetime] = field(default=utc_now, repr=False)

    # Orders and notifications are built (and their models imported) on first use: the writer and the agents' API
    # mostly never touch them, and a Lambda cold start pays for every import.
    @cached_property
    def notification_rules(self) -> NotificationRulesRepository:
        from switchboard.store.notification_rules import NotificationRulesRepository

        return NotificationRulesRepository(self.table)

    @cached_property
    def orders(self) -> OrderRepository:
        from switchboard.store.orders import OrderRepository

        return OrderRepository(self.table)

    @cached_property
    def notifications(self) -> NotificationRepository:
        from switchboard.store.notifications import NotificationRepository

        return NotificationRepository(self.table, self.clock)

    @classmethod
    def on(cls, dynamodb_client, table_name: str, clock: Callable[[], datetime] = utc_now) -> Repositories:
        """The repositories over one table; `clock` says when a write happens (the SLA timer index files what is
        already due under the write's minute): the wall clock, or a test's chosen instants."""
        table = Table(dynamodb_client, table_name)
        messages, contacts, audits = MessageRepository(table), ContactRepository(table), AuditRepository(table)
        outbox, notices = OutboxRepository(table), SlaNotices(table, clock)
        return cls(
            tickets=TicketRepository(table, messages, contacts, audits, outbox, notices, clock),
            messages=messages,
            contacts=contacts,
            audits=audits,
            held_mail=HeldMailRepository(table),
            replay_tokens=ReplayTokenRepository(table),
            outbox=outbox,
            send_rates=SendRates(table),
            sla_rules=SlaRulesRepository(table),
            sla_timers=SlaTimers(table),
            sla_notices=notices,
            table=table,
            clock=clock,
        )
