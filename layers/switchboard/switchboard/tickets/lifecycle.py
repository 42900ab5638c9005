"""How a customer message changes a ticket. Pure functions: no I/O, easy to reason about and test."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from switchboard.models import (
    AuthorKind,
    Channel,
    ChannelIdentity,
    Contact,
    DeliveryStatus,
    Direction,
    FieldChange,
    FollowChange,
    HeldMail,
    InboundMessage,
    MailHandling,
    OrderRef,
    Requester,
    Ticket,
    TicketAudit,
    TicketMessage,
    TicketStatus,
    stable_id,
)

SUBJECT_LIMIT = 80
EMAIL_IDENTITY_ACCOUNT = "any"

# A customer writing again means the ball is back with the agents, as in Zendesk: a pending
# (waiting on the customer) or solved ticket reopens. New, open and on-hold tickets keep their
# status; a closed ticket is never reopened, the message starts a follow-up ticket instead.
_REOPENS = {TicketStatus.PENDING, TicketStatus.SOLVED}

# A customer's message opening a ticket this soon after their latest notification answers it: the ticket shows
# the order. Later, the ticket read's list of the requester's recent orders is what the agent looks at.
REPLY_TO_NOTIFICATION = timedelta(days=7)


def needs_follow_up(ticket: Ticket) -> bool:
    return ticket.status is TicketStatus.CLOSED


def status_after_customer_message(status: TicketStatus) -> TicketStatus:
    return TicketStatus.OPEN if status in _REOPENS else status


def identity_of(event: InboundMessage | FollowChange) -> ChannelIdentity:
    # An email address is the same customer whichever of our mailboxes they write to; other channels' ids
    # are scoped by the account (a Messenger PSID differs per page).
    account = EMAIL_IDENTITY_ACCOUNT if event.channel is Channel.EMAIL else event.channel_account_id
    return ChannelIdentity(channel=event.channel, channel_account_id=account, external_id=event.sender.external_id)


def new_contact(event: InboundMessage | FollowChange) -> Contact:
    identity = identity_of(event)
    return Contact(
        id=stable_id("c", identity.key),
        display_name=event.sender.display_name,
        phone_e164=event.sender.phone_e164,
        identities=(identity,),
        created_at=event.received_at if isinstance(event, InboundMessage) else event.occurred_at,
    )


def is_echo(message: InboundMessage) -> bool:
    """A message the business sent from another tool (the page inbox, a phone), reported back to us."""
    return message.direction is Direction.OUTBOUND


def is_automatic(message: InboundMessage) -> bool:
    """Mail no person wrote to us (an out-of-office, a bounce, a newsletter, our own mail coming back): it may
    join a ticket as a note, but never opens, reopens or answers one."""
    return message.email is not None and message.email.handling is not MailHandling.CUSTOMER


# Reply and forward prefixes mail clients add, in the languages our customers write in, and our own
# ticket token: a ticket is titled by what the thread is about.
_SUBJECT_PREFIX = re.compile(
    r"^\s*(?:(?:re|fw|fwd|aw|wg|sv|vs|tr|rv|답장|회신|전달|返信|转发|回复|答复)\s*(?:\[\d+\])?\s*[:：]\s*|\[#\d+\]\s*)+",
    re.IGNORECASE,
)


def subject_of(message: InboundMessage) -> str:
    """The mail's subject without reply prefixes; otherwise the first line of what the customer wrote, or
    what they sent when there is no text."""
    if message.email is not None and message.email.subject.strip():
        subject = _SUBJECT_PREFIX.sub("", message.email.subject).strip() or message.email.subject.strip()
        return subject if len(subject) <= SUBJECT_LIMIT else subject[: SUBJECT_LIMIT - 1] + "…"
    first_line = (message.text or "").strip().split("\n", 1)[0].strip()
    if first_line:
        return first_line if len(first_line) <= SUBJECT_LIMIT else first_line[: SUBJECT_LIMIT - 1] + "…"
    who = message.sender.display_name or message.channel.value
    return f"{message.message_type.capitalize()} from {who}"


def opened_ticket(
    message: InboundMessage,
    *,
    number: int,
    contact_id: str,
    follows_up: Ticket | None,
    conversation_key: str | None = None,
    requester_tags: tuple[str, ...] = (),
    order_ref: OrderRef | None = None,
) -> Ticket:
    """The ticket a customer's message opens. Its id derives from that message, so a retry rebuilds the same ticket.

    `conversation_key` is the thread the ticket belongs to when it is not the message's own (an email
    reply to a closed ticket follows up that ticket's thread); `order_ref` the order it answers (order_ref_of)."""
    customer_time = None if is_echo(message) else message.provider_timestamp
    return Ticket(
        id=stable_id("t", message.dedup_key),
        number=number,
        # An agent wrote first (from elsewhere): the ticket waits on the customer.
        status=TicketStatus.PENDING if is_echo(message) else TicketStatus.NEW,
        channel=message.channel,
        channel_account_id=message.channel_account_id,
        conversation_key=conversation_key or message.conversation_key,
        subject=subject_of(message),
        requester=Requester(contact_id=contact_id, display_name=message.sender.display_name, tags=requester_tags),
        follow_up_of=follows_up.id if follows_up else None,
        cc=_participants((), message),
        message_count=1,
        created_at=message.received_at,
        updated_at=message.received_at,
        first_customer_message_at=customer_time,
        last_customer_message_at=customer_time,
        awaiting_agent_since=customer_time,
        reply_token=message.reply_token,
        reply_token_expires_at=message.reply_token_expires_at if message.reply_token else None,
        order_ref=order_ref,
    )


def order_ref_of(contact: Contact | None, message: InboundMessage) -> OrderRef | None:
    """The order a customer's message answers: their latest notification's, when the message arrived within
    REPLY_TO_NOTIFICATION after it was sent (on any channel: a customer told by AlimTalk may answer on the
    chatbot). None for a message the business sent from elsewhere (an echo answers nothing)."""
    last = contact.last_notification if contact is not None else None
    if last is None or is_echo(message):
        return None
    if not last.at <= message.received_at <= last.at + REPLY_TO_NOTIFICATION:
        return None
    return OrderRef(
        order_key=last.order_key,
        order_id=last.order_id,
        order_number=last.order_number,
        notification_id=last.notification_id,
    )


def _participants(known: tuple[str, ...], message: InboundMessage) -> tuple[str, ...]:
    """Everyone ever copied on the thread, in the order they appeared."""
    if message.email is None:
        return known
    return tuple(dict.fromkeys([*known, *message.email.participants]))


def with_message(ticket: Ticket, message: InboundMessage, *, only_thanks: bool = False) -> Ticket:
    """The ticket after a message. `only_thanks`: the customer only thanked us (sla/restarts.py); on a solved
    ticket that neither reopens it nor starts a wait, so no SLA clock restarts."""
    thanked_for_solved = only_thanks and ticket.status is TicketStatus.SOLVED
    if is_echo(message) or is_automatic(message) or thanked_for_solved:
        return ticket.model_copy(
            update={
                "message_count": ticket.message_count + 1,
                "updated_at": max(ticket.updated_at, message.received_at),
            }
        )
    return with_customer_message(ticket, message)


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
            "awaiting_agent_since": _awaiting_since(ticket, sent),
            **_reply_token(ticket, message),
            "requester": _requester_after(ticket, message),
            "cc": _participants(ticket.cc, message),
        }
    )


def _reply_token(ticket: Ticket, message: InboundMessage) -> dict[str, object]:
    """The newest message's LINE reply token replaces an older one (which expires first anyway)."""
    if message.reply_token is None or message.reply_token_expires_at is None:
        return {}
    if ticket.reply_token_expires_at is not None and ticket.reply_token_expires_at >= message.reply_token_expires_at:
        return {}
    return {"reply_token": message.reply_token, "reply_token_expires_at": message.reply_token_expires_at}


def _awaiting_since(ticket: Ticket, sent: datetime) -> datetime | None:
    """The oldest customer message no public agent reply has answered: a message sent before the last public
    reply (delivered late, out of order) was answered by it, so it starts no wait."""
    answered = ticket.last_public_agent_reply_at
    if answered is not None and sent <= answered:
        return ticket.awaiting_agent_since
    waiting = ticket.awaiting_agent_since
    return sent if waiting is None else min(waiting, sent)


def status_audit(before: Ticket, after: Ticket, *, version: int) -> TicketAudit | None:
    """The audit of a status a customer's message moved (a solved or pending ticket reopened), by the customer."""
    if before.status is after.status:
        return None
    return TicketAudit(
        ticket_id=before.id,
        ticket_version=version,
        actor_id=f"customer:{after.requester.contact_id}",
        at=after.updated_at,
        changes=(FieldChange(field="status", before=before.status.value, after=after.status.value),),
    )


def held_mail(message: InboundMessage) -> HeldMail:
    email = message.email
    if email is None:
        raise ValueError("only mail is held")
    return HeldMail(
        external_id=message.external_id,
        handling=email.handling,
        reason=email.handling_reason,
        mailbox=email.mailbox,
        from_address=email.from_address,
        subject=email.subject,
        raw_mail_key=email.raw_mail_key,
        created_at=message.provider_timestamp,
        received_at=message.received_at,
    )


def _requester_after(ticket: Ticket, message: InboundMessage) -> Requester:
    """A requester without a name takes the customer's, once they give one. Not from mail: anyone copied on
    the thread may be the one writing, and their name is not the requester's."""
    if ticket.requester.display_name or not message.sender.display_name or message.email is not None:
        return ticket.requester
    return ticket.requester.model_copy(update={"display_name": message.sender.display_name})


def timeline_message(ticket_id: str, message: InboundMessage, *, sender_not_participant: bool = False) -> TicketMessage:
    """The message as the ticket's timeline shows it: the customer's, an echo of an agent's, or an automatic
    mail (internal: agents see it, the customer is never shown or answered it)."""
    echo = is_echo(message)
    automatic = is_automatic(message)
    return TicketMessage(
        id=stable_id("m", message.dedup_key),
        ticket_id=ticket_id,
        channel=message.channel,
        external_id=message.external_id,
        direction=message.direction,
        author_kind=AuthorKind.AGENT if echo else AuthorKind.SYSTEM if automatic else AuthorKind.CUSTOMER,
        delivery_status=DeliveryStatus.SENT if echo else None,
        email=message.email,
        payload=message.payload,
        reply_token=message.reply_token,
        reply_token_expires_at=message.reply_token_expires_at,
        public=not automatic,
        message_type=message.message_type,
        known_type=message.known_type,
        text=message.text,
        attachments=message.attachments,
        location=message.location,
        reply_to_external_id=message.reply_to_external_id,
        truncated=message.truncated,
        sender_not_participant=sender_not_participant and not echo and not automatic,
        sender_name=None if echo else message.sender.display_name,
        created_at=message.provider_timestamp,
        received_at=message.received_at,
    )
