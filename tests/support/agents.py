"""What agents do to tickets, for Given steps. The agent-facing write API does not exist yet, so these
go through the store's public verbs the way that API will: a reply is an outbound message, and a
status change rides on the reply (or, for closing, on a system note) as Zendesk's "Submit as" does."""

from __future__ import annotations

from datetime import datetime

from switchboard.models import AuthorKind, Channel, DeliveryStatus, Direction, TicketMessage, TicketStatus, stable_id
from switchboard.store.repositories import Repositories


def agent_replies(
    store: Repositories, ticket_id: str, *, external_id: str, text: str, at: datetime, then: TicketStatus | None = None
) -> TicketMessage:
    """An agent's public reply, sent to the customer as provider message `external_id`."""
    current = store.tickets.ticket(ticket_id)
    assert current is not None, f"no ticket {ticket_id}"
    reply = TicketMessage(
        id=stable_id("m", f"{current.ticket.channel}:{external_id}"),
        ticket_id=ticket_id,
        channel=Channel(current.ticket.channel),
        external_id=external_id,
        direction=Direction.OUTBOUND,
        author_kind=AuthorKind.AGENT,
        message_type="text",
        text=text,
        sender_name="Agent Kim",
        delivery_status=DeliveryStatus.SENT,
        created_at=at,
        received_at=at,
    )
    # Recorded as the outbound issue's sender will record a reply it sent: on the timeline, so receipts and
    # the customer's answers find it; the ticket takes `then` as its status when given.
    update: dict = {"message_count": current.ticket.message_count + 1, "updated_at": at}
    if then is not None:
        update["status"] = then
    store.tickets.append_message(current=current, ticket_after=current.ticket.model_copy(update=update), message=reply)
    return reply


def ticket_closes(store: Repositories, ticket_id: str, *, at: datetime) -> None:
    """A solved ticket closes (Zendesk closes them days after solving); a system note records it."""
    current = store.tickets.ticket(ticket_id)
    assert current is not None, f"no ticket {ticket_id}"
    note = TicketMessage(
        id=stable_id("m", f"system:close:{ticket_id}"),
        ticket_id=ticket_id,
        channel=Channel(current.ticket.channel),
        external_id=f"close:{ticket_id}",
        direction=Direction.OUTBOUND,
        author_kind=AuthorKind.SYSTEM,
        public=False,
        message_type="status_change",
        text="Closed",
        created_at=at,
        received_at=at,
    )
    after = current.ticket.model_copy(
        update={"status": TicketStatus.CLOSED, "message_count": current.ticket.message_count + 1, "updated_at": at}
    )
    store.tickets.append_message(current=current, ticket_after=after, message=note)
