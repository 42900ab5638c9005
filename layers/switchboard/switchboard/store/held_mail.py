"""Held mail: mail kept out of tickets (automatic replies, bulk and unthreaded mail) until an admin releases it,
as Zendesk's suspended tickets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from switchboard.models import HeldMail, MailHandling, sortable_time
from switchboard.store.cursors import MAX_PARTITION_KEY_BYTES, MAX_SORT_KEY_BYTES, CursorShape, FreeKey
from switchboard.store.table import Table, from_attributes, held_key, to_attributes


@dataclass(frozen=True)
class HeldMailPage:
    held: list[HeldMail]
    next_cursor: str | None


class HeldMailRepository:
    def __init__(self, table: Table) -> None:
        self._table = table

    def hold_mail(self, held: HeldMail) -> bool:
        """Keeps a mail out of tickets for review; False when it is already held (a redelivery)."""
        item = {
            **held_key(held.external_id),
            "status_pk": {"S": f"HELD#{held.handling.value}"},
            "created_sk": {"S": f"{sortable_time(held.received_at)}#{held.external_id[:200]}"},
            **to_attributes(held.model_dump(mode="json")),
        }
        return self._table.put_if(item, "attribute_not_exists(pk)")

    def list_held_mail(self, *, handling: MailHandling, limit: int, cursor: str | None) -> HeldMailPage:
        """Held mail of one kind, newest first (Zendesk's suspended tickets): one Query on ByStatus."""
        key_value = f"HELD#{handling.value}"
        shape = CursorShape(
            fixed={"status_pk": key_value, "sk": "HELD"},
            free={"pk": FreeKey("HELD#", MAX_PARTITION_KEY_BYTES), "created_sk": FreeKey("", MAX_SORT_KEY_BYTES)},
        )
        request: dict[str, Any] = {
            "IndexName": "ByStatus",
            "KeyConditionExpression": "status_pk = :v",
            "ExpressionAttributeValues": {":v": {"S": key_value}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        items, next_cursor = self._table.query_page(request, shape, cursor)
        return HeldMailPage([HeldMail.model_validate(from_attributes(item)) for item in items], next_cursor)

    def held_mail(self, external_id: str) -> HeldMail | None:
        item = self._table.get(held_key(external_id))
        return HeldMail.model_validate(from_attributes(item)) if item else None

    def mark_held_mail_released(self, external_id: str, released_by: str, at: datetime) -> HeldMail | None:
        """Records that an agent released a held mail and takes it off the held listing (its ByStatus keys
        go), and returns it so; None when it was already released, whose first release then stands."""
        released = self._table.update_if(
            held_key(external_id),
            "SET released_at = :at, released_by = :by REMOVE status_pk, created_sk",
            "attribute_exists(pk) AND attribute_not_exists(released_at)",
            values={":at": {"S": at.isoformat().replace("+00:00", "Z")}, ":by": {"S": released_by}},
            return_new=True,
        )
        return None if released is None else HeldMail.model_validate(from_attributes(released))
