"""The agents' read API: tickets, their timelines page by page, and held mail (mail kept out of tickets:
quarantined, or automatic and about no open ticket, like Zendesk's suspended tickets).

    GET /tickets                                       tickets, newest first
    GET /tickets/{ticket_id}                           the ticket and the first page of its timeline
    GET /tickets/{ticket_id}/messages                  its timeline, oldest first, a page at a time
    GET /tickets/{ticket_id}/messages/{message_key}    one message, whole
    GET /tickets/{ticket_id}/audits                    the changes agents made to it, oldest first
    GET /mail/held                                     held mail of one kind, newest first

Every route needs the agent role (an admin is an agent too). API Gateway's JWT authorizer has verified the
token before we run; `caller_of` checks the claims and the role again so that a route deployed without the
authorizer or its scopes fails closed.

Every answer stays far below Lambda's 6 MB response limit whatever the messages hold: in a page, a text
longer than LISTING_TEXT_CHARS is cut (`text_truncated: true`; the message's own route has it whole), and a
page stops early, with its cursor, once its JSON passes PAGE_BUDGET_BYTES.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from switchboard.api.agents import Role, caller_of
from switchboard.api.representation import etag_of, message_json, ticket_json
from switchboard.config import AccessSettings
from switchboard.errors import InvalidRequest, NotFound, SwitchboardError
from switchboard.http import error_response, json_response
from switchboard.models import MailHandling, TicketStatus
from switchboard.store.messages import StoredMessage, UnknownMessageKey
from switchboard.store.repositories import Repositories
from switchboard.store.tickets import VersionedTicket

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
# A page's texts are cut here (Zendesk's ticket view also shows long comments folded): 8,000 characters is
# more than a chat message can hold on any channel but LINE's 5,000 and Telegram's 4,096 fit whole, and at
# most 32 KB of UTF-8 each.
LISTING_TEXT_CHARS = 8000
# A page ends once its items' JSON passes this (it always holds one item): far below Lambda's 6 MB
# response payload limit, and a page an agent's browser renders at once.
PAGE_BUDGET_BYTES = 1_000_000
# ASCII digits only: str.isdigit() also passes "²", which int() refuses, and int() refuses over 4300 digits.
_PAGE_SIZE = re.compile(r"[0-9]{1,3}")


def handle_tickets_api(event: Mapping[str, Any], store: Repositories, access: AccessSettings) -> dict[str, Any]:
    try:
        caller_of(event, access).require(Role.AGENT)
        route = event.get("routeKey")
        if route == "GET /tickets":
            return _list(event.get("queryStringParameters") or {}, store)
        path = event.get("pathParameters") or {}
        query = event.get("queryStringParameters") or {}
        if route == "GET /tickets/{ticket_id}":
            return _get(path.get("ticket_id", ""), query, store)
        if route == "GET /tickets/{ticket_id}/messages":
            return _messages(path.get("ticket_id", ""), query, store)
        if route == "GET /tickets/{ticket_id}/messages/{message_key}":
            return _message(path.get("ticket_id", ""), path.get("message_key", ""), store)
        if route == "GET /tickets/{ticket_id}/audits":
            return _audits(path.get("ticket_id", ""), query, store)
        if route == "GET /mail/held":
            return _held(event.get("queryStringParameters") or {}, store)
        raise NotFound(f"no route {route!r}")
    except SwitchboardError as error:
        return error_response(error)


def _list(query: Mapping[str, str], store: Repositories) -> dict[str, Any]:
    status = query.get("status")
    if status is not None and status not in TicketStatus:
        raise InvalidRequest(f"status must be one of {', '.join(s.value for s in TicketStatus)}")
    wanted = TicketStatus(status) if status else None
    page = store.tickets.list_tickets(status=wanted, limit=_page_size(query.get("limit")), cursor=query.get("cursor"))
    tickets = [ticket_json(t) for t in page.tickets]
    kept = _within_budget(tickets)
    next_cursor = (
        page.next_cursor if kept == len(tickets) else store.tickets.ticket_cursor(page.tickets[kept - 1], wanted)
    )
    return json_response(200, {"tickets": tickets[:kept], "next_cursor": next_cursor})


def _get(ticket_id: str, query: Mapping[str, str], store: Repositories) -> dict[str, Any]:
    found = _ticket(ticket_id, store)
    messages, next_cursor = _message_page(found.ticket.id, _page_size(query.get("limit")), None, store)
    return json_response(
        200,
        {"ticket": ticket_json(found.ticket), "messages": messages, "next_cursor": next_cursor},
        {"etag": etag_of(found.version)},
    )


def _messages(ticket_id: str, query: Mapping[str, str], store: Repositories) -> dict[str, Any]:
    ticket = _ticket(ticket_id, store).ticket
    messages, next_cursor = _message_page(ticket.id, _page_size(query.get("limit")), query.get("cursor"), store)
    return json_response(200, {"messages": messages, "next_cursor": next_cursor})


def _audits(ticket_id: str, query: Mapping[str, str], store: Repositories) -> dict[str, Any]:
    ticket = _ticket(ticket_id, store).ticket
    page = store.audits.audit_page(ticket.id, limit=_page_size(query.get("limit")), cursor=query.get("cursor"))
    audits = [audit.model_dump(mode="json") for audit in page.audits]
    return json_response(200, {"audits": audits, "next_cursor": page.next_cursor})


def _message(ticket_id: str, key: str, store: Repositories) -> dict[str, Any]:
    try:
        message = store.messages.message(ticket_id, key)
    except UnknownMessageKey as exc:
        raise InvalidRequest("message_key is not one a page of this ticket's messages gave") from exc
    if message is None:
        raise NotFound(f"ticket {ticket_id!r} has no message {key!r}")
    return json_response(200, {"message": {**message_json(message), "message_key": key, "text_truncated": False}})


def _ticket(ticket_id: str, store: Repositories) -> VersionedTicket:
    found = store.tickets.ticket_record(ticket_id)
    if found is None:
        raise NotFound(f"ticket {ticket_id[:200]!r} does not exist")
    return found


def _message_page(
    ticket_id: str, limit: int, cursor: str | None, store: Repositories
) -> tuple[list[dict[str, Any]], str | None]:
    page = store.messages.message_page(ticket_id, limit=limit, cursor=cursor)
    messages = [listed_message_json(stored) for stored in page.messages]
    kept = _within_budget(messages)
    if kept == len(messages):
        return messages, page.next_cursor
    return messages[:kept], store.messages.message_cursor(ticket_id, page.messages[kept - 1].key)


def _within_budget(items: list[dict[str, Any]]) -> int:
    """How many of `items`, from the first, fit PAGE_BUDGET_BYTES of JSON (at least one)."""
    total = 0
    for count, item in enumerate(items):
        total += len(json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass"))
        if total > PAGE_BUDGET_BYTES and count > 0:
            return count
    return len(items)


_HELD_KINDS = [h for h in MailHandling if h is not MailHandling.CUSTOMER]


def _held(query: Mapping[str, str], store: Repositories) -> dict[str, Any]:
    reason = query.get("reason")
    if reason not in {h.value for h in _HELD_KINDS}:
        raise InvalidRequest(f"reason must be one of {', '.join(h.value for h in _HELD_KINDS)}")
    page = store.held_mail.list_held_mail(
        handling=MailHandling(reason), limit=_page_size(query.get("limit")), cursor=query.get("cursor")
    )
    return json_response(200, {"held": [h.model_dump(mode="json") for h in page.held], "next_cursor": page.next_cursor})


def _page_size(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_PAGE_SIZE
    if not _PAGE_SIZE.fullmatch(raw) or not 1 <= int(raw) <= MAX_PAGE_SIZE:
        raise InvalidRequest(f"limit must be a whole number from 1 to {MAX_PAGE_SIZE}")
    return int(raw)


def listed_message_json(stored: StoredMessage) -> dict[str, Any]:
    """A message as a page shows it: its key, and each long text cut to LISTING_TEXT_CHARS."""
    listed = message_json(stored.message)
    cut = False
    for holder, name in ((listed, "text"), (listed, "original_text"), (listed.get("email") or {}, "full_text")):
        text = holder.get(name)
        if isinstance(text, str) and len(text) > LISTING_TEXT_CHARS:
            holder[name], cut = text[:LISTING_TEXT_CHARS], True
    return {**listed, "message_key": stored.key, "text_truncated": cut}
