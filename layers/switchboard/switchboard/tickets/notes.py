"""Internal notes: an agent's words on a ticket's timeline for the team, never sent to the customer.

A note is written once per agent and Idempotency-Key: its id and its message index entry come from the two,
so a retried request finds the note it already wrote (the same text: the same note again; other text: a
key reused by mistake). A note changes neither the ticket's status nor what the customer waits for: it
answers nothing (Zendesk's internal notes likewise).
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from switchboard.models import AuthorKind, Direction, FieldChange, Ticket, TicketAudit, TicketMessage, stable_id

# At most 64 KB of UTF-8 whatever the script (4 bytes a character at worst): Zendesk's limit for a comment.
MAX_NOTE_CHARS = 16_000
# Idempotency keys are the client's (a UUID, typically); anything longer is not one.
MAX_IDEMPOTENCY_KEY_CHARS = 255


def agent_write_id(kind: str, agent_id: str, idempotency_key: str) -> str:
    """The message index id of what an agent's request wrote (a note, a reply): one per agent and
    Idempotency-Key, whatever ticket it names, so a retried request finds what it already wrote."""
    digest = hashlib.sha256(f"{agent_id}\x1f{idempotency_key}".encode("utf-8", "surrogatepass")).hexdigest()
    return f"{kind}:{digest[:40]}"


def note_external_id(agent_id: str, idempotency_key: str) -> str:
    return agent_write_id("note", agent_id, idempotency_key)


def note_on(
    ticket: Ticket, *, text: str, agent_id: str, idempotency_key: str, at: datetime
) -> tuple[TicketMessage, Ticket]:
    """The note and the ticket after it (one more message, updated now; status and reply clocks untouched)."""
    external_id = note_external_id(agent_id, idempotency_key)
    note = TicketMessage(
        id=stable_id("m", ticket.channel.value, external_id),
        ticket_id=ticket.id,
        channel=ticket.channel,
        external_id=external_id,
        direction=Direction.INTERNAL,
        author_kind=AuthorKind.AGENT,
        author_id=agent_id,
        public=False,
        message_type="note",
        text=text,
        created_at=at,
        received_at=at,
    )
    # A note answers nothing: only last_agent_reply_at moves; what the customer waits for is unchanged.
    return note, ticket.model_copy(
        update={"message_count": ticket.message_count + 1, "updated_at": at, "last_agent_reply_at": at}
    )


def note_audit(ticket: Ticket, note: TicketMessage, *, message_key: str, version: int) -> TicketAudit:
    """The audit entry of a note: who added it and when, naming it by its place on the timeline."""
    return TicketAudit(
        ticket_id=ticket.id,
        ticket_version=version,
        actor_id=note.author_id or "",
        at=note.created_at,
        changes=(FieldChange(field="note", after=message_key),),
    )
