"""A ticket's timeline: its messages, found by their provider id through the message index, with what
arrives after them (delivery receipts, edits, fetched attachments) and the agents' paged reads."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from switchboard.models import (
    DELIVERY_STATUS_RANK,
    Attachment,
    AttachmentFetchStatus,
    DeliveryEvent,
    DeliveryStatus,
    Direction,
    TicketMessage,
    sortable_time,
    utc_now,
)
from switchboard.store.table import (
    MESSAGE_SK_PREFIX,
    Table,
    from_attributes,
    key,
    key_of,
    message_index_key,
    partition_cursor,
    readable_ticket_pk,
    serialize,
    ticket_pk,
    to_attributes,
)


@dataclass(frozen=True)
class MessageRef:
    ticket_id: str
    message_sk: str
    direction: Direction


@dataclass(frozen=True)
class DeliveryTarget:
    """What a provider's id for something we sent names: a message on a ticket's timeline (`message`), a proactive
    notification (`notification_id`, store/notifications.py record_sent), or both: a notification with its copy on
    the contact's open ticket. A receipt moves each of them forward."""

    message: MessageRef | None
    notification_id: str | None = None


@dataclass(frozen=True)
class StoredMessage:
    """A message with its key in the ticket's timeline (`message_key`), which reads it again whole."""

    key: str
    message: TicketMessage


@dataclass(frozen=True)
class MessagePage:
    messages: list[StoredMessage]
    next_cursor: str | None


class UnknownMessageKey(ValueError):
    """Not a key a page of messages gave out."""


class MessageRepository:
    def __init__(self, table: Table) -> None:
        self._table = table

    # -- what a message contributes to its ticket's transaction -----------------------------------

    def new_message_actions(self, message: TicketMessage, sequence: int) -> list[dict[str, Any]]:
        """The message index first (its condition failing means the message is already stored: a
        redelivery), then the message in the ticket's timeline."""
        message_sk = _message_sk(message, sequence)
        index_item = {
            **message_index_key(message.channel.value, message.external_id),
            "ticket_id": {"S": message.ticket_id},
            "message_sk": {"S": message_sk},
            "direction": {"S": message.direction.value},
        }
        item = {**key(ticket_pk(message.ticket_id), message_sk), **to_attributes(message.model_dump(mode="json"))}
        if message.delivery_status is not None:
            item["delivery_rank"] = {"N": str(DELIVERY_STATUS_RANK[message.delivery_status])}
        return [
            self._table.put_action(index_item, "attribute_not_exists(pk)"),
            self._table.put_action(item, "attribute_not_exists(pk)"),
        ]

    # -- finding a message by its provider id ---------------------------------------------------

    def message_ref(self, channel: str, external_id: str) -> MessageRef | None:
        """The timeline message a provider's id names; None when none does (a notification sent to a contact with
        no open ticket has an index entry naming the notification only)."""
        item = self._table.get(message_index_key(channel, external_id))
        return _message_ref_of(item) if item else None

    def delivery_target(self, channel: str, external_id: str) -> DeliveryTarget | None:
        """What a receipt for this provider id moves forward: the timeline message, the notification, or both;
        None when we sent nothing by that id."""
        item = self._table.get(message_index_key(channel, external_id))
        if not item:
            return None
        message = _message_ref_of(item)
        notification_id = item["notification_id"]["S"] if "notification_id" in item else None
        if message is None and notification_id is None:
            return None
        return DeliveryTarget(message, notification_id)

    def tickets_of_messages(self, channel: str, external_ids: Iterable[str]) -> dict[str, str]:
        """Which of these messages we hold (received or sent), and the ticket each is on: one request."""
        wanted = list(dict.fromkeys(external_ids))[:100]
        if not wanted:
            return {}
        by_key = {key_of(message_index_key(channel, external_id)): external_id for external_id in wanted}
        found = self._table.get_many([key(pk, sk) for pk, sk in by_key])
        # A notification's mail that no ticket holds is indexed too (its Message-ID names the notification only).
        return {by_key[item_key]: item["ticket_id"]["S"] for item_key, item in found.items() if "ticket_id" in item}

    # -- what arrives after a message -----------------------------------------------------------

    def record_delivery_status(
        self,
        ref: MessageRef,
        status: DeliveryStatus,
        *,
        at: datetime | None = None,
        by: str = "provider",
        error: str | None = None,
    ) -> bool:
        """Moves an outbound message's delivery status forward only, and adds the step to its history (so each
        status is recorded once); False when it already is at or past it. `error` is why it failed, as the
        provider reported it (a bounce), kept as the message's `delivery_error`."""
        rank = DELIVERY_STATUS_RANK[status]
        update = (
            "SET delivery_status = :status, delivery_rank = :rank, "
            "delivery_history = list_append(if_not_exists(delivery_history, :none), :step)"
        )
        values: dict[str, Any] = {
            ":status": {"S": status.value},
            ":rank": {"N": str(rank)},
            ":none": {"L": []},
            ":step": delivery_step(status, at or utc_now(), by),
        }
        if error and status is DeliveryStatus.FAILED:
            update += ", delivery_error = :error"
            values[":error"] = {"S": error}
        elif status is not DeliveryStatus.FAILED:
            # Past `unknown`: the provider had it after all, so the timeout's explanation no longer holds.
            update += " REMOVE delivery_error_code, delivery_error"
        written = self._table.update_if(
            key(ticket_pk(ref.ticket_id), ref.message_sk),
            update,
            "attribute_exists(pk) AND (attribute_not_exists(delivery_rank) OR delivery_rank < :rank)",
            values=values,
        )
        return written is not None

    def record_edit(self, ref: MessageRef, text: str | None, edited_at: datetime) -> bool:
        """Replaces a message's text with its author's later edit, keeping the text as first sent; an older
        edit arriving late never overrides a newer one."""
        item_key = key(ticket_pk(ref.ticket_id), ref.message_sk)
        stored = self._table.get(item_key)
        if stored is None:
            return False
        rank = int(edited_at.timestamp() * 1000)
        if "edit_rank" in stored and int(stored["edit_rank"]["N"]) >= rank:
            return False
        first_text = stored.get("original_text") or stored.get("text") or {"NULL": True}
        values: dict[str, Any] = {
            ":original": first_text,
            ":at": {"S": edited_at.isoformat()},
            ":rank": {"N": str(rank)},
        }
        update = "SET original_text = :original, edited_at = :at, edit_rank = :rank"
        if text is None:
            update += " REMOVE #text"
        else:
            update = update.replace("SET ", "SET #text = :text, ")
            values[":text"] = {"S": text}
        written = self._table.update_if(
            item_key,
            update,
            "attribute_exists(pk) AND (attribute_not_exists(edit_rank) OR edit_rank < :rank)",
            names={"#text": "text"},
            values=values,
        )
        return written is not None

    def outbound_refs_up_to(self, ticket_id: str, moment: datetime) -> list[MessageRef]:
        """Messages we sent on a ticket up to a moment and not yet known read (for read watermarks)."""
        request: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :first AND :last",
            "FilterExpression": "direction = :outbound AND (attribute_not_exists(delivery_rank) OR delivery_rank < :read)",
            "ExpressionAttributeValues": {
                ":pk": {"S": ticket_pk(ticket_id)},
                ":first": {"S": MESSAGE_SK_PREFIX},
                ":last": {"S": f"{MESSAGE_SK_PREFIX}{sortable_time(moment)}#99999999"},
                ":outbound": {"S": Direction.OUTBOUND.value},
                ":read": {"N": str(DELIVERY_STATUS_RANK[DeliveryStatus.READ])},
            },
            "ProjectionExpression": "sk",
            "ConsistentRead": True,
        }
        refs: list[MessageRef] = []
        while True:
            response = self._table.query(request)
            refs.extend(
                MessageRef(ticket_id, item["sk"]["S"], Direction.OUTBOUND) for item in response.get("Items", [])
            )
            if "LastEvaluatedKey" not in response:
                return refs
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    # -- attachments (the media job) ------------------------------------------------------------

    def attachment(self, ref: MessageRef, index: int) -> Attachment | None:
        """One attachment of a stored message as last recorded; None when the message has no such attachment."""
        item = self._table.get(key(ticket_pk(ref.ticket_id), ref.message_sk), projection=f"attachments[{int(index)}]")
        found = from_attributes(item).get("attachments") if item else None
        return Attachment.model_validate(found[0]) if found else None

    def record_attachment(self, ref: MessageRef, index: int, fetched: Attachment) -> bool:
        """Records what the media job learned about attachment `index`: where its bytes are stored and their
        size, type and sha256, or why they are not. False when it is already recorded as stored (a repeated
        job) or the message holds no attachment of that kind at that index."""
        if fetched.fetch_status is None:
            raise ValueError("a fetched attachment says how the fetch went")
        slot = f"attachments[{int(index)}]"
        document = fetched.model_dump(mode="json")
        recorded = {
            name: document[name]
            for name in ("fetch_status", "storage_key", "sha256", "size_bytes", "mime_type")
            if document[name] is not None
        }
        written = self._table.update_if(
            key(ticket_pk(ref.ticket_id), ref.message_sk),
            "SET " + ", ".join(f"{slot}.#{name} = :{name}" for name in recorded),
            f"{slot}.#kind = :kind AND (attribute_not_exists({slot}.#fetch_status) OR {slot}.#fetch_status <> :stored)",
            names={f"#{name}": name for name in [*recorded, "kind"]},
            values={
                **{f":{name}": serialize(value) for name, value in recorded.items()},
                ":kind": {"S": fetched.kind},
                ":stored": {"S": AttachmentFetchStatus.STORED.value},
            },
        )
        return written is not None

    # -- agent reads ----------------------------------------------------------------------------

    def message_page(self, ticket_id: str, *, limit: int, cursor: str | None) -> MessagePage:
        """A ticket's timeline oldest first, `limit` messages at most (fewer when they pass DynamoDB's 1 MB
        per Query), from after `cursor`. One Query on the ticket's partition."""
        pk = readable_ticket_pk(ticket_id)
        if pk is None:
            return MessagePage(messages=[], next_cursor=None)
        items, next_cursor = self._table.partition_page(pk, MESSAGE_SK_PREFIX, limit=limit, cursor=cursor)
        return MessagePage(
            [
                StoredMessage(message_key(item["sk"]["S"]), TicketMessage.model_validate(from_attributes(item)))
                for item in items
            ],
            next_cursor,
        )

    def latest_messages(self, ticket_id: str, *, limit: int) -> list[TicketMessage]:
        """A ticket's newest messages, newest first: one Query (what a mail reply quotes and answers)."""
        request: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": ticket_pk(ticket_id)}, ":prefix": {"S": MESSAGE_SK_PREFIX}},
            "ScanIndexForward": False,
            "ConsistentRead": True,
            "Limit": limit,
        }
        return [
            TicketMessage.model_validate(from_attributes(item)) for item in self._table.query(request).get("Items", [])
        ]

    def latest_customer_mail(self, ticket_id: str, *, max_pages: int = 20) -> TicketMessage | None:
        """The newest mail the customer sent on a ticket (what a mail reply answers), looking back a page of 25
        at a time and at most `max_pages` pages: bounded, however long the ticket."""
        request: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "FilterExpression": "direction = :inbound AND attribute_exists(email)",
            "ExpressionAttributeValues": {
                ":pk": {"S": ticket_pk(ticket_id)},
                ":prefix": {"S": MESSAGE_SK_PREFIX},
                ":inbound": {"S": Direction.INBOUND.value},
            },
            "ScanIndexForward": False,
            "ConsistentRead": True,
            "Limit": 25,
        }
        for _ in range(max_pages):
            response = self._table.query(request)
            for item in response.get("Items", []):
                return TicketMessage.model_validate(from_attributes(item))
            if "LastEvaluatedKey" not in response:
                return None
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return None

    def message_cursor(self, ticket_id: str, message: str) -> str:
        """The cursor of a ticket's timeline that continues after the message keyed `message`."""
        pk = ticket_pk(ticket_id)
        return partition_cursor(pk, MESSAGE_SK_PREFIX).encode({"pk": pk, "sk": message_sk_of_key(message)})

    def stored_message(self, ref: MessageRef) -> StoredMessage | None:
        """The message a message index entry points at, with its key in the timeline."""
        item = self._table.get(key(ticket_pk(ref.ticket_id), ref.message_sk))
        if item is None:
            return None
        return StoredMessage(message_key(ref.message_sk), TicketMessage.model_validate(from_attributes(item)))

    def message(self, ticket_id: str, message: str) -> TicketMessage | None:
        """One message of a ticket's timeline, whole, by the key its page gave it; None if there is none."""
        pk, sk = readable_ticket_pk(ticket_id), message_sk_of_key(message)
        if pk is None:
            return None
        item = self._table.get(key(pk, sk))
        return TicketMessage.model_validate(from_attributes(item)) if item else None


def _message_ref_of(index_item: dict[str, Any]) -> MessageRef | None:
    """The timeline message a message index entry points at, if it points at one. A notification's entry has no
    direction of its own: what it names on a ticket is the copy we sent."""
    if "ticket_id" not in index_item or "message_sk" not in index_item:
        return None
    direction = Direction(index_item["direction"]["S"]) if "direction" in index_item else Direction.OUTBOUND
    return MessageRef(index_item["ticket_id"]["S"], index_item["message_sk"]["S"], direction)


def delivery_step(status: DeliveryStatus, at: datetime, by: str) -> dict[str, Any]:
    """One entry of a message's delivery history, as an attribute value to append."""
    return {"L": [serialize(DeliveryEvent(status=status, at=at, by=by).model_dump(mode="json"))]}


def _message_sk(message: TicketMessage, sequence: int) -> str:
    # Provider time first (customers' order), then arrival sequence to order same-second messages.
    return f"{MESSAGE_SK_PREFIX}{sortable_time(message.created_at)}#{sequence:08d}"


def timeline_key(message: TicketMessage, sequence: int) -> str:
    """The key (as the API gives it) of a message appended as the ticket's `sequence`-th."""
    return message_key(_message_sk(message, sequence))


# A message's key in the API is its sort key without "MSG#", '#' spelled '.' so that it sits in a URL path
# unquoted: "2025-06-08T21:00:00.000000Z.00000003" (sent at, then arrival sequence).
_MESSAGE_KEY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z\.[0-9]{8}")


def message_key(sk: str) -> str:
    time, _, sequence = sk.removeprefix(MESSAGE_SK_PREFIX).rpartition("#")
    return f"{time}.{sequence}"


def message_sk_of_key(message: str) -> str:
    if not _MESSAGE_KEY.fullmatch(message):
        raise UnknownMessageKey(message[:64])
    return f"{MESSAGE_SK_PREFIX}{message[:-9]}#{message[-8:]}"
