"""How a customer message changes a ticket. Pure functions: no I/O, easy to reason about and test."""

from __future__ import annotations

from switchboard.models import (
    AuthorKind,
    ChannelIdentity,
    Contact,
    Direction,
    InboundMessage,
    Requester,
    Ticket,
    TicketMessage,
    TicketStatus,
    stable_id,
)

SUBJECT_LIMIT = 80

# A customer writing again means the ball is back with the agents, as in Zendesk: a pending
# (waiting on the customer) or solved ticket reopens. New, open and on-hold tickets keep their
# status; a closed ticket is never reopened, the message starts a follow-up ticket instead.
_REOPENS = {TicketStatus.PENDING, TicketStatus.SOLVED}


def needs_follow_up(ticket: Ticket) -> bool:
    return ticket.status is TicketStatus.CLOSED


def status_after_customer_message(status: TicketStatus) -> TicketStatus:
    return TicketStatus.OPEN if status in _REOPENS else status


def identity_of(message: InboundMessage) -> ChannelIdentity:
    return ChannelIdentity(
        channel=message.channel, channel_account_id=message.channel_account_id, external_id=message.sender.external_id
    )


def new_contact(message: InboundMessage) -> Contact:
    identity = identity_of(message)
    return Contact(
        id=stable_id("c", identity.key),
        display_name=message.sender.display_name,
        phone_e164=message.sender.phone_e164,
        identities=(identity,),
        created_at=message.received_at,
    )


def subject_of(message: InboundMessage) -> str:
    """The first line of what the customer wrote, or what they sent when there is no text."""
    first_line = (message.text or "").strip().split("\n", 1)[0].strip()
    if first_line:
        return first_line if len(first_line) <= SUBJECT_LIMIT else first_line[: SUBJECT_LIMIT - 1] + "…"
    who = message.sender.display_name or message.channel.value
    return f"{message.message_type.capitalize()} from {who}"


def opened_ticket(
    message: InboundMessage, *, number: int, contact_id: str, follows_up: Ticket | None
) -> Ticket:
    """The ticket a customer's message opens. Its id derives from that message, so a retry rebuilds the same ticket."""
    return Ticket(
        id=stable_id("t", message.dedup_key),
        number=number,
        status=TicketStatus.NEW,
        channel=message.channel,
        channel_account_id=message.channel_account_id,
        conversation_key=message.conversation_key,
        subject=subject_of(message),
        requester=Requester(contact_id=contact_id, display_name=message.sender.display_name),
        follow_up_of=follows_up.id if follows_up else None,
        message_count=1,
        created_at=message.received_at,
        updated_at=message.received_at,
        first_customer_message_at=message.provider_timestamp,
        last_customer_message_at=message.provider_timestamp,
    )


def with_customer_message(ticket: Ticket, message: InboundMessage) -> Ticket:
    first, last = ticket.first_customer_message_at, ticket.last_customer_message_at
    sent = message.provider_timestamp
    return ticket.model_copy(
        update={
            "status": status_after_customer_message(ticket.status),
            "message_count": ticket.message_count + 1,
            "updated_at": max(ticket.updated_at, message.received_at),
            # Providers may deliver out of order, so the ticket can open on a later message.
            "first_customer_message_at": sent if first is None else min(first, sent),
            "last_customer_message_at": sent if last is None else max(last, sent),
            "requester": ticket.requester
            if ticket.requester.display_name or not message.sender.display_name
            else ticket.requester.model_copy(update={"display_name": message.sender.display_name}),
        }
    )


def customer_message(ticket_id: str, message: InboundMessage) -> TicketMessage:
    return TicketMessage(
        id=stable_id("m", message.dedup_key),
        ticket_id=ticket_id,
        channel=message.channel,
        external_id=message.external_id,
        direction=Direction.INBOUND,
        author_kind=AuthorKind.CUSTOMER,
        public=True,
        message_type=message.message_type,
        known_type=message.known_type,
        text=message.text,
        attachments=message.attachments,
        location=message.location,
        reply_to_external_id=message.reply_to_external_id,
        sender_name=message.sender.display_name,
        created_at=message.provider_timestamp,
        received_at=message.received_at,
    )
