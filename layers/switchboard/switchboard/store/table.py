"""The one table every repository shares: its keys, item (de)serialization, and the requests themselves.

Repositories (tickets, messages, contacts, held_mail, replay_tokens) speak domain terms and build their items
and expressions; this module is the only one holding the DynamoDB client. The key schema is in the store
package's docstring (switchboard/store/__init__.py), mirrored in docs/data-model.md.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from switchboard.models import ChannelIdentity
from switchboard.store.cursors import MAX_PARTITION_KEY_BYTES, MAX_SORT_KEY_BYTES, CursorShape, FreeKey

# Attributes that exist for keys, indexes and conditions only: never part of a model.
_KEY_ATTRIBUTES = {
    "pk",
    "sk",
    "status_pk",
    "created_pk",
    "created_sk",
    "version",
    "delivery_rank",
    "edit_rank",
    # The ticket's view indexes (store/tickets.py, _view_keys).
    "assignee_pk",
    "assignee_status_pk",
    "group_pk",
    "group_status_pk",
    "requester_pk",
    "close_due_pk",
    "close_due_sk",
    # The SLA indexes: what is due when (store/sla_timers.py), and the tickets by SLA state (store/tickets.py).
    "sla_due_pk",
    "sla_due_sk",
    "sla_state_pk",
    "sla_state_sk",
    # Notifications and orders: what is due when (store/due_index.py), and a contact's orders and notifications.
    "notify_due_pk",
    "notify_due_sk",
    "customer_pk",
    "customer_sk",
    "expires_at",
}
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

# -- keys ---------------------------------------------------------------------------------------

TICKET_SK = "TICKET"
ALL_TICKETS = "TICKETS"
MESSAGE_SK_PREFIX = "MSG#"
AUDIT_SK_PREFIX = "AUDIT#"
COUNTER_KEY = ("COUNTER", "TICKET_NUMBER")

# A key part from a provider (a message id, a Message-ID, a webhook token) is kept as it is up to this many
# characters (at most 2,048 bytes of UTF-8 with its prefix, DynamoDB's partition key limit), else replaced
# by its SHA-256: provider ids are short, but a hostile one must not make the write fail. The one rule for
# every key part that comes from outside.
_MAX_KEY_PART_CHARS = 512


def key_part(text: str) -> str:
    return (
        text if len(text) <= _MAX_KEY_PART_CHARS else hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    )


def key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def ticket_pk(ticket_id: str) -> str:
    return f"TICKET#{ticket_id}"


def readable_ticket_pk(ticket_id: str) -> str | None:
    """The ticket's key for an id from a URL, or None when no ticket of ours can have that id: DynamoDB
    refuses a key past its limit or one UTF-8 cannot encode with a ValidationException, a 500."""
    pk = ticket_pk(ticket_id)
    try:
        return pk if ticket_id and len(pk.encode("utf-8")) <= MAX_PARTITION_KEY_BYTES else None
    except UnicodeEncodeError:
        return None


def message_index_key(channel: str, external_id: str) -> dict[str, Any]:
    return key(f"MESSAGE#{key_part(f'{channel}#{external_id}')}", "MESSAGE")


def conversation_key(conversation: str) -> dict[str, Any]:
    return key(f"CONVERSATION#{conversation}", "CONVERSATION")


def identity_key(identity: ChannelIdentity) -> dict[str, Any]:
    return key(f"IDENTITY#{identity.key}", "IDENTITY")


def phone_key(phone_e164: str) -> dict[str, Any]:
    return key(f"PHONE#{phone_e164}", "PHONE")


def contact_key(contact_id: str) -> dict[str, Any]:
    return key(f"CONTACT#{contact_id}", "CONTACT")


def number_key(number: int) -> dict[str, Any]:
    return key(f"NUMBER#{int(number)}", "NUMBER")


def held_key(external_id: str) -> dict[str, Any]:
    return key(f"HELD#{key_part(external_id)}", "HELD")


def replay_key(provider: str, token: str) -> dict[str, Any]:
    return key(f"REPLAY#{key_part(f'{provider}#{token}')}", "REPLAY")


def key_of(item: dict[str, Any]) -> tuple[str, str]:
    return item["pk"]["S"], item["sk"]["S"]


# -- items --------------------------------------------------------------------------------------


def to_attributes(document: dict[str, Any]) -> dict[str, Any]:
    """A model's JSON document as DynamoDB attributes (None fields left out, floats as Decimal)."""
    return {name: serialize(value) for name, value in document.items() if value is not None}


def serialize(value: Any) -> dict[str, Any]:
    return dict(_serializer.serialize(_dynamo_value(value)))


def _dynamo_value(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _dynamo_value(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_dynamo_value(v) for v in value]
    return value


def from_attributes(item: dict[str, Any]) -> dict[str, Any]:
    """An item's model fields, without its key and index attributes."""
    return {name: _deserializer.deserialize(value) for name, value in item.items() if name not in _KEY_ATTRIBUTES}


# -- requests -----------------------------------------------------------------------------------


class AlreadyStored(Exception):
    """The inbound message is already in the table: a provider or queue redelivery."""


class WriteConflict(Exception):
    """Something we read changed before our write committed; re-read and try again."""


class Table:
    """The table's requests, every read strongly consistent, every conditional write answering whether it held."""

    def __init__(self, dynamodb_client, table_name: str) -> None:
        self._db = dynamodb_client
        self.name = table_name

    def get(self, item_key: dict[str, Any], projection: str | None = None) -> dict[str, Any] | None:
        request: dict[str, Any] = {"TableName": self.name, "Key": item_key, "ConsistentRead": True}
        if projection:
            request["ProjectionExpression"] = projection
        return self._db.get_item(**request).get("Item")

    def get_many(self, keys: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
        """The items found among `keys` (up to 100), by (pk, sk), in one request plus retries of what it left."""
        found: dict[tuple[str, str], dict[str, Any]] = {}
        pending: dict[str, Any] = {self.name: {"Keys": keys, "ConsistentRead": True}}
        while pending:
            response = self._db.batch_get_item(RequestItems=pending)
            for item in response.get("Responses", {}).get(self.name, []):
                found[key_of(item)] = item
            pending = response.get("UnprocessedKeys") or {}
        return found

    def query(self, request: dict[str, Any]) -> dict[str, Any]:
        """One Query page; `request` is everything but the table name."""
        return self._db.query(TableName=self.name, **request)

    def query_page(
        self, request: dict[str, Any], shape: CursorShape, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of a listing's Query from after `cursor` (checked against the listing's shape first), and
        the cursor that continues it, None on the last page."""
        if cursor:
            request = {**request, "ExclusiveStartKey": shape.decode(cursor)}
        response = self.query(request)
        last = response.get("LastEvaluatedKey")
        return response.get("Items", []), shape.encode(last) if last else None

    def partition_page(
        self, pk: str, sk_prefix: str, *, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """The items of one partition whose sort key starts with `sk_prefix`, in sort key order, a page at a time
        (a ticket's timeline, its audits); consistent, so a page shows every write acknowledged before it."""
        request = {
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": pk}, ":prefix": {"S": sk_prefix}},
            "ScanIndexForward": True,
            "ConsistentRead": True,
            "Limit": limit,
        }
        return self.query_page(request, partition_cursor(pk, sk_prefix), cursor)

    def put_if(
        self,
        item: dict[str, Any],
        condition: str,
        values: dict[str, Any] | None = None,
        names: dict[str, str] | None = None,
    ) -> bool:
        """Writes the item if `condition` holds; False when it did not."""
        request: dict[str, Any] = {"TableName": self.name, "Item": item, "ConditionExpression": condition}
        if values:
            request["ExpressionAttributeValues"] = values
        if names:
            request["ExpressionAttributeNames"] = names
        return _unless_condition_fails(lambda: self._db.put_item(**request)) is not None

    def update_if(
        self,
        item_key: dict[str, Any],
        expression: str,
        condition: str,
        *,
        values: dict[str, Any],
        names: dict[str, str] | None = None,
        return_new: bool = False,
    ) -> dict[str, Any] | None:
        """Updates the item if `condition` holds: its attributes after the update (all of them with
        `return_new`, else none), or None when the condition did not hold."""
        request: dict[str, Any] = {
            "TableName": self.name,
            "Key": item_key,
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": values,
        }
        if names:
            request["ExpressionAttributeNames"] = names
        if return_new:
            request["ReturnValues"] = "ALL_NEW"
        response = _unless_condition_fails(lambda: self._db.update_item(**request))
        return None if response is None else response.get("Attributes", {})

    def put_action(self, item: dict[str, Any], condition: str, values: dict[str, Any] | None = None) -> dict[str, Any]:
        """A conditional put, as one action of a transaction."""
        put: dict[str, Any] = {"TableName": self.name, "Item": item, "ConditionExpression": condition}
        if values:
            put["ExpressionAttributeValues"] = values
        return {"Put": put}

    def update_action(
        self, item_key: dict[str, Any], expression: str, condition: str, values: dict[str, Any]
    ) -> dict[str, Any]:
        """A conditional update, as one action of a transaction."""
        return {
            "Update": {
                "TableName": self.name,
                "Key": item_key,
                "UpdateExpression": expression,
                "ConditionExpression": condition,
                "ExpressionAttributeValues": values,
            }
        }

    def transact(self, actions: list[dict[str, Any]], first_is_message_index: bool = True) -> None:
        """Commits all actions or none. For messages the first action is the message index put, so a failed
        condition there means the message is already stored; any other cancellation is a conflict."""
        try:
            self._db.transact_write_items(TransactItems=actions)
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = error.response.get("CancellationReasons") or []
            if first_is_message_index and reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                raise AlreadyStored() from error
            raise WriteConflict(",".join(r.get("Code", "?") for r in reasons)) from error


def partition_cursor(pk: str, sk_prefix: str) -> CursorShape:
    """The cursor of a partition_page listing: the partition fixed, the sort key carried."""
    return CursorShape(fixed={"pk": pk}, free={"sk": FreeKey(sk_prefix, MAX_SORT_KEY_BYTES)})


def _unless_condition_fails[T](write: Callable[[], T]) -> T | None:
    """The conditional write's response, or None when its condition did not hold: the one place a
    ConditionalCheckFailedException is read (a redelivery, an older event, a lost race)."""
    try:
        return write()
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return None
        raise
