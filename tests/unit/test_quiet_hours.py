"""Quiet hours (notifications/consent.py `quiet_until`): a transactional message caught by the admin's quiet hours
waits for their end in the customer's time zone, across midnight and DST changes, and is never dropped."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.notifications.consent import quiet_until
from switchboard.notifications.models import QuietHours

ZONES = ["Asia/Seoul", "America/New_York", "Europe/Berlin", "Asia/Tokyo"]
NIGHT = QuietHours(enabled=True, start=time(21, 0), end=time(8, 0))
# The DST changes of 2026 in New York and Berlin, where hypothesis looks hardest.
TRANSITIONS = [
    datetime(2026, 3, 8, 7, 0, tzinfo=UTC),  # New York 02:00 EST -> 03:00 EDT
    datetime(2026, 11, 1, 6, 0, tzinfo=UTC),  # New York 02:00 EDT -> 01:00 EST
    datetime(2026, 3, 29, 1, 0, tzinfo=UTC),  # Berlin 02:00 CET -> 03:00 CEST
    datetime(2026, 10, 25, 1, 0, tzinfo=UTC),  # Berlin 03:00 CEST -> 02:00 CET
]


def local(zone: str, *fields: int, fold: int = 0) -> datetime:
    return datetime(*fields, tzinfo=ZoneInfo(zone), fold=fold)


def wall(moment: datetime, zone: str) -> time:
    return moment.astimezone(ZoneInfo(zone)).time().replace(tzinfo=None, fold=0)


def inside(clock: time, quiet: QuietHours) -> bool:
    """The window as the admin means it, written independently of the code under test."""
    if quiet.start == quiet.end:
        return False
    if quiet.start < quiet.end:
        return quiet.start <= clock < quiet.end
    return clock >= quiet.start or clock < quiet.end


def skipped(day: datetime, clock: time, zone: str) -> bool:
    """Whether `clock` does not exist on `day`'s local date in `zone` (a spring-forward gap)."""
    naive = datetime.combine(day.astimezone(ZoneInfo(zone)).date(), clock)
    aware = naive.replace(tzinfo=ZoneInfo(zone))
    return aware.astimezone(UTC).astimezone(ZoneInfo(zone)).replace(tzinfo=None) != naive


# -- examples -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "at", "expected"),
    [
        # Seoul and Tokyo have no DST: 21:00-08:00 crosses midnight
        ("Asia/Seoul", local("Asia/Seoul", 2026, 12, 3, 23, 0), local("Asia/Seoul", 2026, 12, 4, 8, 0)),
        ("Asia/Seoul", local("Asia/Seoul", 2026, 12, 4, 0, 30), local("Asia/Seoul", 2026, 12, 4, 8, 0)),
        ("Asia/Seoul", local("Asia/Seoul", 2026, 12, 3, 21, 0), local("Asia/Seoul", 2026, 12, 4, 8, 0)),
        ("Asia/Seoul", local("Asia/Seoul", 2026, 12, 3, 20, 59), None),
        ("Asia/Seoul", local("Asia/Seoul", 2026, 12, 4, 8, 0), None),
        ("Asia/Tokyo", local("Asia/Tokyo", 2026, 12, 31, 22, 0), local("Asia/Tokyo", 2027, 1, 1, 8, 0)),
        # New York's short spring night and long autumn night still end at 08:00 local
        ("America/New_York", local("America/New_York", 2026, 3, 7, 22, 0), local("America/New_York", 2026, 3, 8, 8, 0)),
        ("America/New_York", local("America/New_York", 2026, 10, 31, 22, 0), local("America/New_York", 2026, 11, 1, 8, 0)),
    ],
)  # fmt: skip
def test_a_message_in_quiet_hours_waits_for_their_local_end(zone: str, at: datetime, expected: datetime | None) -> None:
    assert quiet_until(NIGHT, at, zone) == expected


def test_the_spring_night_is_an_hour_shorter_in_real_time() -> None:
    # Given 22:00 in New York the evening before the clocks go forward
    at = local("America/New_York", 2026, 3, 7, 22, 0)
    # Then quiet hours end 9 real hours later, at 08:00 EDT
    assert quiet_until(NIGHT, at, "America/New_York") - at == timedelta(hours=9)


def test_an_end_in_the_spring_gap_is_the_end_of_the_gap() -> None:
    # Given quiet hours ending at 02:30, which New York skips on 8 March 2026
    quiet = QuietHours(enabled=True, start=time(22, 0), end=time(2, 30))
    # When a message comes at 01:30 EST that night
    until = quiet_until(quiet, local("America/New_York", 2026, 3, 8, 1, 30), "America/New_York")
    # Then it waits until the first local time after 02:30 that exists: 03:00 EDT
    assert until == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
    assert wall(until, "America/New_York") == time(3, 0)


def test_an_end_in_berlins_spring_gap_is_the_end_of_the_gap() -> None:
    quiet = QuietHours(enabled=True, start=time(1, 0), end=time(2, 15))
    until = quiet_until(quiet, local("Europe/Berlin", 2026, 3, 29, 1, 45), "Europe/Berlin")
    assert until == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 03:00 CEST


@pytest.mark.parametrize(
    ("fold", "expected_utc"),
    [
        # 01:15 EDT, the first time round: the window ends at 01:30 EDT
        (0, datetime(2026, 11, 1, 5, 30, tzinfo=UTC)),
        # 01:15 EST, the hour repeated: 01:30 EDT has passed already, so 01:30 EST
        (1, datetime(2026, 11, 1, 6, 30, tzinfo=UTC)),
    ],
)
def test_an_end_in_the_repeated_autumn_hour_is_its_next_occurrence(fold: int, expected_utc: datetime) -> None:
    quiet = QuietHours(enabled=True, start=time(21, 0), end=time(1, 30))
    at = local("America/New_York", 2026, 11, 1, 1, 15, fold=fold)
    assert quiet_until(quiet, at, "America/New_York") == expected_utc


def test_a_fall_back_that_sets_the_clock_out_of_the_window_ends_it() -> None:
    # Given quiet hours 01:30-02:00, and a message at 01:45 EDT on New York's fall-back night
    quiet = QuietHours(enabled=True, start=time(1, 30), end=time(2, 0))
    at = local("America/New_York", 2026, 11, 1, 1, 45)
    # Then at 02:00 EDT the clock reads 01:00 EST, outside the window: the message goes then, not an hour later
    until = quiet_until(quiet, at, "America/New_York")
    assert until == datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
    assert wall(until, "America/New_York") == time(1, 0)
    # and the clock comes round to 01:30 EST again: quiet once more until 02:00 EST
    again = quiet_until(quiet, local("America/New_York", 2026, 11, 1, 1, 40, fold=1), "America/New_York")
    assert again == datetime(2026, 11, 1, 7, 0, tzinfo=UTC)


def test_quiet_hours_off_or_empty_never_hold_a_message() -> None:
    at = local("Asia/Seoul", 2026, 12, 3, 23, 0)
    assert quiet_until(QuietHours(), at, "Asia/Seoul") is None  # off by default
    assert quiet_until(QuietHours(enabled=True, start=time(9), end=time(9)), at, "Asia/Seoul") is None


def test_a_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        quiet_until(NIGHT, datetime(2026, 12, 3, 23, 0), "Asia/Seoul")


# -- properties ---------------------------------------------------------------------------------------------------

minutes = st.integers(min_value=0, max_value=24 * 60 - 1).map(lambda m: time(m // 60, m % 60))
windows = st.builds(lambda start, end: QuietHours(enabled=True, start=start, end=end), minutes, minutes)
near_transitions = st.tuples(st.sampled_from(TRANSITIONS), st.integers(min_value=-36 * 3600, max_value=36 * 3600)).map(
    lambda pair: pair[0] + timedelta(seconds=pair[1])
)
anywhere = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC))
instants = st.one_of(near_transitions, anywhere)


@settings(max_examples=1500, deadline=None)
@given(windows, instants, st.sampled_from(ZONES))
def test_property_quiet_until_ends_the_window_the_local_clock_is_in(quiet: QuietHours, at: datetime, zone: str) -> None:
    until = quiet_until(quiet, at, zone)
    # The message is held iff the local time is inside the window
    assert (until is not None) == inside(wall(at, zone), quiet)
    if until is None:
        return
    # It is held until an instant not before now ...
    assert until >= at and until.utcoffset() is not None
    # ... at which the local clock reads the window's end, or a DST change just made the clock jump out of the
    # window: over a skipped end (spring), or back before its start (autumn)
    if wall(until, zone) != quiet.end:
        before = until - timedelta(seconds=1)
        assert before.astimezone(ZoneInfo(zone)).utcoffset() != until.astimezone(ZoneInfo(zone)).utcoffset()
        assert skipped(until, quiet.end, zone) or not inside(wall(until, zone), quiet)
    else:
        assert quiet_until(quiet, until, zone) is None
    # ... and no later: every instant in between is still inside the window (the earliest end, never a day late)
    span = until - at
    for step in range(16):
        between = at + span * step / 16
        assert inside(wall(between, zone), quiet), between
    if until - timedelta(seconds=1) >= at:
        assert inside(wall(until - timedelta(seconds=1), zone), quiet)


@settings(max_examples=300, deadline=None)
@given(instants, st.sampled_from(ZONES))
def test_property_the_default_night_holds_at_most_eleven_hours_and_ends_at_eight(at: datetime, zone: str) -> None:
    until = quiet_until(NIGHT, at, zone)
    if until is not None:
        # 11 hours of wall clock, one more or less across a DST change
        assert timedelta(0) < until - at <= timedelta(hours=12)
        assert wall(until, zone) == time(8, 0)
