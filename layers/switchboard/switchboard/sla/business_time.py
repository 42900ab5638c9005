"""Business-time arithmetic: how much working time lies between two instants, and when a given amount of working
time has passed. Pure: every instant is a parameter, and every datetime in and out is timezone-aware (UTC out).

A schedule (sla/schedules.py) turns into working time like this:

- Weekly intervals are local wall-clock times in the schedule's zone. An interval that runs past midnight is two
  parts, one on each local date (fri 22:00-06:00 is Friday 22:00-24:00 and Saturday 00:00-06:00).
- A holiday is a local calendar date: it removes every part falling on that date. So with Saturday a holiday,
  fri 22:00-06:00 works Friday 22:00-24:00 only. This is Zendesk's result: its intervals "can't overlap a date
  boundary" (hours past midnight are a second interval on the next day) and holidays "are treated as outside of
  business hours" (Zendesk, "Setting your schedule with business hours and holidays",
  https://support.zendesk.com/hc/en-us/articles/4408842938522).
- Working time is real elapsed time. An interval's ends are placed on the timeline, and what lies between them
  counts, whatever the wall clock does in between: 01:00-04:00 on New York's spring-forward night is 2 hours,
  on its fall-back night 4 hours.
- A local time that does not exist (in the spring-forward gap) is the first instant after the gap: an interval
  starting at 02:30 on that night starts at 03:00 EDT.
- A local time that happens twice (the fall-back hour) is its first occurrence, Python's fold=0 (PEP 495).
- Calendar time (`CALENDAR_TIME`) is plain arithmetic, 24 hours a day, so callers treat both alike through
  `TimeMeasure`.

Work is bounded: a call walks local days, so its cost is linear in the days it spans (a year of a Mon-Fri
schedule takes about a millisecond). Three years without a single working minute (a week with none, or holidays
on every working day) raise NoWorkingTime, and so does a duration that does not fit in MAX_SPAN_DAYS; `between`
refuses a span longer than that too.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from switchboard.sla.schedules import MINUTES_PER_DAY, DaySegments, Schedule, weekly_segments

# Three years with no working time at all: no schedule an admin means looks like that, and the country holidays
# are expanded about that far ahead (ScheduleRules.country_holiday_years defaults to 3).
NO_WORK_DAYS = 3 * 366
# The longest span a call walks: a year-long business-hours target (the longest sla/policies.py allows) fits in
# it on any schedule with at least 7 working hours a week.
MAX_SPAN_DAYS = 25 * 366
_ZERO = timedelta(0)
_DAY = timedelta(days=1)
_SECOND = timedelta(seconds=1)


class NoWorkingTime(ValueError):
    """The schedule has no working time (or not enough of it) within the bounded horizon."""


class TimeMeasure(Protocol):
    """What a metric's clock runs on: business time of a schedule, or calendar time."""

    def add(self, start: datetime, duration: timedelta) -> datetime: ...

    def between(self, start: datetime, end: datetime) -> timedelta: ...


def _utc(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, not naive: {moment.isoformat()}")
    return moment.astimezone(UTC)


def _duration(duration: timedelta) -> timedelta:
    if duration < _ZERO:
        raise ValueError(f"a duration of working time is never negative: {duration}")
    return duration


@dataclass(frozen=True)
class CalendarTime:
    """Time as the clock on the wall runs it: every instant is working time."""

    def add(self, start: datetime, duration: timedelta) -> datetime:
        return _utc(start, "start") + _duration(duration)

    def between(self, start: datetime, end: datetime) -> timedelta:
        return max(_utc(end, "end") - _utc(start, "start"), _ZERO)

    def is_working(self, at: datetime) -> bool:
        _utc(at, "at")
        return True


CALENDAR_TIME = CalendarTime()


@dataclass(frozen=True)
class BusinessCalendar:
    """The working time of a schedule; build it with `BusinessCalendar.of(schedule)`.

    `week` holds each weekday's working minutes (Monday first, see `weekly_segments`); `holidays` are local dates
    with no working time."""

    zone: ZoneInfo
    week: tuple[DaySegments, ...]
    holidays: frozenset[date] = frozenset()
    name: str = "schedule"

    def __post_init__(self) -> None:
        if len(self.week) != 7:
            raise ValueError(f"a week has 7 days, not {len(self.week)}")
        for segments in self.week:
            for start, end in segments:
                if not 0 <= start < end <= MINUTES_PER_DAY:
                    raise ValueError(f"working minutes {start}-{end} do not lie within one day")

    @classmethod
    def of(cls, schedule: Schedule) -> BusinessCalendar:
        return cls(
            zone=schedule.zone,
            week=weekly_segments(schedule.intervals),
            holidays=frozenset(holiday.date for holiday in schedule.holidays),
            name=f"schedule {schedule.id!r}",
        )

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant when `duration` of working time has passed after `start`; counting begins at the first
        working instant at or after `start`. A zero duration gives `start` back."""
        start = _utc(start, "start")
        remaining = _duration(duration)
        if not remaining:
            return start
        if not any(self.week):
            raise NoWorkingTime(f"{self.name} has no working time in any week")
        first_day = self._local_date(start)
        worked_on = first_day
        for day, segments in self._working_days(first_day - _DAY, first_day + timedelta(days=MAX_SPAN_DAYS)):
            for begin, end in segments:
                if end <= start:
                    continue
                counted_from = max(begin, start)
                available = end - counted_from
                if remaining <= available:
                    return counted_from + remaining
                remaining -= available
                worked_on = day
            if (day - worked_on).days > NO_WORK_DAYS:
                raise NoWorkingTime(
                    f"{self.name} has no working time in the {NO_WORK_DAYS} days after {worked_on} "
                    "(holidays on every working day?)"
                )
        raise NoWorkingTime(
            f"{self.name} has too little working time for {duration} of it within {MAX_SPAN_DAYS} days of "
            f"{start.isoformat()}"
        )

    def between(self, start: datetime, end: datetime) -> timedelta:
        """The working time in [start, end); zero when `end` is not after `start`."""
        start, end = _utc(start, "start"), _utc(end, "end")
        if end <= start:
            return _ZERO
        first_day, last_day = self._local_date(start), self._local_date(end)
        if (last_day - first_day).days > MAX_SPAN_DAYS:
            raise ValueError(f"{start.isoformat()} to {end.isoformat()} is longer than {MAX_SPAN_DAYS} days")
        worked = _ZERO
        for _, segments in self._working_days(first_day - _DAY, last_day + _DAY):
            for begin, finish in segments:
                if begin >= end:
                    return worked
                if finish > start:
                    worked += min(finish, end) - max(begin, start)
        return worked

    def is_working(self, at: datetime) -> bool:
        at = _utc(at, "at")
        day = self._local_date(at)
        for _, segments in self._working_days(day - _DAY, day + _DAY):
            if any(begin <= at < end for begin, end in segments):
                return True
        return False

    def _local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def _working_days(self, first: date, last: date) -> Iterator[tuple[date, list[tuple[datetime, datetime]]]]:
        """Each local date from `first` through `last` with its working time as UTC [begin, end) pairs, in order.

        The parts of one date lie between its midnight and the next, placed by the same rule, so the pairs of
        successive dates follow each other without overlapping."""
        day = first
        while day <= last:
            segments = () if day in self.holidays else self.week[day.weekday()]
            placed = [(self._instant(day, start), self._instant(day, end)) for start, end in segments]
            yield day, [(begin, end) for begin, end in placed if begin < end]
            day += _DAY

    def _instant(self, day: date, minute: int) -> datetime:
        """The UTC instant of local wall-clock `minute` (0..1440) of `day`."""
        if minute == MINUTES_PER_DAY:
            day, minute = day + _DAY, 0
        wall = datetime(day.year, day.month, day.day, minute // 60, minute % 60)
        first = wall.replace(tzinfo=self.zone).utcoffset() or _ZERO
        second = wall.replace(tzinfo=self.zone, fold=1).utcoffset() or _ZERO
        # PEP 495: in a gap fold=0 takes the offset before the change and fold=1 the one after, so the offset
        # grows; in a repeated hour it shrinks, and fold=0 (the offset before) is the first occurrence.
        if first >= second:
            return (wall - first).replace(tzinfo=UTC)
        return self._end_of_gap(wall, before=first, after=second)

    def _end_of_gap(self, wall: datetime, *, before: timedelta, after: timedelta) -> datetime:
        """The instant the clocks jumped over the nonexistent local time `wall`: the first one after the gap."""
        # The change happened after `wall` read with the new offset and no later than `wall` read with the old
        # one; tzdata puts changes on whole seconds, so halving the window finds it (about 13 steps for an hour).
        earlier, later = (wall - after).replace(tzinfo=UTC), (wall - before).replace(tzinfo=UTC)
        while later - earlier > _SECOND:
            middle = earlier + _SECOND * ((later - earlier) // _SECOND // 2)
            if middle.astimezone(self.zone).utcoffset() == before:
                earlier = middle
            else:
                later = middle
        return later
