"""The outbox: every agent reply's send attempts, each claimed by one sender at a time and settled once.

| item            | pk                    | sk        | index keys (while queued)                  |
|-----------------|-----------------------|-----------|--------------------------------------------|
| send attempt    | ATTEMPT#<attempt id>  | ATTEMPT   | outbox_pk = OUTBOX#<0..7>, outbox_due (until settled) |

An attempt is written in the same transaction as its reply (TicketRepository.accept_reply) or its resend
(`resend_actions`), so a 202 means it is in the table whatever dies next. The sparse index ByOutboxDue holds
only attempts not yet settled, by when they need the sender: a queued one when it is due, a claimed one when
its lease runs out. The sweep (outbound/sweep.py) reads what is overdue and nothing else; settling an attempt
takes it out. Eight shards spread a burst of replies over eight index partitions.

An attempt's life: queued → (claim) sending → sent | failed | unknown, or back to queued for a retry. The
claim is a conditional write, so two senders never both call the provider for one attempt; a sender that
dies mid-call leaves its lease to run out, and the next claim sees it was interrupted (`Claim.interrupted`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from switchboard.channels.sending import SendOutcome
from switchboard.models import (
    DELIVERY_STATUS_RANK,
    AttemptState,
    Channel,
    DeliveryStatus,
    Direction,
    SendAttempt,
    sortable_time,
)
from switchboard.store.messages import MessageRef, delivery_step, message_sk_of_key
from switchboard.store.table import (
    Table,
    WriteConflict,
    from_attributes,
    key,
    message_index_key,
    serialize,
    ticket_pk,
    to_attributes,
)

ATTEMPT_SK = "ATTEMPT"
OUTBOX_SHARDS = 8
OUTBOX_INDEX = "ByOutboxDue"
_INDEX_ATTRIBUTES = ("outbox_pk", "outbox_due")


def attempt_key(attempt_id: str) -> dict[str, Any]:
    return key(f"ATTEMPT#{attempt_id}", ATTEMPT_SK)


def _shard(attempt_id: str) -> str:
    return f"OUTBOX#{int(hashlib.sha256(attempt_id.encode()).hexdigest()[:8], 16) % OUTBOX_SHARDS}"


@dataclass(frozen=True)
class Claim:
    """An attempt this sender now holds. `interrupted`: an earlier sender claimed it and its lease ran out
    without an outcome, so the provider may already have it."""

    attempt: SendAttempt
    interrupted: bool


class OutboxRepository:
    def __init__(self, table: Table) -> None:
        self._table = table

    # -- what an attempt contributes to its reply's transaction -----------------------------------

    def new_attempt_actions(self, attempt: SendAttempt) -> list[dict[str, Any]]:
        return [self._table.put_action(_attempt_item(attempt), "attribute_not_exists(pk)")]

    def resend_actions(self, attempt: SendAttempt, previous_attempt_id: str) -> list[dict[str, Any]]:
        """A new attempt for a message whose latest attempt is `previous_attempt_id` and ended failed or
        unknown: the message's condition makes two concurrent resends one."""
        message_key = key(ticket_pk(attempt.ticket_id), _message_sk(attempt))
        return [
            self._table.update_action(
                message_key,
                "SET attempt_id = :attempt, delivery_status = :queued, delivery_rank = :rank, "
                "delivery_history = list_append(if_not_exists(delivery_history, :none), :step) "
                "REMOVE delivery_error_code, delivery_error",
                "attempt_id = :previous AND delivery_status IN (:failed, :unknown)",
                {
                    ":attempt": {"S": attempt.id},
                    ":queued": {"S": DeliveryStatus.QUEUED.value},
                    ":rank": {"N": str(DELIVERY_STATUS_RANK[DeliveryStatus.QUEUED])},
                    ":previous": {"S": previous_attempt_id},
                    ":failed": {"S": DeliveryStatus.FAILED.value},
                    ":unknown": {"S": DeliveryStatus.UNKNOWN.value},
                    ":none": {"L": []},
                    ":step": delivery_step(DeliveryStatus.QUEUED, attempt.created_at, "resend"),
                },
            ),
            *self.new_attempt_actions(attempt),
        ]

    def accept_resend(self, attempt: SendAttempt, *, previous_attempt_id: str) -> None:
        """Writes the next attempt and points its message at it; WriteConflict when the message was resent
        already or is no longer failed or unknown (a receipt settled it)."""
        self._table.transact(self.resend_actions(attempt, previous_attempt_id), first_is_message_index=False)

    # -- the sender -----------------------------------------------------------------------------

    def attempt(self, attempt_id: str) -> SendAttempt | None:
        item = self._table.get(attempt_key(attempt_id))
        return _attempt_of(item) if item else None

    def claim_attempt(self, attempt_id: str, *, now: datetime, lease: timedelta) -> Claim | None:
        """Holds the attempt for one provider call: from queued, or from sending whose lease ran out. None when
        it is not this sender's to send (settled, or held by a live sender). Every claim counts a try, which
        fences the claim: only the latest claimant can settle the attempt."""
        until = now + lease
        # While claimed, the attempt stays in ByOutboxDue under its lease's end: a sender that dies mid-call
        # leaves it for the sweep to queue again once the lease has run out.
        held = {
            ":sending": {"S": AttemptState.SENDING.value},
            ":until": {"S": until.isoformat()},
            ":shard": {"S": _shard(attempt_id)},
            ":due_sk": {"S": f"{sortable_time(until)}#{attempt_id}"},
        }
        claimed = self._table.update_if(
            attempt_key(attempt_id),
            "SET #state = :sending, lease_until = :until, tries = tries + :one, outbox_pk = :shard, "
            "outbox_due = :due_sk",
            "#state = :queued",
            names={"#state": "state"},
            values={**held, ":queued": {"S": AttemptState.QUEUED.value}, ":one": {"N": "1"}},
            return_new=True,
        )
        if claimed is not None:
            return Claim(_attempt_of(claimed), interrupted=False)
        current = self.attempt(attempt_id)
        if current is None or current.state is not AttemptState.SENDING or current.lease_until is None:
            return None
        if current.lease_until > now:
            return None
        taken = self._table.update_if(
            attempt_key(attempt_id),
            "SET lease_until = :until, tries = tries + :one, outbox_pk = :shard, outbox_due = :due_sk",
            "#state = :sending AND tries = :seen",
            names={"#state": "state"},
            values={**held, ":seen": {"N": str(current.tries)}, ":one": {"N": "1"}},
            return_new=True,
        )
        return Claim(_attempt_of(taken), interrupted=True) if taken is not None else None

    def record_outcome(self, attempt: SendAttempt, outcome: SendOutcome, *, now: datetime) -> bool:
        """Settles a claimed attempt and its message once: sent (with the provider's id indexed so its receipts
        land), failed or unknown. False when the attempt is no longer this sender's (someone settled it)."""
        state = {
            "sent": AttemptState.SENT,
            "rejected": AttemptState.FAILED,
            "unknown": AttemptState.UNKNOWN,
        }[outcome.kind]
        status = {
            AttemptState.SENT: DeliveryStatus.SENT,
            AttemptState.FAILED: DeliveryStatus.FAILED,
            AttemptState.UNKNOWN: DeliveryStatus.UNKNOWN,
        }[state]
        attempt_values: dict[str, Any] = {
            ":state": {"S": state.value},
            ":sending": {"S": AttemptState.SENDING.value},
            ":tries": {"N": str(attempt.tries)},
            ":at": {"S": now.isoformat()},
        }
        attempt_update = "SET #state = :state, settled_at = :at REMOVE lease_until, outbox_pk, outbox_due"
        if outcome.provider_message_id:
            attempt_update = attempt_update.replace("SET ", "SET provider_message_id = :provider_id, ")
            attempt_values[":provider_id"] = {"S": outcome.provider_message_id}
        if outcome.kind != "sent":
            attempt_update = attempt_update.replace("SET ", "SET error_code = :code, #error = :error, ")
            attempt_values[":code"] = serialize(outcome.code)
            attempt_values[":error"] = serialize(outcome.reason)
        actions = [
            {
                "Update": {
                    "TableName": self._table.name,
                    "Key": attempt_key(attempt.id),
                    "UpdateExpression": attempt_update,
                    # `tries` fences the claim: a sender whose lease ran out and was taken over cannot settle.
                    "ConditionExpression": "#state = :sending AND tries = :tries",
                    "ExpressionAttributeNames": {
                        "#state": "state",
                        **({"#error": "error"} if outcome.kind != "sent" else {}),
                    },
                    "ExpressionAttributeValues": attempt_values,
                }
            },
            self._message_status_action(attempt, status, outcome, now),
        ]
        if outcome.kind == "sent":
            for provider_id in dict.fromkeys([outcome.provider_message_id, *outcome.also_known_as]):
                if provider_id:
                    actions.append(self._provider_index_action(attempt, provider_id))
        try:
            self._table.transact(actions, first_is_message_index=False)
        except WriteConflict:
            return False
        return True

    def index_provider_id(self, attempt: SendAttempt, provider_message_id: str) -> None:
        """Points a provider's id for this attempt at its message before the provider call (our own email
        Message-ID), so a customer's answer threads and a receipt lands whatever happens after."""
        item = self._provider_index_action(attempt, provider_message_id)["Put"]["Item"]
        self._table.put_if(
            item, "attribute_not_exists(pk) OR ticket_id = :ticket", {":ticket": {"S": attempt.ticket_id}}
        )

    def adopt_provider_id(self, attempt_id: str, channel: Channel, provider_message_id: str) -> MessageRef | None:
        """A receipt names one of our attempts by an id we never indexed (its send answer never came): the id
        now points at the attempt's message, and an attempt left unknown becomes sent. None when the attempt
        is not ours on that channel."""
        attempt = self.attempt(attempt_id)
        if attempt is None or attempt.channel is not channel:
            return None
        self.index_provider_id(attempt, provider_message_id)
        self._table.update_if(
            attempt_key(attempt.id),
            "SET #state = :sent, provider_message_id = :provider_id",
            "#state = :unknown",
            names={"#state": "state"},
            values={
                ":sent": {"S": AttemptState.SENT.value},
                ":unknown": {"S": AttemptState.UNKNOWN.value},
                ":provider_id": {"S": provider_message_id},
            },
        )
        return MessageRef(attempt.ticket_id, _message_sk(attempt), Direction.OUTBOUND)

    def retry_later(self, attempt: SendAttempt, outcome: SendOutcome, *, due_at: datetime) -> bool:
        """Returns a claimed attempt to the queue, due at `due_at` (the provider's Retry-After or our back-off)."""
        written = self._table.update_if(
            attempt_key(attempt.id),
            "SET #state = :queued, due_at = :due, outbox_pk = :shard, outbox_due = :due_sk, error_code = :code, "
            "#error = :error REMOVE lease_until",
            "#state = :sending AND tries = :tries",
            names={"#state": "state", "#error": "error"},
            values={
                ":queued": {"S": AttemptState.QUEUED.value},
                ":due": {"S": due_at.isoformat()},
                ":shard": {"S": _shard(attempt.id)},
                ":due_sk": {"S": f"{sortable_time(due_at)}#{attempt.id}"},
                ":code": serialize(outcome.code),
                ":error": serialize(outcome.reason),
                ":sending": {"S": AttemptState.SENDING.value},
                ":tries": {"N": str(attempt.tries)},
            },
        )
        return written is not None

    # -- the sweep ------------------------------------------------------------------------------

    def due_attempts(self, *, until: datetime, limit: int) -> list[SendAttempt]:
        """Unsettled attempts due at or before `until` (queued ones past their due time, claimed ones past their
        lease), oldest first: one Query per shard, each reading only what is overdue."""
        found: list[SendAttempt] = []
        bound = f"{sortable_time(until)}#\uffff"
        for shard in range(OUTBOX_SHARDS):
            request: dict[str, Any] = {
                "IndexName": OUTBOX_INDEX,
                "KeyConditionExpression": "outbox_pk = :shard AND outbox_due <= :until",
                "ExpressionAttributeValues": {":shard": {"S": f"OUTBOX#{shard}"}, ":until": {"S": bound}},
                "Limit": limit,
            }
            found.extend(_attempt_of(item) for item in self._table.query(request).get("Items", []))
        return sorted(found, key=lambda attempt: attempt.due_at)[:limit]

    # -- actions --------------------------------------------------------------------------------

    def _message_status_action(
        self, attempt: SendAttempt, status: DeliveryStatus, outcome: SendOutcome, now: datetime
    ) -> dict[str, Any]:
        # Only this attempt's outcome may settle the message (a resend moved attempt_id on). No receipt can have
        # moved it past `sent` yet: receipts find the message through the provider id indexed in this same write.
        values: dict[str, Any] = {
            ":status": {"S": status.value},
            ":rank": {"N": str(DELIVERY_STATUS_RANK[status])},
            ":attempt": {"S": attempt.id},
        }
        update = (
            "SET delivery_status = :status, delivery_rank = :rank, "
            "delivery_history = list_append(if_not_exists(delivery_history, :none), :step)"
        )
        values[":none"] = {"L": []}
        values[":step"] = delivery_step(status, now, "sender")
        if outcome.kind == "sent":
            update += " REMOVE delivery_error_code, delivery_error"
        else:
            update += ", delivery_error_code = :code, delivery_error = :error"
            values[":code"] = serialize(outcome.code)
            values[":error"] = serialize(outcome.reason)
        return self._table.update_action(
            key(ticket_pk(attempt.ticket_id), _message_sk(attempt)),
            update,
            "attempt_id = :attempt",
            values,
        )

    def _provider_index_action(self, attempt: SendAttempt, provider_message_id: str) -> dict[str, Any]:
        item = {
            **message_index_key(attempt.channel.value, provider_message_id),
            "ticket_id": {"S": attempt.ticket_id},
            "message_sk": {"S": _message_sk(attempt)},
            "direction": {"S": Direction.OUTBOUND.value},
            "attempt_id": {"S": attempt.id},
        }
        return {"Put": {"TableName": self._table.name, "Item": item}}


def _message_sk(attempt: SendAttempt) -> str:
    return message_sk_of_key(attempt.message_key)


def _attempt_item(attempt: SendAttempt) -> dict[str, Any]:
    item = {**attempt_key(attempt.id), **to_attributes(attempt.model_dump(mode="json", exclude_none=True))}
    if attempt.state is AttemptState.QUEUED:
        item["outbox_pk"] = {"S": _shard(attempt.id)}
        item["outbox_due"] = {"S": f"{sortable_time(attempt.due_at)}#{attempt.id}"}
    return item


def _attempt_of(item: dict[str, Any]) -> SendAttempt:
    fields = {
        name: value
        for name, value in from_attributes(item).items()
        if name not in _INDEX_ATTRIBUTES and name != "settled_at"
    }
    return SendAttempt.model_validate(fields)
