"""SLA clocks through a ticket's life on moto, at chosen instants: the writer, the agents' writes and the SLA
enforcer each take the time as a parameter, so the test sets the clock and nothing reads the wall clock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import urllib3

from infra.fakes.outbound_hooks import hooks_base
from switchboard.api.agent_writes import handle_agent_write
from switchboard.api.tickets import handle_tickets_api
from switchboard.config import AccessSettings
from switchboard.models import Channel, InboundMessage, SenderIdentity, Ticket, TicketStatus
from switchboard.outbound.queue import OutboundQueue
from switchboard.sla.escalations import SlaEvent
from switchboard.sla.notify import SlaNoticeSender, SnsNotifier, WebhookNotifier
from switchboard.sla.policies import PolicyList
from switchboard.sla.schedules import ScheduleRules, schedule_from
from switchboard.store.repositories import Repositories
from switchboard.store.sla_timers import MAX_BUCKETS_PER_SWEEP, SHARDS
from switchboard.tickets.closing import close_due_tickets
from switchboard.tickets.sla_enforcer import SweepReport, enforce
from switchboard.tickets.writer import record_inbound
from tests.support.faults import Fault, FaultyClient
from tests.support.lambda_events import AGENT_CLAIMS, http_api_event

SEOUL = ZoneInfo("Asia/Seoul")
T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
KEY = b"a signing key of at least 32 characters"


class RecordedEvents:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    def recorded(self, event: SlaEvent, *, policy: str, channel: str, delay: timedelta) -> None:
        self.events.append((event.kind, event.metric.value, policy))


class Clock:
    """The test's clock: each step of a ticket's life sets it, the store reads it for when a write happens."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


CLOCK = Clock()


@pytest.fixture
def store(stack) -> Repositories:
    return Repositories.on(stack.dynamodb, stack.table_name, clock=CLOCK)


@pytest.fixture
def hooks(fake_providers) -> Iterator:
    yield fake_providers


def save_policies(store: Repositories, *policies: dict) -> None:
    current = store.sla_rules.current()
    store.sla_rules.save_policies(
        PolicyList.model_validate({"policies": list(policies)}).policies,
        seen_version=current.version,
        actor_id="admin",
        at=T0 - timedelta(days=1),
    )


def save_seoul_schedule(store: Repositories) -> None:
    rules = ScheduleRules.model_validate(
        {
            "name": "Seoul office",
            "time_zone": "Asia/Seoul",
            "intervals": [
                {"day": day, "start": "09:00", "end": "18:00"} for day in ("mon", "tue", "wed", "thu", "fri")
            ],
            "country_holidays": "KR",
        }
    )
    schedule = schedule_from("seoul", rules, version=1, saved_at=datetime(2026, 1, 5, tzinfo=UTC))
    current = store.sla_rules.current()
    store.sla_rules.save_schedule(schedule, seen_version=current.version, actor_id="admin", at=T0 - timedelta(days=1))


def customer_writes(
    store: Repositories, at: datetime, *, conversation: str = "1001", text: str = "어디쯤 왔나요?"
) -> Ticket:
    message = InboundMessage(
        channel=Channel.TELEGRAM,
        channel_account_id="bot-1",
        conversation_id=conversation,
        external_id=f"{conversation}-{at.timestamp()}",
        sender=SenderIdentity(external_id=conversation, display_name="김민지"),
        message_type="text",
        text=text,
        provider_timestamp=at,
        received_at=at,
    )
    CLOCK.now = at
    record_inbound(message, store, sleep=lambda _: None)
    return ticket_of(store, conversation)


def ticket_of(store: Repositories, conversation: str = "1001") -> Ticket:
    ticket_id = store.tickets.current_ticket_id(f"telegram:bot-1:{conversation}")
    assert ticket_id is not None
    found = store.tickets.ticket(ticket_id)
    assert found is not None
    return found.ticket


def agent(
    stack, store: Repositories, at: datetime, method: str, path: str, route: str, body: dict, **headers: str
) -> dict:
    ticket_id = path.split("/")[2]
    event = http_api_event(
        method=method,
        path=path,
        route_key=route,
        path_parameters={"ticket_id": ticket_id},
        headers={"content-type": "application/json", **headers},
        body=json.dumps(body).encode(),
        claims=AGENT_CLAIMS,
        at=at,
    )
    CLOCK.now = at
    response = handle_agent_write(
        event,
        store=store,
        access=AccessSettings(),
        queue=OutboundQueue(stack.sqs, stack.queue_url_of("OutboundQueue")),
        templates=(),
        clock=lambda: at,
    )
    assert response["statusCode"] < 300, response
    return json.loads(response["body"])


def reply(stack, store: Repositories, ticket: Ticket, at: datetime, status: str | None = None) -> Ticket:
    body = {"text": "확인해 보겠습니다.", **({"status": status} if status else {})}
    path = f"/tickets/{ticket.id}/replies"
    agent(stack, store, at, "POST", path, "POST /tickets/{ticket_id}/replies", body, **{"idempotency-key": str(at)})
    return ticket_of(store)


def change(stack, store: Repositories, ticket: Ticket, at: datetime, **fields) -> Ticket:
    found = store.tickets.ticket(ticket.id)
    assert found is not None
    path = f"/tickets/{ticket.id}"
    agent(stack, store, at, "PATCH", path, "PATCH /tickets/{ticket_id}", fields, **{"if-match": f'"{found.version}"'})
    return ticket_of(store)


def metric(ticket: Ticket, name: str):
    assert ticket.sla is not None
    return ticket.sla.metrics[name]  # type: ignore[index]


def due_entries(stack) -> list[str]:
    """Every ticket in the timer index, whatever its bucket (a Scan of the index: for assertions only)."""
    items = stack.dynamodb.scan(TableName=stack.table_name, IndexName="BySlaDue")["Items"]
    return sorted(item["pk"]["S"] for item in items)


def sender(fake_providers) -> SlaNoticeSender:
    webhooks = WebhookNotifier(urllib3.PoolManager(retries=False), lambda: KEY, hooks_base(fake_providers.base_url))
    return SlaNoticeSender(webhooks, SnsNotifier(None), clock=lambda: T0)


def sweep(store: Repositories, fake_providers, at: datetime, events: RecordedEvents | None = None) -> SweepReport:
    CLOCK.now = at
    return enforce(at, store, sender(fake_providers), events or RecordedEvents(), sleep=lambda _: None)


CALENDAR_POLICY = {
    "name": "Chat",
    "targets": {
        "normal": {
            "first_reply": {"minutes": 60},
            "next_reply": {"minutes": 30},
            "requester_wait": {"minutes": 240},
            "agent_work": {"minutes": 180},
            "resolution": {"minutes": 1440},
        }
    },
    "warn_before": {"percent": 50},
}


def test_a_tickets_life_in_calendar_time(stack, store):
    # Given a calendar-time policy
    save_policies(store, CALENDAR_POLICY)
    # When the customer writes at T0
    ticket = customer_writes(store, T0)
    # Then first reply runs from T0, and the ticket is in the timer index for its warning
    assert metric(ticket, "first_reply").due_at == T0 + timedelta(minutes=60)
    assert due_entries(stack) == [f"TICKET#{ticket.id}"]
    # When an agent replies at T0+10 and sets the ticket pending
    ticket = reply(stack, store, ticket, T0 + timedelta(minutes=10), status="pending")
    # Then first reply is fulfilled in time, and requester wait and agent work pause with 10 minutes spent
    assert (metric(ticket, "first_reply").status, metric(ticket, "first_reply").breached_at) == ("fulfilled", None)
    assert (metric(ticket, "requester_wait").status, metric(ticket, "requester_wait").spent_seconds) == ("paused", 600)
    # When the customer answers at T0+40
    ticket = customer_writes(store, T0 + timedelta(minutes=40))
    # Then the ticket is open again, next reply runs from the message, requester wait resumes with its 10 minutes
    assert ticket.status is TicketStatus.OPEN
    assert metric(ticket, "next_reply").due_at == T0 + timedelta(minutes=70)
    assert metric(ticket, "requester_wait").due_at == T0 + timedelta(minutes=40 + 230)
    # When an agent solves it at T0+50 (PATCH with If-Match)
    ticket = change(stack, store, ticket, T0 + timedelta(minutes=50), status="solved")
    # Then every clock stops: nothing is due and the ticket leaves the timer index
    assert ticket.sla is not None and ticket.sla.next_due_at is None
    assert {clock.status for clock in ticket.sla.metrics.values()} == {"fulfilled"}
    assert due_entries(stack) == []
    # When the customer writes again at T0+120 (reopened)
    ticket = customer_writes(store, T0 + timedelta(minutes=120))
    # Then requester wait resumes with 20 minutes spent (T0..10, T0+40..50), next reply starts anew
    assert metric(ticket, "requester_wait").spent_seconds == 1200
    assert metric(ticket, "next_reply").activation == 2
    assert metric(ticket, "next_reply").started_at == T0 + timedelta(minutes=120)
    # When it is solved and, four days later, closed
    ticket = reply(stack, store, ticket, T0 + timedelta(minutes=125), status="solved")
    CLOCK.now = T0 + timedelta(days=5)
    close_due_tickets(T0 + timedelta(days=5), days=4, tickets=store.tickets)
    ticket = ticket_of(store)
    # Then the closed ticket's clocks are frozen
    assert ticket.status is TicketStatus.CLOSED and ticket.sla is not None
    assert ticket.sla.next_due_at is None and not any(clock.running for clock in ticket.sla.metrics.values())


def test_a_first_reply_in_business_time_over_chuseok(stack, store):
    # Given an 8-business-hour first reply on the Seoul office's hours, with Korea's public holidays
    save_seoul_schedule(store)
    policy = {
        "name": "Email, business hours",
        "schedule_id": "seoul",
        "targets": {"normal": {"first_reply": {"minutes": 480, "business_hours": True}}},
    }
    save_policies(store, policy)
    # When a customer writes on Wednesday 2026-09-23 at 17:00 KST, the eve of Chuseok
    ticket = customer_writes(store, datetime(2026, 9, 23, 17, 0, tzinfo=SEOUL))
    # Then the reply is due Monday 09-28 at 16:00 KST: 1 hour on Wednesday, Chuseok (24-26) and Sunday off,
    # 7 hours on Monday
    assert metric(ticket, "first_reply").due_at == datetime(2026, 9, 28, 16, 0, tzinfo=SEOUL)
    # When the agent replies Monday at 10:00 KST
    ticket = reply(stack, store, ticket, datetime(2026, 9, 28, 10, 0, tzinfo=SEOUL))
    # Then it is fulfilled with 2 business hours spent (Wednesday 17-18, Monday 9-10), never breached
    first = metric(ticket, "first_reply")
    assert (first.status, first.spent_seconds, first.breached_at) == ("fulfilled", 7200, None)


def test_the_ticket_shows_the_business_time_spent_so_far_as_of_the_read(stack, store):
    # Given a ticket opened Friday 2026-10-02 at 17:00 KST under a 16-business-hour resolution target
    save_seoul_schedule(store)
    policy = {
        "name": "Email, business hours",
        "schedule_id": "seoul",
        "targets": {"normal": {"resolution": {"minutes": 960, "business_hours": True}}},
    }
    save_policies(store, policy)
    ticket = customer_writes(store, datetime(2026, 10, 2, 17, 0, tzinfo=SEOUL))
    # When an agent reads it on Tuesday 10-06 at 11:00 KST (the weekend and the 10-05 substitute holiday between)
    event = http_api_event(
        method="GET",
        path=f"/tickets/{ticket.id}",
        route_key="GET /tickets/{ticket_id}",
        path_parameters={"ticket_id": ticket.id},
        claims=AGENT_CLAIMS,
    )
    answer = handle_tickets_api(
        event, store, AccessSettings(), clock=lambda: datetime(2026, 10, 6, 11, 0, tzinfo=SEOUL)
    )
    # Then resolution has run 3 business hours: Friday 17-18 and Tuesday 9-11
    assert json.loads(answer["body"])["sla_elapsed_seconds"] == {"resolution": 3 * 3600}


ONE_MINUTE_POLICY = {
    "name": "Chat, urgent first reply",
    "conditions": {"channel": ["telegram", "whatsapp"], "priority": ["urgent", "high", "normal"]},
    "targets": {"normal": {"first_reply": {"minutes": 1}, "next_reply": {"minutes": 30}}},
    "warn_before": {"percent": 50},
}


def one_minute_policy(fake_providers) -> dict:
    url = f"{hooks_base(fake_providers.base_url)}sla"
    escalation = {
        "level": 1,
        "after_minutes": 0,
        "actions": [{"type": "notify", "webhook_url": url}, {"type": "add_tags", "tags": ["sla_breached"]}],
    }
    return {**ONE_MINUTE_POLICY, "escalations": [escalation]}


def test_the_enforcer_records_the_breach_at_the_deadline_and_acts_once(stack, store, fake_providers):
    # Given the 1-minute first-reply policy with a notify webhook, and a message at T0
    save_policies(store, one_minute_policy(fake_providers))
    ticket = customer_writes(store, T0)
    events = RecordedEvents()
    # When sweeps run at T0+20 s (nothing due) and T0+35 s (the warning, due at T0+30 s)
    assert sweep(store, fake_providers, T0 + timedelta(seconds=20), events).timers_due == 0
    sweep(store, fake_providers, T0 + timedelta(seconds=35), events)
    assert events.events == [("warning", "first_reply", "Chat, urgent first reply")]
    # When the next sweep runs 70 s after the message
    report = sweep(store, fake_providers, T0 + timedelta(seconds=70), events)
    # Then the breach is recorded at the deadline itself, 10 s before the sweep, and acted on once
    ticket = ticket_of(store)
    first = metric(ticket, "first_reply")
    assert (first.status, first.breached_at, first.escalated_level) == ("breached", T0 + timedelta(minutes=1), 1)
    assert ticket.tags == ("sla_breached",)
    assert report.delays == [10.0, 10.0]
    [posted] = fake_providers.calls("webhook")
    notice = json.loads(posted.body)
    assert (notice["ticket_id"], notice["metric"], notice["level"]) == (ticket.id, "first_reply", 1)
    assert notice["breached_at"] == "2026-12-03T09:01:00Z"
    # and the timeline holds the warning and the breach as audits by "sla"
    audits = store.audits.audit_page(ticket.id, limit=50, cursor=None).audits
    sla_changes = [(c.field, c.after) for a in audits if a.actor_id == "sla" for c in a.changes]
    assert sla_changes == [
        ("sla.first_reply", "warning"),
        ("sla.first_reply", "breached"),
        ("sla.first_reply", "escalated_level_1"),
        ("tags", ["sla_breached"]),
    ]
    # When sweeps run again
    sweep(store, fake_providers, T0 + timedelta(seconds=80), events)
    sweep(store, fake_providers, T0 + timedelta(minutes=5), events)
    # Then nothing is done twice
    assert len(fake_providers.calls("webhook")) == 1
    assert [kind for kind, _, _ in events.events] == ["warning", "breach", "escalation"]


def test_a_reply_in_time_is_fulfilled_with_no_breach(stack, store, fake_providers):
    # Given the 1-minute policy and a message at T0, answered at T0+40 s
    save_policies(store, one_minute_policy(fake_providers))
    ticket = customer_writes(store, T0)
    ticket = reply(stack, store, ticket, T0 + timedelta(seconds=40))
    # When the sweeps run past the deadline
    sweep(store, fake_providers, T0 + timedelta(seconds=45))
    sweep(store, fake_providers, T0 + timedelta(minutes=2))
    # Then first reply is fulfilled with no breach and nothing was posted
    first = metric(ticket_of(store), "first_reply")
    assert (first.status, first.breached_at) == ("fulfilled", None)
    assert fake_providers.calls("webhook") == []


def test_after_an_outage_the_enforcer_catches_up_without_acting_twice(stack, store, fake_providers):
    # Given tickets due at T0+1 min and T0+31 min, and a sweep at T0 that set the cursor
    save_policies(store, one_minute_policy(fake_providers))
    sweep(store, fake_providers, T0)
    customer_writes(store, T0, conversation="1")
    customer_writes(store, T0 + timedelta(minutes=30), conversation="2")
    # When the enforcer comes back two hours later
    report = sweep(store, fake_providers, T0 + timedelta(hours=2))
    # Then both breaches are recorded at their deadlines, each notified once
    assert report.events["breach"] == 2
    assert metric(ticket_of(store, "1"), "first_reply").breached_at == T0 + timedelta(minutes=1)
    assert metric(ticket_of(store, "2"), "first_reply").breached_at == T0 + timedelta(minutes=31)
    assert len(fake_providers.calls("webhook")) == 2
    # and the next sweep reads only the buckets since the cursor (the last 3 minutes again, and this one), acting
    # on nothing
    again = sweep(store, fake_providers, T0 + timedelta(hours=2, minutes=1))
    assert (again.timers_due, again.buckets_read) == (0, 5 * SHARDS)
    assert len(fake_providers.calls("webhook")) == 2


def test_an_outage_longer_than_a_sweep_takes_is_caught_up_over_several_sweeps(stack, store, fake_providers):
    # Given a ticket due at T0+1 min, and the enforcer down from T0 for five hours
    save_policies(store, one_minute_policy(fake_providers))
    sweep(store, fake_providers, T0)
    customer_writes(store, T0, conversation="1")
    customer_writes(store, T0 + timedelta(hours=4), conversation="2")
    # When it comes back, each sweep reads at most MAX_BUCKETS_PER_SWEEP minutes from its cursor
    reports = [sweep(store, fake_providers, T0 + timedelta(hours=5, minutes=n)) for n in range(4)]
    # Then no bucket is skipped: both breaches are recorded, at their deadlines, in the sweeps that reach them
    assert [report.events["breach"] for report in reports] == [1, 0, 1, 0]
    assert metric(ticket_of(store, "2"), "first_reply").breached_at == T0 + timedelta(hours=4, minutes=1)
    assert max(report.buckets_read for report in reports) == MAX_BUCKETS_PER_SWEEP * SHARDS


def test_a_failing_webhook_is_retried_until_delivered_once(stack, store, fake_providers):
    # Given a breach whose webhook answers 503 twice
    save_policies(store, one_minute_policy(fake_providers))
    customer_writes(store, T0)
    fake_providers.fail("/__fake__/hooks/sla", status=503, times=2)
    # When sweeps run every minute
    states = [dict(sweep(store, fake_providers, T0 + timedelta(minutes=n)).notices) for n in range(1, 6)]
    # Then it was tried three times (30 s, then 60 s apart) and delivered once
    assert states[0] == {"pending": 1}
    assert [call.header("X-Switchboard-Event-Id") for call in fake_providers.calls("webhook")] == [
        f"{ticket_of(store).id}:first_reply:1:1"
    ] * 3
    assert [entry["status"] for entry in reversed(fake_providers.sent())][-1] == 200


def test_a_fault_at_any_aws_call_of_the_enforcer_loses_no_breach_and_doubles_no_action(stack, fake_providers):
    """Every DynamoDB call of a sweep that records a breach fails in turn, refused (nothing applied) or with its
    response lost (applied); the following sweeps must leave the ticket exactly as a clean run does."""
    faulty = FaultyClient(stack.dynamodb)
    store = Repositories.on(faulty, stack.table_name, clock=CLOCK)
    save_policies(store, one_minute_policy(fake_providers))
    # Given a clean run, to count its calls
    start = T0
    customer_writes(store, start, conversation="probe")
    sweep(store, fake_providers, start)
    faulty.disarm()
    sweep(store, fake_providers, start + timedelta(seconds=70))
    calls = list(faulty.calls)
    assert calls.count("TransactWriteItems") == 1 and calls.count("PutItem") == 2  # record, claim, settle
    # Every call but the empty buckets' Queries between the first and the last (they fail the same way).
    queries = [index for index, operation in enumerate(calls, start=1) if operation == "Query"]
    chosen = [
        (index, op) for index, op in enumerate(calls, start=1) if op != "Query" or index in (queries[0], queries[-1])
    ]
    for index, operation in chosen:
        # A read whose answer is lost changed nothing, as a refused one: only writes lose theirs.
        faults = (Fault.REFUSED, Fault.RESPONSE_LOST) if operation not in ("GetItem", "Query") else (Fault.REFUSED,)
        for fault in faults:
            # Given a new ticket breaching one minute after its message
            start += timedelta(minutes=10)
            conversation = f"{index}-{fault.name}"
            ticket = customer_writes(store, start, conversation=conversation)
            sweep(store, fake_providers, start)  # the cursor where the clean run had it: the same calls follow
            posted_before = len(fake_providers.calls("webhook"))
            # When call `index` of the sweep 70 s later fails, and the sweeps after it run
            faulty.arm(index, fault)
            try:
                sweep(store, fake_providers, start + timedelta(seconds=70))
            except Exception:  # noqa: BLE001 - a failure of the sweep's own reads ends the run, as in Lambda
                pass
            faulty.disarm()
            for later in (2, 4):
                sweep(store, fake_providers, start + timedelta(minutes=later))
            # Then the breach is recorded once, at its deadline, with its tag added once
            case = f"call {index} ({operation}) {fault.value}"
            after = ticket_of(store, conversation)
            first = metric(after, "first_reply")
            assert (first.breached_at, first.breach_recorded, first.escalated_level) == (
                start + timedelta(minutes=1),
                True,
                1,
            ), case
            assert after.tags == ("sla_breached",), case
            audits = store.audits.audit_page(ticket.id, limit=50, cursor=None).audits
            breaches = [c for a in audits for c in a.changes if c.field == "sla.first_reply" and c.after == "breached"]
            assert len(breaches) == 1, case
            # and the webhook got the notice: once, or (the one case a provider call cannot be made exactly once:
            # the sweep died between the POST and recording it) twice with the same event id
            posted = [call.header("X-Switchboard-Event-Id") for call in fake_providers.calls("webhook")[posted_before:]]
            repeated = fault is Fault.REFUSED and operation == "PutItem" and index == len(calls) - 1
            assert posted == [f"{ticket.id}:first_reply:1:1"] * (2 if repeated else 1), case


def test_a_message_processed_late_still_breaches_at_its_deadline(stack, store, fake_providers):
    # Given the 1-minute policy and a sweep running every minute
    save_policies(store, one_minute_policy(fake_providers))
    sweep(store, fake_providers, T0 + timedelta(minutes=9))
    # When a message that arrived at T0 is written only at T0+10 min (a redelivery after the queue's timeouts)
    message = InboundMessage(
        channel=Channel.TELEGRAM,
        channel_account_id="bot-1",
        conversation_id="late",
        external_id="late-1",
        sender=SenderIdentity(external_id="late"),
        message_type="text",
        text="배송 조회 부탁드려요",
        provider_timestamp=T0,
        received_at=T0,
    )
    CLOCK.now = T0 + timedelta(minutes=10)
    record_inbound(message, store, sleep=lambda _: None)
    # Then the next sweep finds it, though its deadline's bucket is far behind the sweep's cursor, and records the
    # breach at the deadline itself
    report = sweep(store, fake_providers, T0 + timedelta(minutes=10, seconds=30))
    assert report.events["breach"] == 1
    assert metric(ticket_of(store, "late"), "first_reply").breached_at == T0 + timedelta(minutes=1)


def test_an_escalation_owed_while_paused_is_acted_on_when_the_clock_runs_again(stack, store, fake_providers):
    # Given a requester-wait target breached at T0+1 min, level 1 at once and level 2 ten minutes after the breach
    policy = {
        "name": "Wait",
        "targets": {"normal": {"requester_wait": {"minutes": 1}}},
        "escalations": [
            {"level": 1, "after_minutes": 0, "actions": [{"type": "add_tags", "tags": ["late"]}]},
            {"level": 2, "after_minutes": 10, "actions": [{"type": "add_tags", "tags": ["later"]}]},
        ],
    }
    save_policies(store, policy)
    ticket = customer_writes(store, T0)
    sweep(store, fake_providers, T0 + timedelta(minutes=2))
    # When the ticket waits on the customer (pending) from T0+5 to T0+30, then is opened again
    ticket = change(stack, store, ticket, T0 + timedelta(minutes=5), status="pending")
    sweep(store, fake_providers, T0 + timedelta(minutes=20))
    assert ticket_of(store).tags == ("late",)
    change(stack, store, ticket, T0 + timedelta(minutes=30), status="open")
    # Then the next sweep acts on level 2, owed since T0+11 min and still breached
    sweep(store, fake_providers, T0 + timedelta(minutes=31))
    assert ticket_of(store).tags == ("late", "later")


def test_a_tickets_life_in_business_time_over_chuseok_as_docs_sla_md_walks_it(stack, store):
    # Given the Seoul office's hours with Korea's holidays, and docs/sla.md's worked example policy
    save_seoul_schedule(store)
    hours = {"business_hours": True}
    policy = {
        "name": "Business hours",
        "schedule_id": "seoul",
        "targets": {
            "normal": {
                "first_reply": {"minutes": 480, **hours},
                "next_reply": {"minutes": 480, **hours},
                "requester_wait": {"minutes": 960, **hours},
            }
        },
        "warn_before": {"percent": 25},
    }
    save_policies(store, policy)

    def kst(month: int, day: int, hour: int) -> datetime:
        return datetime(2026, month, day, hour, 0, tzinfo=SEOUL)

    # When the customer writes on Wednesday 09-23 at 17:00, the eve of Chuseok
    ticket = customer_writes(store, kst(9, 23, 17))
    # Then first reply is due Monday 09-28 16:00 and requester wait Tuesday 09-29 15:00 (holidays and Sunday off)
    assert (metric(ticket, "first_reply").due_at, metric(ticket, "first_reply").warn_at) == (
        kst(9, 28, 16),
        kst(9, 28, 14),
    )
    assert metric(ticket, "requester_wait").due_at == kst(9, 29, 15)
    # When an agent answers Monday at 10:00 and sets the ticket pending
    ticket = reply(stack, store, ticket, kst(9, 28, 10), status="pending")
    # Then first reply is fulfilled with 2 business hours, requester wait paused with 2
    assert (metric(ticket, "first_reply").status, metric(ticket, "first_reply").spent_seconds) == ("fulfilled", 7200)
    assert (metric(ticket, "requester_wait").status, metric(ticket, "requester_wait").spent_seconds) == ("paused", 7200)
    assert ticket.sla is not None and ticket.sla.next_due_at is None
    # When the customer answers Friday 10-02 at 17:00 (the ticket opens again)
    ticket = customer_writes(store, kst(10, 2, 17))
    # Then next reply runs, due Tuesday 10-06 16:00 (Saturday 개천절, Sunday, Monday its substitute holiday), and
    # requester wait runs again with its 2 hours: due Wednesday 10-07 13:00
    assert (metric(ticket, "next_reply").activation, metric(ticket, "next_reply").due_at) == (1, kst(10, 6, 16))
    assert metric(ticket, "requester_wait").due_at == kst(10, 7, 13)
    # When an agent answers and solves it Tuesday 10-06 at 15:00
    ticket = reply(stack, store, ticket, kst(10, 6, 15), status="solved")
    # Then next reply is fulfilled with 7 hours and requester wait with 9, and no clock runs
    assert metric(ticket, "next_reply").spent_seconds == 7 * 3600
    assert (metric(ticket, "requester_wait").status, metric(ticket, "requester_wait").spent_seconds) == (
        "fulfilled",
        9 * 3600,
    )
    assert ticket.sla is not None and ticket.sla.next_due_at is None
    # When the customer writes again Thursday 10-08 at 17:00 (reopened; Friday 10-09 is 한글날)
    ticket = customer_writes(store, kst(10, 8, 17))
    # Then next reply starts its second activation, due Monday 10-12 16:00; requester wait, 7 hours left, 15:00
    assert (metric(ticket, "next_reply").activation, metric(ticket, "next_reply").due_at) == (2, kst(10, 12, 16))
    assert metric(ticket, "requester_wait").due_at == kst(10, 12, 15)
    # When it is solved that evening and closed four days later
    ticket = change(stack, store, ticket, kst(10, 8, 18), status="solved")
    CLOCK.now = kst(10, 13, 9)
    close_due_tickets(CLOCK.now, days=4, tickets=store.tickets)
    # Then the closed ticket's clocks are frozen
    closed = ticket_of(store)
    assert closed.status is TicketStatus.CLOSED and closed.sla is not None and closed.sla.next_due_at is None
