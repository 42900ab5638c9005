"""Each SLA metric's clock against Zendesk's documented behaviour (docs/sla.md), in calendar time, at chosen
instants: sla/clocks.py's `track` and sla/escalations.py's `enforce_ticket` are pure, so no table is needed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from switchboard.models import (
    Channel,
    InboundMessage,
    MetricStatus,
    Priority,
    Requester,
    SenderIdentity,
    SlaMetric,
    Ticket,
    TicketStatus,
)
from switchboard.sla.clocks import track
from switchboard.sla.escalations import enforce_ticket
from switchboard.sla.policies import PolicyList, SlaRules
from switchboard.sla.schedules import ScheduleRules, schedule_from
from switchboard.tickets import lifecycle

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def rules(**overrides) -> SlaRules:
    policy = {
        "name": "Chat",
        "conditions": {"channel": ["telegram"]},
        "targets": {
            "normal": {
                "first_reply": {"minutes": 60},
                "next_reply": {"minutes": 30},
                "periodic_update": {"minutes": 120},
                "pausable_update": {"minutes": 120},
                "requester_wait": {"minutes": 240},
                "agent_work": {"minutes": 180},
                "resolution": {"minutes": 1440},
            },
            "high": {"first_reply": {"minutes": 30}, "resolution": {"minutes": 480}},
            "urgent": {"first_reply": {"minutes": 10}, "requester_wait": {"minutes": 60}},
        },
        "warn_before": {"percent": 50},
        "escalations": [
            {"level": 1, "after_minutes": 0, "actions": [{"type": "add_tags", "tags": ["sla_breached"]}]},
            {
                "level": 2,
                "after_minutes": 30,
                "actions": [
                    {"type": "raise_priority"},
                    {"type": "notify", "webhook_url": "https://hooks.example/sla"},
                ],
            },
        ],
        **overrides,
    }
    return SlaRules(version=1, policies=PolicyList.model_validate({"policies": [policy]}).policies)


RULES = rules()


def opened(at: datetime = T0, rules_: SlaRules = RULES) -> Ticket:
    ticket = Ticket(
        id="t_1",
        number=1,
        status=TicketStatus.NEW,
        channel=Channel.TELEGRAM,
        channel_account_id="bot",
        conversation_key="telegram:bot:1",
        subject="where is my order?",
        requester=Requester(contact_id="c_1"),
        message_count=1,
        created_at=at,
        updated_at=at,
        first_customer_message_at=at,
        last_customer_message_at=at,
        awaiting_agent_since=at,
    )
    return track(None, ticket, at=at, rules=rules_)


def replied(ticket: Ticket, at: datetime, status: TicketStatus | None = None, rules_: SlaRules = RULES) -> Ticket:
    after = ticket.model_copy(
        update={
            "status": status or (TicketStatus.OPEN if ticket.status is TicketStatus.NEW else ticket.status),
            "first_agent_reply_at": ticket.first_agent_reply_at or at,
            "last_agent_reply_at": at,
            "last_public_agent_reply_at": at,
            "awaiting_agent_since": None,
            "updated_at": at,
        }
    )
    return track(ticket, after, at=at, rules=rules_)


def customer_wrote(ticket: Ticket, at: datetime, *, only_thanks: bool = False) -> Ticket:
    message = InboundMessage(
        channel=Channel.TELEGRAM,
        channel_account_id="bot",
        conversation_id="1",
        external_id=f"msg-{at.timestamp()}",
        sender=SenderIdentity(external_id="1"),
        message_type="text",
        text="thanks!" if only_thanks else "one more thing",
        provider_timestamp=at,
        received_at=at,
    )
    after = lifecycle.with_message(ticket, message, only_thanks=only_thanks)
    return track(ticket, after, at=at, rules=RULES)


def moved(ticket: Ticket, at: datetime, rules_: SlaRules = RULES, **fields) -> Ticket:
    update = {**fields, "updated_at": at}
    if fields.get("status") is TicketStatus.SOLVED:
        update["solved_at"] = at
    return track(ticket, ticket.model_copy(update=update), at=at, rules=rules_)


def clock(ticket: Ticket, metric: SlaMetric):
    assert ticket.sla is not None
    return ticket.sla.metrics[metric]


def test_a_new_ticket_starts_first_reply_and_the_totals_but_not_next_reply_or_updates():
    # Given / When a ticket opens at T0 under a policy with every metric
    ticket = opened()
    # Then first reply runs from creation with its warning halfway, and so do the totals
    assert ticket.sla is not None and ticket.sla.policy == "Chat"
    first = clock(ticket, SlaMetric.FIRST_REPLY)
    assert (first.status, first.due_at, first.warn_at) == (MetricStatus.ACTIVE, minutes(60), minutes(30))
    assert clock(ticket, SlaMetric.REQUESTER_WAIT).due_at == minutes(240)
    assert clock(ticket, SlaMetric.RESOLUTION).due_at == minutes(1440)
    # and next reply waits for first reply to be done (the first wait is first reply's), updates for a reply
    assert set(ticket.sla.metrics) == {
        SlaMetric.FIRST_REPLY,
        SlaMetric.REQUESTER_WAIT,
        SlaMetric.AGENT_WORK,
        SlaMetric.RESOLUTION,
    }
    assert ticket.sla.next_due_at == minutes(30)


def test_a_public_reply_in_time_fulfils_first_reply_and_starts_the_updates():
    # Given a ticket opened at T0
    # When an agent replies publicly after 20 minutes
    ticket = replied(opened(), minutes(20))
    # Then first reply is fulfilled without a breach, and both update metrics run from the reply
    first = clock(ticket, SlaMetric.FIRST_REPLY)
    assert (first.status, first.breached_at, first.spent_seconds) == (MetricStatus.FULFILLED, None, 1200)
    assert clock(ticket, SlaMetric.PERIODIC_UPDATE).due_at == minutes(140)
    assert clock(ticket, SlaMetric.PAUSABLE_UPDATE).started_at == minutes(20)


def test_a_late_reply_records_the_breach_at_the_deadline_not_at_the_reply():
    # Given a ticket whose first reply was due at T0+60 and no sweep ran
    # When the agent replies at T0+75
    ticket = replied(opened(), minutes(75))
    # Then first reply is fulfilled, breached at its deadline, and the breach is still to be recorded by the enforcer
    first = clock(ticket, SlaMetric.FIRST_REPLY)
    assert (first.status, first.breached_at, first.breach_recorded) == (MetricStatus.FULFILLED, minutes(60), False)
    assert ticket.sla is not None and ticket.sla.next_due_at == minutes(60)


def test_pending_pauses_requester_wait_agent_work_and_pausable_update_and_the_time_spent_counts_on_resume():
    # Given a ticket answered at T0+20 (open)
    ticket = replied(opened(), minutes(20))
    # When it waits on the customer (pending) from T0+30 to T0+90
    paused = moved(ticket, minutes(30), status=TicketStatus.PENDING)
    # Then requester wait, agent work and pausable update stop, the other clocks run on
    for metric in (SlaMetric.REQUESTER_WAIT, SlaMetric.AGENT_WORK, SlaMetric.PAUSABLE_UPDATE):
        assert clock(paused, metric).status is MetricStatus.PAUSED, metric
        assert clock(paused, metric).due_at is None
    assert clock(paused, SlaMetric.PERIODIC_UPDATE).status is MetricStatus.ACTIVE
    assert clock(paused, SlaMetric.RESOLUTION).status is MetricStatus.ACTIVE
    # When the ticket is opened again at T0+90
    resumed = moved(paused, minutes(90), status=TicketStatus.OPEN)
    # Then requester wait resumes with its 30 minutes already spent: 210 left, due at T0+300
    wait = clock(resumed, SlaMetric.REQUESTER_WAIT)
    assert (wait.status, wait.spent_seconds, wait.due_at) == (MetricStatus.ACTIVE, 1800, minutes(300))
    assert wait.activation == 1
    # and pausable update has 10 minutes spent (T0+20..30): due at T0+90+110
    assert clock(resumed, SlaMetric.PAUSABLE_UPDATE).due_at == minutes(200)


def test_on_hold_pauses_agent_work_only():
    # Given an open ticket
    ticket = replied(opened(), minutes(5))
    # When it goes on hold
    held = moved(ticket, minutes(10), status=TicketStatus.ON_HOLD)
    # Then agent work pauses while requester wait runs on
    assert clock(held, SlaMetric.AGENT_WORK).status is MetricStatus.PAUSED
    assert clock(held, SlaMetric.REQUESTER_WAIT).status is MetricStatus.ACTIVE


def test_next_reply_runs_from_the_oldest_unanswered_customer_message():
    # Given a ticket answered at T0+10
    ticket = replied(opened(), minutes(10))
    # When the customer writes at T0+15 and again at T0+25
    once = customer_wrote(ticket, minutes(15))
    twice = customer_wrote(once, minutes(25))
    # Then next reply runs from the first of them
    following = clock(twice, SlaMetric.NEXT_REPLY)
    assert (following.status, following.started_at, following.due_at) == (MetricStatus.ACTIVE, minutes(15), minutes(45))
    # and the next public reply fulfils it
    answered = replied(twice, minutes(40))
    assert clock(answered, SlaMetric.NEXT_REPLY).status is MetricStatus.FULFILLED
    # and a new message starts a new activation
    again = customer_wrote(answered, minutes(50))
    assert clock(again, SlaMetric.NEXT_REPLY).activation == 2


def test_solving_fulfils_every_clock_and_nothing_runs_after_resolve():
    # Given an answered ticket with a customer message waiting
    ticket = customer_wrote(replied(opened(), minutes(10)), minutes(20))
    # When it is solved
    solved = moved(ticket, minutes(30), status=TicketStatus.SOLVED)
    # Then every metric is fulfilled and nothing is due (Chatwoot #10178's clock ran on after resolve)
    assert solved.sla is not None
    assert {c.status for c in solved.sla.metrics.values()} == {MetricStatus.FULFILLED}
    assert solved.sla.next_due_at is None


def test_a_reopened_ticket_restarts_what_restarts_and_resumes_the_totals():
    # Given a ticket answered at T0+10 and solved at T0+30
    solved = moved(replied(opened(), minutes(10)), minutes(30), status=TicketStatus.SOLVED)
    # When the customer writes again at T0+100
    reopened = customer_wrote(solved, minutes(100))
    # Then requester wait resumes with its 30 minutes spent, periodic update starts a new activation, next reply starts
    wait = clock(reopened, SlaMetric.REQUESTER_WAIT)
    assert (wait.status, wait.spent_seconds, wait.due_at) == (MetricStatus.ACTIVE, 1800, minutes(310))
    assert clock(reopened, SlaMetric.PERIODIC_UPDATE).activation == 2
    assert clock(reopened, SlaMetric.PERIODIC_UPDATE).started_at == minutes(100)
    following = clock(reopened, SlaMetric.NEXT_REPLY)
    assert (following.status, following.started_at) == (MetricStatus.ACTIVE, minutes(100))
    # and first reply, done, stays done
    assert clock(reopened, SlaMetric.FIRST_REPLY).status is MetricStatus.FULFILLED


def test_a_thank_you_on_a_solved_ticket_restarts_nothing():
    # Given a solved ticket
    solved = moved(replied(opened(), minutes(10)), minutes(30), status=TicketStatus.SOLVED)
    # When the customer's message only thanks us (as the routing rules will say)
    thanked = customer_wrote(solved, minutes(100), only_thanks=True)
    # Then the ticket stays solved and no clock runs
    assert thanked.status is TicketStatus.SOLVED and thanked.sla is not None
    assert all(c.status is MetricStatus.FULFILLED for c in thanked.sla.metrics.values())
    assert thanked.sla.next_due_at is None


def test_a_closed_ticket_freezes_everything():
    solved = moved(replied(opened(), minutes(10)), minutes(30), status=TicketStatus.SOLVED)
    closed = moved(solved, minutes(6000), status=TicketStatus.CLOSED)
    assert closed.sla is not None and closed.sla.next_due_at is None
    assert all(not c.running for c in closed.sla.metrics.values())


def test_a_priority_change_retargets_from_the_change_and_never_back_dates_a_breach():
    # Given a normal ticket 15 minutes into its 60-minute first reply
    ticket = opened()
    # When it becomes urgent (a 10-minute first reply target) at T0+15
    urgent = moved(ticket, minutes(15), priority=Priority.URGENT)
    # Then first reply is breached at the change, not at T0+10
    first = clock(urgent, SlaMetric.FIRST_REPLY)
    assert (first.status, first.target_minutes, first.breached_at) == (MetricStatus.BREACHED, 10, minutes(15))
    # and requester wait keeps its 15 minutes spent, re-targeted to 60: due at T0+60
    assert clock(urgent, SlaMetric.REQUESTER_WAIT).due_at == minutes(60)
    # and metrics the urgent targets do not have are dropped
    assert urgent.sla is not None and SlaMetric.RESOLUTION not in urgent.sla.metrics


def test_a_policy_created_after_the_ticket_measures_from_creation_but_breaches_at_the_change():
    # Given a ticket opened at T0 when no policy existed
    ticket = opened(rules_=SlaRules())
    assert ticket.sla is None
    # When the ticket is next updated at T0+90, under a policy with a 60-minute first reply
    updated = moved(ticket, minutes(90), tags=("order",))
    # Then first reply counts from creation and is breached at the update (Zendesk applies policies on update)
    first = clock(updated, SlaMetric.FIRST_REPLY)
    assert (first.status, first.started_at, first.breached_at) == (MetricStatus.BREACHED, T0, minutes(90))
    # and one still in its target counts from creation too: resolution due at T0+1440
    assert clock(updated, SlaMetric.RESOLUTION).due_at == minutes(1440)


def test_a_ticket_no_policy_matches_has_no_sla():
    other = opened(rules_=rules(conditions={"channel": ["email"]}))
    assert other.sla is None


def test_the_enforcer_records_the_breach_at_the_deadline_and_acts_on_each_level_once():
    # Given a ticket whose first reply was due at T0+60
    ticket = opened()
    # When the enforcer runs at T0+30 (the warning), then at T0+60:50 (a sweep 50 s late)
    warned = enforce_ticket(ticket, version=2, now=minutes(30), rules=RULES)
    assert [(e.kind, e.metric) for e in warned.events] == [("warning", SlaMetric.FIRST_REPLY)]
    breached = enforce_ticket(warned.ticket, version=3, now=minutes(60) + timedelta(seconds=50), rules=RULES)
    # Then the breach is recorded at the deadline itself, with level 1's tag added
    assert [(e.kind, e.due) for e in breached.events] == [("breach", minutes(60)), ("escalation", minutes(60))]
    first = clock(breached.ticket, SlaMetric.FIRST_REPLY)
    assert (first.breached_at, first.breach_recorded, first.escalated_level) == (minutes(60), True, 1)
    assert breached.ticket.tags == ("sla_breached",)
    assert breached.audit is not None and breached.audit.actor_id == "sla"
    assert not breached.notices
    # When the same sweep runs again on the recorded ticket
    again = enforce_ticket(breached.ticket, version=4, now=minutes(61), rules=RULES)
    # Then nothing is done twice
    assert again.events == () and again.notices == ()
    # When level 2 is due (30 minutes after the breach)
    escalated = enforce_ticket(breached.ticket, version=4, now=minutes(90), rules=RULES)
    # Then the priority is raised once and one webhook notice is created with a stable event id
    assert escalated.ticket.priority is Priority.HIGH
    assert [(n.event_id, n.target_kind, n.target) for n in escalated.notices] == [
        ("t_1:first_reply:1:2", "webhook", "https://hooks.example/sla")
    ]
    # and the raised priority re-targets the ticket: first reply keeps its breach, resolution is due sooner
    assert escalated.ticket.sla is not None
    assert clock(escalated.ticket, SlaMetric.FIRST_REPLY).breached_at == minutes(60)
    assert clock(escalated.ticket, SlaMetric.RESOLUTION).due_at == minutes(480)
    assert escalated.ticket.sla.next_due_at == minutes(240)


def test_an_escalation_owed_before_the_reply_is_still_acted_on():
    # Given a first reply breached at T0+60 and answered at T0+65, before any sweep
    ticket = replied(opened(), minutes(65))
    # When the enforcer runs at T0+65:30
    done = enforce_ticket(ticket, version=3, now=minutes(65.5), rules=RULES)
    # Then the breach is recorded and level 1 (at the breach) acted on, but level 2 (after the reply) is not owed
    assert [e.kind for e in done.events] == ["breach", "escalation"]
    assert clock(done.ticket, SlaMetric.FIRST_REPLY).escalated_level == 1


@pytest.mark.parametrize(
    ("warn_before", "expected"),
    [({"minutes": 10}, minutes(50)), ({"percent": 25}, minutes(45))],
    ids=["minutes", "percent"],
)
def test_the_warning_comes_before_the_deadline_by_minutes_or_percent(warn_before, expected):
    ticket = opened(rules_=rules(warn_before=warn_before))
    assert clock(ticket, SlaMetric.FIRST_REPLY).warn_at == expected


def test_a_schedule_without_working_time_for_years_never_fails_a_ticket_write():
    # Given a business-hours policy on a schedule that works Mondays only, every Monday a holiday for 3+ years
    mondays = [T0.date() + timedelta(days=(7 - T0.weekday()) % 7 + 7 * week) for week in range(170)]
    schedule = schedule_from(
        "mondays",
        ScheduleRules.model_validate(
            {
                "name": "Mondays",
                "time_zone": "Asia/Seoul",
                "intervals": [{"day": "mon", "start": "09:00", "end": "10:00"}],
                "holidays": [{"date": day.isoformat(), "name": "closed"} for day in mondays],
            }
        ),
        version=1,
        saved_at=T0,
    )
    business = rules(
        schedule_id="mondays", targets={"normal": {"first_reply": {"minutes": 60, "business_hours": True}}}
    )
    business = business.model_copy(update={"schedules": {"mondays": schedule}})
    # When a ticket opens under it
    ticket = opened(rules_=business)
    # Then the write goes through: the clock runs with no deadline rather than failing the customer's message
    first = clock(ticket, SlaMetric.FIRST_REPLY)
    assert (first.status, first.due_at) == (MetricStatus.ACTIVE, None)


def test_a_policy_list_saved_since_the_last_write_re_targets_running_clocks_from_the_next_change():
    # Given a ticket opened under a policy warning halfway (first reply due T0+60, warned at T0+30)
    ticket = opened()
    # When the admin saves the same targets warning 10 minutes before (a new version), and the ticket changes at T0+5
    saved = rules(warn_before={"minutes": 10}).model_copy(update={"version": 2})
    changed = moved(ticket, minutes(5), rules_=saved, tags=("order",))
    # Then the running clock keeps its time spent and deadline, with the new warning
    first = clock(changed, SlaMetric.FIRST_REPLY)
    assert (first.spent_seconds, first.due_at, first.warn_at) == (300, minutes(60), minutes(50))
    assert changed.sla is not None and changed.sla.policy_version == 2
