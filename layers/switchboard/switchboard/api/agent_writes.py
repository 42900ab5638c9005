"""The agents' writes, served by one function: a ticket's changes (PATCH), internal notes, replies and resends,
and a contact's tags (which their open tickets take)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from switchboard.api.contact_changes import handle_contact_change
from switchboard.api.ticket_changes import handle_ticket_change
from switchboard.api.ticket_notes import handle_ticket_note
from switchboard.api.ticket_replies import handle_resend, handle_ticket_reply
from switchboard.config import AccessSettings, WhatsAppTemplateConfig
from switchboard.errors import NotFound
from switchboard.http import error_response
from switchboard.models import utc_now
from switchboard.outbound.queue import OutboundQueue
from switchboard.store.repositories import Repositories


def handle_agent_write(
    event: Mapping[str, Any],
    *,
    store: Repositories,
    access: AccessSettings,
    queue: OutboundQueue,
    templates: Sequence[WhatsAppTemplateConfig],
    clock: Callable[[], datetime] = utc_now,
) -> dict[str, Any]:
    """One agent write; `clock` is the time the write happens at (tests run a ticket's life at chosen instants)."""
    route = event.get("routeKey")
    if route == "POST /tickets/{ticket_id}/replies":
        return handle_ticket_reply(event, store=store, access=access, queue=queue, templates=templates, clock=clock)
    if route == "POST /tickets/{ticket_id}/messages/{message_key}/resend":
        return handle_resend(event, store=store, access=access, queue=queue, templates=templates)
    if route == "PATCH /tickets/{ticket_id}":
        return handle_ticket_change(event, store=store, access=access, clock=clock)
    if route == "POST /tickets/{ticket_id}/notes":
        return handle_ticket_note(event, store=store, access=access, clock=clock)
    if route == "PATCH /contacts/{contact_id}":
        return handle_contact_change(event, store=store, access=access, clock=clock)
    return error_response(NotFound(f"no route {route!r}"))
