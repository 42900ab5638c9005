"""The agents' read API: GET /tickets, GET /tickets/{ticket_id} and GET /mail/held (mail kept out of
tickets: quarantined, or automatic and about no open ticket, like Zendesk's suspended tickets).

Every route needs the agent role (an admin is an agent too). API Gateway's JWT authorizer has verified the
token before we run; `caller_of` checks the claims and the role again so that a route deployed without the
authorizer or its scopes fails closed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from switchboard.api.agents import Role, caller_of
from switchboard.config import AccessSettings
from switchboard.errors import InvalidRequest, NotFound, SwitchboardError
from switchboard.http import error_response, json_response
from switchboard.models import MailHandling, Ticket, TicketMessage, TicketStatus
from switchboard.store.tickets_table import TicketStore

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
# ASCII digits only: str.isdigit() also passes "²", which int() refuses, and int() refuses over 4300 digits.
_PAGE_SIZE = re.compile(r"[0-9]{1,3}")


def handle_tickets_api(event: Mapping[str, Any], store: TicketStore, access: AccessSettings) -> dict[str, Any]:
    try:
        caller_of(event, access).require(Role.AGENT)
        route = event.get("routeKey")
        if route == "GET /tickets":
            return _list(event.get("queryStringParameters") or {}, store)
        if route == "GET /tickets/{ticket_id}":
            return _get((event.get("pathParameters") or {}).get("ticket_id", ""), store)
        if route == "GET /mail/held":
            return _held(event.get("queryStringParameters") or {}, store)
        raise NotFound(f"no route {route!r}")
    except SwitchboardError as error:
        return error_response(error)


def _list(query: Mapping[str, str], store: TicketStore) -> dict[str, Any]:
    status = query.get("status")
    if status is not None and status not in TicketStatus:
        raise InvalidRequest(f"status must be one of {', '.join(s.value for s in TicketStatus)}")
    limit = _page_size(query.get("limit"))
    page = store.list_tickets(status=TicketStatus(status) if status else None, limit=limit, cursor=query.get("cursor"))
    return json_response(200, {"tickets": [ticket_json(t) for t in page.tickets], "next_cursor": page.next_cursor})


def _get(ticket_id: str, store: TicketStore) -> dict[str, Any]:
    found = store.ticket_with_messages(ticket_id) if ticket_id else None
    if found is None:
        raise NotFound(f"ticket {ticket_id!r} does not exist")
    ticket, messages = found
    return json_response(200, {"ticket": ticket_json(ticket), "messages": [message_json(m) for m in messages]})


_HELD_KINDS = [h for h in MailHandling if h is not MailHandling.CUSTOMER]


def _held(query: Mapping[str, str], store: TicketStore) -> dict[str, Any]:
    reason = query.get("reason")
    if reason not in {h.value for h in _HELD_KINDS}:
        raise InvalidRequest(f"reason must be one of {', '.join(h.value for h in _HELD_KINDS)}")
    page = store.list_held_mail(handling=MailHandling(reason), limit=_page_size(query.get("limit")), cursor=query.get("cursor"))
    return json_response(200, {"held": [h.model_dump(mode="json") for h in page.held], "next_cursor": page.next_cursor})


def _page_size(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_PAGE_SIZE
    if not _PAGE_SIZE.fullmatch(raw) or not 1 <= int(raw) <= MAX_PAGE_SIZE:
        raise InvalidRequest(f"limit must be a whole number from 1 to {MAX_PAGE_SIZE}")
    return int(raw)


def ticket_json(ticket: Ticket) -> dict[str, Any]:
    return ticket.model_dump(mode="json")


def message_json(message: TicketMessage) -> dict[str, Any]:
    return message.model_dump(mode="json")
