"""Orders as Switchboard last knew them, and the record of each shop event processed (exactly once).

| item               | pk                                  | sk         | index keys |
|--------------------|-------------------------------------|------------|------------|
| order event record | ORDEREVENT#<key_part(dedup_key)>    | ORDEREVENT | (TTL: expires_at, 30 days after it was processed) |
| order              | ORDER#<order_part(order_key)>       | ORDER      | ByCustomer: customer_pk = CUSTOMER#<contact_id>, customer_sk = ORDER#<placed at, else first seen>#<order_part(order_key)>; ByNotifyDue while a delay timer runs |

An event is processed in ONE transaction whose first action puts its record (attribute_not_exists): a redelivered or
replayed event fails it and changes nothing (AlreadyStored). The order is written on the version read (`version`,
optimistic), so two events of one order never overwrite each other unseen; with it go the contact's claims and the
notification the event causes (store/contacts.py, store/notifications.py). The order's delay timer (the earliest
watched promised delivery date plus the grace, orders/state.py delay_due_at) is an index key of the order itself in
ByNotifyDue (store/due_index.py), written by the same conditional write, so it can never disagree with the order.

Shop events are retried for hours (Shopify: 8 times over 4 hours), so a record kept 30 days catches every retry.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from switchboard.models import sortable_time
from switchboard.orders.events import OrderEvent
from switchboard.orders.state import OrderState
from switchboard.store.customers import customer_items, customer_pk
from switchboard.store.due_index import DueKeys
from switchboard.store.table import Table, from_attributes, key, key_part, to_attributes

ORDER_SK = "ORDER"
EVENT_SK = "ORDEREVENT"
EVENT_RECORD_DAYS = 30
_NOTIFY_DUE = DueKeys()
# The order's key part also goes into index sort keys (ByNotifyDue's "<due>#<pk>", ByCustomer's), which DynamoDB caps
# at 1,024 bytes ("Service, account, and table quotas in Amazon DynamoDB", sort key length): a shop and an order id
# in a script of 3-byte characters could pass that while under key_part's 512 characters.
_MAX_ORDER_PART_BYTES = 600


def order_part(order_key: str) -> str:
    """The order's key as a key part: key_part's, and its SHA-256 when its UTF-8 is longer than an index sort key
    can carry."""
    part = key_part(order_key)
    if len(part.encode("utf-8", "surrogatepass")) <= _MAX_ORDER_PART_BYTES:
        return part
    return hashlib.sha256(order_key.encode("utf-8", "surrogatepass")).hexdigest()


def order_pk(order_key: str) -> str:
    return f"ORDER#{order_part(order_key)}"


def event_key(dedup_key: str) -> dict[str, Any]:
    return key(f"ORDEREVENT#{key_part(dedup_key)}", EVENT_SK)


class OrderRepository:
    def __init__(self, table: Table) -> None:
        self._table = table

    # -- reads ----------------------------------------------------------------------------------

    def event_seen(self, dedup_key: str) -> bool:
        """Whether this event was processed already (the intake answers a duplicate without queueing it again)."""
        return self._table.get(event_key(dedup_key), projection="pk") is not None

    def order(self, order_key: str) -> OrderState | None:
        """The order as last recorded, with the version a write must still find."""
        return self.order_at(order_pk(order_key))

    def order_at(self, pk: str) -> OrderState | None:
        """The order stored under `pk` (as the due index names it)."""
        item = self._table.get(key(pk, ORDER_SK))
        return _order_of(item) if item else None

    def orders_of(
        self, contact_id: str, *, limit: int = 20, cursor: str | None = None
    ) -> tuple[list[OrderState], str | None]:
        """A contact's orders, newest first (by when placed, else first seen), a page at a time (ByCustomer)."""
        items, next_cursor = customer_items(self._table, contact_id, ORDER_SK, limit=limit, cursor=cursor)
        return [_order_of(item) for item in items], next_cursor

    # -- writes ---------------------------------------------------------------------------------

    def record_event(
        self,
        event: OrderEvent,
        *,
        order: OrderState,
        seen_version: int,
        delay_due_at: datetime | None,
        written_at: datetime,
        notification_id: str | None,
        also: list[dict[str, Any]],
    ) -> OrderState:
        """Records a processed event, all or nothing: its record first (AlreadyStored when it was processed
        already), the order on the version read (0: not stored yet; WriteConflict when it moved on), and `also`
        (the contact's claims, the notification). The order as stored, with its new version."""
        stored = order.model_copy(update={"version": seen_version + 1})
        record = {
            **event_key(event.dedup_key),
            "order_key": {"S": event.order_key},
            "event_type": {"S": event.type.value},
            "occurred_at": {"S": sortable_time(event.occurred_at)},
            "processed_at": {"S": sortable_time(written_at)},
            "expires_at": {"N": str(int((written_at + timedelta(days=EVENT_RECORD_DAYS)).timestamp()))},
        }
        if notification_id is not None:
            record["notification_id"] = {"S": notification_id}
        actions = [
            self._table.put_action(record, "attribute_not_exists(pk)"),
            self._save_action(stored, seen_version, delay_due_at, written_at),
            *also,
        ]
        # The first action is the event's record: its condition failing means a redelivery (AlreadyStored).
        self._table.transact(actions, first_is_message_index=True)
        return stored

    def save_order(
        self,
        order: OrderState,
        *,
        seen_version: int,
        delay_due_at: datetime | None,
        written_at: datetime,
        also: list[dict[str, Any]],
    ) -> OrderState:
        """Writes the order on the version read (WriteConflict when it moved on) with `also` (the delay apology),
        all or nothing. The order as stored, with its new version."""
        stored = order.model_copy(update={"version": seen_version + 1})
        self._table.transact(
            [self._save_action(stored, seen_version, delay_due_at, written_at), *also], first_is_message_index=False
        )
        return stored

    def _save_action(
        self, order: OrderState, seen_version: int, delay_due_at: datetime | None, written_at: datetime
    ) -> dict[str, Any]:
        item = _order_item(order, delay_due_at, written_at)
        if seen_version == 0:
            return self._table.put_action(item, "attribute_not_exists(pk)")
        return self._table.put_action(item, "version = :seen", {":seen": {"N": str(seen_version)}})


def _order_item(order: OrderState, delay_due_at: datetime | None, written_at: datetime) -> dict[str, Any]:
    pk = order_pk(order.order_key)
    document = order.model_dump(mode="json", exclude={"version"})
    item: dict[str, Any] = {
        **key(pk, ORDER_SK),
        "version": {"N": str(order.version)},
        **to_attributes(document),
        **_NOTIFY_DUE.due_keys(pk, delay_due_at, written_at),
    }
    if order.contact_id is not None:
        placed = order.placed_at or order.first_seen_at
        item["customer_pk"] = {"S": customer_pk(order.contact_id)}
        item["customer_sk"] = {"S": f"ORDER#{sortable_time(placed)}#{order_part(order.order_key)}"}
    return item


def _order_of(item: dict[str, Any]) -> OrderState:
    return OrderState.model_validate({**from_attributes(item), "version": int(item["version"]["N"])})
