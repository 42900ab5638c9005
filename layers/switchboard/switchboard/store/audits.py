"""Ticket audits: every change an agent makes to a ticket, once each, in the ticket's partition beside its
timeline, keyed by the ticket version the change made (so a retried write cannot record it twice)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from switchboard.models import TicketAudit
from switchboard.store.table import (
    AUDIT_SK_PREFIX,
    Table,
    from_attributes,
    key,
    readable_ticket_pk,
    ticket_pk,
    to_attributes,
)


@dataclass(frozen=True)
class AuditPage:
    audits: list[TicketAudit]
    next_cursor: str | None


class AuditRepository:
    def __init__(self, table: Table) -> None:
        self._table = table

    def new_audit_actions(self, audit: TicketAudit) -> list[dict[str, Any]]:
        """The audit, written once, as its part of the ticket's change transaction."""
        item = {
            **key(ticket_pk(audit.ticket_id), _audit_sk(audit.ticket_version)),
            **to_attributes(audit.model_dump(mode="json")),
        }
        return [self._table.put_action(item, "attribute_not_exists(pk)")]

    def audit_page(self, ticket_id: str, *, limit: int, cursor: str | None) -> AuditPage:
        """A ticket's audits oldest first, `limit` at most, from after `cursor`: one Query on its partition."""
        pk = readable_ticket_pk(ticket_id)
        if pk is None:
            return AuditPage(audits=[], next_cursor=None)
        items, next_cursor = self._table.partition_page(pk, AUDIT_SK_PREFIX, limit=limit, cursor=cursor)
        return AuditPage([TicketAudit.model_validate(from_attributes(item)) for item in items], next_cursor)


def _audit_sk(version: int) -> str:
    return f"{AUDIT_SK_PREFIX}{version:010d}"
