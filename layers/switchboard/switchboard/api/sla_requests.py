"""The bodies and answers of the SLA admin routes (api/sla_admin.py), apart from their handlers so that the API's
description (api/openapi.py) reads them without importing the write paths (as api/write_requests.py does for the
agents' writes)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from switchboard.models import MetricStatus, SlaMetric
from switchboard.sla.policies import MAX_ID_CHARS, MAX_POLICIES, PolicyList, SlaPolicy
from switchboard.sla.schedules import Schedule

# A schedule id is a path segment and part of a table key (SLA#SCHEDULE#<id>): plain characters, and never "." or
# "..", which a client would resolve as a relative path.
SCHEDULE_ID_PATTERN = rf"^[A-Za-z0-9][A-Za-z0-9_.-]{{0,{MAX_ID_CHARS - 1}}}$"


class DryRunRequest(BaseModel):
    """The body of POST /admin/sla-policies/dry-run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ticket_id: str = Field(min_length=1, max_length=200, description="The ticket to try the policies on")
    policies: tuple[SlaPolicy, ...] | None = Field(
        default=None,
        max_length=MAX_POLICIES,
        description="An unsaved policy list to try, in the order PUT /admin/sla-policies takes; omitted: the "
        "current list",
    )

    @field_validator("policies")
    @classmethod
    def _a_policy_list(cls, policies: tuple[SlaPolicy, ...] | None) -> tuple[SlaPolicy, ...] | None:
        # The same rules as a list to be saved (unique names), by PolicyList itself so the two cannot drift.
        if policies is not None:
            try:
                PolicyList(policies=policies)
            except ValidationError as exc:
                raise ValueError("; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())) from exc
        return policies


class PolicyListAnswer(BaseModel):
    """The policy list as saved: what GET and PUT /admin/sla-policies answer."""

    version: int = Field(
        ge=0, description="The rules' version (0: never set); If-Match: <version> saves only on top of it"
    )
    policies: tuple[SlaPolicy, ...] = Field(description="In order: the first policy a ticket matches applies")
    updated_at: datetime | None = Field(description="When the rules (policies or a schedule) were last saved")


class ScheduleList(BaseModel):
    schedules: list[Schedule] = Field(description="Every schedule defined, by id")


class DryRunMetric(BaseModel):
    """One metric's clock as the policy would set it on the ticket now."""

    target_minutes: int
    business_hours: bool
    status: MetricStatus
    due_at: datetime | None = Field(description="When it would breach, while it runs short of its target")
    warn_at: datetime | None
    breached_at: datetime | None = Field(description="Already late: when (never before now for a new policy)")
    elapsed_seconds: float = Field(description="Time counted so far; business time for a business-hours target")


class DryRunAnswer(BaseModel):
    policy: str | None = Field(description="The name of the policy that would apply; null: none matches")
    metrics: dict[SlaMetric, DryRunMetric]
