"""Given steps for the ticket views and the closer: customers open tickets, agents change them (PATCH's logic
and store write, at a chosen time)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from switchboard.models import Channel, InboundMessage, SenderIdentity
from switchboard.tickets.changes import TicketChange, apply_change
from switchboard.tickets.writer import record_event
from tests.support.lambda_events import AGENT_CLAIMS

SENT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ME = AGENT_CLAIMS["sub"]


def customer_writes(
    stack,
    n: int,
    *,
    channel: Channel = Channel.WHATSAPP,
    account: str = "waba",
    phone: str | None = None,
    at: datetime | None = None,
    text: str | None = None,
) -> str:
    """Customer n's message (the first opens their ticket, created n minutes after SENT unless `at` is given,
    so a later n is newer); returns the ticket's id."""
    customer = phone or f"8210555{n:04d}"
    sent = at or SENT + timedelta(minutes=n)
    message = InboundMessage(
        channel=channel,
        channel_account_id=account,
        conversation_id=customer,
        external_id=f"{channel}-{n}-{sent.timestamp():.0f}",
        sender=SenderIdentity(external_id=customer, display_name="김민준", phone_e164=phone),
        message_type="text",
        text=text or f"문의 {n}",
        provider_timestamp=sent,
        received_at=sent,
    )
    store = stack.repositories()
    record_event(message, store)
    ticket_id = store.tickets.current_ticket_id(f"{channel}:{account}:{customer}")
    assert ticket_id is not None
    return ticket_id


def agent_sets(stack, ticket_id: str, *, at: datetime = SENT + timedelta(days=1), **fields) -> None:
    store = stack.repositories()
    current = store.tickets.ticket(ticket_id)
    assert current is not None
    after, audit = apply_change(current.ticket, TicketChange(**fields), actor_id=ME, at=at, version=current.version + 1)
    assert audit is not None
    store.tickets.change_ticket(current=current, ticket_after=after, audit=audit)
