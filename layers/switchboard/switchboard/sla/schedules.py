"""Business-hours schedules as an admin writes them (PUT /admin/schedules/{schedule_id}) and as they are stored.

A schedule is an IANA time zone, weekly intervals of local wall-clock time and holidays (local calendar dates).
Intervals follow Zendesk's business-hours schedules: times on 15-minute steps, several intervals a day (split
shifts), and an interval whose end is at or before its start runs past midnight into the next day (fri 22:00-06:00
works Friday 22:00-24:00 and Saturday 00:00-06:00: the two intervals Zendesk would make you write, one per date). How the intervals become working time, across DST changes and
holidays, is sla/business_time.py's business.

Public holidays of a country come from the `holidays` package (https://pypi.org/project/holidays/), never typed
by hand: Korea's lunar holidays (Seollal, Chuseok) move every year and its substitute holidays (대체공휴일) depend
on the weekday they fall on. They are expanded once, when the admin saves the schedule, for the previous year up
to `country_holiday_years` ahead, so runtime never imports the package; `Schedule.rules()` gives back what the
admin wrote, to expand again later with a newer save date.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_NAME_CHARS = 100
MAX_ID_CHARS = 128
MAX_INTERVALS = 70  # ten a day, every day: split shifts with room to spare
MAX_EXPLICIT_HOLIDAYS = 400
# Explicit holidays plus a country's public holidays for up to 12 years (the previous year, the save year and up
# to 10 ahead); no country in the holidays package has 50 a year.
MAX_HOLIDAYS = MAX_EXPLICIT_HOLIDAYS + 12 * 50
MAX_COUNTRY_HOLIDAY_YEARS = 10
MINUTES_PER_DAY = 24 * 60
_STEP_MINUTES = 15
_CLOCK_TIME = re.compile(r"^(\d{2}):(\d{2})$")


class Weekday(StrEnum):
    """Days of the week in `date.weekday()` order (Monday is 0)."""

    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"

    @property
    def number(self) -> int:
        """Monday is 0, as `date.weekday()` counts."""
        return _WEEKDAYS.index(self)


_WEEKDAYS = tuple(Weekday)


class UnsupportedCountry(ValueError):
    """The `holidays` package has no public holidays for this country code."""


class _Schedules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _minutes(value: str, *, end: bool) -> int:
    """Minutes since local midnight of an "HH:MM" time on a 15-minute step; "24:00" only as an end."""
    found = _CLOCK_TIME.match(value)
    if found is None:
        raise ValueError(f"{value!r} is not a time of day written HH:MM (for example 09:00)")
    hours, minutes = int(found.group(1)), int(found.group(2))
    if (hours, minutes) == (24, 0):
        if not end:
            raise ValueError("24:00 only ends an interval; an interval starting at midnight starts at 00:00")
        return MINUTES_PER_DAY
    if hours > 23 or minutes > 59:
        raise ValueError(f"{value!r} is not a time of day (00:00 to 23:45, or 24:00 as an end)")
    # Zendesk's schedules take times on quarter hours; finer steps are almost always a typo.
    if minutes % _STEP_MINUTES:
        raise ValueError(f"{value!r} is not on a 15-minute step: minutes are 00, 15, 30 or 45")
    return hours * 60 + minutes


class WeeklyInterval(_Schedules):
    """Working time every week on `day` from `start` to `end`, local wall-clock time of the schedule's zone.

    An `end` at or before `start` runs past midnight into the next day (fri 22:00-06:00); "24:00" ends at midnight."""

    day: Weekday
    start: str = Field(description='"HH:MM", minutes 00, 15, 30 or 45')
    end: str = Field(description='"HH:MM", minutes 00, 15, 30 or 45; "24:00" is midnight at the end of the day')

    @field_validator("start")
    @classmethod
    def _start_time(cls, value: str) -> str:
        _minutes(value, end=False)
        return value

    @field_validator("end")
    @classmethod
    def _end_time(cls, value: str) -> str:
        _minutes(value, end=True)
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> WeeklyInterval:
        if self.start_minute == self.end_minute:
            raise ValueError(
                f"{self.label}: start and end are the same time; an interval needs some working time "
                "(a whole day is 00:00-24:00)"
            )
        return self

    @property
    def start_minute(self) -> int:
        return _minutes(self.start, end=False)

    @property
    def end_minute(self) -> int:
        return _minutes(self.end, end=True)

    @property
    def crosses_midnight(self) -> bool:
        return self.end_minute <= self.start_minute

    @property
    def label(self) -> str:
        return f"{self.day} {self.start}-{self.end}"

    def day_parts(self) -> tuple[tuple[int, int, int], ...]:
        """(weekday index, start minute, end minute) of each part of the interval, split at midnight."""
        weekday, start, end = self.day.number, self.start_minute, self.end_minute
        if not self.crosses_midnight:
            return ((weekday, start, end),)
        next_day = (weekday + 1) % 7
        return ((weekday, start, MINUTES_PER_DAY),) + (((next_day, 0, end),) if end else ())


DaySegments = tuple[tuple[int, int], ...]
"""Working minutes of one weekday, as sorted, disjoint (start, end) minutes since local midnight (end <= 1440)."""


def weekly_segments(intervals: tuple[WeeklyInterval, ...]) -> tuple[DaySegments, ...]:
    """The working minutes of each weekday (Monday first), intervals split at midnight and touching ones merged.

    Raises ValueError naming every pair of intervals that overlap on the same weekday."""
    by_day: list[list[tuple[int, int, str]]] = [[] for _ in _WEEKDAYS]
    for interval in intervals:
        for weekday, start, end in interval.day_parts():
            by_day[weekday].append((start, end, interval.label))
    overlaps: list[str] = []
    week: list[DaySegments] = []
    for weekday, parts in enumerate(by_day):
        parts.sort()
        merged: list[tuple[int, int]] = []
        reaching = ""
        for start, end, label in parts:
            if merged and start < merged[-1][1]:
                overlaps.append(f"{reaching} and {label} overlap on {_WEEKDAYS[weekday]}")
            if merged and start <= merged[-1][1]:
                if end > merged[-1][1]:
                    merged[-1], reaching = (merged[-1][0], end), label
            else:
                merged.append((start, end))
                reaching = label
        week.append(tuple(merged))
    if overlaps:
        raise ValueError("intervals overlap: " + "; ".join(overlaps))
    return tuple(week)


class Holiday(_Schedules):
    """A local calendar date in the schedule's zone with no working time at all."""

    date: date
    name: str = Field(min_length=1, max_length=MAX_NAME_CHARS)


def _zone_name(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        # ZoneInfo raises ValueError for keys that are paths ("/etc/localtime", "../x").
        raise ValueError(
            f"unknown time zone {value!r}: use an IANA name such as Asia/Seoul or America/New_York"
        ) from None
    return value


def _holidays_once(holidays: tuple[Holiday, ...]) -> tuple[Holiday, ...]:
    counts = Counter(holiday.date for holiday in holidays)
    twice = sorted(day for day, count in counts.items() if count > 1)
    if twice:
        raise ValueError("a date is listed as a holiday more than once: " + ", ".join(map(str, twice)))
    return holidays


def _some_intervals(intervals: tuple[WeeklyInterval, ...]) -> tuple[WeeklyInterval, ...]:
    # Checked after the items (not as min_length) so that invalid items are not also reported as "no items".
    if not intervals:
        raise ValueError("a schedule needs at least one weekly interval of working time")
    return intervals


Intervals = Annotated[tuple[WeeklyInterval, ...], Field(max_length=MAX_INTERVALS), AfterValidator(_some_intervals)]
ZoneName = Annotated[
    str, Field(min_length=1, max_length=64, description="IANA time zone, e.g. Asia/Seoul"), AfterValidator(_zone_name)
]
CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 code, e.g. KR")]


class ScheduleRules(_Schedules):
    """The body of PUT /admin/schedules/{schedule_id}."""

    name: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    time_zone: ZoneName
    intervals: Intervals
    holidays: Annotated[tuple[Holiday, ...], AfterValidator(_holidays_once)] = Field(
        default=(), max_length=MAX_EXPLICIT_HOLIDAYS
    )
    country_holidays: CountryCode | None = Field(
        default=None, description="add this country's public holidays (the holidays package), e.g. KR"
    )
    country_holiday_years: int = Field(default=3, ge=1, le=MAX_COUNTRY_HOLIDAY_YEARS)

    @model_validator(mode="after")
    def _no_overlap(self) -> ScheduleRules:
        weekly_segments(self.intervals)
        return self


class Schedule(_Schedules):
    """A schedule as stored and used at runtime: the admin's rules with the country's holidays expanded."""

    id: str = Field(min_length=1, max_length=MAX_ID_CHARS, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    name: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    time_zone: ZoneName
    intervals: Intervals
    holidays: Annotated[tuple[Holiday, ...], AfterValidator(_holidays_once)] = Field(
        default=(), max_length=MAX_HOLIDAYS, description="explicit and country holidays, by date"
    )
    explicit_holidays: Annotated[tuple[Holiday, ...], AfterValidator(_holidays_once)] = Field(
        default=(), max_length=MAX_EXPLICIT_HOLIDAYS, description="the holidays the admin listed"
    )
    country_holidays: CountryCode | None = None
    country_holiday_years: int = Field(default=3, ge=1, le=MAX_COUNTRY_HOLIDAY_YEARS)
    holidays_until: date | None = Field(default=None, description="the last date country holidays were expanded to")
    version: int = Field(ge=1)
    updated_at: datetime

    @field_validator("updated_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("updated_at needs a time zone")
        return value.astimezone(UTC)

    @model_validator(mode="after")
    def _consistent(self) -> Schedule:
        weekly_segments(self.intervals)
        if [holiday.date for holiday in self.holidays] != sorted(holiday.date for holiday in self.holidays):
            raise ValueError("holidays are sorted by date")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def rules(self) -> ScheduleRules:
        """What the admin wrote: GET shows it, and saving it again expands the country's holidays afresh."""
        return ScheduleRules(
            name=self.name,
            time_zone=self.time_zone,
            intervals=self.intervals,
            holidays=self.explicit_holidays,
            country_holidays=self.country_holidays,
            country_holiday_years=self.country_holiday_years,
        )


def schedule_from(schedule_id: str, rules: ScheduleRules, *, version: int, saved_at: datetime) -> Schedule:
    """The schedule to store for `rules` saved at `saved_at`, with the country's public holidays expanded for the
    previous year through `country_holiday_years` after the save year (local years of the schedule's zone).

    An explicit holiday on the same date as a country's holiday wins (the admin's name for it). Raises
    UnsupportedCountry (a ValueError) for a country code the holidays package does not know, and a pydantic
    ValidationError for an id that is not letters, digits, '_', '.' or '-' starting with a letter or digit
    (a path segment and part of a table key)."""
    if saved_at.tzinfo is None:
        raise ValueError("saved_at needs a time zone")
    year = saved_at.astimezone(ZoneInfo(rules.time_zone)).year
    by_date: dict[date, Holiday] = {}
    until = None
    if rules.country_holidays is not None:
        until = date(year + rules.country_holiday_years, 12, 31)
        by_date.update(
            (holiday.date, holiday)
            for holiday in _public_holidays(rules.country_holidays, first_year=year - 1, last_year=until.year)
        )
    by_date.update((holiday.date, holiday) for holiday in rules.holidays)
    return Schedule(
        id=schedule_id,
        name=rules.name,
        time_zone=rules.time_zone,
        intervals=rules.intervals,
        holidays=tuple(by_date[day] for day in sorted(by_date)),
        explicit_holidays=rules.holidays,
        country_holidays=rules.country_holidays,
        country_holiday_years=rules.country_holiday_years,
        holidays_until=until,
        version=version,
        updated_at=saved_at,
    )


def _public_holidays(country: str, *, first_year: int, last_year: int) -> list[Holiday]:
    # Imported here: the package takes tens of milliseconds to import and only the admin API saving a schedule
    # needs it; the clocks read the expanded dates from the stored schedule.
    import holidays

    if country not in holidays.list_supported_countries():
        raise UnsupportedCountry(
            f"country_holidays {country!r}: the holidays package has no public holidays for this country "
            "(use an ISO 3166-1 alpha-2 code it supports, such as KR, US or DE)"
        )
    # Korean names where the country's calendar has them (KR does: "추석", "대체 휴일"); otherwise its default.
    supported = holidays.country_holidays(country).supported_languages
    language = "ko" if "ko" in supported else None
    calendar = holidays.country_holidays(country, years=range(first_year, last_year + 1), language=language)
    # Two holidays on one date come joined ("부처님오신날; 어린이날"); a long join is cut to fit a name.
    return [Holiday(date=day, name=name[:MAX_NAME_CHARS]) for day, name in sorted(calendar.items())]
