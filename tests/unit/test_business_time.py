"""Business-time arithmetic: adding working time then measuring it gives it back, to the microsecond; it is
monotonic and additive; and it is right across DST changes (New York, Berlin), Korean holidays (Seoul over
Chuseok 2026), split shifts, night shifts and schedules with no working time at all."""

import time
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.sla.business_time import (
    CALENDAR_TIME,
    MAX_SPAN_DAYS,
    BusinessCalendar,
    NoWorkingTime,
    TimeMeasure,
)
from switchboard.sla.schedules import ScheduleRules, schedule_from

SAVED_AT = datetime(2026, 1, 2, tzinfo=UTC)
KST = timezone(timedelta(hours=9))
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
ZERO = timedelta(0)


def calendar(zone: str, intervals: list[tuple[str, str, str]], holidays=(), country: str | None = None):
    rules = ScheduleRules(
        name=f"{zone} support",
        time_zone=zone,
        intervals=[{"day": day, "start": start, "end": end} for day, start, end in intervals],
        holidays=[{"date": day, "name": "day off"} for day in holidays],
        country_holidays=country,
    )
    return BusinessCalendar.of(schedule_from("hours", rules, version=1, saved_at=SAVED_AT))


def utc(zone: str, *fields: int) -> datetime:
    """A local wall-clock time (fold=0) as a UTC instant."""
    return datetime(*fields, tzinfo=ZoneInfo(zone)).astimezone(UTC)


# Split day shifts on weekdays, a Friday night shift crossing into Saturday, and a Sunday 01:00-04:00 shift that
# spans both DST changes of New York (02:00) and Berlin (02:00 CET -> 03:00 CEST, 03:00 CEST -> 02:00 CET).
# Holidays include a Monday, a Saturday after a night shift, and New York's spring-forward Sunday of 2027.
PROPERTY_INTERVALS = [
    *[(day, "09:00", "12:00") for day in WEEKDAYS],
    *[(day, "13:00", "18:00") for day in WEEKDAYS],
    ("fri", "22:00", "06:00"),
    ("sat", "10:00", "14:00"),
    ("sun", "01:00", "04:00"),
]
PROPERTY_HOLIDAYS = ["2026-01-01", "2026-05-25", "2026-07-04", "2026-09-26", "2026-12-25", "2027-03-14"]
CALENDARS = [
    calendar(zone, PROPERTY_INTERVALS, PROPERTY_HOLIDAYS)
    for zone in ("Asia/Seoul", "America/New_York", "Europe/Berlin")
]

calendars = st.sampled_from(CALENDARS)
instants = st.datetimes(min_value=datetime(2025, 12, 1), max_value=datetime(2027, 4, 1), timezones=st.just(UTC))
durations = st.timedeltas(min_value=ZERO, max_value=timedelta(days=30))
PROPERTIES = settings(max_examples=200, deadline=None)


@PROPERTIES
@given(calendars, instants, durations)
def test_measuring_added_working_time_gives_it_back_exactly(hours, start, duration):
    # Given a start and a duration of working time (microseconds included)
    # When the duration is added and the working time up to the result is measured
    end = hours.add(start, duration)
    # Then it is the duration, exactly; and the result is a UTC instant no earlier than start + duration
    assert hours.between(start, end) == duration
    assert end.tzinfo is UTC
    assert end - start >= duration


@PROPERTIES
@given(calendars, instants, durations, durations)
def test_adding_more_working_time_never_ends_earlier(hours, start, shorter, longer):
    # Given two durations, When each is added to the same start, Then the longer one ends no earlier
    shorter, longer = sorted((shorter, longer))
    assert hours.add(start, shorter) <= hours.add(start, longer)


@PROPERTIES
@given(calendars, instants, instants, durations)
def test_starting_later_never_ends_earlier(hours, first, second, duration):
    # Given two starts, When the same duration is added to each, Then the later start ends no earlier
    earlier, later = sorted((first, second))
    assert hours.add(earlier, duration) <= hours.add(later, duration)


@PROPERTIES
@given(calendars, instants, instants, instants)
def test_working_time_is_additive(hours, first, second, third):
    # Given three instants in order
    a, b, c = sorted((first, second, third))
    # When working time is measured over both parts and over the whole
    # Then the parts add up to the whole, and no span holds more working time than elapsed time
    assert hours.between(a, b) + hours.between(b, c) == hours.between(a, c)
    assert hours.between(a, c) <= c - a
    assert hours.between(c, a) == ZERO


@PROPERTIES
@given(calendars, instants)
def test_an_instant_is_working_exactly_when_the_microsecond_after_it_counts(hours, at):
    # Given any instant, When asked whether it is working time
    # Then the answer agrees with the measure of the microsecond that starts there
    tick = timedelta(microseconds=1)
    assert hours.is_working(at) == (hours.between(at, at + tick) == tick)


@PROPERTIES
@given(instants, instants, durations)
def test_calendar_time_is_plain_arithmetic(first, second, duration):
    # Given calendar time, When adding and measuring, Then it is datetime arithmetic, every instant working
    assert CALENDAR_TIME.add(first, duration) == first + duration
    assert CALENDAR_TIME.between(first, second) == max(second - first, ZERO)
    assert CALENDAR_TIME.is_working(first)


def test_business_and_calendar_time_are_used_alike():
    # Given both measures behind the one protocol the clocks use
    start = datetime(2026, 6, 1, 0, 0, tzinfo=UTC)  # 09:00 KST, a Monday
    measures: list[TimeMeasure] = [CALENDAR_TIME, calendar("Asia/Seoul", [(d, "09:00", "18:00") for d in WEEKDAYS])]
    # When an hour is added with each, Then each measures it back as an hour
    for measure in measures:
        assert measure.between(start, measure.add(start, timedelta(hours=1))) == timedelta(hours=1)


# -- DST: working time is real elapsed time ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "night", "hours"),
    [
        # New York springs forward at 02:00 EST to 03:00 EDT: 01:00 EST to 04:00 EDT is 2 real hours
        ("America/New_York", date(2026, 3, 8), 2),
        # and falls back at 02:00 EDT to 01:00 EST: 01:00 EDT (first occurrence) to 04:00 EST is 4 real hours
        ("America/New_York", date(2026, 11, 1), 4),
        # Berlin springs forward at 02:00 CET to 03:00 CEST, and falls back at 03:00 CEST to 02:00 CET
        ("Europe/Berlin", date(2026, 3, 29), 2),
        ("Europe/Berlin", date(2026, 10, 25), 4),
    ],
)
def test_an_interval_spanning_a_dst_change_is_its_real_elapsed_time(zone, night, hours):
    # Given a Sunday 01:00-04:00 shift, on the night the clocks change
    sunday = calendar(zone, [("sun", "01:00", "04:00")])
    midnight = utc(zone, night.year, night.month, night.day)
    # When the working time of that day is measured
    worked = sunday.between(midnight, midnight + timedelta(days=1))
    # Then it is the hours that really passed between 01:00 and 04:00 local
    assert worked == timedelta(hours=hours)
    assert sunday.add(midnight, worked) == utc(zone, night.year, night.month, night.day, 4)


def test_new_york_spring_forward_in_detail():
    # Given a Sunday 01:00-04:00 shift in New York on 2026-03-08 (02:00 EST jumps to 03:00 EDT, at 07:00Z)
    sunday = calendar("America/New_York", [("sun", "01:00", "04:00")])
    # When an hour is added from the start of the shift (01:00 EST = 06:00Z)
    # Then it ends at 07:00Z, which the wall clock reads as 03:00 EDT
    ends = sunday.add(datetime(2026, 3, 8, 6, 0, tzinfo=UTC), timedelta(hours=1))
    assert ends == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
    assert ends.astimezone(ZoneInfo("America/New_York")).hour == 3
    # And the shift ends at 04:00 EDT = 08:00Z
    assert sunday.is_working(datetime(2026, 3, 8, 7, 59, 59, 999999, tzinfo=UTC))
    assert not sunday.is_working(datetime(2026, 3, 8, 8, 0, tzinfo=UTC))


def test_a_shift_starting_in_the_spring_forward_gap_starts_when_the_gap_ends():
    # Given a shift from 02:30, a time New York's clocks skip on 2026-03-08, to 05:00
    sunday = calendar("America/New_York", [("sun", "02:30", "05:00")])
    # When the day is measured
    midnight = utc("America/New_York", 2026, 3, 8)
    # Then the shift starts at the first instant after the gap (03:00 EDT = 07:00Z): 2 hours of work
    assert sunday.between(midnight, midnight + timedelta(days=1)) == timedelta(hours=2)
    assert not sunday.is_working(datetime(2026, 3, 8, 6, 59, 59, tzinfo=UTC))
    assert sunday.is_working(datetime(2026, 3, 8, 7, 0, tzinfo=UTC))


def test_a_shift_inside_the_gap_has_no_working_time():
    # Given a Berlin shift 02:00-02:45, all of it skipped on 2026-03-29, and the same shift a week later
    sunday = calendar("Europe/Berlin", [("sun", "02:00", "02:45")])
    # When the two Sundays are measured
    gap_day, next_sunday = utc("Europe/Berlin", 2026, 3, 29), utc("Europe/Berlin", 2026, 4, 5)
    # Then the gap day has none, the next Sunday 45 minutes
    assert sunday.between(gap_day, gap_day + timedelta(days=1)) == ZERO
    assert sunday.add(gap_day, timedelta(minutes=1)) == utc("Europe/Berlin", 2026, 4, 5, 2, 1)
    assert sunday.between(next_sunday, next_sunday + timedelta(days=1)) == timedelta(minutes=45)


def test_a_time_that_happens_twice_is_its_first_occurrence():
    # Given a Berlin shift 02:30-03:30 on 2026-10-25, when 02:00-03:00 happens twice (CEST, then CET)
    sunday = calendar("Europe/Berlin", [("sun", "02:30", "03:30")])
    midnight = utc("Europe/Berlin", 2026, 10, 25)
    # When the day is measured
    # Then the shift starts at the first 02:30 (CEST, 00:30Z) and ends at 03:30 CET (02:30Z): 2 real hours
    assert sunday.between(midnight, midnight + timedelta(days=1)) == timedelta(hours=2)
    assert sunday.add(midnight, timedelta(minutes=1)) == datetime(2026, 10, 25, 0, 31, tzinfo=UTC)


# -- Seoul over Chuseok 2026, with Korea's public holidays from the holidays package -------------------------


@pytest.fixture(scope="module")
def seoul() -> BusinessCalendar:
    return calendar("Asia/Seoul", [(day, "09:00", "18:00") for day in WEEKDAYS], country="KR")


def test_an_eight_hour_target_over_chuseok(seoul):
    # Given a ticket on Wednesday 2026-09-23 at 17:00 KST, with an 8-hour business-hours target
    opened = datetime(2026, 9, 23, 17, 0, tzinfo=KST)
    # When its deadline is computed on Mon-Fri 09:00-18:00 Seoul hours with Korea's holidays
    due = seoul.add(opened, timedelta(hours=8))
    # Then: Wed 17:00-18:00 is 1 hour; Thu 24 to Sat 26 are Chuseok (Sat 26 is a weekend day anyway, so the
    # package adds no substitute for it); Sun 27 is a weekend day; Mon 28 09:00 + the 7 hours left = 16:00 KST
    assert due == datetime(2026, 9, 28, 16, 0, tzinfo=KST)
    assert seoul.between(opened, due) == timedelta(hours=8)


def test_the_substitute_holiday_for_national_foundation_day(seoul):
    # Given a ticket on Friday 2026-10-02 at 17:00 KST with an 8-hour target
    opened = datetime(2026, 10, 2, 17, 0, tzinfo=KST)
    # When its deadline is computed
    due = seoul.add(opened, timedelta(hours=8))
    # Then: Fri 17:00-18:00 is 1 hour; Sat Oct 3 (National Foundation Day) and Sun Oct 4 are the weekend; Mon Oct 5
    # is its substitute holiday (대체공휴일); Tue Oct 6 09:00 + 7 hours = 16:00 KST
    assert due == datetime(2026, 10, 6, 16, 0, tzinfo=KST)
    assert not seoul.is_working(datetime(2026, 10, 5, 10, 0, tzinfo=KST))


def test_chuseok_week_holds_two_working_days(seoul):
    # Given the week of Chuseok 2026 (Mon Sep 21 to Sun Sep 27)
    monday, next_monday = datetime(2026, 9, 21, tzinfo=KST), datetime(2026, 9, 28, tzinfo=KST)
    # When its working time is measured, Then only Mon 21, Tue 22 and Wed 23 count: 3 x 9 hours
    assert seoul.between(monday, next_monday) == timedelta(hours=27)


# -- split shifts, night shifts, boundaries ------------------------------------------------------------------


def test_a_split_shift_skips_the_lunch_break():
    # Given Monday 09:00-12:00 and 13:00-18:00 in Seoul
    monday = calendar("Asia/Seoul", [("mon", "09:00", "12:00"), ("mon", "13:00", "18:00")])
    # When 2 hours are added at 11:00, Then 1 hour before lunch and 1 after: 14:00
    assert monday.add(datetime(2026, 6, 1, 11, 0, tzinfo=KST), timedelta(hours=2)) == datetime(
        2026, 6, 1, 14, 0, tzinfo=KST
    )
    # And a ticket at 12:30 starts counting at 13:00
    assert monday.add(datetime(2026, 6, 1, 12, 30, tzinfo=KST), timedelta(minutes=1)) == datetime(
        2026, 6, 1, 13, 1, tzinfo=KST
    )
    assert monday.between(datetime(2026, 6, 1, tzinfo=KST), datetime(2026, 6, 2, tzinfo=KST)) == timedelta(hours=8)


def test_a_night_shift_runs_past_midnight():
    # Given a Friday 22:00-06:00 shift in Seoul
    nights = calendar("Asia/Seoul", [("fri", "22:00", "06:00")])
    # When 3 hours are added on Friday 2026-06-05 at 21:00, Then they end Saturday 01:00
    assert nights.add(datetime(2026, 6, 5, 21, 0, tzinfo=KST), timedelta(hours=3)) == datetime(
        2026, 6, 6, 1, 0, tzinfo=KST
    )
    assert nights.is_working(datetime(2026, 6, 6, 5, 59, tzinfo=KST))
    assert not nights.is_working(datetime(2026, 6, 6, 6, 0, tzinfo=KST))


def test_a_holiday_after_a_night_shift_keeps_only_the_hours_before_midnight():
    # Given a Friday 22:00-06:00 shift with Saturday 2026-06-06 a holiday (Zendesk: a holiday is its local date)
    nights = calendar("Asia/Seoul", [("fri", "22:00", "06:00")], holidays=["2026-06-06"])
    friday = datetime(2026, 6, 5, 21, 0, tzinfo=KST)
    # When that Friday night is measured, Then only 22:00-24:00 works
    assert nights.between(friday, datetime(2026, 6, 6, 12, 0, tzinfo=KST)) == timedelta(hours=2)
    # And 3 hours from Friday 21:00 end at 23:00 the next Friday
    assert nights.add(friday, timedelta(hours=3)) == datetime(2026, 6, 12, 23, 0, tzinfo=KST)


def test_a_sunday_night_shift_wraps_into_monday():
    # Given a Sunday 22:00-06:00 shift
    nights = calendar("Europe/Berlin", [("sun", "22:00", "06:00")])
    # When 6 hours are added on Sunday 2026-06-07 at 20:00 Berlin time, Then they end Monday 04:00
    assert nights.add(utc("Europe/Berlin", 2026, 6, 7, 20), timedelta(hours=6)) == utc("Europe/Berlin", 2026, 6, 8, 4)


def test_zero_working_time_is_the_start_itself():
    # Given a start outside working time, When nothing is added, Then the start comes back unchanged
    hours = calendar("Asia/Seoul", [("mon", "09:00", "18:00")])
    saturday = datetime(2026, 6, 6, 3, 4, 5, 6, tzinfo=UTC)
    assert hours.add(saturday, ZERO) == saturday
    # And counting from it begins at the next working instant: Monday 09:00 KST
    assert hours.add(saturday, timedelta(microseconds=1)) == datetime(2026, 6, 8, 0, 0, 0, 1, tzinfo=UTC)


def test_the_end_of_an_interval_is_not_working_time_and_its_start_is():
    hours = calendar("Asia/Seoul", [("mon", "09:00", "18:00")])
    # Given Monday 2026-06-01, Then 09:00 works, 18:00 does not, and 1 µs of work ends 1 µs after 09:00
    assert hours.is_working(datetime(2026, 6, 1, 9, 0, tzinfo=KST))
    assert not hours.is_working(datetime(2026, 6, 1, 18, 0, tzinfo=KST))
    assert hours.add(datetime(2026, 6, 1, 17, 0, tzinfo=KST), timedelta(hours=1)) == datetime(
        2026, 6, 1, 18, 0, tzinfo=KST
    )


def test_microseconds_round_trip_across_days():
    # Given a start with microseconds and a duration with microseconds, over a weekend
    hours = calendar("America/New_York", [(day, "09:00", "17:00") for day in WEEKDAYS])
    start = datetime(2026, 6, 5, 20, 59, 59, 999_999, tzinfo=UTC)  # Friday 16:59:59.999999 EDT
    duration = timedelta(hours=3, microseconds=7)
    # When added and measured, Then nothing is lost: 1 µs on Friday, and 3 h 6 µs from Monday 09:00 EDT (13:00Z)
    end = hours.add(start, duration)
    assert end == datetime(2026, 6, 8, 16, 0, 0, 6, tzinfo=UTC)
    assert hours.between(start, end) == duration


def test_times_in_and_out_are_aware_and_out_is_utc():
    hours = calendar("Asia/Seoul", [("mon", "09:00", "18:00")])
    naive = datetime(2026, 6, 1, 10, 0)
    # Given a naive datetime, Then every method refuses it, business or calendar time
    for measure in (hours, CALENDAR_TIME):
        with pytest.raises(ValueError, match="timezone-aware"):
            measure.add(naive, timedelta(hours=1))
        with pytest.raises(ValueError, match="timezone-aware"):
            measure.between(naive, datetime(2026, 6, 2, tzinfo=UTC))
        with pytest.raises(ValueError, match="timezone-aware"):
            measure.is_working(naive)
        with pytest.raises(ValueError, match="never negative"):
            measure.add(datetime(2026, 6, 1, tzinfo=UTC), timedelta(seconds=-1))
    # And an aware start in another zone gives a UTC result
    assert hours.add(datetime(2026, 6, 1, 10, 0, tzinfo=KST), timedelta(hours=1)).tzinfo is UTC


# -- no working time: a clear error, quickly -----------------------------------------------------------------


def test_a_week_without_working_time_is_an_error_at_once():
    # Given a calendar whose week has no working minute at all
    nothing = BusinessCalendar(zone=ZoneInfo("Asia/Seoul"), week=((),) * 7, name="schedule 'empty'")
    start = datetime(2026, 6, 1, tzinfo=UTC)
    # When working time is added, Then NoWorkingTime says so; measuring finds none
    with pytest.raises(NoWorkingTime, match="schedule 'empty' has no working time in any week"):
        nothing.add(start, timedelta(minutes=1))
    assert nothing.between(start, start + timedelta(days=365)) == ZERO
    assert not nothing.is_working(start)


def test_working_days_that_are_all_holidays_are_an_error_quickly():
    # Given Monday-only hours where every Monday for 3.5 years is a holiday
    mondays = [date(2026, 1, 5) + timedelta(weeks=week) for week in range(183)]
    hours = calendar("Asia/Seoul", [("mon", "09:00", "10:00")], holidays=[str(day) for day in mondays])
    started = time.perf_counter()
    # When an hour of working time is added from 2026-01-01
    with pytest.raises(NoWorkingTime, match="no working time in the 1098 days after 2026-01-01"):
        hours.add(datetime(2026, 1, 1, tzinfo=UTC), timedelta(hours=1))
    # Then it gives up after the three-year horizon, without walking further
    assert time.perf_counter() - started < 1.0


def test_a_duration_that_does_not_fit_the_longest_span_is_an_error():
    # Given 15 minutes of work a week, When a year of working time is added
    hours = calendar("Asia/Seoul", [("mon", "09:00", "09:15")])
    # Then it does not fit in the longest span a call walks
    with pytest.raises(NoWorkingTime, match="too little working time"):
        hours.add(datetime(2026, 1, 1, tzinfo=UTC), timedelta(days=365))
    # And measuring over a longer span than that is refused rather than walked
    with pytest.raises(ValueError, match="longer than"):
        hours.between(
            datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=MAX_SPAN_DAYS + 2)
        )
