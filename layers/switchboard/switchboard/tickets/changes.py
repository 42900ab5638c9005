"""What an agent may change on a ticket, and how its status may move (Zendesk's ticket statuses).

Zendesk ("About ticket statuses"): New is only ever a ticket's first status. Open, Pending, On-hold and
Solved are the agent's to set, in any order, and a solved ticket may be reopened. Closed is reached only by
the automation that closes a solved ticket some days later. A closed ticket is final: it is not edited, and a
customer's next message starts a follow-up ticket (tickets/lifecycle.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from switchboard.errors import SwitchboardError
from switchboard.models import (
    MAX_TICKET_TAGS,
    FieldChange,
    Priority,
    Ticket,
    TicketAudit,
    TicketStatus,
    plain_tags,
)

AGENT_STATUSES = frozenset({TicketStatus.OPEN, TicketStatus.PENDING, TicketStatus.ON_HOLD, TicketStatus.SOLVED})
# An assignee or group id is the identity provider's subject or our group key: short, never free text.
MAX_ID_CHARS = 128


class InvalidChange(SwitchboardError):
    """The change is well-formed but not one this ticket may take (Zendesk answers 422 likewise)."""

    status_code = 422
    code = "invalid_change"


class TicketChange(BaseModel):
    """The fields of PATCH /tickets/{ticket_id}. A field left out stays as it is; `assignee_id` and `group_id`
    given as null unassign."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: TicketStatus | None = None
    priority: Priority | None = None
    assignee_id: str | None = Field(default=None, min_length=1, max_length=MAX_ID_CHARS)
    group_id: str | None = Field(default=None, min_length=1, max_length=MAX_ID_CHARS)
    tags: tuple[str, ...] | None = Field(default=None, max_length=MAX_TICKET_TAGS)

    @field_validator("tags")
    @classmethod
    def _plain_tags(cls, tags: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return None if tags is None else plain_tags(tags)


def may_set_status(current: TicketStatus, wanted: TicketStatus) -> bool:
    """Whether an agent may move a ticket from `current` to `wanted` (staying put is always allowed but closed)."""
    if current is TicketStatus.CLOSED:
        return False
    return wanted is current or wanted in AGENT_STATUSES


def apply_change(
    ticket: Ticket, change: TicketChange, *, actor_id: str, at: datetime, version: int
) -> tuple[Ticket, TicketAudit | None]:
    """The ticket after the change and its audit for the version it makes; no audit when nothing changes.
    InvalidChange for a status the ticket may not take, a null where a value is required, or a closed ticket."""
    if ticket.status is TicketStatus.CLOSED:
        raise InvalidChange("a closed ticket is final; the customer's next message opens a follow-up ticket")
    updates: dict[str, Any] = {}
    for name in sorted(change.model_fields_set):
        wanted = getattr(change, name)
        if wanted is None and name in ("status", "priority", "tags"):
            raise InvalidChange(f"{name} cannot be null")
        if name == "status" and not may_set_status(ticket.status, wanted):
            raise InvalidChange(
                f"a ticket cannot go from {ticket.status.value} to {wanted.value}: agents set open, pending, "
                "on_hold or solved; new is only a ticket's first status and closed follows solved automatically"
            )
        if wanted != getattr(ticket, name):
            updates[name] = wanted
    if not updates:
        return ticket, None
    moved = {**updates, "updated_at": at}
    if updates.get("status") is TicketStatus.SOLVED:
        # The solved -> closed countdown starts here (tickets/closing.py); solved_at is not audited, it follows
        # from the status change's time.
        moved["solved_at"] = at
    after = ticket.model_copy(update=moved)
    audit = TicketAudit(
        ticket_id=ticket.id,
        ticket_version=version,
        actor_id=actor_id,
        at=at,
        changes=tuple(
            FieldChange(field=name, before=_json(getattr(ticket, name)), after=_json(value))
            for name, value in updates.items()
        ),
    )
    return after, audit


def _json(value: Any) -> str | list[str] | None:
    if isinstance(value, tuple):
        return list(value)
    return None if value is None else str(value)
