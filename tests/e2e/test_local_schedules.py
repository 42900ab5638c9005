"""Schedule events of functions run on the local runner as EventBridge would run them."""

from __future__ import annotations

import threading
import time

import pytest

from infra.local.schedules import ScheduledRule, UnsupportedSchedule, rate_seconds, rules_for
from infra.local.workers import Invocation
from infra.template import functions

pytestmark = pytest.mark.e2e

NIGHTLY_TEMPLATE = {
    "Resources": {
        "SlaSweepFunction": {
            "Type": "AWS::Serverless::Function",
            "Properties": {
                "CodeUri": "functions/sla_sweep/",
                "Handler": "app.handler",
                "Events": {
                    "EveryFiveMinutes": {"Type": "Schedule", "Properties": {"Schedule": "rate(5 minutes)"}},
                    "Noon": {"Type": "Schedule", "Properties": {"Schedule": "cron(0 12 * * ? *)"}},
                },
            },
        }
    }
}


class RecordingFunction:
    name = "SlaSweepFunction"

    def __init__(self) -> None:
        self.events: list[dict] = []
        self.ran_twice = threading.Event()

    def invoke(self, event):
        self.events.append(event)
        if len(self.events) >= 2:
            self.ran_twice.set()
        return Invocation(result=None)


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(1 minute)", 60),
        ("rate(5 minutes)", 300),
        ("rate(1 hour)", 3600),
        ("rate(2 hours)", 7200),
        ("rate(1 day)", 86400),
        ("rate(7 days)", 604800),
    ],
)
def test_rate_expressions(expression, seconds):
    assert rate_seconds(expression) == seconds


@pytest.mark.parametrize(
    "expression", ["rate(1 minutes)", "rate(5 minute)", "rate(0 minutes)", "rate(5 weeks)", "cron(0 12 * * ? *)", ""]
)
def test_expressions_eventbridge_refuses_or_the_runner_does_not_run(expression):
    with pytest.raises(UnsupportedSchedule):
        rate_seconds(expression)


def test_template_schedules_become_rules_and_cron_is_skipped():
    # Given a function with a rate schedule and a cron schedule
    (spec,) = functions(NIGHTLY_TEMPLATE)

    # When the runner sets up its schedules
    rules = rules_for(spec.logical_id, spec.schedules, RecordingFunction(), threading.Event())

    # Then the rate schedule runs every five minutes and the cron one is left out
    assert [(r.rule_name, r.period_seconds) for r in rules] == [("SlaSweepFunction-EveryFiveMinutes", 300)]


def test_a_rule_invokes_its_function_with_a_scheduled_event_every_period_until_stopped():
    # Given a rule with a very short period
    function, stop = RecordingFunction(), threading.Event()
    rule = ScheduledRule("SlaSweepFunction-Tick", 0.05, function, stop)

    # When it runs for a while and is stopped
    rule.start()
    assert function.ran_twice.wait(timeout=5)
    stop.set()
    rule.join(timeout=2)
    runs_at_stop = len(function.events)

    # Then the function got EventBridge's scheduled events, and no more after the stop
    event = function.events[0]
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["resources"] == ["arn:aws:events:us-east-1:123456789012:rule/SlaSweepFunction-Tick"]
    assert event["detail"] == {}
    assert len({e["id"] for e in function.events}) == len(function.events)
    time.sleep(0.2)
    assert len(function.events) == runs_at_stop
