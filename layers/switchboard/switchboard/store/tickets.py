"""Tickets: one per conversation at a time, opened with their first message and numbered without gaps.

Opening a ticket is one transaction across aggregates: the message (index and timeline item), the ticket,
its number, the conversation's pointer, and a new contact or a new identity of a known one. Each repository
contributes its own actions to it (MessageRepository.new_message_actions, ContactRepository.new_contact_actions
and link_actions), so a crash between calls leaves nothing half-written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from switchboard.models import (
    ChannelIdentity,
    Contact,
    MetricStatus,
    SendAttempt,
    SlaNoticeDelivery,
    SlaView,
    Ticket,
    TicketAudit,
    TicketMessage,
    TicketStatus,
    sortable_time,
    utc_now,
)
from switchboard.store.audits import AuditRepository
from switchboard.store.contacts import ContactRepository, IdentityLink
from switchboard.store.cursors import MAX_PARTITION_KEY_BYTES, MAX_SORT_KEY_BYTES, CursorShape, FreeKey
from switchboard.store.messages import MessageRepository
from switchboard.store.outbox import OutboxRepository
from switchboard.store.sla_notices import SlaNotices
from switchboard.store.sla_timers import due_keys
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
    key_part,
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
        self,
        table: Table,
        messages: MessageRepository,
        contacts: ContactRepository,
        audits: AuditRepository,
        outbox: OutboxRepository,
        notices: SlaNotices,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._table = table
        self._messages = messages
        self._contacts = contacts
        self._audits = audits
        self._outbox = outbox
        self._notices = notices
        # When a write happens, for the SLA timer's bucket (store/sla_timers.py due_keys): the wall clock in a
        # function; tests that run a ticket's life at chosen instants give theirs.
        self._clock = clock

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
        also: Sequence[dict[str, Any]] = (),
    ) -> None:
        """Creates a ticket with its first message, its number, and (if new) its contact, all or nothing.

        `link_identity` adds a new channel identity to a contact found by phone; `also` is what the message does
        besides, committed with it (a consent keyword's change and confirmation, tickets/consent_replies.py).

        `follows_up` is the closed ticket the conversation moves on from; otherwise this is the
        conversation's first ticket. Raises AlreadyStored on redelivery, WriteConflict if another
        writer got there first (the caller re-reads and appends instead).
        """
        pointer = conversation_key(ticket.conversation_key)
        actions: list[dict[str, Any]] = [
            *self._messages.new_message_actions(first_message, 1),
            self._table.put_action(
                _ticket_item(ticket, version=1, written_at=self._clock()), "attribute_not_exists(pk)"
            ),
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
        actions.extend(also)
        self._table.transact(actions)

    def append_message(
        self,
        *,
        current: VersionedTicket,
        ticket_after: Ticket,
        message: TicketMessage,
        audit: TicketAudit | None = None,
        also: Sequence[dict[str, Any]] = (),
        sequence: int | None = None,
    ) -> None:
        """Adds a message to a ticket and saves the ticket's new state, if nobody changed the ticket meanwhile;
        `audit` records what the message changed (an agent's note, a customer reopening the ticket). `also` is what
        the message does besides, committed with it; `sequence` is the message's place when `ticket_after` counts
        more messages than this one (a confirmation appended after it, in `also`)."""
        self._table.transact([*self._appending(current, ticket_after, message, audit, sequence), *also])

    def change_ticket(self, *, current: VersionedTicket, ticket_after: Ticket, audit: TicketAudit) -> None:
        """Saves an agent's change with its audit, if nobody changed the ticket since `current` was read
        (WriteConflict otherwise): the ticket's version is its ETag, so two agents never overwrite each other."""
        if audit.ticket_version != current.version + 1:
            raise ValueError("an audit records the version its change makes")
        self._table.transact(
            [self._saving(ticket_after, current), *self._audits.new_audit_actions(audit)],
            first_is_message_index=False,
        )

    def record_sla(
        self,
        *,
        current: VersionedTicket,
        ticket_after: Ticket,
        audit: TicketAudit | None,
        notices: list[SlaNoticeDelivery],
    ) -> None:
        """What the SLA enforcer did, all or nothing: the ticket on the version read (WriteConflict otherwise) with
        its SLA recorded and its escalations' changes, their audit, and the notices to deliver (each created once)."""
        actions = [self._saving(ticket_after, current)]
        if audit is not None:
            actions.extend(self._audits.new_audit_actions(audit))
        actions.extend(self._notices.new_notice_actions(notices))
        self._table.transact(actions, first_is_message_index=False)

    def accept_reply(
        self,
        *,
        current: VersionedTicket,
        ticket_after: Ticket,
        message: TicketMessage,
        attempt: SendAttempt,
        audit: TicketAudit | None,
    ) -> None:
        """An agent's reply, all or nothing: its message index entry (AlreadyStored on a retried request), the
        message, the ticket on the version read (WriteConflict otherwise), its audit, and its first send
        attempt in the outbox. Once this returns, the reply will be sent."""
        self._table.transact(
            [*self._appending(current, ticket_after, message, audit), *self._outbox.new_attempt_actions(attempt)]
        )

    def _appending(
        self,
        current: VersionedTicket,
        ticket_after: Ticket,
        message: TicketMessage,
        audit: TicketAudit | None,
        sequence: int | None = None,
    ) -> list[dict[str, Any]]:
        """A message's actions (its index entry first), the ticket on the version read, and the audit if any."""
        actions = [
            *self._messages.new_message_actions(message, sequence or ticket_after.message_count),
            self._saving(ticket_after, current),
        ]
        if audit is not None:
            actions.extend(self._audits.new_audit_actions(audit))
        return actions

    def _saving(self, ticket_after: Ticket, current: VersionedTicket) -> dict[str, Any]:
        """The ticket's new state as the next version, if it still stands at the version read."""
        version = current.version
        return self._table.put_action(
            _ticket_item(ticket_after, version=version + 1, written_at=self._clock()),
            "version = :seen",
            {":seen": {"N": str(version)}},
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

    def list_tickets(
        self,
        *,
        status: TicketStatus | None,
        limit: int,
        cursor: str | None,
        assignee_id: str | None = None,
        group_id: str | None = None,
    ) -> TicketPage:
        """A page of a ticket view, newest first: all tickets, or those of a status, an assignee, a group, in
        any combination; each served by the key of an index (_ticket_listing), never a Scan."""
        return self._listing_page(_ticket_listing(status, assignee_id, group_id), limit, cursor)

    def list_by_sla(self, view: SlaView, *, limit: int, cursor: str | None) -> TicketPage:
        """A page of an SLA view, what is due first first: breached tickets by their oldest breach, the others by
        their next deadline (the sparse BySlaState index; a ticket whose state moved since is left out)."""
        return self._listing_page(_sla_listing(view), limit, cursor)

    def sla_cursor(self, ticket: Ticket, view: SlaView) -> str:
        return _listing_cursor_after(_sla_listing(view), ticket)

    def ticket_cursor(
        self, ticket: Ticket, status: TicketStatus | None, assignee_id: str | None = None, group_id: str | None = None
    ) -> str:
        """The cursor of a view (as list_tickets takes it) that continues after `ticket`: for a page cut short
        of what DynamoDB returned."""
        return _listing_cursor_after(_ticket_listing(status, assignee_id, group_id), ticket)

    def ticket_record(self, ticket_id: str) -> VersionedTicket | None:
        """The ticket for the agents' API, by an id from a URL (None for one no ticket can have); its version
        is the ETag a change must name."""
        pk = readable_ticket_pk(ticket_id)
        if pk is None:
            return None
        item = self._table.get(key(pk, TICKET_SK))
        return VersionedTicket(_ticket_of(item), int(item["version"]["N"])) if item else None

    # -- views: a contact's tickets, and what the closer must close -------------------------------

    def tickets_requested_by(self, contact_id: str, *, limit: int, cursor: str | None) -> TicketPage:
        """A contact's tickets on every channel, newest first, a page at a time (ByRequester)."""
        return self._listing_page(_requester_listing(contact_id), limit, cursor)

    def requested_ticket_cursor(self, ticket: Ticket) -> str:
        """The cursor of its requester's tickets that continues after `ticket`: for a page cut short."""
        return _listing_cursor_after(_requester_listing(ticket.requester.contact_id), ticket)

    def solved_tickets_due(self, *, solved_until: datetime, limit: int) -> list[VersionedTicket]:
        """Solved tickets solved at or before `solved_until`, oldest first, at most `limit`, as they are now
        (with the version a close must still find). Read from the sparse ByCloseDue index, which holds solved
        tickets only, from the oldest up to `solved_until`: the read is as large as what is due, whatever the
        number of open or recently solved tickets. A ticket reopened since the index was read is returned as
        it is now, for the caller to skip."""
        request: dict[str, Any] = {
            "IndexName": "ByCloseDue",
            "KeyConditionExpression": "close_due_pk = :due AND close_due_sk < :after",
            "ExpressionAttributeValues": {":due": {"S": CLOSE_DUE}, ":after": {"S": _close_due_bound(solved_until)}},
            "ScanIndexForward": True,
        }
        keys: list[dict[str, Any]] = []
        while len(keys) < limit:
            response = self._table.query({**request, "Limit": limit - len(keys)})
            keys.extend(key(item["pk"]["S"], item["sk"]["S"]) for item in response.get("Items", []))
            last = response.get("LastEvaluatedKey")
            if not last:
                break
            request["ExclusiveStartKey"] = last
        due: list[VersionedTicket] = []
        for start in range(0, len(keys), _BATCH_GET_KEYS):
            chunk = keys[start : start + _BATCH_GET_KEYS]
            found = self._table.get_many(chunk)
            for item_key in chunk:
                item = found.get(key_of(item_key))
                if item is not None:
                    due.append(VersionedTicket(_ticket_of(item), int(item["version"]["N"])))
        return due

    def _listing_page(self, listing: _Listing, limit: int, cursor: str | None) -> TicketPage:
        shape = _listing_cursor(listing.key_name, listing.key_value, listing.sort_key)
        request: dict[str, Any] = {
            "IndexName": listing.index,
            "KeyConditionExpression": "#k = :v",
            "ExpressionAttributeNames": {"#k": listing.key_name},
            "ExpressionAttributeValues": {":v": {"S": listing.key_value}},
            "ScanIndexForward": listing.ascending,
        }
        if listing.group_id is None:
            items, next_cursor = self._table.query_page({**request, "Limit": limit}, shape, cursor)
        else:
            items, next_cursor = self._group_filtered_page(listing, request, shape, limit, cursor)
        if not listing.keys_only:
            return TicketPage([_ticket_of(item) for item in items], next_cursor)
        return TicketPage(self._tickets_now(items, listing), next_cursor)

    def _group_filtered_page(
        self, listing: _Listing, request: dict[str, Any], shape: CursorShape, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """An assignee's view narrowed to a group: the assignee's partition read in rounds, the group a filter on
        the index (which projects group_id), until the page is full or _MAX_FILTERED_READ entries were read. A
        page may then hold fewer tickets than `limit`, even none, with a cursor to go on from."""
        request = {
            **request,
            "FilterExpression": "group_id = :group",
            "ExpressionAttributeValues": {
                **request["ExpressionAttributeValues"],
                ":group": {"S": listing.group_id or ""},
            },
        }
        found: list[dict[str, Any]] = []
        read, next_cursor = 0, cursor
        while True:
            round_size = min(_FILTERED_ROUND, _MAX_FILTERED_READ - read)
            items, next_cursor = self._table.query_page({**request, "Limit": round_size}, shape, next_cursor)
            found.extend(items)
            read += round_size
            if len(found) > limit:
                found = found[:limit]
                return found, shape.encode(
                    {name: found[-1][name] for name in ("pk", "sk", listing.key_name, "created_sk")}
                )
            if len(found) == limit or next_cursor is None or read >= _MAX_FILTERED_READ:
                return found, next_cursor

    def _tickets_now(self, items: list[dict[str, Any]], listing: _Listing) -> list[Ticket]:
        """The tickets a keys-only index listed, read whole from the table in the index's order; one that left
        the view since the (eventually consistent) index was read is left out."""
        keys = [key(item["pk"]["S"], item["sk"]["S"]) for item in items]
        found = self._table.get_many(keys) if keys else {}
        tickets = [_ticket_of(found[key_of(item_key)]) for item_key in keys if key_of(item_key) in found]
        return [ticket for ticket in tickets if listing.shows(ticket)]


def _next_number(counter: dict[str, Any] | None) -> int:
    return int(counter["last_number"]["N"]) + 1 if counter else 1


def _ticket_item(ticket: Ticket, version: int, written_at: datetime | None = None) -> dict[str, Any]:
    return {
        **key(ticket_pk(ticket.id), TICKET_SK),
        "status_pk": {"S": f"STATUS#{ticket.status.value}"},
        "created_pk": {"S": ALL_TICKETS},
        "created_sk": {"S": _created_sk(ticket)},
        **_view_keys(ticket, written_at),
        "version": {"N": str(version)},
        **to_attributes(_ticket_document(ticket)),
    }


def _ticket_document(ticket: Ticket) -> dict[str, Any]:
    """The ticket as stored. Its SLA clocks leave out what equals the model's defaults (a clock not warned, not
    breached, no escalation yet), which reading restores: every ticket write and the indexes that copy the whole
    item (ByStatus, ByCreated) pay for each byte, and the SLA map is most of a ticket's size."""
    document = ticket.model_dump(mode="json")
    if ticket.sla is not None:
        document["sla"] = ticket.sla.model_dump(mode="json", exclude_defaults=True)
    return document


def _ticket_of(item: dict[str, Any]) -> Ticket:
    return Ticket.model_validate(from_attributes(item))


def _ticket_listing(
    status: TicketStatus | None, assignee_id: str | None = None, group_id: str | None = None
) -> _Listing:
    """The index and partition that serve a view (docs/data-model.md, "Ticket views"). Assignee and group
    together: the assignee's partition, filtered on the group within a bounded read (_MAX_FILTERED_READ)."""
    if assignee_id is not None:
        assignee = _assignee_key(assignee_id)
        if status is None:
            return _Listing("ByAssignee", "assignee_pk", assignee, keys_only=True, group_id=group_id)
        return _Listing(
            "ByAssigneeStatus", "assignee_status_pk", f"{assignee}#{status.value}", keys_only=True, group_id=group_id
        )
    if group_id is not None:
        group = _group_key(group_id)
        if status is None:
            return _Listing("ByGroup", "group_pk", group, keys_only=True)
        return _Listing("ByGroupStatus", "group_status_pk", f"{group}#{status.value}", keys_only=True)
    if status is None:
        return _Listing("ByCreated", "created_pk", ALL_TICKETS)
    return _Listing("ByStatus", "status_pk", f"STATUS#{status.value}")


def _created_sk(ticket: Ticket) -> str:
    return f"{sortable_time(ticket.created_at)}#{ticket.id}"


def _listing_cursor(key_name: str, key_value: str, sort_key: str = "created_sk") -> CursorShape:
    """A listing on an index: the index's partition fixed, the ticket's pk and the index sort key carried."""
    return CursorShape(
        fixed={key_name: key_value, "sk": TICKET_SK},
        free={"pk": FreeKey("TICKET#", MAX_PARTITION_KEY_BYTES), sort_key: FreeKey("", MAX_SORT_KEY_BYTES)},
    )


# The partition of ByCloseDue: one, as solving tickets is far below a partition's 1,000 writes a second.
CLOSE_DUE = "CLOSE_DUE"
# BatchGetItem takes at most 100 keys per request.
_BATCH_GET_KEYS = 100
# An assignee's view narrowed to a group reads at most this many index entries per request, in rounds of
# _FILTERED_ROUND: bounded whatever the assignee's history (docs/data-model.md, "Ticket views").
_FILTERED_ROUND = 100
_MAX_FILTERED_READ = 500


@dataclass(frozen=True)
class _Listing:
    """Where a view's tickets are: an index and its partition; `keys_only` indexes hold keys only (the tickets
    are then read from the table), and `group_id` narrows an assignee's view by a filter."""

    index: str
    key_name: str
    key_value: str
    keys_only: bool = False
    group_id: str | None = None
    sort_key: str = "created_sk"
    ascending: bool = False

    def shows(self, ticket: Ticket) -> bool:
        """Whether the ticket, as it is now, is still in this view."""
        in_partition = _view_keys(ticket).get(self.key_name) == {"S": self.key_value}
        return in_partition and (self.group_id is None or ticket.group_id == self.group_id)


def _view_keys(ticket: Ticket, written_at: datetime | None = None) -> dict[str, Any]:
    """The ticket's keys in its view indexes; an index without its key attribute leaves the ticket out (sparse).

    These indexes project keys only (ByAssignee and ByAssigneeStatus also group_id), so a write that changes
    none of these attributes, as every message appended does, costs no index write (DynamoDB Developer Guide,
    "Provisioned throughput considerations for Global Secondary Indexes": a table write that changes no
    projected attribute is not written to the index)."""
    keys: dict[str, Any] = {"requester_pk": {"S": f"CONTACT#{ticket.requester.contact_id}"}}
    status = ticket.status.value
    if ticket.assignee_id:
        assignee = _assignee_key(ticket.assignee_id)
        keys["assignee_pk"] = {"S": assignee}
        keys["assignee_status_pk"] = {"S": f"{assignee}#{status}"}
    if ticket.group_id:
        group = _group_key(ticket.group_id)
        keys["group_pk"] = {"S": group}
        keys["group_status_pk"] = {"S": f"{group}#{status}"}
    if ticket.sla is not None:
        keys.update(due_keys(ticket_pk(ticket.id), ticket.sla.next_due_at, written_at))
        keys.update(_sla_state_keys(ticket))
    if ticket.status is TicketStatus.SOLVED:
        # Only while solved. A ticket solved without solved_at (written before the field existed) counts from
        # its last update, as tickets/closing.py does: a solved ticket always closes in the end.
        solved_at = ticket.solved_at or ticket.updated_at
        keys["close_due_pk"] = {"S": CLOSE_DUE}
        keys["close_due_sk"] = {"S": f"{sortable_time(solved_at)}#{ticket.id}"}
    return keys


def sla_view_of(ticket: Ticket) -> tuple[SlaView, datetime] | None:
    """Where the ticket stands in the agents' SLA views, and by what it sorts there: breached (a metric running
    past its target), by the oldest breach; warning (warned, not breached), by the next deadline; active (a clock
    runs), by the next deadline. None when no clock runs."""
    if ticket.sla is None:
        return None
    running = [clock for clock in ticket.sla.metrics.values() if clock.running]
    breached = [clock.breached_at for clock in running if clock.status is MetricStatus.BREACHED and clock.breached_at]
    if breached:
        return SlaView.BREACHED, min(breached)
    deadlines = [clock.due_at for clock in running if clock.due_at is not None]
    if not deadlines:
        return None
    warned = any(clock.warned for clock in running)
    return (SlaView.WARNING if warned else SlaView.ACTIVE), min(deadlines)


def _sla_state_keys(ticket: Ticket) -> dict[str, Any]:
    view = sla_view_of(ticket)
    if view is None:
        return {}
    state, due = view
    return {"sla_state_pk": {"S": f"SLA#{state.value}"}, "sla_state_sk": {"S": f"{sortable_time(due)}#{ticket.id}"}}


def _assignee_key(assignee_id: str) -> str:
    return f"ASSIGNEE#{key_part(assignee_id)}"


def _group_key(group_id: str) -> str:
    return f"GROUP#{key_part(group_id)}"


def _requester_listing(contact_id: str) -> _Listing:
    return _Listing("ByRequester", "requester_pk", f"CONTACT#{contact_id}", keys_only=True)


def _sla_listing(view: SlaView) -> _Listing:
    return _Listing(
        "BySlaState", "sla_state_pk", f"SLA#{view.value}", keys_only=True, sort_key="sla_state_sk", ascending=True
    )


def _listing_cursor_after(listing: _Listing, ticket: Ticket) -> str:
    last = {"pk": ticket_pk(ticket.id), "sk": TICKET_SK, listing.key_name: listing.key_value}
    if listing.sort_key == "created_sk":
        last["created_sk"] = _created_sk(ticket)
    else:
        last[listing.sort_key] = _sla_state_keys(ticket).get(listing.sort_key, {}).get("S", "")
    return _listing_cursor(listing.key_name, listing.key_value, listing.sort_key).encode(last)


def _close_due_bound(solved_until: datetime) -> str:
    # close_due_sk is "<solved at, fixed-width UTC>#<ticket_id>"; "$" sorts right after "#", so every key
    # whose time is at or before `solved_until` is below this bound, and every later one above it.
    return f"{sortable_time(solved_until)}$"
