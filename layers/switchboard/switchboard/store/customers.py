"""ByCustomer: a contact's orders and notifications, newest first. Both item kinds carry customer_pk =
CUSTOMER#<contact_id> and a customer_sk starting with their kind ("ORDER#...", "NOTIFY#..."), so one listing reads
either (store/orders.py orders_of, store/notifications.py notifications_of)."""

from __future__ import annotations

from typing import Any

from switchboard.store.cursors import MAX_PARTITION_KEY_BYTES, MAX_SORT_KEY_BYTES, CursorShape, FreeKey
from switchboard.store.table import Table

INDEX = "ByCustomer"
MAX_CONTACT_ID_CHARS = 128


def customer_pk(contact_id: str) -> str:
    return f"CUSTOMER#{contact_id}"


def customer_items(
    table: Table, contact_id: str, item_sk: str, *, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of a contact's items of one kind (`item_sk`: ORDER or NOTIFY), newest first."""
    if not contact_id or len(contact_id) > MAX_CONTACT_ID_CHARS:
        return [], None  # no contact of ours has such an id; DynamoDB would refuse a key past its limit
    partition = customer_pk(contact_id)
    request = {
        "IndexName": INDEX,
        "KeyConditionExpression": "customer_pk = :customer AND begins_with(customer_sk, :kind)",
        "ExpressionAttributeValues": {":customer": {"S": partition}, ":kind": {"S": f"{item_sk}#"}},
        "ScanIndexForward": False,
        "Limit": limit,
    }
    return table.query_page(request, customer_cursor(partition, item_sk), cursor)


def customer_cursor(partition: str, item_sk: str) -> CursorShape:
    """A ByCustomer listing's cursor: the customer's partition and the items' sort key fixed; their pk and index sort
    key, both starting with the kind ("ORDER#", "NOTIFY#"), carried."""
    kind = f"{item_sk}#"
    return CursorShape(
        fixed={"customer_pk": partition, "sk": item_sk},
        free={"pk": FreeKey(kind, MAX_PARTITION_KEY_BYTES), "customer_sk": FreeKey(kind, MAX_SORT_KEY_BYTES)},
    )
