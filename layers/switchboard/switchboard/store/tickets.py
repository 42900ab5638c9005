"""Tickets: one per conversation at a time, opened with their first message and numbered without gaps.

Opening a ticket is one transaction across aggregates: the message (index and timeline item), the ticket,
its number, the conversation's pointer, and a new contact or a new identity of a known one. Each repository
contributes its own actions to it (MessageRepository.new_message_actions, ContactRepository.new_contact_actions
and link_actions), so a crash between calls leaves nothing half-written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from switchboard.models import ChannelIdentity, Contact, Ticket, TicketAudit, TicketMessage, TicketStatus, sortable_time
from switchboard.store.audits import AuditRepository
from switchboard.store.contacts import ContactRepository, IdentityLink
from switchboard.store.cursors import MAX_PARTITION_KEY_BYTES, MAX_SORT_KEY_BYTES, CursorShape, FreeKey
from switchboard.store.messages import MessageRepository
from switchboard.store.table import (
    ALL_TICKETS,
    COUNTER_KEY,
    TICKET_SK,
    Table,
    conversation_key,
    from_attributes,
    identity_key,
    key,
    key_of,
    number_key,
    phone_key,
    readable_ticket_pk,
    ticket_pk,
    to_attributes,
)


@dataclass(frozen=True)
class VersionedTicket:
    """A ticket as read, with the version a conditional write must still find to succeed."""

    ticket: Ticket
    version: int


@dataclass(frozen=True)
class RequesterLookup:
    """Who a new ticket's requester is: a contact found by identity, one found by verified phone, or nobody yet."""

    contact_id: str | None
    found_by_phone: bool
    next_number: int


@dataclass(frozen=True)
class TicketPage:
    tickets: list[Ticket]
    next_cursor: str | None


class TicketRepository:
    def __init__(
        self, table: Table, messages: MessageRepository, contacts: ContactRepository, audits: AuditRepository
    ) -> None:
        self._table = table
        self._messages = messages
        self._contacts = contacts
        self._audits = audits

    # -- the writer's reads ---------------------------------------------------------------------

    def current_ticket_id(self, conversation: str) -> str | None:
        item = self._table.get(conversation_key(conversation))
        return item["ticket_id"]["S"] if item else None

    def ticket(self, ticket_id: str) -> VersionedTicket | None:
        item = self._table.get(key(ticket_pk(ticket_id), TICKET_SK))
        return VersionedTicket(_ticket_of(item), int(item["version"]["N"])) if item else None

    def contact_and_next_number(self, identity: ChannelIdentity, phone_e164: str | None = None) -> RequesterLookup:
        """The contact known for this identity, else for this verified phone number, and the next free
        ticket number, in one request. Display names never identify anyone: two customers share names."""
        by_identity_key, counter_key = identity_key(identity), key(*COUNTER_KEY)
        keys = [by_identity_key, counter_key]
        if phone_e164:
            keys.append(phone_key(phone_e164))
        found = self._table.get_many(keys)
        by_identity = found.get(key_of(by_identity_key))
        by_phone = found.get(key_of(phone_key(phone_e164))) if phone_e164 else None
        number = _next_number(found.get(COUNTER_KEY))
        if by_identity:
            return RequesterLookup(by_identity["contact_id"]["S"], False, number)
        if by_phone:
            return RequesterLookup(by_phone["contact_id"]["S"], True, number)
        return RequesterLookup(None, False, number)

    def next_ticket_number(self) -> int:
        return _next_number(self._table.get(key(*COUNTER_KEY)))

    def ticket_id_numbered(self, number: int) -> str | None:
        item = self._table.get(number_key(number))
        return item["ticket_id"]["S"] if item else None

    # -- the writer's writes --------------------------------------------------------------------

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
        pointer = conversation_key(ticket.conversation_key)
        actions: list[dict[str, Any]] = [
            *self._messages.new_message_actions(first_message, 1),
            self._table.put_action(_ticket_item(ticket, version=1), "attribute_not_exists(pk)"),
            self._counter_claim(ticket.number),
            self._table.put_action(
                {**number_key(ticket.number), "ticket_id": {"S": ticket.id}}, "attribute_not_exists(pk)"
            ),
        ]
        if follows_up is None:
            actions.append(
                self._table.put_action({**pointer, "ticket_id": {"S": ticket.id}}, "attribute_not_exists(pk)")
            )
        else:
            actions.append(
                self._table.update_action(
                    pointer,
                    "SET ticket_id = :new",
                    "ticket_id = :closed",
                    {":new": {"S": ticket.id}, ":closed": {"S": follows_up.id}},
                )
            )
        if new_contact is not None:
            actions.extend(self._contacts.new_contact_actions(new_contact))
        if link_identity is not None:
            actions.extend(self._contacts.link_actions(link_identity))
        self._table.transact(actions)

    def append_message(self, *, current: VersionedTicket, ticket_after: Ticket, message: TicketMessage) -> None:
        """Adds a message to a ticket and saves the ticket's new state, if nobody changed the ticket meanwhile."""
        version = current.version
        self._table.transact(
            [
                *self._messages.new_message_actions(message, ticket_after.message_count),
                self._table.put_action(
                    _ticket_item(ticket_after, version=version + 1), "version = :seen", {":seen": {"N": str(version)}}
                ),
            ]
        )

    def change_ticket(self, *, current: VersionedTicket, ticket_after: Ticket, audit: TicketAudit) -> None:
        """Saves an agent's change with its audit, if nobody changed the ticket since `current` was read
        (WriteConflict otherwise): the ticket's version is its ETag, so two agents never overwrite each other."""
        version = current.version
        if audit.ticket_version != version + 1:
            raise ValueError("an audit records the version its change makes")
        self._table.transact(
            [
                self._table.put_action(
                    _ticket_item(ticket_after, version=version + 1), "version = :seen", {":seen": {"N": str(version)}}
                ),
                *self._audits.new_audit_actions(audit),
            ],
            first_is_message_index=False,
        )

    def _counter_claim(self, number: int) -> dict[str, Any]:
        # Claiming number n requires the counter to stand at n-1: concurrent creators conflict and
        # retry instead of both taking n, and a failed transaction leaves no gap.
        condition = "attribute_not_exists(pk)" if number == 1 else "last_number = :previous"
        values = {":number": {"N": str(number)}}
        if number > 1:
            values[":previous"] = {"N": str(number - 1)}
        return self._table.update_action(key(*COUNTER_KEY), "SET last_number = :number", condition, values)

    # -- agent reads ----------------------------------------------------------------------------

    def list_tickets(self, *, status: TicketStatus | None, limit: int, cursor: str | None) -> TicketPage:
        index, key_name, key_value = _ticket_listing(status)
        shape = _listing_cursor(key_name, key_value)
        request: dict[str, Any] = {
            "IndexName": index,
            "KeyConditionExpression": "#k = :v",
            "ExpressionAttributeNames": {"#k": key_name},
            "ExpressionAttributeValues": {":v": {"S": key_value}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        items, next_cursor = self._table.query_page(request, shape, cursor)
        return TicketPage([_ticket_of(item) for item in items], next_cursor)

    def ticket_cursor(self, ticket: Ticket, status: TicketStatus | None) -> str:
        """The cursor of a listing (all tickets, or one status) that continues after `ticket`: for a page
        cut short of what DynamoDB returned."""
        _, key_name, key_value = _ticket_listing(status)
        last = {"pk": ticket_pk(ticket.id), "sk": TICKET_SK, key_name: key_value, "created_sk": _created_sk(ticket)}
        return _listing_cursor(key_name, key_value).encode(last)

    def ticket_record(self, ticket_id: str) -> VersionedTicket | None:
        """The ticket for the agents' API, by an id from a URL (None for one no ticket can have); its version
        is the ETag a change must name."""
        pk = readable_ticket_pk(ticket_id)
        if pk is None:
            return None
        item = self._table.get(key(pk, TICKET_SK))
        return VersionedTicket(_ticket_of(item), int(item["version"]["N"])) if item else None


def _next_number(counter: dict[str, Any] | None) -> int:
    return int(counter["last_number"]["N"]) + 1 if counter else 1


def _ticket_item(ticket: Ticket, version: int) -> dict[str, Any]:
    return {
        **key(ticket_pk(ticket.id), TICKET_SK),
        "status_pk": {"S": f"STATUS#{ticket.status.value}"},
        "created_pk": {"S": ALL_TICKETS},
        "created_sk": {"S": _created_sk(ticket)},
        "version": {"N": str(version)},
        **to_attributes(ticket.model_dump(mode="json")),
    }


def _ticket_of(item: dict[str, Any]) -> Ticket:
    return Ticket.model_validate(from_attributes(item))


def _ticket_listing(status: TicketStatus | None) -> tuple[str, str, str]:
    """The index, its partition key name and value that list tickets of `status` (all when None)."""
    if status is None:
        return "ByCreated", "created_pk", ALL_TICKETS
    return "ByStatus", "status_pk", f"STATUS#{status.value}"


def _created_sk(ticket: Ticket) -> str:
    return f"{sortable_time(ticket.created_at)}#{ticket.id}"


def _listing_cursor(key_name: str, key_value: str) -> CursorShape:
    """A listing on an index: the index's partition fixed, the ticket's pk and the index sort key carried."""
    return CursorShape(
        fixed={key_name: key_value, "sk": TICKET_SK},
        free={"pk": FreeKey("TICKET#", MAX_PARTITION_KEY_BYTES), "created_sk": FreeKey("", MAX_SORT_KEY_BYTES)},
    )
