"""Consent (notifications/consent.py): opt-out and opt-in keywords in inbound messages, who may be sent what, and
the "(광고)" framing Korean advertisements need."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.models import ChannelConsent, Consent, NotifyChannel
from switchboard.notifications.consent import Verdict, advertising_text, may_send, zone_of
from switchboard.notifications.keywords import MAX_KEYWORD_MESSAGE_CHARS, keyword_in
from switchboard.notifications.models import Category

SEOUL = ZoneInfo("Asia/Seoul")
CONSENTED = datetime(2026, 1, 5, tzinfo=UTC)


def seoul(hour: int, minute: int = 0, day: int = 3) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=SEOUL)


# -- keywords ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("STOP", ("opt_out", "STOP")),
        ("stop", ("opt_out", "STOP")),
        ("  Stop!\n", ("opt_out", "STOP")),
        ("STOP.", ("opt_out", "STOP")),
        ("ｓｔｏｐ", ("opt_out", "STOP")),  # full-width, as a Japanese keyboard types it
        ("unsubscribe", ("opt_out", "UNSUBSCRIBE")),
        ("수신거부", ("opt_out", "수신거부")),
        ("수신 거부", ("opt_out", "수신거부")),
        ("수신거부!!", ("opt_out", "수신거부")),
        ("配信停止", ("opt_out", "配信停止")),
        ("配信停止。", ("opt_out", "配信停止")),
        # Twilio's other default opt-out words
        ("END", ("opt_out", "END")),
        ("quit", ("opt_out", "QUIT")),
        ("STOPALL", ("opt_out", "STOPALL")),
        ("stop all", ("opt_out", "STOPALL")),
        ("Revoke", ("opt_out", "REVOKE")),
        ("OPTOUT", ("opt_out", "OPTOUT")),
        ("cancel", ("opt_out", "CANCEL")),
        # opting back in
        ("START", ("opt_in", "START")),
        ("unstop", ("opt_in", "UNSTOP")),
        ("재수신", ("opt_in", "재수신")),
        ("수신동의", ("opt_in", "수신동의")),
        ("配信再開", ("opt_in", "配信再開")),
        # sentences, and words that only look alike, are for an agent
        ("please stop", None),
        ("stop sending me these", None),
        ("STOPP", None),
        ("수신거부 하고 싶어요", None),
        ("cancel my order 1042", None),
        ("yes", None),  # Twilio's opt-in YES answers agents' questions in a support inbox
        ("!STOP", None),  # only trailing punctuation is ignored
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_a_keyword_is_the_whole_message(text: str | None, expected: tuple[str, str] | None) -> None:
    assert keyword_in(text) == expected


def test_a_message_over_the_bound_is_never_a_keyword() -> None:
    # Given STOP padded with spaces past the bound (it would be STOP once trimmed)
    padded = "STOP" + " " * (MAX_KEYWORD_MESSAGE_CHARS - 3)
    # Then it is not read as a keyword, while the same within the bound is
    assert keyword_in(padded) is None
    assert keyword_in(padded[:MAX_KEYWORD_MESSAGE_CHARS]) == ("opt_out", "STOP")


@settings(max_examples=300)
@given(st.text(max_size=200))
def test_property_any_text_is_a_keyword_or_none_and_a_keyword_is_short(text: str) -> None:
    found = keyword_in(text)
    assert found is None or (found[0] in ("opt_out", "opt_in") and len(text) <= MAX_KEYWORD_MESSAGE_CHARS)


@settings(max_examples=200)
@given(
    st.sampled_from(["STOP", "수신거부", "配信停止", "START", "재수신"]),
    st.text(alphabet="xyz0123456789가나다ぁ", min_size=1, max_size=10),
)
def test_property_a_keyword_with_words_added_is_no_keyword(keyword: str, extra: str) -> None:
    # Given a keyword with letters or digits before or after it, Then the message is not a keyword
    assert keyword_in(extra + keyword) is None
    assert keyword_in(keyword + extra) is None
    assert keyword_in(f"{keyword} {extra}") is None


# -- who may be sent what ----------------------------------------------------------------------------------------

OPTED_OUT_SMS = Consent(channels={"sms": ChannelConsent(opted_out=True, changed_at=CONSENTED, by="keyword:수신거부")})
OPTED_BACK_IN = Consent(channels={"sms": ChannelConsent(opted_out=False, changed_at=CONSENTED, by="keyword:START")})
ADS = Consent(advertising_at=CONSENTED)
ADS_AT_NIGHT = Consent(advertising_at=CONSENTED, night_advertising_at=CONSENTED)
ADS_BUT_OPTED_OUT = Consent(
    advertising_at=CONSENTED,
    night_advertising_at=CONSENTED,
    channels={"alimtalk": ChannelConsent(opted_out=True, changed_at=CONSENTED, by="api")},
)
T = Category.TRANSACTIONAL
A = Category.ADVERTISING
C = NotifyChannel


@pytest.mark.parametrize(
    ("consent", "channel", "category", "when", "expected"),
    [
        # transactional: goes unless opted out on that channel, day or night
        (Consent(), C.SMS, T, seoul(3), Verdict(allowed=True)),
        (OPTED_OUT_SMS, C.SMS, T, seoul(12), Verdict(allowed=False, code="opted_out")),
        (OPTED_OUT_SMS, C.ALIMTALK, T, seoul(12), Verdict(allowed=True)),
        (OPTED_BACK_IN, C.SMS, T, seoul(12), Verdict(allowed=True)),
        # advertising: recorded consent needed
        (Consent(), C.ALIMTALK, A, seoul(12), Verdict(allowed=False, code="no_advertising_consent")),
        (ADS, C.ALIMTALK, A, seoul(12), Verdict(allowed=True)),
        (ADS, C.ALIMTALK, A, seoul(8), Verdict(allowed=True)),
        (ADS, C.ALIMTALK, A, seoul(20, 59), Verdict(allowed=True)),
        # ... and at 21:00-08:00 local the separate night consent, else it waits for 08:00
        (ADS, C.SMS, A, seoul(21), Verdict(allowed=False, code="night_advertising", resume_at=seoul(8, day=4))),
        (ADS, C.SMS, A, seoul(23, 30), Verdict(allowed=False, code="night_advertising", resume_at=seoul(8, day=4))),
        (ADS, C.SMS, A, seoul(7, 59), Verdict(allowed=False, code="night_advertising", resume_at=seoul(8))),
        (ADS, C.EMAIL, A, seoul(2), Verdict(allowed=False, code="night_advertising", resume_at=seoul(8))),
        (ADS_AT_NIGHT, C.SMS, A, seoul(2), Verdict(allowed=True)),
        # an opt-out beats every consent
        (ADS_BUT_OPTED_OUT, C.ALIMTALK, A, seoul(12), Verdict(allowed=False, code="opted_out")),
        (ADS_BUT_OPTED_OUT, C.SMS, A, seoul(12), Verdict(allowed=True)),
    ],
)
def test_who_may_be_sent_what(
    consent: Consent, channel: NotifyChannel, category: Category, when: datetime, expected: Verdict
) -> None:
    assert may_send(consent, channel, category, at=when, timezone="Asia/Seoul") == expected


def test_night_is_judged_in_the_customers_time_zone() -> None:
    # Given 13:00 UTC: 22:00 in Seoul, 14:00 in Berlin
    moment = datetime(2026, 12, 3, 13, 0, tzinfo=UTC)
    # Then an advertisement waits in Seoul and goes in Berlin
    assert may_send(ADS, C.SMS, A, at=moment, timezone="Asia/Seoul").code == "night_advertising"
    assert may_send(ADS, C.SMS, A, at=moment, timezone="Europe/Berlin").allowed


ZONES = ["Asia/Seoul", "America/New_York", "Europe/Berlin", "Asia/Tokyo"]


@settings(max_examples=300)
@given(
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)),
    st.sampled_from(ZONES),
)
def test_property_advertising_without_night_consent_goes_only_between_08_and_21_local(
    moment: datetime, zone: str
) -> None:
    verdict = may_send(ADS, C.SMS, A, at=moment, timezone=zone)
    local_hour = moment.astimezone(ZoneInfo(zone)).hour
    assert verdict.allowed == (8 <= local_hour < 21)
    if not verdict.allowed:
        # and it may go at the next 08:00 local
        assert verdict.resume_at is not None and verdict.resume_at > moment
        assert verdict.resume_at.astimezone(ZoneInfo(zone)).time().replace(tzinfo=None).isoformat() == "08:00:00"
        assert may_send(ADS, C.SMS, A, at=verdict.resume_at, timezone=zone).allowed


@pytest.mark.parametrize(
    "name", ["Mars/Olympus_Mons", "../../etc/passwd", "/etc/passwd", "America", "Asia/", "zone.tab", "\x00", "", None]
)
def test_an_unknown_time_zone_is_read_as_seoul(name: str | None) -> None:
    assert zone_of(name) == SEOUL


def test_a_known_time_zone_is_itself() -> None:
    assert zone_of("Asia/Tokyo") == ZoneInfo("Asia/Tokyo")


@settings(max_examples=300)
@given(st.one_of(st.text(max_size=64), st.text(alphabet="AmericaEtcGMT/_.+-019zonetab", max_size=24)))
def test_property_any_time_zone_name_a_shop_sends_gives_a_zone(name: str) -> None:
    assert isinstance(zone_of(name), ZoneInfo)


# -- the advertisement's framing ---------------------------------------------------------------------------------


def test_a_korean_advertisement_names_the_sender_first_and_the_opt_out_last() -> None:
    text = advertising_text(
        "겨울 신상품 20% 할인", locale="ko-KR", shop_name="민준상회", opt_out_instruction="무료수신거부 080-123-4567"
    )
    assert text.splitlines() == ["(광고) 민준상회", "겨울 신상품 20% 할인", "무료수신거부 080-123-4567"]


@pytest.mark.parametrize("locale", ["en", "ja-JP", "en-KR"])
def test_other_locales_are_unchanged(locale: str) -> None:
    assert advertising_text("Winter sale", locale=locale, shop_name="Shop", opt_out_instruction="x") == "Winter sale"
