"""Notifications: one per order, event type and contact, created once with the event that caused it, claimed by one
sender at a time and settled once; and the due-minute index the scheduler reads.

| item         | pk            | sk     | index keys |
|--------------|---------------|--------|------------|
| notification | NOTIFY#<id>   | NOTIFY | ByCustomer: customer_pk = CUSTOMER#<contact_id>, customer_sk = NOTIFY#<created at>#<id>; ByNotifyDue while queued (at its due time) or sending (at its lease's end) |
| sweep cursor | NOTIFY#SWEEP  | CURSOR | |

A notification's life: queued -> (claim) sending -> sent | failed | skipped | unknown, or back to queued (quiet hours,
pacing, a provider's Retry-After). The claim is a conditional write counting a try, which fences it: only the latest
claimant can settle. While queued or sending the item is in ByNotifyDue (store/due_index.py), so one the queue lost,
one deferred and one whose sender died are all found by the scheduler, which reads only what is due; settling takes
it out. Orders with a delay timer share the index (store/orders.py), so one sweep and one cursor serve both.

A sent notification's provider id is indexed as MESSAGE#<timeline channel>#<provider id> with `notification_id`
(plus the ticket and the message's timeline key when it was also posted on the contact's open ticket), so the
provider's receipts land on it (`record_delivery`) the way they land on replies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from switchboard.models import (
    DELIVERY_STATUS_RANK,
    DeliveryStatus,
    Direction,
    NotifyChannel,
    TicketMessage,
    sortable_time,
    utc_now,
)
from switchboard.notifications.models import ChannelTry, Notification, NotificationState
from switchboard.store.customers import customer_items, customer_pk
from switchboard.store.due_index import DueIndex, DueSweep, DueTimer, due_bound
from switchboard.store.table import (
    TICKET_SK,
    Table,
    WriteConflict,
    from_attributes,
    key,
    message_index_key,
    serialize,
    ticket_pk,
    to_attributes,
)

NOTIFY_SK = "NOTIFY"
# A claim takes a notification due up to this far ahead: a deferred notification's queue message (DelaySeconds) may
# be received a moment before its due time by another function's clock.
CLAIM_EARLY = timedelta(seconds=2)
# Kept on the item for operators, never part of the model.
_RECORD_ONLY = ("settled_at", "delivery_at")
_MAX_TICKET_TRIES = 5


def notification_pk(notification_id: str) -> str:
    return f"NOTIFY#{notification_id}"


def notification_key(notification_id: str) -> dict[str, Any]:
    return key(notification_pk(notification_id), NOTIFY_SK)


@dataclass(frozen=True)
class Claim:
    """A notification this sender now holds. `interrupted`: an earlier sender claimed it and its lease ran out
    without an outcome, so a provider may already have it."""

    notification: Notification
    interrupted: bool


class NotificationRepository:
    def __init__(self, table: Table, clock: Callable[[], datetime] = utc_now) -> None:
        self._table = table
        self._due = DueIndex(table)
        # When a write happens, for the due index's bucket (a due time already past goes under the write's minute).
        self._clock = clock

    # -- what a notification contributes to its event's transaction -------------------------------

    def new_notification_actions(self, notification: Notification, *, written_at: datetime) -> list[dict[str, Any]]:
        """The notification, created once (attribute_not_exists: one per order, event type and contact)."""
        return [self._table.put_action(self._item(notification, written_at), "attribute_not_exists(pk)")]

    # -- reads ----------------------------------------------------------------------------------

    def notification(self, notification_id: str) -> Notification | None:
        item = self._table.get(notification_key(notification_id))
        return _notification_of(item) if item else None

    def notifications_of(
        self, contact_id: str, *, limit: int = 20, cursor: str | None = None
    ) -> tuple[list[Notification], str | None]:
        """A contact's notifications, newest first, a page at a time (ByCustomer)."""
        items, next_cursor = customer_items(self._table, contact_id, NOTIFY_SK, limit=limit, cursor=cursor)
        return [_notification_of(item) for item in items], next_cursor

    # -- the sender -----------------------------------------------------------------------------

    def claim(self, notification_id: str, *, now: datetime, lease: timedelta) -> Claim | None:
        """Holds the notification for one send: from queued once due, or from sending whose lease ran out. None when
        it is not this sender's to send (settled, not due yet, or held by a live sender). Every claim counts a try,
        which fences it: only the latest claimant can settle the notification."""
        until = now + lease
        pk = notification_pk(notification_id)
        held = {
            ":sending": {"S": NotificationState.SENDING.value},
            ":until": {"S": until.isoformat()},
            ":one": {"N": "1"},
            ":due": {"S": due_bound(now + CLAIM_EARLY)},
            **_due_values(self._due.due_keys(pk, until, now)),
        }
        # While claimed, the notification stays in ByNotifyDue under its lease's end: a sender that dies mid-send
        # leaves it for the scheduler to enqueue again once the lease has run out.
        claimed = self._table.update_if(
            notification_key(notification_id),
            "SET #state = :sending, lease_until = :until, tries = tries + :one, notify_due_pk = :bucket, "
            "notify_due_sk = :due_sk",
            "#state = :queued AND notify_due_sk < :due",
            names={"#state": "state"},
            values={**held, ":queued": {"S": NotificationState.QUEUED.value}},
            return_new=True,
        )
        if claimed is not None:
            return Claim(_notification_of(claimed), interrupted=False)
        current = self.notification(notification_id)
        if current is None or current.state is not NotificationState.SENDING or current.lease_until is None:
            return None
        if current.lease_until > now:
            return None
        taken = self._table.update_if(
            notification_key(notification_id),
            "SET lease_until = :until, tries = tries + :one, notify_due_pk = :bucket, notify_due_sk = :due_sk",
            "#state = :sending AND tries = :seen",
            names={"#state": "state"},
            values={**{k: v for k, v in held.items() if k != ":due"}, ":seen": {"N": str(current.tries)}},
            return_new=True,
        )
        return Claim(_notification_of(taken), interrupted=True) if taken is not None else None

    def defer(
        self, notification: Notification, *, due_at: datetime, reason: str, tries_by_channel: tuple[ChannelTry, ...]
    ) -> bool:
        """Returns a claimed notification to the queue, due at `due_at` (quiet hours' end, a provider's Retry-After,
        the pacer's slot), in ByNotifyDue at that time. False when the claim is no longer this sender's."""
        pk = notification_pk(notification.id)
        written = self._table.update_if(
            notification_key(notification.id),
            "SET #state = :queued, due_at = :due_at, deferred_reason = :reason, tries_by_channel = :tries_by_channel, "
            "notify_due_pk = :bucket, notify_due_sk = :due_sk REMOVE lease_until",
            "#state = :sending AND tries = :tries",
            names={"#state": "state"},
            values={
                ":queued": {"S": NotificationState.QUEUED.value},
                ":due_at": {"S": due_at.isoformat()},
                ":reason": {"S": reason[:64]},
                ":tries_by_channel": _tries_value(tries_by_channel),
                ":sending": {"S": NotificationState.SENDING.value},
                ":tries": {"N": str(notification.tries)},
                **_due_values(self._due.due_keys(pk, due_at, self._clock())),
            },
        )
        return written is not None

    def record_sent(
        self,
        notification: Notification,
        *,
        channel: NotifyChannel,
        account_id: str,
        provider_message_id: str,
        tries_by_channel: tuple[ChannelTry, ...],
        now: datetime,
        ticket_message: TicketMessage | None,
        ticket_id: str | None,
    ) -> bool:
        """Settles a claimed notification as sent, all or nothing in ONE transaction: the notification (on its
        claim's tries), its provider id's message index entry (so receipts land), the contact's last_notification,
        and, when given, its copy on the contact's open ticket `ticket_id` (appended as the ticket's next message, on
        the ticket's version). False when the claim is no longer this sender's (someone settled or took it)."""
        if ticket_message is not None and ticket_message.ticket_id != ticket_id:
            raise ValueError("the ticket copy belongs on the ticket named")
        for _ in range(_MAX_TICKET_TRIES):
            actions = [
                self._settle_sent_action(
                    notification, channel, account_id, provider_message_id, tries_by_channel, now, ticket_id
                ),
                self._last_notification_action(notification, channel, now),
            ]
            ticket_actions, message_sk = self._ticket_copy_actions(ticket_message) if ticket_message else ([], None)
            actions.append(
                self._provider_index_action(notification, channel, provider_message_id, ticket_message, message_sk)
            )
            actions.extend(ticket_actions)
            try:
                self._table.transact(actions, first_is_message_index=False)
            except WriteConflict:
                if not self._still_claimed(notification):
                    return False
                continue  # the ticket changed between its read and the write: read it again
            return True
        raise WriteConflict(f"the ticket of notification {notification.id} kept changing")

    def record_final(
        self,
        notification: Notification,
        *,
        state: NotificationState,
        tries_by_channel: tuple[ChannelTry, ...],
        now: datetime,
    ) -> bool:
        """Settles a claimed notification as failed (every channel refused it), skipped (nothing to send it on) or
        unknown (a provider may have it: never blindly resent). False when the claim is no longer this sender's."""
        if state not in (NotificationState.FAILED, NotificationState.SKIPPED, NotificationState.UNKNOWN):
            raise ValueError(f"{state.value} is not a final state without a send")
        written = self._table.update_if(
            notification_key(notification.id),
            "SET #state = :state, tries_by_channel = :tries_by_channel, settled_at = :at "
            "REMOVE lease_until, notify_due_pk, notify_due_sk",
            "#state = :sending AND tries = :tries",
            names={"#state": "state"},
            values={
                ":state": {"S": state.value},
                ":tries_by_channel": _tries_value(tries_by_channel),
                ":at": {"S": sortable_time(now)},
                ":sending": {"S": NotificationState.SENDING.value},
                ":tries": {"N": str(notification.tries)},
            },
        )
        return written is not None

    # -- receipts -------------------------------------------------------------------------------

    def record_delivery(self, notification_id: str, status: DeliveryStatus, at: datetime) -> bool:
        """A provider's receipt for a sent notification: its delivery status moves forward only (sent < delivered <
        read < failed, DELIVERY_STATUS_RANK), so repeated or out-of-order receipts change nothing (False)."""
        rank = DELIVERY_STATUS_RANK[status]
        written = self._table.update_if(
            notification_key(notification_id),
            "SET delivery_status = :status, delivery_rank = :rank, delivery_at = :at",
            "attribute_exists(pk) AND (attribute_not_exists(delivery_rank) OR delivery_rank < :rank)",
            values={":status": {"S": status.value}, ":rank": {"N": str(rank)}, ":at": {"S": sortable_time(at)}},
        )
        return written is not None

    # -- the scheduler --------------------------------------------------------------------------

    def due(self, now: datetime, *, limit: int) -> DueSweep:
        """What ByNotifyDue holds due at or before `now` from the cursor on: notifications (sk NOTIFY) queued past
        their due time or claimed past their lease, and orders (sk ORDER) whose delay timer ran out."""
        return self._due.due(now, limit)

    def advance_cursor(self, to: datetime) -> None:
        self._due.advance_cursor(to)

    def recheck_at(self, entry: DueTimer, at: datetime) -> bool:
        """Files a due notification's index entry again under the minute of `at`, its due time kept: enqueued once
        more, it is looked at again then if no sender has taken it (a lost queue message), while the cursor moves
        on. False when the notification moved since the index was read (claimed, settled, deferred)."""
        moved = self._due.due_keys(entry.pk, entry.due_at, at)
        written = self._table.update_if(
            key(entry.pk, NOTIFY_SK),
            "SET notify_due_pk = :bucket",
            "notify_due_sk = :seen",
            values={":bucket": moved["notify_due_pk"], ":seen": {"S": self._due.keys.sort_key(entry.pk, entry.due_at)}},
        )
        return written is not None

    # -- items and actions ----------------------------------------------------------------------

    def _item(self, notification: Notification, written_at: datetime) -> dict[str, Any]:
        pk = notification_pk(notification.id)
        item = {
            **key(pk, NOTIFY_SK),
            "customer_pk": {"S": customer_pk(notification.contact_id)},
            "customer_sk": {"S": f"NOTIFY#{sortable_time(notification.created_at)}#{notification.id}"},
            **to_attributes(notification.model_dump(mode="json")),
        }
        if notification.state is NotificationState.QUEUED:
            item.update(self._due.due_keys(pk, notification.due_at, written_at))
        elif notification.state is NotificationState.SENDING and notification.lease_until is not None:
            item.update(self._due.due_keys(pk, notification.lease_until, written_at))
        return item

    def _settle_sent_action(
        self,
        notification: Notification,
        channel: NotifyChannel,
        account_id: str,
        provider_message_id: str,
        tries_by_channel: tuple[ChannelTry, ...],
        now: datetime,
        ticket_id: str | None,
    ) -> dict[str, Any]:
        values: dict[str, Any] = {
            ":sent": {"S": NotificationState.SENT.value},
            ":channel": {"S": channel.value},
            ":account": {"S": account_id},
            ":provider_id": {"S": provider_message_id},
            ":tries_by_channel": _tries_value(tries_by_channel),
            ":at": {"S": sortable_time(now)},
            ":sending": {"S": NotificationState.SENDING.value},
            ":tries": {"N": str(notification.tries)},
        }
        update = (
            "SET #state = :sent, channel = :channel, channel_account_id = :account, provider_message_id = :provider_id, "
            "tries_by_channel = :tries_by_channel, settled_at = :at"
        )
        if ticket_id is not None:
            update += ", ticket_id = :ticket"
            values[":ticket"] = {"S": ticket_id}
        return {
            "Update": {
                "TableName": self._table.name,
                "Key": notification_key(notification.id),
                "UpdateExpression": update + " REMOVE lease_until, notify_due_pk, notify_due_sk",
                # `tries` fences the claim: a sender whose lease ran out and was taken over cannot settle.
                "ConditionExpression": "#state = :sending AND tries = :tries",
                "ExpressionAttributeNames": {"#state": "state"},
                "ExpressionAttributeValues": values,
            }
        }

    def _last_notification_action(
        self, notification: Notification, channel: NotifyChannel, now: datetime
    ) -> dict[str, Any]:
        last = {
            "notification_id": notification.id,
            "order_key": notification.order_key,
            "order_id": notification.order_id,
            "order_number": notification.order_number,
            "channel": channel.value,
            "at": sortable_time(now),
        }
        return self._table.update_action(
            key(f"CONTACT#{notification.contact_id}", "CONTACT"),
            "SET last_notification = :last",
            "attribute_exists(pk)",
            {":last": serialize(last)},
        )

    def _provider_index_action(
        self,
        notification: Notification,
        channel: NotifyChannel,
        provider_message_id: str,
        ticket_message: TicketMessage | None,
        message_sk: str | None,
    ) -> dict[str, Any]:
        item: dict[str, Any] = {
            **message_index_key(channel.timeline_channel.value, provider_message_id),
            "notification_id": {"S": notification.id},
            "direction": {"S": Direction.OUTBOUND.value},
        }
        if ticket_message is not None and message_sk is not None:
            item["ticket_id"] = {"S": ticket_message.ticket_id}
            item["message_sk"] = {"S": message_sk}
        # Unconditional, as for replies: a provider id names one message, and a retry writes the same entry.
        return {"Put": {"TableName": self._table.name, "Item": item}}

    def _ticket_copy_actions(self, message: TicketMessage) -> tuple[list[dict[str, Any]], str | None]:
        """The message appended as the ticket's next one, and the ticket's count and version moved on under the
        version read (a change meanwhile conflicts, and the caller reads again). None when the ticket is gone."""
        item = self._table.get(key(ticket_pk(message.ticket_id), TICKET_SK), projection="version, message_count")
        if item is None:
            return [], None
        version, count = int(item["version"]["N"]), int(item["message_count"]["N"])
        sequence = count + 1
        message_sk = _message_sk(message, sequence)
        stored = {**key(ticket_pk(message.ticket_id), message_sk), **to_attributes(message.model_dump(mode="json"))}
        if message.delivery_status is not None:
            stored["delivery_rank"] = {"N": str(DELIVERY_STATUS_RANK[message.delivery_status])}
        return [
            self._table.put_action(stored, "attribute_not_exists(pk)"),
            self._table.update_action(
                key(ticket_pk(message.ticket_id), TICKET_SK),
                "SET message_count = :count, version = :next",
                "version = :seen",
                {":count": {"N": str(sequence)}, ":next": {"N": str(version + 1)}, ":seen": {"N": str(version)}},
            ),
        ], message_sk

    def _still_claimed(self, notification: Notification) -> bool:
        current = self.notification(notification.id)
        return (
            current is not None and current.state is NotificationState.SENDING and current.tries == notification.tries
        )


def _message_sk(message: TicketMessage, sequence: int) -> str:
    return f"MSG#{sortable_time(message.created_at)}#{sequence:08d}"


def _due_values(due_keys: dict[str, Any]) -> dict[str, Any]:
    return {":bucket": due_keys["notify_due_pk"], ":due_sk": due_keys["notify_due_sk"]}


def _tries_value(tries: tuple[ChannelTry, ...]) -> dict[str, Any]:
    return serialize([attempt.model_dump(mode="json") for attempt in tries])


def _notification_of(item: dict[str, Any]) -> Notification:
    fields = {name: value for name, value in from_attributes(item).items() if name not in _RECORD_ONLY}
    return Notification.model_validate(fields)
