"""The due-minute index (store/due_index.py) on moto: where an entry is filed, what a sweep reads, and how far its
cursor may move. The SLA timers (BySlaDue) and the notifications (ByNotifyDue) each have one, apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from switchboard.store.due_index import MAX_BUCKETS_PER_SWEEP, SETTLE_MINUTES, SHARDS, DueIndex
from switchboard.store.sla_timers import SlaTimers, due_keys
from switchboard.store.table import Table, key

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
def table(stack) -> Table:
    return Table(stack.dynamodb, stack.table_name)


def file_entry(table: Table, index: DueIndex, pk: str, due_at: datetime, written_at: datetime | None = None) -> None:
    table.put_if({**key(pk, "NOTIFY"), **index.due_keys(pk, due_at, written_at)}, "attribute_not_exists(pk)")


def test_an_entry_is_filed_under_its_due_minute_and_one_past_due_under_the_writes_minute(table):
    index = DueIndex(table)
    # Given an entry due in the future, and one already past due when written
    ahead = index.due_keys("NOTIFY#a", T0 + timedelta(minutes=5, seconds=30), written_at=T0)
    late = index.due_keys("NOTIFY#b", T0 - timedelta(hours=2), written_at=T0 + timedelta(seconds=10))
    # Then the first is in its due minute's bucket, the second in the write's (never behind the cursor)
    assert ahead["notify_due_pk"]["S"].startswith("NOTIFYDUE#2026-12-03T09:05#")
    assert late["notify_due_pk"]["S"].startswith("NOTIFYDUE#2026-12-03T09:00#")
    # And both keep their real due time in the sort key
    assert late["notify_due_sk"]["S"] == "2026-12-03T07:00:00.000000Z#NOTIFY#b"
    assert int(ahead["notify_due_pk"]["S"].rsplit("#", 1)[1]) in range(SHARDS)
    # And nothing due: no keys (the item leaves the index)
    assert index.due_keys("NOTIFY#c", None) == {}


def test_a_sweep_reads_what_is_due_and_nothing_later(table):
    index = DueIndex(table)
    # Given entries due at T0-1 min, T0 and T0+30 s, and one due tomorrow
    for name, due in (("a", T0 - timedelta(minutes=1)), ("b", T0), ("c", T0 + timedelta(seconds=30))):
        file_entry(table, index, f"NOTIFY#{name}", due)
    file_entry(table, index, "NOTIFY#tomorrow", T0 + timedelta(days=1))
    # When the sweep runs at T0+10 s
    sweep = index.due(T0 + timedelta(seconds=10))
    # Then it reads the two due, from the trailing minutes' buckets, and moves the cursor no nearer than they
    assert sorted(entry.pk for entry in sweep.timers) == ["NOTIFY#a", "NOTIFY#b"]
    assert sweep.entries_read == 2 and sweep.buckets_read == SHARDS * (SETTLE_MINUTES + 1)
    assert sweep.settled_until == T0 - timedelta(minutes=SETTLE_MINUTES)


def test_a_sweep_stops_at_its_limit_and_keeps_the_cursor_on_the_unread_bucket(table):
    index = DueIndex(table)
    # Given six entries due in three different minutes
    for n in range(6):
        file_entry(table, index, f"NOTIFY#{n}", T0 + timedelta(minutes=n // 2))
    index.advance_cursor(T0)
    # When a sweep at T0+10 min may take three
    sweep = index.due(T0 + timedelta(minutes=10), limit=3)
    # Then it took three, and the cursor may not pass the minute it stopped in
    assert len(sweep.timers) == 3
    assert sweep.settled_until == T0 + timedelta(minutes=1)


def test_after_an_outage_a_sweep_catches_up_a_bounded_number_of_minutes(table):
    index = DueIndex(table)
    index.advance_cursor(T0)
    # Given an entry due five hours after the cursor's minute
    file_entry(table, index, "NOTIFY#late", T0 + timedelta(hours=5))
    # When sweeps run after the outage
    first = index.due(T0 + timedelta(hours=6))
    # Then the first reads its MAX_BUCKETS_PER_SWEEP minutes, settling them, and the later ones reach the entry
    assert first.buckets_read == MAX_BUCKETS_PER_SWEEP * SHARDS and first.timers == []
    assert first.settled_until == T0 + timedelta(minutes=MAX_BUCKETS_PER_SWEEP)
    index.advance_cursor(first.settled_until)
    found = []
    for _ in range(3):
        sweep = index.due(T0 + timedelta(hours=6))
        found.extend(entry.pk for entry in sweep.timers)
        index.advance_cursor(sweep.settled_until)
    assert found == ["NOTIFY#late"]


def test_the_cursor_only_moves_forward(table):
    index = DueIndex(table)
    index.advance_cursor(T0)
    index.advance_cursor(T0 - timedelta(minutes=30))
    assert table.get(key("NOTIFY#SWEEP", "CURSOR"))["swept_until"]["S"] == "2026-12-03T09:00:00.000000Z"  # type: ignore[index]


def test_the_sla_and_notification_indexes_keep_apart(table):
    # Given a ticket's SLA deadline and a notification, both due at T0
    table.put_if({**key("TICKET#t1", "TICKET"), **due_keys("TICKET#t1", T0)}, "attribute_not_exists(pk)")
    notifications = DueIndex(table)
    file_entry(table, notifications, "NOTIFY#n1", T0)
    # When each sweep runs and moves its cursor
    sla = SlaTimers(table).due_timers(T0 + timedelta(seconds=5))
    due = notifications.due(T0 + timedelta(seconds=5))
    SlaTimers(table).advance_cursor(T0 + timedelta(hours=1))
    # Then each sees only its own, and their cursors are their own
    assert [t.pk for t in sla.timers] == ["TICKET#t1"] and [t.pk for t in due.timers] == ["NOTIFY#n1"]
    assert table.get(key("NOTIFY#SWEEP", "CURSOR")) is None
