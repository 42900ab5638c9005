"""The clocks of a ticket's SLA metrics: how each one starts, pauses, runs again, is fulfilled and breaches.
Pure functions of the ticket before and after a change and the instant of the change; nothing here reads the
wall clock or the table.

What each metric measures (Zendesk's "Defining SLA policies" and its ticket metric events, made exact):

| metric           | starts                                   | pauses in         | fulfilled by                  |
|------------------|------------------------------------------|-------------------|-------------------------------|
| first_reply      | ticket creation                          | never             | the first public agent reply  |
| next_reply       | the oldest unanswered customer message*  | never             | the next public agent reply   |
| periodic_update  | each public agent reply                  | never             | the next public agent reply   |
| pausable_update  | each public agent reply                  | pending           | the next public agent reply   |
| requester_wait   | ticket creation                          | pending           | solved                        |
| agent_work       | ticket creation                          | pending, on_hold  | solved                        |
| resolution       | ticket creation                          | never             | solved                        |

* not while first_reply still runs: the first wait is first_reply's (Zendesk measures next reply time from
  the first reply on when the policy has a first reply target).

- Solved fulfils every metric: no clock runs on a solved or closed ticket (the opposite of Chatwoot #10178).
- Reopened (solved to open, by the customer or an agent): requester_wait, agent_work and resolution run again
  with the time already spent; periodic and pausable update start a new activation; next_reply starts on the
  customer's unanswered message. A message that is only a thank-you on a solved ticket neither reopens it nor
  starts a wait (tickets/lifecycle.py, sla/restarts.py), so it restarts nothing.
- Leaving a pausing status runs the metric again; the time spent before the pause counts.
- Re-targeting: a change of priority, group, tags, channel or policy (or of the policy list) re-targets the
  running metrics from the change: the time spent stays, the target is the new one, and a target the time spent
  already exceeds is breached at the change, never before it (Zendesk: "breaches are never back-dated").
- A breach is recorded at the deadline itself (breached_at = due_at), whichever write or sweep notices it.

Warnings, breaches and escalations are recorded on the ticket (warned, breach_recorded, escalated_level) by the
SLA enforcer (tickets/sla_enforcer.py), which finds the ticket through `next_due_at`, the earliest thing due.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property

from switchboard.models import MetricClock, MetricStatus, SlaMetric, Ticket, TicketSla, TicketStatus
from switchboard.observability import logger
from switchboard.sla.business_time import CALENDAR_TIME, BusinessCalendar, NoWorkingTime, TimeMeasure
from switchboard.sla.policies import SlaPolicy, SlaRules, Target

# Which statuses each metric's clock stops in (Zendesk: requester wait time pauses in pending, agent work time
# in pending and on-hold, pausable update in pending); solved and closed stop every clock for good.
_PAUSES_IN: dict[SlaMetric, frozenset[TicketStatus]] = {
    SlaMetric.FIRST_REPLY: frozenset(),
    SlaMetric.NEXT_REPLY: frozenset(),
    SlaMetric.PERIODIC_UPDATE: frozenset(),
    SlaMetric.PAUSABLE_UPDATE: frozenset({TicketStatus.PENDING}),
    SlaMetric.REQUESTER_WAIT: frozenset({TicketStatus.PENDING}),
    SlaMetric.AGENT_WORK: frozenset({TicketStatus.PENDING, TicketStatus.ON_HOLD}),
    SlaMetric.RESOLUTION: frozenset(),
}
_DONE = frozenset({TicketStatus.SOLVED, TicketStatus.CLOSED})
_UPDATES = (SlaMetric.PERIODIC_UPDATE, SlaMetric.PAUSABLE_UPDATE)
_RESUMED_ON_REOPEN = (SlaMetric.REQUESTER_WAIT, SlaMetric.AGENT_WORK, SlaMetric.RESOLUTION)


def track(before: Ticket | None, after: Ticket, *, at: datetime, rules: SlaRules) -> Ticket:
    """`after` with its SLA brought up to `at`, the instant of the change from `before` (None: just opened).

    Every write of a ticket passes through here, so the policy is re-evaluated on every create and update, as
    Zendesk does."""
    policy = rules.policy_for(after)
    if policy is None:
        return _with_sla(after, None) if after.sla is not None else after
    measures = _Measures(rules, policy)
    metrics = dict(after.sla.metrics) if after.sla is not None else {}
    known = before is not None and after.sla is not None
    replied_at = _replied_at(before, after, at) if known else None
    if replied_at is not None:
        metrics = _replied(_advanced(metrics, replied_at), replied_at, measures)
    metrics = _advanced(metrics, at)
    if known and before is not None:
        metrics = _status_events(before, after, metrics, at, measures)
    metrics = _status_synced(after.status, metrics, at, measures)
    # A policy list or schedule saved since the ticket's last write re-targets its running clocks from now, even
    # where the target's minutes stay the same (a new holiday, another warning).
    rules_changed = after.sla is not None and (
        after.sla.policy != policy.name or after.sla.policy_version != rules.version
    )
    metrics = _retargeted(after, metrics, at, measures, rules_changed)
    if after.status is TicketStatus.CLOSED:
        metrics = {metric: _stopped(clock, at, measures, MetricStatus.FULFILLED) for metric, clock in metrics.items()}
    sla = TicketSla(policy=policy.name, policy_version=rules.version, metrics=metrics)
    return _with_sla(after, sla.model_copy(update={"next_due_at": next_due(sla, policy)}))


def elapsed(clock: MetricClock, now: datetime, measure: TimeMeasure) -> timedelta:
    """The time the metric has run so far (business time for a business-hours target)."""
    spent = timedelta(seconds=clock.spent_seconds)
    if clock.running_since is not None and now > clock.running_since:
        spent += measure.between(clock.running_since, now)
    return spent


def measure_of(rules: SlaRules, policy: SlaPolicy | None, business_hours: bool) -> TimeMeasure:
    """Calendar time, or the business time of the policy's schedule; a schedule the rules no longer hold counts
    as calendar time rather than stopping the clock."""
    if not business_hours or policy is None or policy.schedule_id is None:
        return CALENDAR_TIME
    schedule = rules.schedules.get(policy.schedule_id)
    return BusinessCalendar.of(schedule) if schedule is not None else CALENDAR_TIME


def next_due(sla: TicketSla, policy: SlaPolicy | None) -> datetime | None:
    """The earliest warning, breach or escalation still to be acted on; None when nothing is due."""
    return min((moment for _, moment in due_moments(sla, policy)), default=None)


def due_moments(sla: TicketSla, policy: SlaPolicy | None) -> Iterator[tuple[SlaMetric, datetime]]:
    for metric, clock in sla.metrics.items():
        if clock.status is MetricStatus.ACTIVE:
            if clock.warn_at is not None and not clock.warned:
                yield metric, clock.warn_at
            if clock.due_at is not None:
                yield metric, clock.due_at
        if clock.breached_at is not None and not clock.breach_recorded:
            yield metric, clock.breached_at
        escalation_at = next_escalation_at(clock, policy)
        if escalation_at is not None:
            yield metric, escalation_at


def next_escalation_at(clock: MetricClock, policy: SlaPolicy | None) -> datetime | None:
    """When the next escalation level of a breached metric is owed: its delay after the breach, while the metric
    stays breached; a level whose time came before the metric was fulfilled or paused is still owed."""
    if policy is None or clock.breached_at is None:
        return None
    following = [escalation for escalation in policy.escalations if escalation.level > clock.escalated_level]
    if not following:
        return None
    moment = clock.breached_at + timedelta(minutes=following[0].after_minutes)
    if clock.status is not MetricStatus.BREACHED and (clock.stopped_at is None or moment > clock.stopped_at):
        return None
    return moment


# -- the steps of track ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Measures:
    rules: SlaRules
    policy: SlaPolicy

    def of(self, clock: MetricClock) -> TimeMeasure:
        return self._business if clock.business_hours else CALENDAR_TIME

    @cached_property
    def _business(self) -> TimeMeasure:
        # Built once per ticket write, not once per metric and step of it.
        return measure_of(self.rules, self.policy, business_hours=True)


def _with_sla(ticket: Ticket, sla: TicketSla | None) -> Ticket:
    return ticket.model_copy(update={"sla": sla})


def _breached_by(clock: MetricClock, at: datetime) -> MetricClock:
    """A running metric whose deadline has passed is breached at its deadline."""
    if clock.status is MetricStatus.ACTIVE and clock.due_at is not None and clock.due_at <= at:
        return clock.model_copy(update={"status": MetricStatus.BREACHED, "breached_at": clock.due_at})
    return clock


def _advanced(metrics: dict[SlaMetric, MetricClock], at: datetime) -> dict[SlaMetric, MetricClock]:
    return {metric: _breached_by(clock, at) for metric, clock in metrics.items()}


def _replied_at(before: Ticket | None, after: Ticket, at: datetime) -> datetime | None:
    """When a public agent reply came in this change, if one did."""
    replied_at = after.last_public_agent_reply_at
    if replied_at is None or before is None or replied_at == before.last_public_agent_reply_at:
        return None
    return min(replied_at, at)


def _replied(metrics: dict[SlaMetric, MetricClock], at: datetime, measures: _Measures) -> dict[SlaMetric, MetricClock]:
    """A public agent reply fulfils first and next reply and the running update, and starts the next update."""
    for metric in (SlaMetric.FIRST_REPLY, SlaMetric.NEXT_REPLY, *_UPDATES):
        clock = metrics.get(metric)
        if clock is not None and clock.status is not MetricStatus.FULFILLED:
            metrics[metric] = _stopped(clock, at, measures, MetricStatus.FULFILLED)
    for metric in _UPDATES:
        clock = metrics.get(metric)
        if clock is not None:
            metrics[metric] = _activated(clock, at, measures)
    return metrics


def _status_events(
    before: Ticket,
    after: Ticket,
    metrics: dict[SlaMetric, MetricClock],
    at: datetime,
    measures: _Measures,
) -> dict[SlaMetric, MetricClock]:
    """Solving fulfils everything; reopening runs the totals again and restarts the updates; a customer message
    nobody answered starts next_reply once first_reply is done."""
    if after.status is TicketStatus.SOLVED and before.status is not TicketStatus.SOLVED:
        for metric, clock in metrics.items():
            if clock.status is not MetricStatus.FULFILLED:
                metrics[metric] = _stopped(clock, at, measures, MetricStatus.FULFILLED)
    reopened = before.status is TicketStatus.SOLVED and after.status not in _DONE
    if reopened:
        for metric in _RESUMED_ON_REOPEN:
            if (total := metrics.get(metric)) is not None:
                # Paused here, run again by _status_synced if the new status runs it: the time spent counts.
                metrics[metric] = total.model_copy(update={"status": MetricStatus.PAUSED, "running_since": None})
        for metric in _UPDATES:
            if (update := metrics.get(metric)) is not None:
                metrics[metric] = _activated(update, at, measures)
    waiting_since = _wait_start(after, at)
    new_wait = waiting_since is not None and (before.awaiting_agent_since is None or reopened)
    next_reply = metrics.get(SlaMetric.NEXT_REPLY)
    if new_wait and waiting_since is not None and next_reply is not None:
        if next_reply.status is MetricStatus.FULFILLED and not _first_reply_pending(after, metrics, measures.policy):
            metrics[SlaMetric.NEXT_REPLY] = _activated(next_reply, waiting_since, measures)
    return metrics


def _wait_start(ticket: Ticket, at: datetime) -> datetime | None:
    """When the customer's unanswered wait started: their oldest unanswered message, or the reopening when that
    message came before the ticket was last solved (solving answered it)."""
    waiting = ticket.awaiting_agent_since
    if waiting is None:
        return None
    if ticket.solved_at is None or waiting > ticket.solved_at:
        return waiting
    latest = ticket.last_customer_message_at
    return latest if latest is not None and ticket.solved_at < latest <= at else at


def _first_reply_pending(ticket: Ticket, metrics: dict[SlaMetric, MetricClock], policy: SlaPolicy) -> bool:
    """Whether the first wait is still first_reply's to measure."""
    if policy.target(ticket.priority, SlaMetric.FIRST_REPLY) is None:
        return False
    first = metrics.get(SlaMetric.FIRST_REPLY)
    if first is not None:
        return first.status is not MetricStatus.FULFILLED
    return ticket.last_public_agent_reply_at is None


def _status_synced(
    status: TicketStatus, metrics: dict[SlaMetric, MetricClock], at: datetime, measures: _Measures
) -> dict[SlaMetric, MetricClock]:
    """Each unfulfilled metric paused or running as the ticket's status says."""
    synced = {}
    for metric, clock in metrics.items():
        runs = status not in _DONE and status not in _PAUSES_IN[metric]
        if clock.status is MetricStatus.FULFILLED:
            synced[metric] = clock
        elif runs and clock.status is MetricStatus.PAUSED:
            synced[metric] = _resumed(clock, at, measures)
        elif not runs and clock.running:
            synced[metric] = _stopped(clock, at, measures, MetricStatus.PAUSED)
        else:
            synced[metric] = clock
    return synced


def _retargeted(
    ticket: Ticket, metrics: dict[SlaMetric, MetricClock], at: datetime, measures: _Measures, rules_changed: bool
) -> dict[SlaMetric, MetricClock]:
    """Each metric the policy has for the ticket's priority, on its current target: kept as it is when the target
    did not change, re-targeted from `at` when it did, started where it would have started when it is new."""
    retargeted: dict[SlaMetric, MetricClock] = {}
    for metric in SlaMetric:
        target = measures.policy.target(ticket.priority, metric)
        if target is None:
            continue
        clock = metrics.get(metric)
        if clock is None:
            started = _natural_start(metric, ticket, metrics, measures.policy, at)
            if started is not None:
                retargeted[metric] = _introduced(metric, ticket, target, started, at, measures)
            continue
        if rules_changed or clock.target_minutes != target.minutes or clock.business_hours != target.business_hours:
            clock = _with_target(clock, target, at, measures)
        elif clock.running and clock.due_at is None and clock.status is MetricStatus.ACTIVE:
            clock = _scheduled(clock, measures)
        retargeted[metric] = clock
    return retargeted


def _natural_start(
    metric: SlaMetric, ticket: Ticket, metrics: dict[SlaMetric, MetricClock], policy: SlaPolicy, at: datetime
) -> datetime | None:
    """Where a metric the ticket had no clock for starts, given the ticket as it is: None if it has nothing to
    measure yet (no reply for the update metrics, no unanswered message for next_reply, a solved ticket)."""
    if ticket.status in _DONE:
        return None
    replied = ticket.last_public_agent_reply_at
    if metric is SlaMetric.FIRST_REPLY:
        return ticket.created_at if replied is None else None
    if metric is SlaMetric.NEXT_REPLY:
        return None if _first_reply_pending(ticket, metrics, policy) else _wait_start(ticket, at)
    if metric in _UPDATES:
        return replied
    if metric is SlaMetric.RESOLUTION:
        return ticket.created_at
    # Requester wait and agent work add up time per status, which only a clock running from the ticket's opening
    # knows: one introduced later counts from the change.
    return ticket.created_at if ticket.created_at >= at else at


def _introduced(
    metric: SlaMetric, ticket: Ticket, target: Target, started: datetime, at: datetime, measures: _Measures
) -> MetricClock:
    clock = MetricClock(
        target_minutes=target.minutes,
        business_hours=target.business_hours,
        status=MetricStatus.ACTIVE,
        activation=1,
        started_at=started,
        running_since=started,
    )
    measure = measures.of(clock)
    if started < at and elapsed(clock, at, measure) >= target.duration:
        # A policy applied late (created or changed since the ticket opened) never breaches in the past.
        return clock.model_copy(update={"status": MetricStatus.BREACHED, "breached_at": at, "warned": True})
    if ticket.status in _PAUSES_IN[metric]:
        return _stopped(_scheduled(clock, measures), at, measures, MetricStatus.PAUSED)
    return _scheduled(clock, measures)


def _with_target(clock: MetricClock, target: Target, at: datetime, measures: _Measures) -> MetricClock:
    """The clock on a new target from `at`: the time spent so far carried over, breached at `at` if it already
    exceeds the new target, its deadline and warning computed anew."""
    if clock.status is MetricStatus.FULFILLED:
        return clock  # what it measured is done: its record stays as it was
    spent = elapsed(clock, at, measures.of(clock)) if clock.running else timedelta(seconds=clock.spent_seconds)
    changed = clock.model_copy(
        update={
            "target_minutes": target.minutes,
            "business_hours": target.business_hours,
            "spent_seconds": spent.total_seconds(),
            "running_since": at if clock.running else None,
            # A breached clock keeps the deadline it missed.
            "due_at": clock.due_at if clock.breached_at is not None else None,
            "warn_at": None,
        }
    )
    if clock.breached_at is None and spent >= target.duration:
        return changed.model_copy(
            update={
                "status": MetricStatus.BREACHED if clock.running else clock.status,
                "breached_at": at,
                "warned": True,
            }
        )
    if clock.breached_at is None and clock.status is MetricStatus.BREACHED:
        changed = changed.model_copy(update={"status": MetricStatus.ACTIVE})
    return _scheduled(changed, measures) if changed.status is MetricStatus.ACTIVE else changed


def _activated(clock: MetricClock, at: datetime, measures: _Measures) -> MetricClock:
    """A new run of the metric from `at` (a restart: its own activation, with no time spent yet)."""
    fresh = MetricClock(
        target_minutes=clock.target_minutes,
        business_hours=clock.business_hours,
        status=MetricStatus.ACTIVE,
        activation=clock.activation + 1,
        started_at=at,
        running_since=at,
    )
    return _scheduled(fresh, measures)


def _resumed(clock: MetricClock, at: datetime, measures: _Measures) -> MetricClock:
    running = clock.model_copy(
        update={
            "status": MetricStatus.BREACHED if clock.breached_at is not None else MetricStatus.ACTIVE,
            "running_since": at,
            "stopped_at": None,
        }
    )
    return _scheduled(running, measures) if running.status is MetricStatus.ACTIVE else running


def _stopped(clock: MetricClock, at: datetime, measures: _Measures, status: MetricStatus) -> MetricClock:
    """The clock stopped at `at` (fulfilled or paused): the time it ran is added to what it had spent."""
    if not clock.running:
        return clock.model_copy(update={"status": status}) if status is MetricStatus.FULFILLED else clock
    spent = elapsed(clock, at, measures.of(clock))
    return clock.model_copy(
        update={
            "status": status,
            "spent_seconds": spent.total_seconds(),
            "running_since": None,
            "due_at": clock.due_at if clock.breached_at is not None else None,
            "warn_at": None,
            "stopped_at": at,
        }
    )


def _scheduled(clock: MetricClock, measures: _Measures) -> MetricClock:
    """A running clock's deadline and warning, from the time left to its target."""
    if clock.running_since is None:
        return clock
    measure = measures.of(clock)
    left = timedelta(minutes=clock.target_minutes) - timedelta(seconds=clock.spent_seconds)
    if left <= timedelta(0):
        return clock.model_copy(update={"due_at": clock.running_since, "warn_at": None})
    try:
        due_at = measure.add(clock.running_since, left)
        warn_at = None
        if measures.policy.warn_before is not None and not clock.warned:
            lead = measures.policy.warn_before.lead(timedelta(minutes=clock.target_minutes))
            warn_at = measure.add(clock.running_since, left - lead) if left > lead else clock.running_since
    except NoWorkingTime:
        # A schedule with no working time for years (the admin API refuses one with none at all): the clock runs
        # with no deadline rather than failing the write, so a customer's message is never held up by a schedule.
        logger.warning("an SLA schedule has no working time ahead", extra={"policy": measures.policy.name})
        return clock.model_copy(update={"due_at": None, "warn_at": None})
    return clock.model_copy(update={"due_at": due_at, "warn_at": warn_at})
