"""The agents' writes to a ticket, served by one function: changes (PATCH) and internal notes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from switchboard.api.ticket_changes import handle_ticket_change
from switchboard.api.ticket_notes import handle_ticket_note
from switchboard.config import AccessSettings
from switchboard.errors import NotFound
from switchboard.http import error_response
from switchboard.store.repositories import Repositories


def handle_agent_write(event: Mapping[str, Any], *, store: Repositories, access: AccessSettings) -> dict[str, Any]:
    route = event.get("routeKey")
    if route == "PATCH /tickets/{ticket_id}":
        return handle_ticket_change(event, store=store, access=access)
    if route == "POST /tickets/{ticket_id}/notes":
        return handle_ticket_note(event, store=store, access=access)
    return error_response(NotFound(f"no route {route!r}"))
