"""The SLA enforcer: every minute, the timers due, each acted on once.

    sweep = timers.due_timers(now)              # reads the minute buckets due: as many entries as timers due
    for each ticket due: read it, enforce_ticket, one conditional write (ticket + audit + notices)
    then each notice created or due: claim, call, settle, for at most NOTICE_BUDGET_SECONDS
    advance the cursor over the buckets left with nothing to do

A breach is recorded at its deadline (sla/escalations.py), so a sweep a minute late records the same breach as one
on time; a sweep that finds a ticket already recorded (another sweep, a retry) finds nothing due and moves on. The
clock is a parameter: tests run a ticket's life at chosen instants.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from time import monotonic
from typing import Protocol

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from switchboard.models import NoticeState, SlaNoticeDelivery, utc_now
from switchboard.observability import logger, metrics
from switchboard.sla.escalations import SlaEvent, enforce_ticket
from switchboard.sla.policies import SlaRules
from switchboard.store.repositories import Repositories
from switchboard.store.sla_notices import MAX_NOTICE_TRIES
from switchboard.store.sla_timers import DueTimer
from switchboard.store.table import TICKET_SK, WriteConflict

MAX_TIMERS_PER_SWEEP = 1000
# The calls of one sweep stop after this long (each takes at most 8 s): a sweep ends well within the minute and its
# 120 s timeout even when receivers are slow; the notices left are called by the next sweep.
NOTICE_BUDGET_SECONDS = 40.0
_MAX_ATTEMPTS = 5
# A notice call takes at most a few seconds (sla/notify.py's timeouts); a sweep that died holding one is replaced
# by the next sweep after this long.
NOTICE_LEASE = timedelta(seconds=60)
_FIRST_RETRY = timedelta(seconds=30)
_LAST_RETRY = timedelta(minutes=15)


class NoticeResult(Protocol):
    @property
    def state(self) -> NoticeState: ...  # DELIVERED, REJECTED, or PENDING (worth another try)

    @property
    def reason(self) -> str | None: ...


class NoticeSender(Protocol):
    """Delivers one notice to its target (sla/notify.py): a signed webhook POST or an SNS publish."""

    def send(self, notice: SlaNoticeDelivery, now: datetime) -> NoticeResult: ...


class SlaEventSink(Protocol):
    """Where recorded events go once their write committed: CloudWatch metrics per policy and channel."""

    def recorded(self, event: SlaEvent, *, policy: str, channel: str, delay: timedelta) -> None: ...


@dataclass
class SweepReport:
    timers_due: int = 0
    buckets_read: int = 0
    entries_read: int = 0
    tickets_read: int = 0
    events: Counter[str] = field(default_factory=Counter)
    notices: Counter[str] = field(default_factory=Counter)
    failures: int = 0
    # Seconds from each warning, breach or escalation's due time to the sweep that acted on it.
    delays: list[float] = field(default_factory=list)


def enforce(
    now: datetime,
    store: Repositories,
    sender: NoticeSender,
    sink: SlaEventSink,
    *,
    limit: int = MAX_TIMERS_PER_SWEEP,
    sleep: Callable[[float], None] = time.sleep,
) -> SweepReport:
    """One sweep at `now`: every timer due, acted on; the cursor moved over what is settled."""
    rules = store.sla_rules.current()
    sweep = store.sla_timers.due_timers(now, limit=limit)
    report = SweepReport(timers_due=len(sweep.timers), buckets_read=sweep.buckets_read, entries_read=sweep.entries_read)
    settled_until = sweep.settled_until
    # Records first, every one of them, then the calls: a slow receiver delays notices, never another breach's record.
    calls: list[tuple[datetime, SlaNoticeDelivery]] = []
    for timer in sweep.timers:
        try:
            if timer.sk == TICKET_SK:
                created = _enforce_due_ticket(timer, now, rules, store, sink, report, sleep)
                calls.extend((timer.minute, notice) for notice in created)
            elif (notice := store.sla_notices.notice(timer.pk, timer.sk)) is not None:
                calls.append((timer.minute, notice))
        except Exception:  # noqa: BLE001 - one timer's failure must not stop the others; the sweep reports it
            # Its bucket stays at or after the cursor, so the next sweep tries it again.
            logger.exception("an SLA timer failed", extra={"timer_pk": timer.pk, "timer_sk": timer.sk})
            report.failures += 1
            settled_until = min(settled_until, timer.minute)
    calls_end = monotonic() + NOTICE_BUDGET_SECONDS
    for minute, notice in calls:
        if monotonic() > calls_end:
            # Left due (each in its bucket, at or after the cursor's): the next sweep calls them.
            settled_until = min(settled_until, minute)
            continue
        try:
            deliver_notice(notice, now, store, sender, report)
        except Exception:  # noqa: BLE001 - as above: the notice stays due for the next sweep
            logger.exception("an SLA notice failed", extra={"event_id": notice.event_id})
            report.failures += 1
            settled_until = min(settled_until, minute)
    store.sla_timers.advance_cursor(settled_until)
    return report


def _enforce_due_ticket(
    timer: DueTimer,
    now: datetime,
    rules: SlaRules,
    store: Repositories,
    sink: SlaEventSink,
    report: SweepReport,
    sleep: Callable[[float], None],
) -> tuple[SlaNoticeDelivery, ...]:
    """Records what is due on the ticket, once; the notices it created, for the sweep to deliver."""
    ticket_id = timer.pk.removeprefix("TICKET#")
    for attempt in range(_MAX_ATTEMPTS):
        current = store.tickets.ticket(ticket_id)
        report.tickets_read += 1
        if current is None or current.ticket.sla is None:
            return ()
        due = current.ticket.sla.next_due_at
        if due is None or due > now:
            return ()  # acted on already, or moved by a change since the index was read
        result = enforce_ticket(current.ticket, version=current.version + 1, now=now, rules=rules)
        try:
            store.tickets.record_sla(
                current=current, ticket_after=result.ticket, audit=result.audit, notices=list(result.notices)
            )
        except WriteConflict:
            # An agent or the writer changed the ticket since it was read: read it again.
            sleep(random.uniform(0, 0.02 * 2**attempt))
            continue
        for event in result.events:
            report.events[event.kind] += 1
            report.delays.append((now - event.due).total_seconds())
            sink.recorded(
                event, policy=current.ticket.sla.policy, channel=current.ticket.channel.value, delay=now - event.due
            )
        return result.notices
    raise WriteConflict(f"ticket {ticket_id} kept changing under the SLA enforcer")


def deliver_notice(
    notice: SlaNoticeDelivery, now: datetime, store: Repositories, sender: NoticeSender, report: SweepReport
) -> None:
    """Claims the notice, calls its target once, and records the outcome; a notice another sweep holds, or not
    due yet, is left alone."""
    if notice.state not in (NoticeState.PENDING, NoticeState.SENDING) or notice.next_try_at > now:
        return
    claimed = store.sla_notices.claim(notice, now=now, lease_until=now + NOTICE_LEASE)
    if claimed is None:
        return
    result = sender.send(claimed, now)
    state, next_try_at = result.state, now
    if state is NoticeState.PENDING:
        if claimed.tries >= MAX_NOTICE_TRIES:
            state = NoticeState.FAILED
        else:
            next_try_at = now + min(_FIRST_RETRY * 2 ** (claimed.tries - 1), _LAST_RETRY)
    store.sla_notices.settle(claimed, state=state, next_try_at=next_try_at, error=result.reason)
    report.notices[state.value] += 1
    if state in (NoticeState.FAILED, NoticeState.REJECTED):
        # The function's Errors alarm does not see these: SlaNoticesUndelivered does (template.yaml alarm).
        metrics.add_metric(name="SlaNoticesUndelivered", unit=MetricUnit.Count, value=1)
        logger.error(
            "an SLA notice was not delivered",
            extra={
                "event_id": claimed.event_id,
                "kind": claimed.target_kind,
                "state": state.value,
                "reason": result.reason,
            },
        )


class CloudWatchSlaEvents:
    """Each recorded warning, breach and escalation as a CloudWatch metric per policy, channel and metric (EMF in
    the function's log: no API call), and how late the sweep acted on it."""

    _NAMES = {"warning": "SlaWarnings", "breach": "SlaBreaches", "escalation": "SlaEscalations"}

    def recorded(self, event: SlaEvent, *, policy: str, channel: str, delay: timedelta) -> None:
        with single_metric(name=self._NAMES[event.kind], unit=MetricUnit.Count, value=1) as metric:
            metric.add_dimension(name="policy", value=policy)
            metric.add_dimension(name="channel", value=channel)
            metric.add_dimension(name="metric", value=event.metric.value)
        metrics.add_metric(name="SlaActionDelay", unit=MetricUnit.Seconds, value=max(0.0, delay.total_seconds()))


class SweepFailed(RuntimeError):
    """Some timers failed; they stay due and the next sweep takes them again (the function reports an error)."""


def enforce_sla(store: Repositories, sender: NoticeSender) -> dict[str, object]:
    """The scheduled run: one sweep at the current time, reported in the log and as metrics."""
    report = enforce(utc_now(), store, sender, CloudWatchSlaEvents())
    summary: dict[str, object] = {
        "timers_due": report.timers_due,
        "buckets_read": report.buckets_read,
        "entries_read": report.entries_read,
        "tickets_read": report.tickets_read,
        "events": dict(report.events),
        "notices": dict(report.notices),
        "failures": report.failures,
        "max_delay_seconds": max(report.delays, default=0.0),
    }
    logger.info("SLA sweep", extra=summary)
    metrics.add_metric(name="SlaTimersDue", unit=MetricUnit.Count, value=report.timers_due)
    if report.failures:
        raise SweepFailed(f"{report.failures} SLA timers failed; they stay due for the next sweep")
    return summary
