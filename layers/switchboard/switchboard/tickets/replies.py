"""An agent's public reply: the message, its first send attempt, and what it does to the ticket.

A reply is written once per agent and Idempotency-Key, like a note (tickets/notes.py): its id, its message index
entry and its first attempt's id all derive from the two, so a retried request finds what it already wrote.

What a public reply does to the ticket (the SLA clocks, docs/data-model.md "Reply times"):
- it answers every customer message before it: `awaiting_agent_since` clears;
- `first_agent_reply_at` is set once; `last_agent_reply_at` and `last_public_agent_reply_at` move to now;
- the status becomes the one given (Zendesk's "submit as"), else a `new` ticket becomes `open` and any other
  status stays; a closed ticket takes no reply (the customer's next message opens a follow-up);
- it claims the ticket's LINE reply token, so no second reply tries the same single-use token.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from switchboard.models import (
    AttemptIntent,
    AttemptState,
    AuthorKind,
    DeliveryEvent,
    DeliveryStatus,
    Direction,
    FieldChange,
    SendAttempt,
    Ticket,
    TicketAudit,
    TicketMessage,
    TicketStatus,
    stable_id,
)
from switchboard.tickets.changes import InvalidChange, may_set_status
from switchboard.tickets.notes import agent_write_id


def reply_external_id(agent_id: str, idempotency_key: str) -> str:
    return agent_write_id("reply", agent_id, idempotency_key)


def attempt_id_of(message_id: str, number: int) -> str:
    return stable_id("a", message_id, str(number))


def recipient_of(ticket: Ticket) -> str:
    """The customer's conversation on the channel: the last part of the ticket's conversation key."""
    return ticket.conversation_key.split(":", 2)[2]


def reply_on(
    ticket: Ticket,
    *,
    intent: AttemptIntent,
    status: TicketStatus | None,
    agent_id: str,
    idempotency_key: str,
    at: datetime,
    version: int,
    timeline_key: Callable[[TicketMessage, int], str],
) -> tuple[TicketMessage, Ticket, SendAttempt, TicketAudit]:
    """The reply, the ticket after it, its first attempt (queued, due now) and its audit: the reply, by its
    place on the timeline, and the status it sets.

    `version` is the ticket version the reply makes; `timeline_key` names a message's place in the timeline."""
    if ticket.status is TicketStatus.CLOSED:
        raise InvalidChange("a closed ticket is final; the customer's next message opens a follow-up ticket")
    wanted = status or (TicketStatus.OPEN if ticket.status is TicketStatus.NEW else ticket.status)
    if not may_set_status(ticket.status, wanted):
        raise InvalidChange(f"a reply cannot set {wanted.value}: agents set open, pending, on_hold or solved")
    external_id = reply_external_id(agent_id, idempotency_key)
    message_id = stable_id("m", ticket.channel.value, external_id)
    attempt_id = attempt_id_of(message_id, 1)
    token_valid = ticket.reply_token is not None and ticket.reply_token_expires_at is not None
    intent = intent.model_copy(
        update={
            "customer_last_message_at": ticket.last_customer_message_at,
            "reply_token": ticket.reply_token if token_valid else None,
            "reply_token_expires_at": ticket.reply_token_expires_at if token_valid else None,
        }
    )
    message = TicketMessage(
        id=message_id,
        ticket_id=ticket.id,
        channel=ticket.channel,
        external_id=external_id,
        direction=Direction.OUTBOUND,
        author_kind=AuthorKind.AGENT,
        author_id=agent_id,
        public=True,
        message_type="template" if intent.template_name else "text",
        text=intent.text,
        attachments=intent.attachments,
        delivery_status=DeliveryStatus.QUEUED,
        delivery_history=(DeliveryEvent(status=DeliveryStatus.QUEUED, at=at, by="outbox"),),
        attempt_id=attempt_id,
        cc=intent.cc,
        created_at=at,
        received_at=at,
    )
    after = ticket.model_copy(
        update={
            "status": wanted,
            "message_count": ticket.message_count + 1,
            "updated_at": at,
            "first_agent_reply_at": ticket.first_agent_reply_at or at,
            "last_agent_reply_at": at,
            "last_public_agent_reply_at": at,
            "awaiting_agent_since": None,
            "solved_at": at
            if wanted is TicketStatus.SOLVED and ticket.status is not TicketStatus.SOLVED
            else ticket.solved_at,
            "reply_token": None,
            "reply_token_expires_at": None,
            "cc": tuple(dict.fromkeys([*ticket.cc, *intent.cc])),
        }
    )
    attempt = SendAttempt(
        id=attempt_id,
        number=1,
        message_id=message_id,
        ticket_id=ticket.id,
        message_key=timeline_key(message, after.message_count),
        channel=ticket.channel,
        channel_account_id=ticket.channel_account_id,
        recipient_id=recipient_of(ticket),
        conversation_key=ticket.conversation_key,
        state=AttemptState.QUEUED,
        intent=intent,
        created_at=at,
        due_at=at,
    )
    changes = [FieldChange(field="reply", after=attempt.message_key)]
    if wanted is not ticket.status:
        changes.append(FieldChange(field="status", before=ticket.status.value, after=wanted.value))
    audit = TicketAudit(ticket_id=ticket.id, ticket_version=version, actor_id=agent_id, at=at, changes=tuple(changes))
    return message, after, attempt, audit


# A message's delivery history grows by a few steps per attempt; resends are bounded so the item stays bounded.
MAX_ATTEMPTS_PER_REPLY = 10


def resend_of(previous: SendAttempt, *, at: datetime) -> SendAttempt:
    """The next attempt at a message whose latest attempt failed or ended unknown: a new record and id, sent
    again for real, with a fresh reply-token-free intent (the token, if any, was spent)."""
    number = previous.number + 1
    return previous.model_copy(
        update={
            "id": attempt_id_of(previous.message_id, number),
            "number": number,
            "state": AttemptState.QUEUED,
            "tries": 0,
            "intent": previous.intent.model_copy(update={"reply_token": None, "reply_token_expires_at": None}),
            "created_at": at,
            "due_at": at,
            "lease_until": None,
            "provider_message_id": None,
            "error_code": None,
            "error": None,
        }
    )
