"""Whether a proactive message may go to a contact now: opt-out keywords, advertising consent and quiet hours.

Pure: every instant and time zone is a parameter, and every datetime out is timezone-aware.

- An opt-out on a channel stops every proactive message on it, transactional and advertising alike, until the
  contact opts back in. The sender reads the consent when it sends, so an opt-out that arrived before the send
  was decided is honoured.
- Transactional messages (order, payment and delivery facts) need no consent; the admin's quiet hours (default
  off) defer them to the end of the window in the customer's time zone, never drop them.
- Advertising needs recorded consent (`Consent.advertising_at`), and between 21:00 and 08:00 in the customer's
  time zone a separate night consent (`Consent.night_advertising_at`). 정보통신망법 제50조 제3항: "오후 9시부터 그
  다음 날 오전 8시까지의 시간에 ... 영리목적의 광고성 정보를 전송하려는 자는 ... 그 수신자로부터 별도의 사전
  동의를 받아야 한다". The rule is applied on every channel, email included: the statute's carve-out for some media
  is left to the decree, and holding an email ad until morning costs nothing. A Korean advertisement starts with
  "(광고)" and the sender's name and ends with a free way to refuse it (제50조 제4항, `advertising_text`).

Wall-clock rules across DST (zoneinfo, PEP 495): a window ends when the local clock leaves it. A window's end that
does not exist on that date (the spring-forward gap) is the first valid local time after it, the end of the gap; a
local time that happens twice (the fall-back hour) ends the window at its first occurrence not before the given
instant; a fall-back that sets the clock back out of the window (01:59 EDT to 01:00 EST, with a window from
01:30) ends it at the change.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict

from switchboard.models import Consent, NotifyChannel
from switchboard.notifications.models import Category, QuietHours

FALLBACK_TIMEZONE = "Asia/Seoul"  # a time zone name nobody knows is read as Korea's, where the rules are strictest

# 정보통신망법 제50조 제3항: the night when advertising needs the separate consent, in the recipient's time.
ADVERTISING_NIGHT = QuietHours(enabled=True, start=time(21, 0), end=time(8, 0))
_SECOND = timedelta(seconds=1)


class Verdict(BaseModel):
    """May this message go on this channel now? `code` says why not; `resume_at` is when it may, if it can wait."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    allowed: bool
    code: Literal["opted_out", "no_advertising_consent", "night_advertising"] | None = None
    resume_at: datetime | None = None


def may_send(consent: Consent, channel: NotifyChannel, category: Category, *, at: datetime, timezone: str) -> Verdict:
    """Whether a message of `category` may go to the contact on `channel` at `at` (customer's `timezone`)."""
    channel_consent = consent.channels.get(channel.value)
    if channel_consent is not None and channel_consent.opted_out:
        return Verdict(allowed=False, code="opted_out")
    if category is Category.TRANSACTIONAL:
        return Verdict(allowed=True)
    if consent.advertising_at is None:
        return Verdict(allowed=False, code="no_advertising_consent")
    if consent.night_advertising_at is None:
        morning = quiet_until(ADVERTISING_NIGHT, at, timezone)
        if morning is not None:
            return Verdict(allowed=False, code="night_advertising", resume_at=morning)
    return Verdict(allowed=True)


def quiet_until(quiet: QuietHours, at: datetime, timezone: str) -> datetime | None:
    """None when the local time at `at` is outside the quiet window (or quiet hours are off), so the message may
    go now; else the instant (in UTC) the window ends: the first instant after `at` at which the local clock
    leaves the window. That is where it reads `quiet.end`, or where a DST change makes it jump out: over
    `quiet.end` (a spring-forward gap: the end of the gap, the first valid local time after it) or back before
    `quiet.start` (a fall-back within the window).

    The window is [start, end) in local wall-clock time; start after end crosses midnight (21:00-08:00); start
    equal to end is an empty window. The result is in UTC because Python compares and subtracts two datetimes of
    the same zone by their wall clocks, which is wrong across a DST change."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"at must be timezone-aware, not naive: {at.isoformat()}")
    if not quiet.enabled or quiet.start == quiet.end:
        return None
    zone = zone_of(timezone)
    now = at.astimezone(UTC)
    local = now.astimezone(zone)
    clock = _wall(local)
    if not _inside(clock, quiet):
        return None
    end_date = local.date() if quiet.start < quiet.end or clock < quiet.end else local.date() + timedelta(days=1)
    end = _first_instant(end_date, quiet.end, zone, not_before=now)
    jump = _transition_between(now, end, zone)
    if jump is not None and not _inside(_wall(jump.astimezone(zone)), quiet):
        return jump
    return end


def advertising_text(text: str, *, locale: str, shop_name: str, opt_out_instruction: str) -> str:
    """An advertisement as Korean law wants it for Korean locales: "(광고)" and the sender's name first, the free
    opt-out last (정보통신망법 제50조 제4항); other locales unchanged."""
    if not locale.lower().startswith("ko"):
        return text
    head = f"(광고) {shop_name}".rstrip()
    return f"{head}\n{text}\n{opt_out_instruction}".rstrip()


def zone_of(timezone: str | None) -> ZoneInfo:
    """The IANA zone named (a shop may send anything): one nobody knows is FALLBACK_TIMEZONE's."""
    if timezone:
        try:
            return ZoneInfo(timezone)
        # zoneinfo reads the name as a path into the tz database: a directory ("America") raises OSError, a file
        # that is no zone ("zone.tab") ValueError, an unknown name ZoneInfoNotFoundError.
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    return ZoneInfo(FALLBACK_TIMEZONE)


def _wall(local: datetime) -> time:
    return local.time().replace(tzinfo=None, fold=0)


def _inside(clock: time, quiet: QuietHours) -> bool:
    if quiet.start < quiet.end:
        return quiet.start <= clock < quiet.end
    return clock >= quiet.start or clock < quiet.end


def _first_instant(day: date, wall: time, zone: ZoneInfo, *, not_before: datetime) -> datetime:
    """The first instant (UTC) not before `not_before` at which `zone`'s clock reads `wall` on `day` (the later
    reading of a wall time that happens twice, when the first has passed), or the end of the DST gap `wall`
    falls in that day."""
    for fold in (0, 1):
        candidate = datetime.combine(day, wall, tzinfo=zone).replace(fold=fold)
        if _exists(candidate) and candidate.astimezone(UTC) >= not_before:
            return candidate.astimezone(UTC)
    skipped = datetime.combine(day, wall, tzinfo=zone)
    if _exists(skipped):
        return skipped.replace(fold=1).astimezone(UTC)  # not reached: `not_before` reads earlier than `wall`
    # Read with the offset after the gap it lies before the change; with the offset before it, after.
    jump = _transition_between(skipped.replace(fold=1).astimezone(UTC), skipped.replace(fold=0).astimezone(UTC), zone)
    return jump if jump is not None else skipped.astimezone(UTC)


def _exists(moment: datetime) -> bool:
    """Whether the aware local `moment` is a wall time the zone's clock shows (not one skipped by a DST gap)."""
    naive = moment.replace(tzinfo=None, fold=0)
    return moment.astimezone(UTC).astimezone(moment.tzinfo).replace(tzinfo=None, fold=0) == naive


def _transition_between(start: datetime, end: datetime, zone: ZoneInfo) -> datetime | None:
    """The instant (UTC, whole seconds) `zone`'s offset changes between `start` and `end`, or None when it is the
    same at both. Found by halving the span (a few dozen steps for a day); spans here are at most about a day,
    and no zone changes its offset twice within one."""
    before = start.astimezone(zone).utcoffset()
    if end.astimezone(zone).utcoffset() == before:
        return None
    low, high = start, end
    while high - low > _SECOND:
        middle = low + (high - low) / 2
        if middle.astimezone(zone).utcoffset() == before:
            low = middle
        else:
            high = middle
    # Offsets change on whole seconds: the first whole second after `low` is the change.
    return high.replace(microsecond=0)
