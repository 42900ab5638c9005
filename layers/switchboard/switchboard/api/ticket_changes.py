"""Agents change a ticket: PATCH /tickets/{ticket_id} sets its status, priority, assignee, group and tags.

    PATCH /tickets/{ticket_id}    If-Match: "<ETag from GET /tickets/{ticket_id}>"
    {"status": "pending", "priority": "high", "assignee_id": "<sub>", "group_id": null, "tags": ["vip"]}

Two agents working one ticket must not overwrite each other silently, so a change names the version it was
made on (RFC 9110 §13.1.1 If-Match): without If-Match the answer is 428 (RFC 6585 §3), and when the ticket
moved on since, 412 with the ticket as it now is and its ETag, to look at and try again. What an agent may
change, and how a status may move, is tickets/changes.py. Each change is recorded once, with the agent and
the time, as an audit (GET /tickets/{ticket_id}/audits), in the same write as the ticket.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from switchboard.api.agents import Role, caller_of
from switchboard.api.representation import etag_of, json_body, ticket_json, version_named
from switchboard.config import AccessSettings
from switchboard.errors import NotFound, SwitchboardError
from switchboard.http import error_response, json_response
from switchboard.models import utc_now
from switchboard.observability import logger, metrics
from switchboard.sla.clocks import track
from switchboard.store.repositories import Repositories
from switchboard.store.table import WriteConflict
from switchboard.store.tickets import VersionedTicket
from switchboard.tickets.changes import TicketChange, apply_change

# A change is a handful of short fields; anything longer is not one.
MAX_BODY_BYTES = 16 * 1024


class PreconditionRequired(SwitchboardError):
    status_code = 428
    code = "precondition_required"


def handle_ticket_change(
    event: Mapping[str, Any],
    *,
    store: Repositories,
    access: AccessSettings,
    clock: Callable[[], datetime] = utc_now,
) -> dict[str, Any]:
    try:
        agent = caller_of(event, access).require(Role.AGENT)
        ticket_id = (event.get("pathParameters") or {}).get("ticket_id", "")
        change = json_body(event, TicketChange, max_bytes=MAX_BODY_BYTES, expected="a ticket change")
        if_match = _header(event, "if-match")
        if if_match is None:
            raise PreconditionRequired('send If-Match with the ETag that reading the ticket gave, e.g. If-Match: "3"')
        current = store.tickets.ticket_record(ticket_id)
        if current is None:
            raise NotFound(f"ticket {ticket_id[:200]!r} does not exist")
        if version_named(if_match) != current.version:
            return _stale(current)
        now = clock()
        after, audit = apply_change(current.ticket, change, actor_id=agent.subject, at=now, version=current.version + 1)
        if audit is None:
            return json_response(200, {"ticket": ticket_json(current.ticket), "audit": None}, _etag(current.version))
        after = track(current.ticket, after, at=now, rules=store.sla_rules.current())
        try:
            store.tickets.change_ticket(current=current, ticket_after=after, audit=audit)
        except WriteConflict:
            # Another change (an agent's, or a customer's message moving the status) committed first.
            latest = store.tickets.ticket_record(ticket_id)
            if latest is None:  # pragma: no cover - tickets are never deleted
                raise NotFound(f"ticket {ticket_id[:200]!r} does not exist") from None
            return _stale(latest)
        logger.info(
            "ticket changed", extra={"fields": [c.field for c in audit.changes], "version": audit.ticket_version}
        )
        metrics.add_metric(name="TicketChanged", unit="Count", value=1)
        return json_response(
            200, {"ticket": ticket_json(after), "audit": audit.model_dump(mode="json")}, _etag(audit.ticket_version)
        )
    except SwitchboardError as error:
        return error_response(error)


def _header(event: Mapping[str, Any], name: str) -> str | None:
    value = (event.get("headers") or {}).get(name)
    return value.strip() if isinstance(value, str) else None


def _stale(current: VersionedTicket) -> dict[str, Any]:
    return json_response(
        412,
        {
            "error": "precondition_failed",
            "message": "the ticket changed since that ETag; here it is as it now is",
            "ticket": ticket_json(current.ticket),
        },
        _etag(current.version),
    )


def _etag(version: int) -> dict[str, str]:
    return {"etag": etag_of(version)}
