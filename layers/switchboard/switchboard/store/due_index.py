"""A due-minute index: a sparse GSI of what is due when, read minute bucket by minute bucket from a sweep's cursor.

An item with something due (a ticket's next SLA deadline, an SLA notice's next try, a notification to send, an
order's delay timer) carries two index keys of its own, written by the same conditional write as the item and
removed (so the item leaves the index) when nothing is due:

| index keys | value |
|------------|-------|
| <pk_attr>  | <PREFIX>#<minute of the due time, UTC, YYYY-MM-DDTHH:MM>#<shard 0..3> |
| <sk_attr>  | <due time, fixed-width UTC>#<pk of the item> |

A sweep reads the minute buckets from its cursor up to now, shard by shard, so what it reads is what is due (plus
empty buckets: SHARDS queries a minute). The cursor (one item per index) is the first minute not known to be empty
of due entries; it trails now by SETTLE_MINUTES, because a write that computed its due time a moment ago may land
in a bucket the sweep already read (the sweep reads the trailing buckets again: an entry acted on has left its
bucket, so re-reading costs only what is still due). After an outage the sweep catches up from the cursor,
MAX_BUCKETS_PER_SWEEP minutes per run.

Hot partitions: a bucket key takes the entries due in one minute, spread over SHARDS keys by the item's key; a key
takes 1,000 writes a second (DynamoDB Developer Guide, "Partitions and data distribution"), so one minute's
buckets absorb 4,000 writes a second, and the writes into a bucket spread over the time before it.

Two indexes use it: BySlaDue (store/sla_timers.py: tickets and SLA notices) and ByNotifyDue (store/notifications.py:
notifications while queued or claimed, orders while a delay timer runs).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from switchboard.models import sortable_time
from switchboard.store.table import Table, key

SHARDS = 4
SETTLE_MINUTES = 3
MAX_BUCKETS_PER_SWEEP = 120


@dataclass(frozen=True)
class DueTimer:
    """An index entry: the item due and when, as the index last saw it."""

    pk: str
    sk: str
    due_at: datetime
    minute: datetime  # the bucket it was read from


@dataclass(frozen=True)
class DueSweep:
    """What one sweep read: the entries due, the buckets and index entries read, and the cursor it may move to."""

    timers: list[DueTimer]
    buckets_read: int
    entries_read: int
    settled_until: datetime  # every bucket before it was read whole (the last SETTLE_MINUTES always stay)


@dataclass(frozen=True)
class DueKeys:
    """The layout of one due-minute index's keys: which attributes hold them and the buckets' prefix."""

    pk_attr: str = "notify_due_pk"
    sk_attr: str = "notify_due_sk"
    prefix: str = "NOTIFYDUE"

    def due_keys(self, item_pk: str, due_at: datetime | None, written_at: datetime | None = None) -> dict[str, Any]:
        """The index keys of an item due at `due_at`, written at `written_at` (none when nothing is due: the item
        leaves the index). A time already past when written (a message processed late, an escalation owed since a
        pause) goes into the bucket of the write's minute, never behind the sweep's cursor; its sort key keeps the
        real due time."""
        if due_at is None:
            return {}
        bucket = due_at if written_at is None else max(due_at, written_at)
        return {
            self.pk_attr: {"S": self.bucket_key(minute_of(bucket), shard_of(item_pk))},
            self.sk_attr: {"S": self.sort_key(item_pk, due_at)},
        }

    def sort_key(self, item_pk: str, due_at: datetime) -> str:
        return f"{sortable_time(due_at)}#{item_pk}"

    def bucket_key(self, minute: datetime, shard: int) -> str:
        return f"{self.prefix}#{minute.strftime('%Y-%m-%dT%H:%M')}#{shard}"


class DueIndex:
    """One due-minute index of the table and its sweep cursor."""

    def __init__(
        self,
        table: Table,
        index: str = "ByNotifyDue",
        pk_attr: str = "notify_due_pk",
        sk_attr: str = "notify_due_sk",
        prefix: str = "NOTIFYDUE",
        cursor: tuple[str, str] = ("NOTIFY#SWEEP", "CURSOR"),
    ) -> None:
        self._table = table
        self.index = index
        self.keys = DueKeys(pk_attr, sk_attr, prefix)
        self._cursor_key = key(*cursor)

    def due_keys(self, item_pk: str, due_at: datetime | None, written_at: datetime | None = None) -> dict[str, Any]:
        """The index keys of an item due at `due_at` (DueKeys.due_keys)."""
        return self.keys.due_keys(item_pk, due_at, written_at)

    def due(self, now: datetime, limit: int = 1000) -> DueSweep:
        """Every entry due at or before `now` from the cursor's minute on, oldest bucket first, at most `limit`
        (the rest stays for the next sweep)."""
        now_minute = minute_of(now)
        first = min(self._cursor() or now_minute - timedelta(minutes=SETTLE_MINUTES), now_minute)
        # After an outage the sweep catches up from the cursor, MAX_BUCKETS_PER_SWEEP minutes a run, never skipping one.
        last = min(now_minute, first + timedelta(minutes=MAX_BUCKETS_PER_SWEEP - 1))
        settled_until = min(now_minute - timedelta(minutes=SETTLE_MINUTES), last + timedelta(minutes=1))
        timers: list[DueTimer] = []
        buckets = entries = 0
        minute = first
        while minute <= last:
            if len(timers) >= limit:
                settled_until = min(settled_until, minute)
                break
            for shard in range(SHARDS):
                read = self._bucket(minute, shard, now, limit - len(timers))
                buckets += 1
                entries += len(read)
                timers.extend(read)
            if len(timers) >= limit:
                settled_until = min(settled_until, minute)
            minute += timedelta(minutes=1)
        return DueSweep(timers, buckets, entries, max(first, settled_until))

    def advance_cursor(self, to: datetime) -> None:
        """Moves the cursor forward to `to`: every bucket before it holds nothing left to do. Concurrent sweeps
        only ever move it forward."""
        self._table.update_if(
            self._cursor_key,
            "SET swept_until = :to",
            "attribute_not_exists(swept_until) OR swept_until < :to",
            values={":to": {"S": sortable_time(to)}},
        )

    def _cursor(self) -> datetime | None:
        item = self._table.get(self._cursor_key)
        if not item:
            return None
        return time_of(item["swept_until"]["S"])

    def _bucket(self, minute: datetime, shard: int, now: datetime, limit: int) -> list[DueTimer]:
        request: dict[str, Any] = {
            "IndexName": self.index,
            "KeyConditionExpression": "#bucket = :bucket AND #due < :after",
            "ExpressionAttributeNames": {"#bucket": self.keys.pk_attr, "#due": self.keys.sk_attr},
            "ExpressionAttributeValues": {
                ":bucket": {"S": self.keys.bucket_key(minute, shard)},
                ":after": {"S": due_bound(now)},
            },
        }
        timers: list[DueTimer] = []
        while len(timers) < limit:
            response = self._table.query({**request, "Limit": limit - len(timers)})
            for item in response.get("Items", []):
                timers.append(DueTimer(item["pk"]["S"], item["sk"]["S"], time_of(item[self.keys.sk_attr]["S"]), minute))
            last = response.get("LastEvaluatedKey")
            if not last:
                break
            request["ExclusiveStartKey"] = last
        return timers


def due_bound(now: datetime) -> str:
    """A sort key bound: every entry due at or before `now` sorts below it ("$" sorts right after "#")."""
    return f"{sortable_time(now)}$"


def minute_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def shard_of(item_pk: str) -> int:
    return hashlib.sha256(item_pk.encode()).digest()[0] % SHARDS


def time_of(sortable: str) -> datetime:
    return datetime.strptime(sortable[:27], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
