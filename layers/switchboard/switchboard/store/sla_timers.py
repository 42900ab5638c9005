"""SLA timers: the sparse BySlaDue index of what is due when, and the enforcer's sweep cursor over it.

A ticket's next SLA deadline (`sla.next_due_at`: a warning, a breach or an escalation) and an SLA notice's next
try are index keys of their own item, written by the same conditional write as the item and removed (so the item
leaves the index) when nothing is due:

| index keys | value |
|------------|-------|
| sla_due_pk | SLADUE#<minute of the due time, UTC, YYYY-MM-DDTHH:MM>#<shard 0..3> |
| sla_due_sk | <due time, fixed-width UTC>#<pk of the item> |

The sweep reads the minute buckets from its cursor up to now, shard by shard, so what it reads is what is due
(plus empty buckets: SHARDS queries a minute). The cursor (pk SLA#SWEEP, sk CURSOR) is the first minute not
known to be empty of due timers; it trails now by SETTLE_MINUTES, because a write that computed its deadline
a moment ago may land in a bucket the sweep already read (the sweep reads the trailing buckets again: a timer
acted on has left its bucket, so re-reading costs only what is still due). After an outage the sweep catches up
from the cursor, MAX_BUCKETS_PER_SWEEP minutes per run.

Hot partitions: a bucket key takes the timers due in one minute, spread over SHARDS keys by the item's key; a key
takes 1,000 writes a second (DynamoDB Developer Guide, "Partitions and data distribution"), so one minute's
buckets absorb 4,000 timer writes a second, and the writes into a bucket spread over the time before it.
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
INDEX = "BySlaDue"
_CURSOR = key("SLA#SWEEP", "CURSOR")


def due_keys(item_pk: str, due_at: datetime | None, written_at: datetime | None = None) -> dict[str, Any]:
    """The index keys of an item due at `due_at`, written at `written_at` (none when nothing is due: the item leaves
    the index). A time already past when written (a message processed late, an escalation owed since a pause) goes
    into the bucket of the write's minute, never behind the sweep's cursor; its sort key keeps the real due time."""
    if due_at is None:
        return {}
    bucket = due_at if written_at is None else max(due_at, written_at)
    return {
        "sla_due_pk": {"S": bucket_key(_minute(bucket), _shard(item_pk))},
        "sla_due_sk": {"S": f"{sortable_time(due_at)}#{item_pk}"},
    }


def bucket_key(minute: datetime, shard: int) -> str:
    return f"SLADUE#{minute.strftime('%Y-%m-%dT%H:%M')}#{shard}"


@dataclass(frozen=True)
class DueTimer:
    """An index entry: the item due (a ticket or a notice) and when, as the index last saw it."""

    pk: str
    sk: str
    due_at: datetime
    minute: datetime  # the bucket it was read from


@dataclass(frozen=True)
class DueSweep:
    """What one sweep read: the timers due, the buckets and index entries read, and the cursor it may move to."""

    timers: list[DueTimer]
    buckets_read: int
    entries_read: int
    settled_until: datetime  # every bucket before it was read whole (the last SETTLE_MINUTES always stay)


class SlaTimers:
    def __init__(self, table: Table) -> None:
        self._table = table

    def due_timers(self, now: datetime, *, limit: int = 1000) -> DueSweep:
        """Every timer due at or before `now` from the cursor's minute on, oldest bucket first, at most `limit`
        (the rest stays for the next sweep)."""
        now_minute = _minute(now)
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
            _CURSOR,
            "SET swept_until = :to",
            "attribute_not_exists(swept_until) OR swept_until < :to",
            values={":to": {"S": sortable_time(to)}},
        )

    def _cursor(self) -> datetime | None:
        item = self._table.get(_CURSOR)
        if not item:
            return None
        return _time(item["swept_until"]["S"])

    def _bucket(self, minute: datetime, shard: int, now: datetime, limit: int) -> list[DueTimer]:
        request: dict[str, Any] = {
            "IndexName": INDEX,
            "KeyConditionExpression": "sla_due_pk = :bucket AND sla_due_sk < :after",
            "ExpressionAttributeValues": {
                ":bucket": {"S": bucket_key(minute, shard)},
                # "$" sorts right after "#": every entry due at or before now is below this bound.
                ":after": {"S": f"{sortable_time(now)}$"},
            },
        }
        timers: list[DueTimer] = []
        while len(timers) < limit:
            response = self._table.query({**request, "Limit": limit - len(timers)})
            for item in response.get("Items", []):
                timers.append(DueTimer(item["pk"]["S"], item["sk"]["S"], _time(item["sla_due_sk"]["S"]), minute))
            last = response.get("LastEvaluatedKey")
            if not last:
                break
            request["ExclusiveStartKey"] = last
        return timers


def _minute(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def _shard(item_pk: str) -> int:
    return hashlib.sha256(item_pk.encode()).digest()[0] % SHARDS


def _time(sortable: str) -> datetime:
    return datetime.strptime(sortable[:27], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
