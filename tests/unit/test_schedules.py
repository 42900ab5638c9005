"""Business-hours schedules as an admin writes them: every mistake is a clear validation error, listed together,
and a country's public holidays (Korea's lunar and substitute holidays) come from the holidays package."""

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from switchboard.sla.schedules import (
    Holiday,
    Schedule,
    ScheduleRules,
    UnsupportedCountry,
    WeeklyInterval,
    schedule_from,
    weekly_segments,
)

SAVED_AT = datetime(2026, 5, 1, 3, 0, tzinfo=UTC)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


def rules(**fields) -> ScheduleRules:
    base = {
        "name": "Seoul support",
        "time_zone": "Asia/Seoul",
        "intervals": [{"day": day, "start": "09:00", "end": "18:00"} for day in WEEKDAYS],
    }
    return ScheduleRules.model_validate(base | fields)


def errors_of(**fields) -> list[str]:
    with pytest.raises(ValidationError) as raised:
        rules(**fields)
    return [error["msg"] for error in raised.value.errors()]


def test_split_shifts_and_a_night_shift_become_working_minutes_per_weekday():
    # Given a split day shift on Monday and a Friday night shift crossing midnight
    intervals = rules(
        intervals=[
            {"day": "mon", "start": "09:00", "end": "12:00"},
            {"day": "mon", "start": "13:00", "end": "18:00"},
            {"day": "fri", "start": "22:00", "end": "06:00"},
            {"day": "sun", "start": "23:45", "end": "24:00"},
        ]
    ).intervals
    # When the week is split into working minutes per weekday
    week = weekly_segments(intervals)
    # Then Monday has both shifts, the night shift is split at midnight, and 24:00 ends Sunday
    assert week == (
        ((540, 720), (780, 1080)),
        (),
        (),
        (),
        ((1320, 1440),),
        ((0, 360),),
        ((1425, 1440),),
    )


def test_touching_intervals_are_not_an_overlap():
    # Given 09:00-12:00 and 12:00-18:00 on Monday, and a night shift ending where Saturday's shift starts
    intervals = rules(
        intervals=[
            {"day": "mon", "start": "09:00", "end": "12:00"},
            {"day": "mon", "start": "12:00", "end": "18:00"},
            {"day": "fri", "start": "22:00", "end": "06:00"},
            {"day": "sat", "start": "06:00", "end": "10:00"},
        ]
    ).intervals
    # When the week is split, Then touching parts merge into one
    week = weekly_segments(intervals)
    assert week[0] == ((540, 1080),)
    assert week[5] == ((0, 600),)


def test_an_interval_ending_at_midnight_does_not_spill_into_the_next_day():
    # Given fri 22:00-00:00 (end at or before start: crosses midnight, but ends right at it)
    interval = WeeklyInterval(day="fri", start="22:00", end="00:00")
    # Then only Friday has working time
    assert interval.day_parts() == ((4, 1320, 1440),)


def test_an_unknown_time_zone_is_named_in_the_error():
    # Given a zone that is not an IANA name, and one that is a file path
    for zone in ("Mars/Olympus_Mons", "/etc/localtime", "KST"):
        # When the rules are validated, Then the error names the zone
        assert errors_of(time_zone=zone) == [
            f"Value error, unknown time zone {zone!r}: use an IANA name such as Asia/Seoul or America/New_York"
        ]


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("9:00", "18:00", "'9:00' is not a time of day written HH:MM (for example 09:00)"),
        ("09:00", "18:00:00", "'18:00:00' is not a time of day written HH:MM (for example 09:00)"),
        ("09:00", "25:00", "'25:00' is not a time of day (00:00 to 23:45, or 24:00 as an end)"),
        ("09:60", "18:00", "'09:60' is not a time of day (00:00 to 23:45, or 24:00 as an end)"),
        ("09:10", "18:00", "'09:10' is not on a 15-minute step: minutes are 00, 15, 30 or 45"),
        ("09:00", "17:59", "'17:59' is not on a 15-minute step: minutes are 00, 15, 30 or 45"),
        ("24:00", "06:00", "24:00 only ends an interval; an interval starting at midnight starts at 00:00"),
        ("09:00", "09:00", "mon 09:00-09:00: start and end are the same time"),
        ("00:00", "00:00", "mon 00:00-00:00: start and end are the same time; an interval needs some working time"),
    ],
)
def test_bad_interval_times_are_clear_errors(start, end, message):
    # Given an interval with a bad time
    # When the rules are validated
    messages = errors_of(intervals=[{"day": "mon", "start": start, "end": end}])
    # Then the one error says what is wrong with which time
    assert len(messages) == 1
    assert message in messages[0]


def test_a_whole_day_is_0000_to_2400():
    # Given Monday 00:00-24:00, When validated, Then it is one whole day of working time
    assert weekly_segments(rules(intervals=[{"day": "mon", "start": "00:00", "end": "24:00"}]).intervals)[0] == (
        (0, 1440),
    )


def test_overlapping_intervals_are_named_in_pairs():
    # Given intervals overlapping on Monday, and a Sunday night shift running into Monday's early shift
    messages = errors_of(
        intervals=[
            {"day": "mon", "start": "09:00", "end": "12:00"},
            {"day": "mon", "start": "11:00", "end": "13:00"},
            {"day": "sun", "start": "22:00", "end": "02:00"},
            {"day": "mon", "start": "01:00", "end": "03:00"},
        ]
    )
    # When validated, Then one error names both overlapping pairs
    assert messages == [
        "Value error, intervals overlap: sun 22:00-02:00 and mon 01:00-03:00 overlap on mon; "
        "mon 09:00-12:00 and mon 11:00-13:00 overlap on mon"
    ]


def test_every_mistake_is_listed_at_once():
    # Given rules with a bad zone, a bad time, an unknown day, a repeated holiday and a lowercase country
    with pytest.raises(ValidationError) as raised:
        rules(
            name="",
            time_zone="Asia/Sеoul",  # a Cyrillic "е"
            intervals=[{"day": "mon", "start": "09:05", "end": "18:00"}, {"day": "someday", "start": "09:00"}],
            holidays=[{"date": "2026-01-01", "name": "신정"}, {"date": "2026-01-01", "name": "New Year"}],
            country_holidays="kr",
            country_holiday_years=11,
        )
    # When validated, Then each is its own error at its own place, and no "no intervals" error is added
    assert sorted(".".join(map(str, error["loc"])) for error in raised.value.errors()) == [
        "country_holiday_years",
        "country_holidays",
        "holidays",
        "intervals.0.start",
        "intervals.1.day",
        "intervals.1.end",
        "name",
        "time_zone",
    ]


def test_a_schedule_needs_an_interval_and_at_most_seventy():
    # Given no interval, then 71 of them
    assert errors_of(intervals=[]) == ["Value error, a schedule needs at least one weekly interval of working time"]
    many = [{"day": day, "start": f"{hour:02d}:00", "end": f"{hour:02d}:15"} for day in WEEKDAYS for hour in range(15)]
    # When validated, Then the limit is named
    assert errors_of(intervals=many) == ["Tuple should have at most 70 items after validation, not 75"]


def test_a_holiday_is_listed_once():
    # Given the same date twice among the explicit holidays
    messages = errors_of(holidays=[{"date": "2026-12-25", "name": "성탄절"}, {"date": "2026-12-25", "name": "X"}])
    # Then the error names the date
    assert messages == ["Value error, a date is listed as a holiday more than once: 2026-12-25"]


def test_korean_public_holidays_come_from_the_holidays_package():
    # Given Seoul business hours with Korea's public holidays, saved on 2026-05-01
    schedule = schedule_from("seoul", rules(country_holidays="KR"), version=1, saved_at=SAVED_AT)
    by_date = {holiday.date: holiday.name for holiday in schedule.holidays}
    # Then Chuseok 2026 (lunar: Sep 24-26) and the substitute for National Foundation Day (Sat Oct 3 -> Mon Oct 5)
    # are there with Korean names, as is Seollal 2027 (Feb 6-8 with its substitute on Feb 9)
    assert [by_date[date(2026, 9, day)] for day in (24, 25, 26)] == ["추석 전날", "추석", "추석 다음날"]
    assert by_date[date(2026, 10, 5)] == "개천절 대체 휴일"
    assert by_date[date(2027, 2, 7)] == "설날"
    assert by_date[date(2027, 2, 9)] == "설날 대체 휴일"
    # And they run from the year before the save through three years after it
    assert schedule.holidays[0].date == date(2025, 1, 1)
    assert schedule.holidays_until == date(2029, 12, 31)
    assert max(by_date) <= date(2029, 12, 31)
    assert max(by_date).year == 2029
    assert [holiday.date for holiday in schedule.holidays] == sorted(by_date)


def test_a_country_without_korean_names_keeps_its_own_language():
    # Given New York hours with US public holidays
    schedule = schedule_from(
        "nyc",
        rules(time_zone="America/New_York", country_holidays="US", country_holiday_years=1),
        version=1,
        saved_at=SAVED_AT,
    )
    # Then Independence Day is named in the package's default language (US English)
    assert {holiday.date: holiday.name for holiday in schedule.holidays}[date(2026, 7, 4)] == "Independence Day"
    assert schedule.holidays_until == date(2027, 12, 31)


def test_an_explicit_holiday_wins_over_the_countrys_on_the_same_date():
    # Given the admin's own name for Chuseok day and a company day off
    explicit = [{"date": "2026-09-25", "name": "회사 휴무 (추석)"}, {"date": "2026-12-31", "name": "종무식"}]
    # When saved with Korea's holidays
    schedule = schedule_from("seoul", rules(country_holidays="KR", holidays=explicit), version=3, saved_at=SAVED_AT)
    by_date = {holiday.date: holiday.name for holiday in schedule.holidays}
    # Then the date appears once, with the admin's name, and the admin's list is kept apart
    assert by_date[date(2026, 9, 25)] == "회사 휴무 (추석)"
    assert by_date[date(2026, 12, 31)] == "종무식"
    assert len(by_date) == len(schedule.holidays)
    assert [holiday.date for holiday in schedule.explicit_holidays] == [date(2026, 9, 25), date(2026, 12, 31)]


def test_an_unsupported_country_is_a_clear_error():
    # Given a well-formed code that no country has
    with pytest.raises(UnsupportedCountry) as raised:
        schedule_from("x", rules(country_holidays="XX"), version=1, saved_at=SAVED_AT)
    # Then the message says which code and what to use
    assert "country_holidays 'XX'" in str(raised.value)
    assert isinstance(raised.value, ValueError)


def test_a_stored_schedule_round_trips_and_gives_back_the_admins_rules():
    # Given a schedule saved with explicit and country holidays
    written = rules(country_holidays="KR", holidays=[{"date": "2026-12-31", "name": "종무식"}], country_holiday_years=2)
    schedule = schedule_from("seoul", written, version=2, saved_at=SAVED_AT)
    # When stored as JSON and read back
    read = Schedule.model_validate_json(schedule.model_dump_json())
    # Then nothing changed, and its rules are what the admin wrote
    assert read == schedule
    assert read.rules() == written
    assert (read.id, read.version, read.updated_at) == ("seoul", 2, SAVED_AT)


def test_a_schedule_without_country_holidays_has_only_the_explicit_ones():
    # Given explicit holidays out of order
    written = rules(holidays=[{"date": "2026-12-31", "name": "종무식"}, {"date": "2026-01-02", "name": "시무식"}])
    # When saved
    schedule = schedule_from("seoul", written, version=1, saved_at=SAVED_AT)
    # Then they are stored sorted, with no expansion horizon
    assert schedule.holidays == (
        Holiday(date=date(2026, 1, 2), name="시무식"),
        Holiday(date=date(2026, 12, 31), name="종무식"),
    )
    assert schedule.holidays_until is None


def test_schedule_ids_and_save_times_are_checked():
    # Given an id that would break the store's keys, and a naive save time
    with pytest.raises(ValidationError, match="id"):
        schedule_from("a#b", rules(), version=1, saved_at=SAVED_AT)
    with pytest.raises(ValueError, match="saved_at needs a time zone"):
        schedule_from("seoul", rules(), version=1, saved_at=datetime(2026, 5, 1))
