"""The tickets table: one DynamoDB table holds contacts, tickets and their timelines.

| item           | pk                              | sk                   | index keys                                   | serves                                   |
|----------------|---------------------------------|----------------------|----------------------------------------------|------------------------------------------|
| ticket         | TICKET#<ticket_id>              | TICKET               | ByStatus: status_pk=STATUS#<s>, created_sk   | get a ticket; list by status, newest first |
|                |                                 |                      | ByCreated: created_pk=TICKETS, created_sk    | list all tickets, newest first           |
| message        | TICKET#<ticket_id>              | MSG#<sent at>#<seq>  |                                              | a ticket's timeline, paged; one message  |
| message index  | MESSAGE#<channel>#<external id> | MESSAGE              |                                              | exactly-once append; receipts -> message |
| conversation   | CONVERSATION#<conversation key> | CONVERSATION         |                                              | the current ticket of a conversation     |
| identity       | IDENTITY#<identity key>         | IDENTITY             |                                              | channel identity -> contact              |
| phone          | PHONE#<E.164 number>            | PHONE                |                                              | verified phone -> contact, across channels |
| contact        | CONTACT#<contact_id>            | CONTACT              |                                              | a contact with all its identities        |
| ticket counter | COUNTER                         | TICKET_NUMBER        |                                              | gapless human-friendly ticket numbers    |
| ticket number  | NUMBER#<number>                 | NUMBER               |                                              | ticket number -> ticket ([#123] in a subject) |
| held mail      | HELD#<external id>              | HELD                 | ByStatus: status_pk=HELD#<handling>, created_sk | mail kept out of tickets, newest first (until released) |
| replay token   | REPLAY#<provider>#<token>       | REPLAY               |                                              | a signed webhook token is used once (TTL) |

created_sk is "<created at, fixed-width UTC>#<ticket_id>" (for held mail, "#<external id>"). Email
messages use the message index with the channel "email" and the normalized Message-ID as external id,
which is also how replies find their ticket (In-Reply-To/References). A message's `attachments` list keeps the
webhook's order; the media job finds the message through its message index and sets `storage_key`,
`sha256`, `size_bytes`, `mime_type` and `fetch_status` on `attachments[<index>]`. Every write that must not happen twice is
conditional and the writes of one inbound message commit in one transaction, so a crash between
calls leaves nothing half-written. Mirrored in docs/data-model.md.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from switchboard.models import (
    DELIVERY_STATUS_RANK,
    MAX_CONTACT_FOLLOWS,
    MAX_CONTACT_IDENTITIES,
    Attachment,
    AttachmentFetchStatus,
    ChannelIdentity,
    Contact,
    DeliveryStatus,
    Direction,
    HeldMail,
    MailHandling,
    Ticket,
    TicketMessage,
    TicketStatus,
    sortable_time,
)
from switchboard.store.cursors import MAX_PARTITION_KEY_BYTES, MAX_SORT_KEY_BYTES, CursorShape, FreeKey

_KEY_ATTRIBUTES = {"pk", "sk", "status_pk", "created_pk", "created_sk", "version", "delivery_rank", "edit_rank"}
_TICKET_SK = "TICKET"
_ALL_TICKETS = "TICKETS"
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class AlreadyStored(Exception):
    """The inbound message is already in the table: a provider or queue redelivery."""


class WriteConflict(Exception):
    """Something we read changed before our write committed; re-read and try again."""


@dataclass(frozen=True)
class VersionedTicket:
    """A ticket as read, with the version a conditional write must still find to succeed."""

    ticket: Ticket
    version: int


@dataclass(frozen=True)
class MessageRef:
    ticket_id: str
    message_sk: str
    direction: Direction


@dataclass(frozen=True)
class RequesterLookup:
    """Who a new ticket's requester is: a contact found by identity, one found by verified phone, or nobody yet."""

    contact_id: str | None
    found_by_phone: bool
    next_number: int


@dataclass(frozen=True)
class IdentityLink:
    """A new channel identity joining a contact found by its verified phone number; `listed` while the
    contact's identities list has room."""

    contact_id: str
    identity: ChannelIdentity
    listed: bool = True


@dataclass(frozen=True)
class HeldMailPage:
    held: list[HeldMail]
    next_cursor: str | None


@dataclass(frozen=True)
class TicketPage:
    tickets: list[Ticket]
    next_cursor: str | None


@dataclass(frozen=True)
class StoredMessage:
    """A message with its key in the ticket's timeline (`message_key`), which reads it again whole."""

    key: str
    message: TicketMessage


@dataclass(frozen=True)
class MessagePage:
    messages: list[StoredMessage]
    next_cursor: str | None


def _ticket_pk(ticket_id: str) -> str:
    return f"TICKET#{ticket_id}"


def _readable_ticket_pk(ticket_id: str) -> str | None:
    """The ticket's key for an id from a URL, or None when no ticket of ours can have that id: DynamoDB
    refuses a key past its limit or one UTF-8 cannot encode with a ValidationException, a 500."""
    pk = _ticket_pk(ticket_id)
    try:
        return pk if ticket_id and len(pk.encode("utf-8")) <= MAX_PARTITION_KEY_BYTES else None
    except UnicodeEncodeError:
        return None


# A key part from a provider (a message id, a Message-ID, a webhook token) is kept as it is up to this many
# characters (at most 2,048 bytes of UTF-8 with its prefix, DynamoDB's partition key limit), else replaced
# by its SHA-256: provider ids are short, but a hostile one must not make the write fail.
_MAX_KEY_PART_CHARS = 512


def _key_part(text: str) -> str:
    return (
        text if len(text) <= _MAX_KEY_PART_CHARS else hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    )


def _message_index_pk(channel: str, external_id: str) -> str:
    return f"MESSAGE#{_key_part(f'{channel}#{external_id}')}"


def _held_pk(external_id: str) -> str:
    return f"HELD#{_key_part(external_id)}"


def _unless_condition_fails[T](write: Callable[[], T]) -> T | None:
    """The conditional write's response, or None when its condition did not hold: the one place a
    ConditionalCheckFailedException is read (a redelivery, an older event, a lost race)."""
    try:
        return write()
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return None
        raise


def _message_sk(message: TicketMessage, sequence: int) -> str:
    # Provider time first (customers' order), then arrival sequence to order same-second messages.
    return f"MSG#{sortable_time(message.created_at)}#{sequence:08d}"


def _to_attributes(document: dict[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(_dynamo_value(value)) for key, value in document.items() if value is not None}


def _dynamo_value(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _dynamo_value(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_dynamo_value(v) for v in value]
    return value


def _from_attributes(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in item.items() if key not in _KEY_ATTRIBUTES}


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


class TicketStore:
    def __init__(self, dynamodb_client, table_name: str) -> None:
        self._db = dynamodb_client
        self._table = table_name

    # -- inbound writes -------------------------------------------------------------------------

    def current_ticket_id(self, conversation_key: str) -> str | None:
        item = self._get(_key(f"CONVERSATION#{conversation_key}", "CONVERSATION"))
        return item["ticket_id"]["S"] if item else None

    def ticket(self, ticket_id: str) -> VersionedTicket | None:
        item = self._get(_key(_ticket_pk(ticket_id), _TICKET_SK))
        return VersionedTicket(_ticket_of(item), int(item["version"]["N"])) if item else None

    def contact_and_next_number(self, identity: ChannelIdentity, phone_e164: str | None = None) -> RequesterLookup:
        """The contact known for this identity, else for this verified phone number, and the next free
        ticket number, in one request. Display names never identify anyone: two customers share names."""
        keys = [_key(f"IDENTITY#{identity.key}", "IDENTITY"), _key("COUNTER", "TICKET_NUMBER")]
        if phone_e164:
            keys.append(_key(f"PHONE#{phone_e164}", "PHONE"))
        found = self._batch_get(keys)
        by_identity = found.get(("IDENTITY#" + identity.key, "IDENTITY"))
        by_phone = found.get((f"PHONE#{phone_e164}", "PHONE")) if phone_e164 else None
        number = self._next_number(found.get(("COUNTER", "TICKET_NUMBER")))
        if by_identity:
            return RequesterLookup(by_identity["contact_id"]["S"], False, number)
        if by_phone:
            return RequesterLookup(by_phone["contact_id"]["S"], True, number)
        return RequesterLookup(None, False, number)

    def contact_id_for(self, identity: ChannelIdentity) -> str | None:
        item = self._get(_key(f"IDENTITY#{identity.key}", "IDENTITY"))
        return item["contact_id"]["S"] if item else None

    def create_contact(self, contact: Contact) -> None:
        """Records a contact before any ticket (someone who followed the account); WriteConflict if their
        identity or phone number was claimed meanwhile (the caller re-reads)."""
        self._transact(self._contact_actions(contact), first_is_message_index=False)

    def record_follow(self, contact_id: str, identity: ChannelIdentity, following: bool, at: datetime) -> bool:
        """Sets whether the contact follows the account on that identity; an older event never overrides a newer
        one, and a contact already recording MAX_CONTACT_FOLLOWS identities records no further one (False)."""
        moment = sortable_time(at)
        written = _unless_condition_fails(
            lambda: self._db.update_item(
                TableName=self._table,
                Key=_key(f"CONTACT#{contact_id}", "CONTACT"),
                UpdateExpression="SET follows.#identity = :state",
                # A new identity is recorded only while the map has room (MAX_CONTACT_FOLLOWS).
                ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(follows.#identity) AND size(follows) < :max"
                " OR follows.#identity.changed_at < :at)",
                ExpressionAttributeNames={"#identity": identity.key},
                ExpressionAttributeValues={
                    ":state": {"M": {"following": {"BOOL": following}, "changed_at": {"S": moment}}},
                    ":at": {"S": moment},
                    ":max": {"N": str(MAX_CONTACT_FOLLOWS)},
                },
            )
        )
        return written is not None

    def next_ticket_number(self) -> int:
        return self._next_number(self._get(_key("COUNTER", "TICKET_NUMBER")))

    def open_ticket_for(
        self,
        *,
        ticket: Ticket,
        first_message: TicketMessage,
        new_contact: Contact | None,
        follows_up: Ticket | None,
        link_identity: IdentityLink | None = None,
    ) -> None:
        """Creates a ticket with its first message, its number, and (if new) its contact, all or nothing.

        `link_identity` adds a new channel identity to a contact found by phone.

        `follows_up` is the closed ticket the conversation moves on from; otherwise this is the
        conversation's first ticket. Raises AlreadyStored on redelivery, WriteConflict if another
        writer got there first (the caller re-reads and appends instead).
        """
        conversation_key = _key(f"CONVERSATION#{ticket.conversation_key}", "CONVERSATION")
        actions: list[dict[str, Any]] = [
            self._message_index_put(first_message, _message_sk(first_message, 1)),
            self._put(self._message_item(first_message, 1), "attribute_not_exists(pk)"),
            self._put(self._ticket_item(ticket, version=1), "attribute_not_exists(pk)"),
            self._counter_claim(ticket.number),
            self._put(
                {**_key(f"NUMBER#{ticket.number}", "NUMBER"), "ticket_id": {"S": ticket.id}}, "attribute_not_exists(pk)"
            ),
        ]
        if follows_up is None:
            actions.append(self._put({**conversation_key, "ticket_id": {"S": ticket.id}}, "attribute_not_exists(pk)"))
        else:
            actions.append(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": conversation_key,
                        "UpdateExpression": "SET ticket_id = :new",
                        "ConditionExpression": "ticket_id = :closed",
                        "ExpressionAttributeValues": {":new": {"S": ticket.id}, ":closed": {"S": follows_up.id}},
                    }
                }
            )
        if new_contact is not None:
            actions.extend(self._contact_actions(new_contact))
        if link_identity is not None:
            actions.extend(self._link_actions(link_identity))
        self._transact(actions)

    def _contact_actions(self, contact: Contact) -> list[dict[str, Any]]:
        actions = [
            self._put(
                {**_key(f"IDENTITY#{identity.key}", "IDENTITY"), "contact_id": {"S": contact.id}},
                "attribute_not_exists(pk)",
            )
            for identity in contact.identities
        ]
        if contact.phone_e164:
            # Claimed once: a second contact with the same verified number would split one customer in two.
            actions.append(
                self._put(
                    {**_key(f"PHONE#{contact.phone_e164}", "PHONE"), "contact_id": {"S": contact.id}},
                    "attribute_not_exists(pk)",
                )
            )
        contact_item = {**_key(f"CONTACT#{contact.id}", "CONTACT"), **_to_attributes(contact.model_dump(mode="json"))}
        actions.append(self._put(contact_item, "attribute_not_exists(pk)"))
        return actions

    def _link_actions(self, link: IdentityLink) -> list[dict[str, Any]]:
        """The identity resolves to the contact from now on; it is also listed on the contact while the
        list has room (MAX_CONTACT_IDENTITIES). The list is checked again here: when a concurrent link
        filled it since the writer read it, the transaction conflicts and the writer re-reads."""
        actions: list[dict[str, Any]] = [
            self._put(
                {**_key(f"IDENTITY#{link.identity.key}", "IDENTITY"), "contact_id": {"S": link.contact_id}},
                "attribute_not_exists(pk)",
            )
        ]
        if link.listed:
            actions.append(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": _key(f"CONTACT#{link.contact_id}", "CONTACT"),
                        "UpdateExpression": "SET identities = list_append(identities, :identity)",
                        "ConditionExpression": "attribute_exists(pk) AND size(identities) < :max",
                        "ExpressionAttributeValues": {
                            ":identity": {"L": [_serializer.serialize(link.identity.model_dump(mode="json"))]},
                            ":max": {"N": str(MAX_CONTACT_IDENTITIES)},
                        },
                    }
                }
            )
        return actions

    def append_message(self, *, current: VersionedTicket, ticket_after: Ticket, message: TicketMessage) -> None:
        """Adds a message to a ticket and saves the ticket's new state, if nobody changed the ticket meanwhile."""
        sequence = ticket_after.message_count
        version = current.version
        ticket_item = self._ticket_item(ticket_after, version=version + 1)
        self._transact(
            [
                self._message_index_put(message, _message_sk(message, sequence)),
                self._put(self._message_item(message, sequence), "attribute_not_exists(pk)"),
                self._put(ticket_item, "version = :seen", {":seen": {"N": str(version)}}),
            ]
        )

    # -- email threading and held mail ---------------------------------------------------------

    def tickets_of_messages(self, channel: str, external_ids: Iterable[str]) -> dict[str, str]:
        """Which of these messages we hold (received or sent), and the ticket each is on: one request."""
        wanted = list(dict.fromkeys(external_ids))[:100]
        if not wanted:
            return {}
        by_pk = {_message_index_pk(channel, external_id): external_id for external_id in wanted}
        found = self._batch_get([_key(pk, "MESSAGE") for pk in by_pk])
        return {by_pk[pk]: item["ticket_id"]["S"] for (pk, _), item in found.items()}

    def ticket_id_numbered(self, number: int) -> str | None:
        item = self._get(_key(f"NUMBER#{int(number)}", "NUMBER"))
        return item["ticket_id"]["S"] if item else None

    def hold_mail(self, held: HeldMail) -> bool:
        """Keeps a mail out of tickets for review; False when it is already held (a redelivery)."""
        item = {
            **_key(_held_pk(held.external_id), "HELD"),
            "status_pk": {"S": f"HELD#{held.handling.value}"},
            "created_sk": {"S": f"{sortable_time(held.received_at)}#{held.external_id[:200]}"},
            **_to_attributes(held.model_dump(mode="json")),
        }
        written = _unless_condition_fails(
            lambda: self._db.put_item(TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)")
        )
        return written is not None

    def list_held_mail(self, *, handling: MailHandling, limit: int, cursor: str | None) -> HeldMailPage:
        """Held mail of one kind, newest first (Zendesk's suspended tickets): one Query on ByStatus."""
        key_value = f"HELD#{handling.value}"
        shape = _listing_cursor("status_pk", key_value, "HELD#", "HELD")
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "ByStatus",
            "KeyConditionExpression": "status_pk = :v",
            "ExpressionAttributeValues": {":v": {"S": key_value}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if cursor:
            request["ExclusiveStartKey"] = shape.decode(cursor)
        response = self._db.query(**request)
        last = response.get("LastEvaluatedKey")
        return HeldMailPage(
            held=[HeldMail.model_validate(_from_attributes(item)) for item in response.get("Items", [])],
            next_cursor=shape.encode(last) if last else None,
        )

    def held_mail(self, external_id: str) -> HeldMail | None:
        item = self._get(_key(_held_pk(external_id), "HELD"))
        return HeldMail.model_validate(_from_attributes(item)) if item else None

    def mark_held_mail_released(self, external_id: str, released_by: str, at: datetime) -> HeldMail | None:
        """Records that an agent released a held mail and takes it off the held listing (its ByStatus keys
        go), and returns it so; None when it was already released, whose first release then stands."""
        released = _unless_condition_fails(
            lambda: self._db.update_item(
                TableName=self._table,
                Key=_key(_held_pk(external_id), "HELD"),
                UpdateExpression="SET released_at = :at, released_by = :by REMOVE status_pk, created_sk",
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(released_at)",
                ExpressionAttributeValues={
                    ":at": {"S": at.isoformat().replace("+00:00", "Z")},
                    ":by": {"S": released_by},
                },
                ReturnValues="ALL_NEW",
            )
        )
        if released is None:
            return None
        return HeldMail.model_validate(_from_attributes(released["Attributes"]))

    def claim_replay_token(self, provider: str, token: str, body_sha256: str, expires_at: datetime) -> bool:
        """Claims a provider's one-time webhook token for one body. True when it is new, or already claimed
        for this same body (the provider retrying a delivery we failed to answer); False when another body
        comes with it: a replay."""
        key = f"REPLAY#{_key_part(f'{provider}#{token}')}"
        written = _unless_condition_fails(
            lambda: self._db.put_item(
                TableName=self._table,
                Item={
                    **_key(key, "REPLAY"),
                    "body_sha256": {"S": body_sha256},
                    # Kept past the token's validity, then removed by the table's TTL.
                    "expires_at": {"N": str(int(expires_at.timestamp()) + 86400)},
                },
                ConditionExpression="attribute_not_exists(pk) OR body_sha256 = :body",
                ExpressionAttributeValues={":body": {"S": body_sha256}},
            )
        )
        return written is not None

    # -- delivery receipts ----------------------------------------------------------------------

    def message_ref(self, channel: str, external_id: str) -> MessageRef | None:
        item = self._get(_key(_message_index_pk(channel, external_id), "MESSAGE"))
        if not item:
            return None
        return MessageRef(item["ticket_id"]["S"], item["message_sk"]["S"], Direction(item["direction"]["S"]))

    def record_delivery_status(self, ref: MessageRef, status: DeliveryStatus) -> bool:
        """Moves an outbound message's delivery status forward only; False when it already is at or past it."""
        rank = DELIVERY_STATUS_RANK[status]
        written = _unless_condition_fails(
            lambda: self._db.update_item(
                TableName=self._table,
                Key=_key(_ticket_pk(ref.ticket_id), ref.message_sk),
                UpdateExpression="SET delivery_status = :status, delivery_rank = :rank",
                ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(delivery_rank) OR delivery_rank < :rank)",
                ExpressionAttributeValues={":status": {"S": status.value}, ":rank": {"N": str(rank)}},
            )
        )
        return written is not None

    def record_edit(self, ref: MessageRef, text: str | None, edited_at: datetime) -> bool:
        """Replaces a message's text with its author's later edit, keeping the text as first sent; an older
        edit arriving late never overrides a newer one."""
        key = _key(_ticket_pk(ref.ticket_id), ref.message_sk)
        stored = self._get(key)
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
        written = _unless_condition_fails(
            lambda: self._db.update_item(
                TableName=self._table,
                Key=key,
                UpdateExpression=update,
                ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(edit_rank) OR edit_rank < :rank)",
                ExpressionAttributeNames={"#text": "text"},
                ExpressionAttributeValues=values,
            )
        )
        return written is not None

    def outbound_refs_up_to(self, ticket_id: str, moment: datetime) -> list[MessageRef]:
        """Messages we sent on a ticket up to a moment and not yet known read (for read watermarks)."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :first AND :last",
            "FilterExpression": "direction = :outbound AND (attribute_not_exists(delivery_rank) OR delivery_rank < :read)",
            "ExpressionAttributeValues": {
                ":pk": {"S": _ticket_pk(ticket_id)},
                ":first": {"S": "MSG#"},
                ":last": {"S": f"MSG#{sortable_time(moment)}#99999999"},
                ":outbound": {"S": Direction.OUTBOUND.value},
                ":read": {"N": str(DELIVERY_STATUS_RANK[DeliveryStatus.READ])},
            },
            "ProjectionExpression": "sk",
            "ConsistentRead": True,
        }
        refs: list[MessageRef] = []
        while True:
            response = self._db.query(**request)
            refs.extend(
                MessageRef(ticket_id, item["sk"]["S"], Direction.OUTBOUND) for item in response.get("Items", [])
            )
            if "LastEvaluatedKey" not in response:
                return refs
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    # -- attachments (the media job) ------------------------------------------------------------

    def attachment(self, ref: MessageRef, index: int) -> Attachment | None:
        """One attachment of a stored message as last recorded; None when the message has no such attachment."""
        item = self._db.get_item(
            TableName=self._table,
            Key=_key(_ticket_pk(ref.ticket_id), ref.message_sk),
            ProjectionExpression=f"attachments[{int(index)}]",
            ConsistentRead=True,
        ).get("Item")
        found = _from_attributes(item).get("attachments") if item else None
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
        written = _unless_condition_fails(
            lambda: self._db.update_item(
                TableName=self._table,
                Key=_key(_ticket_pk(ref.ticket_id), ref.message_sk),
                UpdateExpression="SET " + ", ".join(f"{slot}.#{name} = :{name}" for name in recorded),
                ConditionExpression=(
                    f"{slot}.#kind = :kind AND "
                    f"(attribute_not_exists({slot}.#fetch_status) OR {slot}.#fetch_status <> :stored)"
                ),
                ExpressionAttributeNames={f"#{name}": name for name in [*recorded, "kind"]},
                ExpressionAttributeValues={
                    **{f":{name}": _serializer.serialize(_dynamo_value(value)) for name, value in recorded.items()},
                    ":kind": {"S": fetched.kind},
                    ":stored": {"S": AttachmentFetchStatus.STORED.value},
                },
            )
        )
        return written is not None

    # -- agent reads ----------------------------------------------------------------------------

    def list_tickets(self, *, status: TicketStatus | None, limit: int, cursor: str | None) -> TicketPage:
        index, key_name, key_value = _ticket_listing(status)
        shape = _listing_cursor(key_name, key_value, "TICKET#", _TICKET_SK)
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": "#k = :v",
            "ExpressionAttributeNames": {"#k": key_name},
            "ExpressionAttributeValues": {":v": {"S": key_value}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if cursor:
            request["ExclusiveStartKey"] = shape.decode(cursor)
        response = self._db.query(**request)
        last = response.get("LastEvaluatedKey")
        return TicketPage(
            tickets=[_ticket_of(item) for item in response.get("Items", [])],
            next_cursor=shape.encode(last) if last else None,
        )

    def ticket_cursor(self, ticket: Ticket, status: TicketStatus | None) -> str:
        """The cursor of a listing (all tickets, or one status) that continues after `ticket`: for a page
        cut short of what DynamoDB returned."""
        _, key_name, key_value = _ticket_listing(status)
        key = {"pk": _ticket_pk(ticket.id), "sk": _TICKET_SK, key_name: key_value, "created_sk": _created_sk(ticket)}
        return _listing_cursor(key_name, key_value, "TICKET#", _TICKET_SK).encode(key)

    def ticket_record(self, ticket_id: str) -> Ticket | None:
        """The ticket alone, for the agents' API (no version: reads never write)."""
        pk = _readable_ticket_pk(ticket_id)
        if pk is None:
            return None
        item = self._get(_key(pk, _TICKET_SK))
        return _ticket_of(item) if item else None

    def message_page(self, ticket_id: str, *, limit: int, cursor: str | None) -> MessagePage:
        """A ticket's timeline oldest first, `limit` messages at most (fewer when they pass DynamoDB's 1 MB
        per Query), from after `cursor`. One Query on the ticket's partition."""
        pk = _readable_ticket_pk(ticket_id)
        if pk is None:
            return MessagePage(messages=[], next_cursor=None)
        shape = _message_cursor(pk)
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :msg)",
            "ExpressionAttributeValues": {":pk": {"S": pk}, ":msg": {"S": "MSG#"}},
            "ScanIndexForward": True,
            "ConsistentRead": True,
            "Limit": limit,
        }
        if cursor:
            request["ExclusiveStartKey"] = shape.decode(cursor)
        response = self._db.query(**request)
        last = response.get("LastEvaluatedKey")
        return MessagePage(
            messages=[
                StoredMessage(message_key(item["sk"]["S"]), TicketMessage.model_validate(_from_attributes(item)))
                for item in response.get("Items", [])
            ],
            next_cursor=shape.encode(last) if last else None,
        )

    def message_cursor(self, ticket_id: str, key: str) -> str:
        """The cursor of a ticket's timeline that continues after the message `key`."""
        pk = _ticket_pk(ticket_id)
        return _message_cursor(pk).encode({"pk": pk, "sk": _message_sk_of_key(key)})

    def message(self, ticket_id: str, key: str) -> TicketMessage | None:
        """One message of a ticket's timeline, whole, by the key its page gave it; None if there is none."""
        pk, sk = _readable_ticket_pk(ticket_id), _message_sk_of_key(key)
        if pk is None:
            return None
        item = self._get(_key(pk, sk))
        return TicketMessage.model_validate(_from_attributes(item)) if item else None

    def contact(self, contact_id: str) -> Contact | None:
        item = self._get(_key(f"CONTACT#{contact_id}", "CONTACT"))
        return Contact.model_validate(_from_attributes(item)) if item else None

    # -- plumbing -------------------------------------------------------------------------------

    def _get(self, key: dict[str, Any]) -> dict[str, Any] | None:
        return self._db.get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item")

    def _batch_get(self, keys: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
        found: dict[tuple[str, str], dict[str, Any]] = {}
        pending: dict[str, Any] = {self._table: {"Keys": keys, "ConsistentRead": True}}
        while pending:
            response = self._db.batch_get_item(RequestItems=pending)
            for item in response.get("Responses", {}).get(self._table, []):
                found[(item["pk"]["S"], item["sk"]["S"])] = item
            pending = response.get("UnprocessedKeys") or {}
        return found

    def _transact(self, actions: list[dict[str, Any]], first_is_message_index: bool = True) -> None:
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

    def _put(self, item: dict[str, Any], condition: str, values: dict[str, Any] | None = None) -> dict[str, Any]:
        put: dict[str, Any] = {"TableName": self._table, "Item": item, "ConditionExpression": condition}
        if values:
            put["ExpressionAttributeValues"] = values
        return {"Put": put}

    def _message_index_put(self, message: TicketMessage, message_sk: str) -> dict[str, Any]:
        item = {
            **_key(_message_index_pk(message.channel.value, message.external_id), "MESSAGE"),
            "ticket_id": {"S": message.ticket_id},
            "message_sk": {"S": message_sk},
            "direction": {"S": message.direction.value},
        }
        return self._put(item, "attribute_not_exists(pk)")

    def _counter_claim(self, number: int) -> dict[str, Any]:
        # Claiming number n requires the counter to stand at n-1: concurrent creators conflict and
        # retry instead of both taking n, and a failed transaction leaves no gap.
        condition = "attribute_not_exists(pk)" if number == 1 else "last_number = :previous"
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": _key("COUNTER", "TICKET_NUMBER"),
            "UpdateExpression": "SET last_number = :number",
            "ConditionExpression": condition,
            "ExpressionAttributeValues": {":number": {"N": str(number)}},
        }
        if number > 1:
            update["ExpressionAttributeValues"][":previous"] = {"N": str(number - 1)}
        return {"Update": update}

    @staticmethod
    def _next_number(counter: dict[str, Any] | None) -> int:
        return int(counter["last_number"]["N"]) + 1 if counter else 1

    def _message_item(self, message: TicketMessage, sequence: int) -> dict[str, Any]:
        item = {**_key(_ticket_pk(message.ticket_id), _message_sk(message, sequence))}
        item.update(_to_attributes(message.model_dump(mode="json")))
        if message.delivery_status is not None:
            item["delivery_rank"] = {"N": str(DELIVERY_STATUS_RANK[message.delivery_status])}
        return item

    def _ticket_item(self, ticket: Ticket, version: int) -> dict[str, Any]:
        created_sk = _created_sk(ticket)
        item = {
            **_key(_ticket_pk(ticket.id), _TICKET_SK),
            "status_pk": {"S": f"STATUS#{ticket.status.value}"},
            "created_pk": {"S": _ALL_TICKETS},
            "created_sk": {"S": created_sk},
            "version": {"N": str(version)},
        }
        item.update(_to_attributes(ticket.model_dump(mode="json")))
        return item


def _ticket_of(item: dict[str, Any]) -> Ticket:
    return Ticket.model_validate(_from_attributes(item))


def _ticket_listing(status: TicketStatus | None) -> tuple[str, str, str]:
    """The index, its partition key name and value that list tickets of `status` (all when None)."""
    if status is None:
        return "ByCreated", "created_pk", _ALL_TICKETS
    return "ByStatus", "status_pk", f"STATUS#{status.value}"


def _created_sk(ticket: Ticket) -> str:
    return f"{sortable_time(ticket.created_at)}#{ticket.id}"


def _listing_cursor(key_name: str, key_value: str, pk_prefix: str, sk: str) -> CursorShape:
    """A listing on an index: the index's partition fixed, the item's pk and the index sort key carried."""
    return CursorShape(
        fixed={key_name: key_value, "sk": sk},
        free={"pk": FreeKey(pk_prefix, MAX_PARTITION_KEY_BYTES), "created_sk": FreeKey("", MAX_SORT_KEY_BYTES)},
    )


def _message_cursor(ticket_pk: str) -> CursorShape:
    return CursorShape(fixed={"pk": ticket_pk}, free={"sk": FreeKey("MSG#", MAX_SORT_KEY_BYTES)})


# A message's key in the API is its sort key without "MSG#", '#' spelled '.' so that it sits in a URL path
# unquoted: "2025-06-08T21:00:00.000000Z.00000003" (sent at, then arrival sequence).
_MESSAGE_KEY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z\.[0-9]{8}")


class UnknownMessageKey(ValueError):
    """Not a key a page of messages gave out."""


def message_key(sk: str) -> str:
    time, _, sequence = sk.removeprefix("MSG#").rpartition("#")
    return f"{time}.{sequence}"


def _message_sk_of_key(key: str) -> str:
    if not _MESSAGE_KEY.fullmatch(key):
        raise UnknownMessageKey(key[:64])
    return f"MSG#{key[:-9]}#{key[-8:]}"
