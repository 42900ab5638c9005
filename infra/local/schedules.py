"""EventBridge schedules of functions (`Schedule` events), for rate(...) expressions.

cron(...) expressions are not run locally: they are logged and skipped, so that a function with one
still serves its other events.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from infra.local.workers import Invocation
from infra.provision import ACCOUNT_ID, REGION
from infra.template import Schedule

log = logging.getLogger("switchboard.local")

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


class UnsupportedSchedule(ValueError):
    """An expression the local runner does not run (cron), or one EventBridge itself would refuse."""


def rate_seconds(expression: str) -> int:
    """Seconds between runs of a rate(...) expression, with EventBridge's rule that 1 takes the singular unit."""
    found = _RATE.match(expression.strip())
    if not found:
        raise UnsupportedSchedule(f"{expression!r} is not a rate(N minute|minutes|hour|hours|day|days) expression")
    value, unit = int(found.group(1)), found.group(2)
    if value < 1:
        raise UnsupportedSchedule(f"{expression!r}: the rate must be a positive whole number")
    if (value == 1) != (not unit.endswith("s")):
        raise UnsupportedSchedule(
            f"{expression!r}: EventBridge wants '1 {unit.rstrip('s')}' and 'N {unit.rstrip('s')}s'"
        )
    return value * _UNIT_SECONDS[unit.rstrip("s")]


def scheduled_event(rule_name: str, now: float | None = None) -> dict[str, Any]:
    """What EventBridge sends a function on each run of a scheduled rule."""
    moment = time.time() if now is None else now
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment)),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{rule_name}"],
        "detail": {},
    }


@dataclass
class ScheduledRule:
    """One Schedule event of one function: a thread that invokes it every period until stopped."""

    rule_name: str
    period_seconds: float
    function: Any
    stop: threading.Event

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"schedule:{self.rule_name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        # EventBridge first fires one period after the rule is created, then every period; a slow
        # run does not shift later ones.
        next_run = time.monotonic() + self.period_seconds
        while not self.stop.wait(max(0.0, next_run - time.monotonic())):
            next_run += self.period_seconds
            self.fire()

    def fire(self) -> Invocation:
        invocation = self.function.invoke(scheduled_event(self.rule_name))
        if invocation.failed:
            error = invocation.error or {}
            log.error(
                "%s failed on schedule %s: %s: %s",
                self.function.name,
                self.rule_name,
                error.get("errorType"),
                error.get("errorMessage"),
            )
        else:
            log.info("%s ran on schedule %s", self.function.name, self.rule_name)
        return invocation


# Functions whose schedule runs faster locally, so what it does shows in seconds: the SLA enforcer, so that a
# 1-minute first-reply target visibly warns and breaches on a fresh ticket (README, "Local usage").
# The notification scheduler too, so that a promised delivery date in the past brings its apology within seconds.
LOCAL_PERIODS = {
    "SlaEnforcerFunction": ("SWITCHBOARD_LOCAL_SLA_SWEEP_SECONDS", 5),
    "NotificationSchedulerFunction": ("SWITCHBOARD_LOCAL_NOTIFY_SWEEP_SECONDS", 5),
}


def local_period(function_name: str, period: int, environ: Mapping[str, str] = os.environ) -> int:
    """The period a function's schedule runs at locally: its own in AWS, unless LOCAL_PERIODS names it."""
    if function_name not in LOCAL_PERIODS:
        return period
    variable, default = LOCAL_PERIODS[function_name]
    raw = environ.get(variable, "")
    if not raw:
        return default
    if not raw.isdecimal() or not 1 <= int(raw) <= period:
        # A ValueError, not UnsupportedSchedule: the runner stops with it rather than run without the schedule.
        raise ValueError(f"{variable} must be a whole number of seconds from 1 to {period}, not {raw!r}")
    return int(raw)


def rules_for(
    function_name: str, schedules: list[Schedule], function: Any, stop: threading.Event
) -> list[ScheduledRule]:
    rules = []
    for schedule in schedules:
        rule_name = f"{function_name}-{schedule.name}"
        try:
            period = local_period(function_name, rate_seconds(schedule.expression))
        except UnsupportedSchedule as exc:
            log.warning("schedule %s is not run locally: %s", rule_name, exc)
            continue
        rules.append(ScheduledRule(rule_name, period, function, stop))
    return rules
