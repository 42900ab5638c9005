"""Every repository over the one table, for code that works several aggregates at once (the ticket writer)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from switchboard.models import utc_now
from switchboard.store.audits import AuditRepository
from switchboard.store.contacts import ContactRepository
from switchboard.store.held_mail import HeldMailRepository
from switchboard.store.messages import MessageRepository
from switchboard.store.notification_rules import NotificationRulesRepository
from switchboard.store.notifications import NotificationRepository
from switchboard.store.orders import OrderRepository
from switchboard.store.outbox import OutboxRepository
from switchboard.store.replay_tokens import ReplayTokenRepository
from switchboard.store.send_rates import SendRates
from switchboard.store.sla_notices import SlaNotices
from switchboard.store.sla_rules import SlaRulesRepository
from switchboard.store.sla_timers import SlaTimers
from switchboard.store.table import Table
from switchboard.store.tickets import TicketRepository


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
    notification_rules: NotificationRulesRepository
    orders: OrderRepository
    notifications: NotificationRepository

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
            notification_rules=NotificationRulesRepository(table),
            orders=OrderRepository(table),
            notifications=NotificationRepository(table, clock),
        )
