"""The agents' read API: tickets, their timelines page by page, and held mail (mail kept out of tickets:
quarantined, or automatic and about no open ticket, like Zendesk's suspended tickets).

    GET /tickets                                       tickets, newest first; ?status= ?assignee=me|<id> ?group=<id>
                                                       or by SLA, due first: ?sla=breached|warning|active&sort=due
    GET /tickets/{ticket_id}                           the ticket, the first page of its timeline, the
                                                       requester's newest orders
    GET /tickets/{ticket_id}/messages                  its timeline, oldest first, a page at a time
    GET /tickets/{ticket_id}/messages/{message_key}    one message, whole
    GET /tickets/{ticket_id}/audits                    the changes agents made to it, oldest first
    GET /mail/held                                     held mail of one kind, newest first
    GET /contacts/{contact_id}                         a customer, every identity, their tickets newest first
    GET /contacts/{contact_id}/orders                  their orders from the shops, newest first
    GET /contacts/{contact_id}/notifications           the proactive messages sent them, newest first
    GET /openapi.json                                  the agents' API described (api/openapi.py); public

Every route but the document needs the agent role (an admin is an agent too). API Gateway's JWT authorizer has verified the
token before we run; `caller_of` checks the claims and the role again so that a route deployed without the
authorizer or its scopes fails closed.

Every answer stays far below Lambda's 6 MB response limit whatever the messages hold: in a page, a text
longer than LISTING_TEXT_CHARS is cut (`text_truncated: true`; the message's own route has it whole), and a
page stops early, with its cursor, once its JSON passes PAGE_BUDGET_BYTES.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from switchboard.api.agents import Caller, Role, caller_of
from switchboard.api.order_views import (
    REQUESTER_ORDERS,
    NotificationPage,
    OrderPage,
    notification_view,
    order_view,
)
from switchboard.api.representation import (
    DEFAULT_PAGE_SIZE,
    LISTING_TEXT_CHARS,
    MAX_PAGE_SIZE,
    contact_json,
    etag_of,
    known_contact,
    message_json,
    ticket_json,
)
from switchboard.config import AccessSettings
from switchboard.errors import InvalidRequest, NotFound, SwitchboardError
from switchboard.http import error_response, json_response
from switchboard.models import MailHandling, SlaView, Ticket, TicketStatus, utc_now
from switchboard.sla.clocks import elapsed, measure_of
from switchboard.store.messages import StoredMessage, UnknownMessageKey
from switchboard.store.repositories import Repositories
from switchboard.store.tickets import TicketPage, VersionedTicket
from switchboard.tickets.changes import MAX_ID_CHARS

# A page ends once its items' JSON passes this (it always holds one item): far below Lambda's 6 MB
# response payload limit, and a page an agent's browser renders at once.
PAGE_BUDGET_BYTES = 1_000_000
# ASCII digits only: str.isdigit() also passes "²", which int() refuses, and int() refuses over 4300 digits.
_PAGE_SIZE = re.compile(r"[0-9]{1,3}")


def handle_tickets_api(
    event: Mapping[str, Any],
    store: Repositories,
    access: AccessSettings,
    clock: Callable[[], datetime] = utc_now,
) -> dict[str, Any]:
    if event.get("routeKey") == "GET /openapi.json":
        # Public (no authorizer, no role), and imported here only: the other routes' cold starts never pay for
        # building the document.
        from switchboard.api.openapi import openapi_response

        return openapi_response(event)
    try:
        agent = caller_of(event, access).require(Role.AGENT)
        route = event.get("routeKey")
        if route == "GET /tickets":
            return _list(event.get("queryStringParameters") or {}, agent, store)
        path = event.get("pathParameters") or {}
        query = event.get("queryStringParameters") or {}
        if route == "GET /tickets/{ticket_id}":
            return _get(path.get("ticket_id", ""), query, store, clock())
        if route == "GET /tickets/{ticket_id}/messages":
            return _messages(path.get("ticket_id", ""), query, store)
        if route == "GET /tickets/{ticket_id}/messages/{message_key}":
            return _message(path.get("ticket_id", ""), path.get("message_key", ""), store)
        if route == "GET /tickets/{ticket_id}/audits":
            return _audits(path.get("ticket_id", ""), query, store)
        if route == "GET /mail/held":
            return _held(event.get("queryStringParameters") or {}, store)
        if route == "GET /contacts/{contact_id}":
            return _contact(path.get("contact_id", ""), query, store)
        if route == "GET /contacts/{contact_id}/orders":
            return _orders(path.get("contact_id", ""), query, store)
        if route == "GET /contacts/{contact_id}/notifications":
            return _notifications(path.get("contact_id", ""), query, store)
        raise NotFound(f"no route {route!r}")
    except SwitchboardError as error:
        return error_response(error)


def _list(query: Mapping[str, str], agent: Caller, store: Repositories) -> dict[str, Any]:
    """A ticket view: all tickets, or those of a status, an assignee ("me" is the caller), a group, combined; or an
    SLA view, what is due first first."""
    sort = query.get("sort")
    if sort is not None and sort != "due":
        raise InvalidRequest("sort must be due (with sla=); other views are newest first")
    if "sla" in query or sort is not None:
        return _sla_view(query, store)
    status = query.get("status")
    if status is not None and status not in TicketStatus:
        raise InvalidRequest(f"status must be one of {', '.join(s.value for s in TicketStatus)}")
    wanted = TicketStatus(status) if status else None
    assignee = _id_parameter(query, "assignee")
    assignee_id = agent.subject if assignee == "me" else assignee
    group_id = _id_parameter(query, "group")
    page = store.tickets.list_tickets(
        status=wanted,
        assignee_id=assignee_id,
        group_id=group_id,
        limit=_page_size(query.get("limit")),
        cursor=query.get("cursor"),
    )
    listed = _ticket_page(
        page, lambda last: store.tickets.ticket_cursor(last, wanted, assignee_id=assignee_id, group_id=group_id)
    )
    return json_response(200, listed)


def _sla_view(query: Mapping[str, str], store: Repositories) -> dict[str, Any]:
    """GET /tickets?sla=breached|warning|active&sort=due: an agent's "what do I answer first" (BySlaState)."""
    wanted = query.get("sla") or ""
    if wanted not in SlaView:
        raise InvalidRequest(f"sla must be one of {', '.join(v.value for v in SlaView)}")
    if any(name in query for name in ("status", "assignee", "group")):
        raise InvalidRequest(
            "sla= lists every ticket in that SLA state; it does not combine with status, assignee or group"
        )
    view = SlaView(wanted)
    page = store.tickets.list_by_sla(view, limit=_page_size(query.get("limit")), cursor=query.get("cursor"))
    return json_response(200, _ticket_page(page, lambda last: store.tickets.sla_cursor(last, view)))


def _ticket_page(page: TicketPage, cursor_after: Callable[[Ticket], str]) -> dict[str, Any]:
    """A page of tickets within PAGE_BUDGET_BYTES, and the cursor after its last ticket."""
    tickets = [ticket_json(t) for t in page.tickets]
    kept = _within_budget(tickets)
    next_cursor = page.next_cursor if kept == len(tickets) else cursor_after(page.tickets[kept - 1])
    return {"tickets": tickets[:kept], "next_cursor": next_cursor}


def _id_parameter(query: Mapping[str, str], name: str) -> str | None:
    """An assignee or group id from the query: what PATCH may set (tickets/changes.py), else a 400."""
    value = query.get(name)
    if value is None:
        return None
    if not 1 <= len(value) <= MAX_ID_CHARS or not _encodable(value):
        raise InvalidRequest(f"{name} must be 1 to {MAX_ID_CHARS} characters")
    return value


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return True


def _contact(contact_id: str, query: Mapping[str, str], store: Repositories) -> dict[str, Any]:
    """A customer with every channel identity and their tickets on every channel, newest first (Zendesk's
    requester view): an agent sees the customer's history whatever channel they write from."""
    contact = known_contact(contact_id, store)
    page = store.tickets.tickets_requested_by(
        contact.id, limit=_page_size(query.get("limit")), cursor=query.get("cursor")
    )
    listed = _ticket_page(page, store.tickets.requested_ticket_cursor)
    return json_response(200, {"contact": contact_json(contact), **listed})


def _orders(contact_id: str, query: Mapping[str, str], store: Repositories) -> dict[str, Any]:
    """The contact's orders from every shop and source, newest first (by when placed, else first seen)."""
    contact = known_contact(contact_id, store)
    orders, next_cursor = store.orders.orders_of(
        contact.id, limit=_page_size(query.get("limit")), cursor=query.get("cursor")
    )
    page = OrderPage(orders=[order_view(order) for order in orders], next_cursor=next_cursor)
    return json_response(200, page.model_dump(mode="json"))


def _notifications(contact_id: str, query: Mapping[str, str], store: Repositories) -> dict[str, Any]:
    """The proactive messages about the contact's orders, newest first, each with the channels tried."""
    contact = known_contact(contact_id, store)
    notifications, next_cursor = store.notifications.notifications_of(
        contact.id, limit=_page_size(query.get("limit")), cursor=query.get("cursor")
    )
    page = NotificationPage(
        notifications=[notification_view(notification) for notification in notifications], next_cursor=next_cursor
    )
    return json_response(200, page.model_dump(mode="json"))


def _get(ticket_id: str, query: Mapping[str, str], store: Repositories, now: datetime) -> dict[str, Any]:
    found = _ticket(ticket_id, store)
    messages, next_cursor = _message_page(found.ticket.id, _page_size(query.get("limit")), None, store)
    answer = {
        "ticket": ticket_json(found.ticket),
        "messages": messages,
        "next_cursor": next_cursor,
        "sla_elapsed_seconds": _sla_elapsed(found.ticket, store, now),
        "requester_orders": _requester_orders(found.ticket, store),
    }
    return json_response(200, answer, {"etag": etag_of(found.version)})


def _requester_orders(ticket: Ticket, store: Repositories) -> list[dict[str, Any]]:
    """The requester's newest orders, so that nobody has to ask the customer for the order number: one Query of
    the ByCustomer index, which holds whole orders (a read unit per 4 KB of them)."""
    orders, _ = store.orders.orders_of(ticket.requester.contact_id, limit=REQUESTER_ORDERS)
    return [order_view(order).model_dump(mode="json") for order in orders]


def _sla_elapsed(ticket: Ticket, store: Repositories, now: datetime) -> dict[str, float]:
    """How long each SLA metric has run as of `now`, in its target's time (the rules are read only for a ticket
    with an SLA, for its schedule)."""
    if ticket.sla is None:
        return {}
    rules = store.sla_rules.current()
    policy = rules.named(ticket.sla.policy)
    return {
        metric.value: elapsed(clock, now, measure_of(rules, policy, clock.business_hours)).total_seconds()
        for metric, clock in ticket.sla.metrics.items()
    }


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
