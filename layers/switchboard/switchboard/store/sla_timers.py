"""SLA timers: the sparse BySlaDue index of what is due when, and the enforcer's sweep cursor over it (a due-minute
index, store/due_index.py, which explains the buckets, the cursor and the shards).

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

from datetime import datetime
from typing import Any

from switchboard.store.due_index import (
    MAX_BUCKETS_PER_SWEEP,
    SETTLE_MINUTES,
    SHARDS,
    DueIndex,
    DueKeys,
    DueSweep,
    DueTimer,
)
from switchboard.store.table import Table

__all__ = [
    "INDEX",
    "MAX_BUCKETS_PER_SWEEP",
    "SETTLE_MINUTES",
    "SHARDS",
    "DueSweep",
    "DueTimer",
    "SlaTimers",
    "due_keys",
]

INDEX = "BySlaDue"
_CURSOR = ("SLA#SWEEP", "CURSOR")
_KEYS = DueKeys(pk_attr="sla_due_pk", sk_attr="sla_due_sk", prefix="SLADUE")


def due_keys(item_pk: str, due_at: datetime | None, written_at: datetime | None = None) -> dict[str, Any]:
    """The index keys of an item due at `due_at`, written at `written_at` (none when nothing is due: the item leaves
    the index). A time already past when written (a message processed late, an escalation owed since a pause) goes
    into the bucket of the write's minute, never behind the sweep's cursor; its sort key keeps the real due time."""
    return _KEYS.due_keys(item_pk, due_at, written_at)


def bucket_key(minute: datetime, shard: int) -> str:
    return _KEYS.bucket_key(minute, shard)


class SlaTimers:
    def __init__(self, table: Table) -> None:
        self._index = DueIndex(
            table, index=INDEX, pk_attr=_KEYS.pk_attr, sk_attr=_KEYS.sk_attr, prefix=_KEYS.prefix, cursor=_CURSOR
        )

    def due_timers(self, now: datetime, *, limit: int = 1000) -> DueSweep:
        """Every timer due at or before `now` from the cursor's minute on, oldest bucket first, at most `limit`
        (the rest stays for the next sweep)."""
        return self._index.due(now, limit)

    def advance_cursor(self, to: datetime) -> None:
        """Moves the cursor forward to `to`: every bucket before it holds nothing left to do. Concurrent sweeps
        only ever move it forward."""
        self._index.advance_cursor(to)
