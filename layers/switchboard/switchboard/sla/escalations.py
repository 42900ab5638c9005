"""What the SLA enforcer does to one due ticket at an instant: record its warnings and breaches, and act on the
escalation levels owed. Pure: the enforcer (tickets/sla_enforcer.py) reads the ticket, calls `enforce_ticket`, and
writes the result with one conditional write, so each of these happens once per ticket version.

Idempotent per (ticket, metric, activation, level): the ticket records `warned`, `breach_recorded` and
`escalated_level` in the same write as the actions' effects (priority, group, tags) and the notices to send, so
a retried sweep finds them done. Notices are delivered afterwards, each at least once (store/sla_notices.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from switchboard.models import (
    FieldChange,
    MetricClock,
    MetricStatus,
    Priority,
    SlaMetric,
    SlaNoticeDelivery,
    Ticket,
    TicketAudit,
)
from switchboard.sla.clocks import next_escalation_at, track
from switchboard.sla.policies import (
    AddTagsAction,
    Escalation,
    MoveToGroupAction,
    NotifyAction,
    RaisePriorityAction,
    SlaPolicy,
    SlaRules,
)

# Who the ticket's audit names for what the enforcer did.
SLA_ACTOR = "sla"
_PRIORITY_ORDER = (Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.URGENT)


@dataclass(frozen=True)
class SlaEvent:
    """A warning, a breach or an escalation level acted on, for the timeline and the metrics."""

    kind: Literal["warning", "breach", "escalation"]
    metric: SlaMetric
    activation: int
    due: datetime  # when it was due: the warning's time, the deadline, or the level's time
    level: int = 0


@dataclass(frozen=True)
class Enforcement:
    ticket: Ticket
    events: tuple[SlaEvent, ...]
    audit: TicketAudit | None
    notices: tuple[SlaNoticeDelivery, ...]


def enforce_ticket(ticket: Ticket, *, version: int, now: datetime, rules: SlaRules) -> Enforcement:
    """The ticket after every warning, breach and escalation due by `now` is recorded and acted on, the audit of
    what changed (for ticket version `version`), and the notices to deliver."""
    sla = ticket.sla
    if sla is None:
        return Enforcement(ticket, (), None, ())
    policy = rules.named(sla.policy)
    events: list[SlaEvent] = []
    escalations: list[tuple[SlaMetric, MetricClock, Escalation]] = []
    metrics: dict[SlaMetric, MetricClock] = {}
    for metric, clock in sla.metrics.items():
        clock, found = _due_on(metric, clock, now, policy, escalations)
        metrics[metric] = clock
        events.extend(found)
    recorded = ticket.model_copy(update={"sla": sla.model_copy(update={"metrics": metrics})})
    acted = _acted(recorded, escalations, now)
    after = track(recorded, acted, at=now, rules=rules)
    changes = [*_sla_changes(events), *_field_changes(ticket, after)]
    audit = None
    if changes:
        audit = TicketAudit(
            ticket_id=ticket.id, ticket_version=version, actor_id=SLA_ACTOR, at=now, changes=tuple(changes)
        )
    notices = tuple(_notices(ticket, escalations, now, policy))
    return Enforcement(after, tuple(events), audit, notices)


def _due_on(
    metric: SlaMetric,
    clock: MetricClock,
    now: datetime,
    policy: SlaPolicy | None,
    escalations: list[tuple[SlaMetric, MetricClock, Escalation]],
) -> tuple[MetricClock, list[SlaEvent]]:
    events: list[SlaEvent] = []
    if clock.status is MetricStatus.ACTIVE and clock.due_at is not None and clock.due_at <= now:
        # Breached at its deadline, however late the sweep that notices it.
        clock = clock.model_copy(update={"status": MetricStatus.BREACHED, "breached_at": clock.due_at})
    if clock.status is MetricStatus.ACTIVE and not clock.warned and clock.warn_at is not None and clock.warn_at <= now:
        events.append(SlaEvent("warning", metric, clock.activation, clock.warn_at))
        clock = clock.model_copy(update={"warned": True})
    if clock.breached_at is not None and not clock.breach_recorded:
        events.append(SlaEvent("breach", metric, clock.activation, clock.breached_at))
        clock = clock.model_copy(update={"breach_recorded": True, "warned": True})
    while (moment := next_escalation_at(clock, policy)) is not None and moment <= now and policy is not None:
        escalation = next(level for level in policy.escalations if level.level > clock.escalated_level)
        events.append(SlaEvent("escalation", metric, clock.activation, moment, escalation.level))
        escalations.append((metric, clock, escalation))
        clock = clock.model_copy(update={"escalated_level": escalation.level})
    return clock, events


def _acted(ticket: Ticket, escalations: list[tuple[SlaMetric, MetricClock, Escalation]], now: datetime) -> Ticket:
    """The ticket with every escalation action that changes it applied, in level order."""
    priority, group_id, tags = ticket.priority, ticket.group_id, ticket.tags
    for _, _, escalation in escalations:
        for action in escalation.actions:
            if isinstance(action, RaisePriorityAction):
                priority = _raised(priority, action.to)
            elif isinstance(action, MoveToGroupAction):
                group_id = action.group_id
            elif isinstance(action, AddTagsAction):
                tags = tuple(dict.fromkeys([*tags, *action.tags]))
    if (priority, group_id, tags) == (ticket.priority, ticket.group_id, ticket.tags):
        return ticket
    return ticket.model_copy(update={"priority": priority, "group_id": group_id, "tags": tags, "updated_at": now})


def _raised(priority: Priority, to: Priority | None) -> Priority:
    rank = _PRIORITY_ORDER.index(priority)
    wanted = _PRIORITY_ORDER.index(to) if to is not None else min(rank + 1, len(_PRIORITY_ORDER) - 1)
    return _PRIORITY_ORDER[max(rank, wanted)]


def _sla_changes(events: list[SlaEvent]) -> list[FieldChange]:
    changes = []
    for event in events:
        after = {"warning": "warning", "breach": "breached", "escalation": f"escalated_level_{event.level}"}[event.kind]
        changes.append(FieldChange(field=f"sla.{event.metric.value}", after=after))
    return changes


def _field_changes(before: Ticket, after: Ticket) -> list[FieldChange]:
    changes = []
    if before.priority is not after.priority:
        changes.append(FieldChange(field="priority", before=before.priority.value, after=after.priority.value))
    if before.group_id != after.group_id:
        changes.append(FieldChange(field="group_id", before=before.group_id, after=after.group_id))
    if before.tags != after.tags:
        changes.append(FieldChange(field="tags", before=list(before.tags), after=list(after.tags)))
    return changes


def _notices(
    ticket: Ticket,
    escalations: list[tuple[SlaMetric, MetricClock, Escalation]],
    now: datetime,
    policy: SlaPolicy | None,
) -> list[SlaNoticeDelivery]:
    notices = []
    for metric, clock, escalation in escalations:
        if clock.breached_at is None or policy is None:
            continue
        event_id = f"{ticket.id}:{metric.value}:{clock.activation}:{escalation.level}"
        for index, action in enumerate(escalation.actions):
            if not isinstance(action, NotifyAction):
                continue
            targets: list[tuple[Literal["webhook", "sns"], str | None]] = [
                ("webhook", action.webhook_url),
                ("sns", action.sns_topic_arn),
            ]
            for kind, target in targets:
                if target is None:
                    continue
                notices.append(
                    SlaNoticeDelivery(
                        event_id=event_id,
                        ticket_id=ticket.id,
                        ticket_number=ticket.number,
                        policy=policy.name,
                        metric=metric,
                        activation=clock.activation,
                        level=escalation.level,
                        channel=ticket.channel,
                        priority=ticket.priority,
                        due_at=clock.due_at or clock.breached_at,
                        breached_at=clock.breached_at,
                        action_index=index,
                        target_kind=kind,
                        target=target,
                        next_try_at=now,
                    )
                )
    return notices
