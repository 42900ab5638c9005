"""make run's SLA enforcer sweeps every few seconds, so a 1-minute target visibly warns and breaches."""

import pytest

from infra.local.schedules import local_period


def test_the_sla_enforcer_sweeps_every_5_seconds_locally_unless_told_otherwise():
    assert local_period("SlaEnforcerFunction", 60, {}) == 5
    assert local_period("SlaEnforcerFunction", 60, {"SWITCHBOARD_LOCAL_SLA_SWEEP_SECONDS": "2"}) == 2


def test_other_schedules_keep_their_rate():
    assert local_period("OutboxSweepFunction", 60, {"SWITCHBOARD_LOCAL_SLA_SWEEP_SECONDS": "2"}) == 60


@pytest.mark.parametrize("value", ["0", "61", "5s", "-1"])
def test_a_mistyped_period_stops_the_runner_rather_than_run_without_the_enforcer(value):
    with pytest.raises(ValueError, match="SWITCHBOARD_LOCAL_SLA_SWEEP_SECONDS"):
        local_period("SlaEnforcerFunction", 60, {"SWITCHBOARD_LOCAL_SLA_SWEEP_SECONDS": value})


def test_the_notification_scheduler_runs_every_five_seconds_locally_unless_told_otherwise():
    # Given make run's defaults, Then a late delivery's apology shows within seconds; the variable overrides it
    assert local_period("NotificationSchedulerFunction", 60, {}) == 5
    assert local_period("NotificationSchedulerFunction", 60, {"SWITCHBOARD_LOCAL_NOTIFY_SWEEP_SECONDS": "3"}) == 3
