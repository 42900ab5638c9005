"""SLA policies as an admin writes them (PUT /admin/sla-policies) and how a ticket finds its policy.

An ordered list; the first policy whose conditions the ticket meets applies (Zendesk, "Defining SLA policies":
policies are applied in the order they appear). Each policy has targets per priority and metric, in business or
calendar time, a warning before breach, and up to four escalation levels (Freshdesk's escalation levels 1-4).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from switchboard.models import Channel, Priority, SlaMetric, Ticket, plain_tags
from switchboard.sla.schedules import Schedule

MAX_POLICIES = 100
MAX_ESCALATION_LEVELS = 4
# A year: a target longer than that is a typo, and it bounds business-time arithmetic (sla/business_time.py).
MAX_TARGET_MINUTES = 525_600
MAX_NAME_CHARS = 100
MAX_ID_CHARS = 128
MAX_CONDITION_VALUES = 50


class _Rules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Target(_Rules):
    """How long a metric may run, in business time (the policy's schedule) or calendar time."""

    minutes: int = Field(ge=1, le=MAX_TARGET_MINUTES)
    business_hours: bool = False

    @property
    def duration(self) -> timedelta:
        return timedelta(minutes=self.minutes)


class WarnBefore(_Rules):
    """When to warn: a number of minutes before the deadline, or a percentage of the target before it."""

    minutes: int | None = Field(default=None, ge=1, le=MAX_TARGET_MINUTES)
    percent: int | None = Field(default=None, ge=1, le=99)

    @model_validator(mode="after")
    def _one_of(self) -> WarnBefore:
        if (self.minutes is None) == (self.percent is None):
            raise ValueError("warn_before takes either minutes or percent")
        return self

    def lead(self, target: timedelta) -> timedelta:
        """How long before the deadline the warning comes, for a target of this length (never all of it)."""
        lead = timedelta(minutes=self.minutes) if self.minutes is not None else target * (self.percent or 0) / 100
        return min(lead, target)


class NotifyAction(_Rules):
    """POST a signed JSON body to an HTTPS webhook and/or publish it to an SNS topic (sla/notify.py)."""

    type: Literal["notify"]
    webhook_url: str | None = Field(default=None, min_length=1, max_length=2048)
    sns_topic_arn: str | None = Field(
        default=None, pattern=r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$"
    )

    @model_validator(mode="after")
    def _somewhere(self) -> NotifyAction:
        if self.webhook_url is None and self.sns_topic_arn is None:
            raise ValueError("a notify action needs a webhook_url, an sns_topic_arn, or both")
        return self


class RaisePriorityAction(_Rules):
    """Raise the ticket's priority: to `to`, or one step (low, normal, high, urgent) when `to` is not given.
    Never lowers it."""

    type: Literal["raise_priority"]
    to: Priority | None = None


class MoveToGroupAction(_Rules):
    type: Literal["move_to_group"]
    group_id: str = Field(min_length=1, max_length=MAX_ID_CHARS)


class AddTagsAction(_Rules):
    type: Literal["add_tags"]
    tags: tuple[str, ...] = Field(min_length=1, max_length=10)

    _plain = field_validator("tags")(classmethod(lambda cls, tags: plain_tags(tags)))


EscalationAction = Annotated[
    NotifyAction | RaisePriorityAction | MoveToGroupAction | AddTagsAction, Field(discriminator="type")
]


class Escalation(_Rules):
    """What to do `after_minutes` (calendar time) after a metric breached; level 1 usually at once."""

    level: int = Field(ge=1, le=MAX_ESCALATION_LEVELS)
    after_minutes: int = Field(default=0, ge=0, le=MAX_TARGET_MINUTES)
    actions: tuple[EscalationAction, ...] = Field(min_length=1, max_length=5)


class Conditions(_Rules):
    """Which tickets a policy applies to. Each list given must hold the ticket's value (for tags: one of the
    ticket's tags); an empty or missing list matches every ticket."""

    channel: tuple[Channel, ...] = Field(default=(), max_length=len(Channel))
    priority: tuple[Priority, ...] = Field(default=(), max_length=len(Priority))
    group: tuple[str, ...] = Field(default=(), max_length=MAX_CONDITION_VALUES)
    tags: tuple[str, ...] = Field(default=(), max_length=MAX_CONDITION_VALUES)
    requester_tags: tuple[str, ...] = Field(default=(), max_length=MAX_CONDITION_VALUES)

    _plain_tags = field_validator("tags", "requester_tags")(classmethod(lambda cls, tags: plain_tags(tags)))

    def match(self, ticket: Ticket) -> bool:
        if self.channel and ticket.channel not in self.channel:
            return False
        if self.priority and ticket.priority not in self.priority:
            return False
        if self.group and ticket.group_id not in self.group:
            return False
        if self.tags and not set(self.tags) & set(ticket.tags):
            return False
        return not self.requester_tags or bool(set(self.requester_tags) & set(ticket.requester.tags))


class SlaPolicy(_Rules):
    name: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    conditions: Conditions = Conditions()
    schedule_id: str | None = Field(default=None, min_length=1, max_length=MAX_ID_CHARS)
    targets: dict[Priority, dict[SlaMetric, Target]] = Field(min_length=1)
    warn_before: WarnBefore | None = None
    escalations: tuple[Escalation, ...] = Field(default=(), max_length=MAX_ESCALATION_LEVELS)

    @model_validator(mode="after")
    def _consistent(self) -> SlaPolicy:
        if not any(self.targets.values()):
            raise ValueError("a policy needs at least one target")
        uses_business_time = any(t.business_hours for per in self.targets.values() for t in per.values())
        if uses_business_time and self.schedule_id is None:
            raise ValueError("a business-hours target needs the policy's schedule_id")
        levels = [escalation.level for escalation in self.escalations]
        if levels != sorted(set(levels)):
            raise ValueError("escalation levels are unique and in ascending order")
        delays = [escalation.after_minutes for escalation in self.escalations]
        if delays != sorted(delays):
            raise ValueError("a higher escalation level comes no earlier than a lower one")
        return self

    def target(self, priority: Priority, metric: SlaMetric) -> Target | None:
        return self.targets.get(priority, {}).get(metric)

    def escalation(self, level: int) -> Escalation | None:
        return next((escalation for escalation in self.escalations if escalation.level == level), None)


class PolicyList(_Rules):
    """The body of PUT /admin/sla-policies: the whole ordered list, replacing the previous one."""

    policies: tuple[SlaPolicy, ...] = Field(max_length=MAX_POLICIES)

    @model_validator(mode="after")
    def _unique_names(self) -> PolicyList:
        names = [policy.name for policy in self.policies]
        if len(names) != len(set(names)):
            raise ValueError("policy names are unique: a ticket's sla names the policy it is measured by")
        return self


class SlaRules(_Rules):
    """What the clocks run on: the current policy list (version 0: none ever set) and the schedules it names."""

    version: int = Field(default=0, ge=0)
    policies: tuple[SlaPolicy, ...] = ()
    schedules: dict[str, Schedule] = Field(default_factory=dict)
    updated_at: datetime | None = None

    def policy_for(self, ticket: Ticket) -> SlaPolicy | None:
        """The first policy whose conditions the ticket meets and that has a target for its priority."""
        for policy in self.policies:
            if policy.conditions.match(ticket) and policy.targets.get(ticket.priority):
                return policy
        return None

    @property
    def uses_requester_tags(self) -> bool:
        return any(policy.conditions.requester_tags for policy in self.policies)

    def named(self, name: str) -> SlaPolicy | None:
        return next((policy for policy in self.policies if policy.name == name), None)


NO_RULES = SlaRules()
