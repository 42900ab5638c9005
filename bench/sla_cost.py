"""9c. What SLA adds to the AWS bill, per 1 M tickets a month, at cost.py's list prices, from this run.

Per ticket, from the same ticket's life on two fresh stacks, one with an SLA policy and one without (moto
in-process, the writer and the agents' API called at chosen instants as the integration tests call them): a
customer's 8 WhatsApp messages (section 7's workload), 2 agents' replies (7b's), the second one solving the ticket,
and the close 4 days later. A botocore hook on the store's client meters every request as in section 1
(dynamodb_cost.CostMeter, its index units kept index by index). What the policy adds is the difference: the
ticket item grows by its `sla` (a transactional write costs 2 WRU per KB, and the indexes that project the whole
item rewrite their copy), and each write that moves a deadline or the SLA view rewrites an entry of BySlaDue or
BySlaState; the rules' GetItem on each ticket write is counted apart (it is read with or without a policy, so 7
and 7b already include it).

The enforcer, as deployed (SlaEnforcerFunction's handler under its template environment, its clients hooked
as in cost.py: each AWS request counted and timed, its log output captured), runs sweep after sweep a minute
apart (its clock set per sweep): empty sweeps, the steady state, priced 43,200 times a month; then a sweep in
which EVENT_TICKETS tickets warn, and one in which they breach, each breach escalating at once to a notify webhook
(the fake providers' hooks, in this process) and a tag. A warning's or a breach's cost is its sweep's less an empty
one's, per ticket; the share of tickets that warn or breach is an assumption, printed.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

from bench import cost
from bench.cost import (
    DYNAMODB_READ_UNIT,
    DYNAMODB_WRITE_UNIT,
    FULL_VCPU_MB,
    GB,
    LAMBDA_ARM_GB_SECOND,
    LAMBDA_REQUEST,
    LOGS_INGESTED_GB,
    PROVIDER_SEND_MS,
    SECRETS_MANAGER_CALL,
    XRAY_TRACE_RECORDED,
    CallClock,
    FunctionFigures,
    Invocation,
    Line,
    _gb_seconds,
    _invoke,
    _log_level,
    _logs_captured,
    _memory_mb,
    log_format,
    platform_log_bytes,
    sampled_share,
    tracing_mode,
)
from bench.dynamodb_cost import Cost, CostMeter, index_write_units, item_size
from bench.replies import transactions_back_up_touched_items
from bench.sla import ReadCounter, Reads
from bench.workload import WRITER, function_environment, function_spec, hooked_default_session, logs_discarded
from infra.fakes.outbound_hooks import hooks_base
from infra.functions import LambdaContext, load_function
from infra.local.schedules import scheduled_event
from infra.provision import Stack, provision
from switchboard.config import AccessSettings
from switchboard.models import Channel, InboundMessage, SenderIdentity
from switchboard.outbound.queue import OutboundQueue
from switchboard.sla.policies import PolicyList
from switchboard.store.repositories import Repositories
from switchboard.store.table import TICKET_SK, key, ticket_pk
from tests.support.lambda_events import AGENT_CLAIMS, http_api_event

ENFORCER = "SlaEnforcerFunction"
SLA_INDEXES = ("BySlaDue", "BySlaState")
TICKETS_PER_MONTH = 1_000_000
SWEEPS_PER_MONTH = 30 * 24 * 60  # rate(1 minute)
# Assumed: the share of tickets whose SLA warns, and of those that breach (each breach escalating to one notify
# webhook); the lines print what one warning and one breach cost, for other shares.
WARNED_SHARE = 0.20
BREACHED_SHARE = 0.10
TICKETS = cost.CUSTOMERS
EVENT_TICKETS = 10
EMPTY_SWEEPS = 10
ACCOUNT = "106540352242922"
T_LIFE = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
# A ticket's life, in minutes from its first message: the customer's 8 messages, and 2 replies, the last solving it.
CUSTOMER_AT = (0, 1, 2, 3, 15, 16, 17, 18)
REPLIES_AT = (10, 25)
SOLVED_AT = REPLIES_AT[-1]
# The sweeps: well after every ticket of the lives closed (nothing left due), on a minute's 30th second.
T_SWEEPS = datetime(2026, 12, 10, 9, 0, 30, tzinfo=UTC)
FIRST_REPLY_MINUTES = 60


def cost_policy(hook_url: str) -> dict[str, Any]:
    """A chat team's policy: every clock of Zendesk's that a chat ticket runs, warned at half, a breach notifying a
    webhook and tagging the ticket."""
    return {
        "name": "Chat",
        "conditions": {"channel": ["whatsapp"]},
        "targets": {
            "normal": {
                "first_reply": {"minutes": FIRST_REPLY_MINUTES},
                "next_reply": {"minutes": 30},
                "requester_wait": {"minutes": 240},
                "agent_work": {"minutes": 180},
                "resolution": {"minutes": 1440},
            }
        },
        "warn_before": {"percent": 50},
        "escalations": [
            {
                "level": 1,
                "after_minutes": 0,
                "actions": [
                    {"type": "notify", "webhook_url": hook_url},
                    {"type": "add_tags", "tags": ["sla_breached"]},
                ],
            }
        ],
    }


@dataclass(frozen=True)
class LifeUnits:
    """Every DynamoDB unit of TICKETS tickets' lives on one stack."""

    units: Cost
    reads: Reads
    index_write_units: Counter[str]  # units.index_write_units, index by index
    ticket_bytes: float  # a closed ticket's item, on average


class IndexMeter(CostMeter):
    """A CostMeter that also keeps each index's write units apart."""

    def __init__(self, table_name: str, table_properties: dict[str, Any], inspector) -> None:
        super().__init__(table_name, table_properties, inspector)
        self.by_index: Counter[str] = Counter()

    def _after(self, model, parsed, context, **kwargs: Any) -> None:
        if "Error" not in parsed:
            writes = context.get("bench_writes", [])
            # The image after the write, read once: CostMeter's own _after reads it again.
            for item_key, before, _ in writes:
                after = self._image(item_key)
                for index in self._indexes:
                    self.by_index[index["IndexName"]] += index_write_units(before, after, index, self._keys)
        super()._after(model=model, parsed=parsed, context=context, **kwargs)


@dataclass(frozen=True)
class Sweep:
    invocation: Invocation
    units: Cost  # its writes (CostMeter)
    reads: Reads  # its reads, eventual consistency counted (bench/sla.py)


@dataclass(frozen=True)
class SlaMeasured:
    tickets: int
    ticket_writes: int  # per ticket: each message, reply and the close writes the ticket
    with_policy: LifeUnits
    without_policy: LifeUnits
    memory_mb: int
    log_level: str
    empty: list[Sweep]  # warm, steady
    warning: Sweep  # EVENT_TICKETS warnings
    breach: Sweep  # EVENT_TICKETS breaches, escalations and notices
    events: int
    seconds: float

    def empty_figures(self) -> FunctionFigures:
        return FunctionFigures(ENFORCER, self.memory_mb, [sweep.invocation for sweep in self.empty])

    def mean_empty(self, value) -> float:
        return sum(value(sweep) for sweep in self.empty) / len(self.empty)


def _store(session, stack: Stack):
    client = session.client("dynamodb")
    return client, Repositories.on(client, stack.ref("TicketsTable"))


def _table_properties(stack: Stack) -> dict[str, Any]:
    return stack.resolver.resolve(stack.template["Resources"]["TicketsTable"]["Properties"])


def _save_policy(store: Repositories, hook_url: str) -> None:
    store.sla_rules.save_policies(
        PolicyList.model_validate({"policies": [cost_policy(hook_url)]}).policies,
        seen_version=store.sla_rules.current().version,
        actor_id="bench",
        at=T_LIFE - timedelta(days=1),
    )


def _customer_writes(store: Repositories, customer: int, at: datetime) -> None:
    # Imported here, as every module that logs or emits metrics: Powertools reads a function's environment when
    # switchboard.observability is first imported, and the bench sets it per function (workload.function_environment).
    from switchboard.tickets.writer import record_inbound

    wa_id = f"82101{customer:07d}"
    message = InboundMessage(
        channel=Channel.WHATSAPP,
        channel_account_id=ACCOUNT,
        conversation_id=wa_id,
        external_id=f"wamid.bench-sla-{customer}-{at.timestamp():.0f}",
        sender=SenderIdentity(external_id=wa_id, display_name=f"고객 {customer}"),
        message_type="text",
        text="주문한 러닝화가 아직 도착하지 않았어요. 언제 받을 수 있을까요?",
        provider_timestamp=at,
        received_at=at,
    )
    record_inbound(message, store, sleep=lambda _: None)


def _ticket_id(store: Repositories, customer: int) -> str:
    ticket_id = store.tickets.current_ticket_id(f"whatsapp:{ACCOUNT}:82101{customer:07d}")
    if ticket_id is None:
        raise RuntimeError(f"customer {customer}'s message opened no ticket")
    return ticket_id


def _agent_replies(store: Repositories, queue: OutboundQueue, ticket_id: str, at: datetime, solve: bool) -> None:
    from switchboard.api.agent_writes import handle_agent_write

    body = {"text": "내일 오전 중 도착 예정입니다.", **({"status": "solved"} if solve else {})}
    path = f"/tickets/{ticket_id}/replies"
    event = http_api_event(
        method="POST",
        path=path,
        route_key="POST /tickets/{ticket_id}/replies",
        path_parameters={"ticket_id": ticket_id},
        headers={"content-type": "application/json", "idempotency-key": f"bench-sla-{ticket_id}-{at.timestamp()}"},
        body=json.dumps(body, ensure_ascii=False).encode(),
        claims=AGENT_CLAIMS,
        at=at,
    )
    response = handle_agent_write(
        event, store=store, access=AccessSettings(), queue=queue, templates=(), clock=lambda: at
    )
    if response["statusCode"] != 202:
        raise RuntimeError(f"the bench's reply was refused: {response}")


def _lives(session, stack: Stack, hook_url: str | None) -> LifeUnits:
    """TICKETS tickets' lives on `stack`, metered; with the cost policy when `hook_url` names its webhook."""
    from switchboard.tickets.closing import DEFAULT_AUTO_CLOSE_DAYS, close_due_tickets

    client, store = _store(session, stack)
    if hook_url is not None:
        _save_policy(store, hook_url)
    meter = IndexMeter(stack.ref("TicketsTable"), _table_properties(stack), session.client("dynamodb"))
    for event_name, handler in meter.hooks.items():
        client.meta.events.register(event_name, handler)
    counter = ReadCounter()
    counter.register(client)
    queue = OutboundQueue(session.client("sqs"), stack.ref("OutboundQueue"))
    for customer in range(TICKETS):
        start = T_LIFE + timedelta(hours=customer)
        steps = [(minute, "customer") for minute in CUSTOMER_AT] + [(minute, "agent") for minute in REPLIES_AT]
        for minute, who in sorted(steps):
            at = start + timedelta(minutes=minute)
            if who == "customer":
                _customer_writes(store, customer, at)
            else:
                _agent_replies(store, queue, _ticket_id(store, customer), at, solve=minute == SOLVED_AT)
    closed = close_due_tickets(
        T_LIFE + timedelta(hours=TICKETS, days=DEFAULT_AUTO_CLOSE_DAYS),
        days=DEFAULT_AUTO_CLOSE_DAYS,
        tickets=store.tickets,
    )
    if closed.closed != TICKETS:
        raise RuntimeError(f"the closer closed {closed.closed} of the bench's {TICKETS} solved tickets")
    units, by_index, reads = meter.reset(), meter.by_index, counter.reset()
    sizes = [
        item_size(
            session.client("dynamodb").get_item(
                TableName=stack.ref("TicketsTable"), Key=key(ticket_pk(ticket_id), TICKET_SK)
            )["Item"]
        )
        for ticket_id in (_ticket_id(store, customer) for customer in range(TICKETS))
    ]
    return LifeUnits(units, reads, by_index, sum(sizes) / len(sizes))


class _Hooks:
    """cost.CallClock, a CostMeter and a ReadCounter on the function's clients, in an order that keeps the meters'
    own reads inside the request's timed span (so out of the function's local time)."""

    def __init__(self, clock: CallClock, meter: CostMeter, counter: ReadCounter) -> None:
        self.clock, self.meter, self.counter = clock, meter, counter

    @property
    def hooks(self) -> dict:
        return {"before-call": self._before, "after-call": self._after}

    def _before(self, **kwargs: Any) -> None:
        self.clock._before(**kwargs)
        if kwargs["model"].service_model.service_name == "dynamodb":
            self.meter._before(**kwargs)
            self.counter._before(**kwargs)

    def _after(self, **kwargs: Any) -> None:
        if kwargs["model"].service_model.service_name == "dynamodb":
            self.counter._after(**kwargs)
            self.meter._after(**kwargs)
        self.clock._after(**kwargs)


def _sweeps(session, stack: Stack, hook_url: str) -> tuple[list[Sweep], int]:
    """The enforcer's handler sweeping a minute apart: a cold sweep (left out), EMPTY_SWEEPS empty ones, then one
    in which EVENT_TICKETS tickets warn and one, 30 minutes on, in which they breach."""
    from switchboard.sla.notify import WebhookNotifier
    from switchboard.tickets import sla_enforcer

    _, store = _store(session, stack)
    clock = CallClock()
    meter = CostMeter(stack.ref("TicketsTable"), _table_properties(stack), session.client("dynamodb"))
    counter = ReadCounter()
    hooks = _Hooks(clock, meter, counter)
    spec = function_spec(stack, ENFORCER)
    memory = _memory_mb(stack.template, ENFORCER)
    level = _log_level(stack)
    now = T_SWEEPS - timedelta(minutes=1)
    original_call = WebhookNotifier._call

    def timed_call(notifier: WebhookNotifier, *args: Any, **kwargs: Any):
        started = time.perf_counter_ns()
        try:
            return original_call(notifier, *args, **kwargs)
        finally:
            clock.current.provider_ns += time.perf_counter_ns() - started
            clock.current.provider_calls += 1

    sweeps: list[Sweep] = []
    with contextlib.ExitStack() as running:
        running.enter_context(function_environment(stack.environment_of(ENFORCER)))
        running.enter_context(hooked_default_session(hooks.hooks))
        captured = running.enter_context(_logs_captured(level))
        running.enter_context(mock.patch.object(sla_enforcer, "utc_now", lambda: now))
        running.enter_context(mock.patch.object(WebhookNotifier, "_call", timed_call))
        handler = load_function(spec)

        def sweep() -> dict[str, Any]:
            meter.reset()
            counter.reset()
            context = LambdaContext(ENFORCER, f"bench-sla-{len(sweeps)}", spec.timeout, memory)
            event = scheduled_event(f"{ENFORCER}-SweepSlaTimers", now.timestamp())
            summary, invocation = _invoke(handler, event, context, clock, captured)
            sweeps.append(Sweep(invocation, meter.reset(), counter.reset()))
            return summary

        sweep()  # the cold one
        for minute in range(EMPTY_SWEEPS):
            now = T_SWEEPS + timedelta(minutes=minute)
            if sweep()["timers_due"]:
                raise RuntimeError("an empty sweep of the bench found timers due")
        # The tickets whose first reply warns within the minute before the next sweep, and breaches 30 minutes on.
        now = T_SWEEPS + timedelta(minutes=EMPTY_SWEEPS)
        for ticket in range(EVENT_TICKETS):
            warn_at = now - timedelta(seconds=5 * ticket + 1)
            _customer_writes(store, 1000 + ticket, warn_at - timedelta(minutes=FIRST_REPLY_MINUTES // 2))
        warned = sweep()
        # The minute sweeps in between are empty ones: the cursor stands where the last of them left it.
        now += timedelta(minutes=FIRST_REPLY_MINUTES // 2)
        store.sla_timers.advance_cursor(now.replace(second=0) - timedelta(minutes=4))
        breached = sweep()
    events = warned["events"].get("warning", 0)
    if events != EVENT_TICKETS or breached["events"].get("breach", 0) != EVENT_TICKETS:
        raise RuntimeError(f"the bench's sweeps recorded {warned['events']} then {breached['events']}")
    if breached["notices"].get("delivered", 0) != EVENT_TICKETS:
        raise RuntimeError(f"the bench's breach notices were not all delivered: {breached['notices']}")
    return sweeps[1:], events


def measure(session, stack_without: Stack, stack_with: Stack, fakes) -> SlaMeasured:
    """`stack_with` is provisioned with `fakes`' template parameters, so its notify webhooks reach them."""
    started = time.perf_counter()
    hook_url = f"{hooks_base(fakes.base_url)}sla-cost"
    fakes.use_channel_secrets(stack_with.channel_secrets)
    # The writer's and the agents' API's logic, called directly: under the writer's environment, their log lines
    # discarded.
    with (
        function_environment(stack_with.environment_of(WRITER)),
        logs_discarded(),
        transactions_back_up_touched_items(),
    ):
        without_policy = _lives(session, stack_without, None)
        with_policy = _lives(session, stack_with, hook_url)
    sweeps, events = _sweeps(session, stack_with, hook_url)
    return SlaMeasured(
        tickets=TICKETS,
        ticket_writes=len(CUSTOMER_AT) + len(REPLIES_AT) + 1,
        with_policy=with_policy,
        without_policy=without_policy,
        memory_mb=_memory_mb(stack_with.template, ENFORCER),
        log_level=_log_level(stack_with),
        empty=sweeps[:EMPTY_SWEEPS],
        warning=sweeps[EMPTY_SWEEPS],
        breach=sweeps[EMPTY_SWEEPS + 1],
        events=events,
        seconds=time.perf_counter() - started,
    )


def provision_stacks(session, fakes) -> tuple[Stack, Stack]:
    return (
        provision(session, prefix="bench-sla-cost-off"),
        provision(session, prefix="bench-sla-cost-on", parameters=fakes.template_parameters()),
    )


# -- the model ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlaCostTable:
    per_ticket: list[Line]  # dollars per ticket
    fixed: list[Line]  # dollars a month
    rules_line: Line  # the per-ticket line already in sections 7 and 7b
    sweep_billed_ms: float
    sweep_local_ms: float
    warning_billed_ms: float  # per warning, beyond an empty sweep
    breach_billed_ms: float  # per breach with its escalation and notice

    @property
    def per_ticket_total(self) -> float:
        return sum(line.dollars_per_message for line in self.per_ticket)

    @property
    def fixed_total(self) -> float:
        return sum(line.dollars_per_message for line in self.fixed)

    def monthly(self, tickets: int) -> float:
        return self.per_ticket_total * tickets + self.fixed_total

    def per_message_row(self, messages_per_ticket: int, messages: int) -> Line:
        """SLA on, as a row of section 7's table: what a policy adds per message at one ticket per
        `messages_per_ticket` messages, `messages` a month (the rules' reads left out: 7 measured them)."""
        added = self.per_ticket_total - self.rules_line.dollars_per_message
        per_message = added / messages_per_ticket + self.fixed_total / messages
        return Line(
            "SLA policy on (section 9c)",
            f"(9c a ticket, less rules reads) / {messages_per_ticket} + sweep {self.fixed_total:.2f} $/month",
            per_message,
        )


def _per_event(measured: SlaMeasured, sweep: Sweep, value) -> float:
    return (value(sweep) - measured.mean_empty(value)) / measured.events


def _billed_ms(sweep: Sweep, memory_mb: int) -> float:
    return FunctionFigures(ENFORCER, memory_mb, [sweep.invocation]).billed_ms()


def _write_units(sweep: Sweep) -> float:
    return sweep.units.table_write_units + sweep.units.index_write_units


def model(measured: SlaMeasured, stack: Stack) -> SlaCostTable:
    memory = measured.memory_mb
    tracing = tracing_mode(stack)
    log_format_name = log_format(stack)
    on, off, n = measured.with_policy, measured.without_policy, measured.tickets
    empty = measured.empty_figures()
    sweep_ms = empty.billed_ms()
    traced = sampled_share(1 / 60) if tracing == "Active" else 0.0

    def logs(sweep: Sweep) -> float:
        billed = round(_billed_ms(sweep, memory))
        return sweep.invocation.log_bytes + platform_log_bytes(log_format_name, memory, billed, traced > 0)

    def event_line(label: str, share: float, sweep: Sweep) -> tuple[Line, float]:
        wru = _per_event(measured, sweep, _write_units)
        rru = _per_event(measured, sweep, lambda s: s.reads.read_units)
        billed = _billed_ms(sweep, memory)
        ms = (billed - sweep_ms) / measured.events
        log_bytes = _per_event(measured, sweep, logs)
        calls = sweep.invocation.provider_calls / measured.events
        dollars = (
            wru * DYNAMODB_WRITE_UNIT
            + rru * DYNAMODB_READ_UNIT
            + _gb_seconds(memory, ms) * LAMBDA_ARM_GB_SECOND
            + log_bytes / GB * LOGS_INGESTED_GB
        )
        notice = f", {calls:.0f} webhook" if calls else ""
        detail = f"{share:.0%} x ({wru:.1f} WRU, {rru:.1f} RRU, {ms:.0f} ms Lambda{notice}, {log_bytes:,.0f} B logs)"
        return Line(label, detail, share * dollars), ms

    rules_rru = on.reads.rules_read_units / n
    table_wru = (on.units.table_write_units - off.units.table_write_units) / n
    sla_wru = sum(on.index_write_units[name] for name in SLA_INDEXES) / n
    grown = {
        name: (on.index_write_units[name] - off.index_write_units[name]) / n
        for name in on.index_write_units | off.index_write_units
        if name not in SLA_INDEXES and on.index_write_units[name] != off.index_write_units[name]
    }
    other_rru = (
        on.reads.read_units - on.reads.rules_read_units - off.reads.read_units + off.reads.rules_read_units
    ) / n
    rules_line = Line(
        "DynamoDB: the rules read at each write",
        f"{on.reads.rules_reads / n:.0f} GetItem, {rules_rru:.1f} RRU (7 and 7b include them)",
        rules_rru * DYNAMODB_READ_UNIT,
    )
    warning, warning_ms = event_line("Enforcer: a warning recorded", WARNED_SHARE, measured.warning)
    breach, breach_ms = event_line("Enforcer: a breach, escalation, notice", BREACHED_SHARE, measured.breach)
    breach_rate = TICKETS_PER_MONTH * BREACHED_SHARE / (30 * 86_400)
    secret_calls = BREACHED_SHARE * min(1.0, 1 / (_secret_max_age() * breach_rate))
    per_ticket = [
        rules_line,
        Line(
            "DynamoDB: the ticket item carries `sla`",
            f"{table_wru:+.1f} WRU: {measured.ticket_writes} writes of {on.ticket_bytes / 1024:.1f} KB, not"
            f" {off.ticket_bytes / 1024:.1f} (2 WRU per KB in a transaction)"
            + (f"; {other_rru:+.1f} RRU" if other_rru else ""),
            table_wru * DYNAMODB_WRITE_UNIT + other_rru * DYNAMODB_READ_UNIT,
        ),
        Line(
            f"DynamoDB: {' and '.join(sorted(grown)) or 'no other index'} copy it",
            f"{sum(grown.values()):+.1f} WRU (projection ALL: each write rewrites the entry, 1 WRU per KB)",
            sum(grown.values()) * DYNAMODB_WRITE_UNIT,
        ),
        Line(
            f"DynamoDB: {' and '.join(SLA_INDEXES)} entries",
            f"{sla_wru:.1f} WRU (keys only: a write that moves a deadline or the SLA view)",
            sla_wru * DYNAMODB_WRITE_UNIT,
        ),
        warning,
        breach,
        Line(
            "Secrets Manager (webhook signing key)",
            f"{secret_calls:.4f} (a read per notice, cached {_secret_max_age()} s)",
            secret_calls * SECRETS_MANAGER_CALL,
        ),
    ]
    empty_rru = measured.mean_empty(lambda s: s.reads.read_units)
    empty_wru = measured.mean_empty(_write_units)
    queries = measured.mean_empty(lambda s: s.reads.bucket_queries)
    stretch = max(1.0, FULL_VCPU_MB / memory)
    requests = sum(empty.calls(call) for call in empty.invocations[0].calls)
    empty_logs = measured.mean_empty(logs)
    fixed = [
        Line("Lambda requests", f"{SWEEPS_PER_MONTH:,} sweeps (rate(1 minute))", SWEEPS_PER_MONTH * LAMBDA_REQUEST),
        Line(
            f"Lambda duration, enforcer {memory} MB",
            f"{sweep_ms:.0f} ms each ({empty.local_ms():.1f} ms here x{stretch:.2f} + {requests:.0f} AWS requests)",
            SWEEPS_PER_MONTH * _gb_seconds(memory, sweep_ms) * LAMBDA_ARM_GB_SECOND,
        ),
        Line(
            "DynamoDB read request units",
            f"{empty_rru:.1f} RRU each ({queries:.0f} empty bucket Queries x 0.5, the rules, the cursor)",
            SWEEPS_PER_MONTH * empty_rru * DYNAMODB_READ_UNIT,
        ),
        Line(
            "DynamoDB write request units",
            f"{empty_wru:.0f} WRU each (the cursor)",
            SWEEPS_PER_MONTH * empty_wru * DYNAMODB_WRITE_UNIT,
        ),
        Line(
            "CloudWatch Logs ingestion",
            f"{empty_logs:,.0f} B each (the sweep's line and metrics, Lambda's records)",
            SWEEPS_PER_MONTH * empty_logs / GB * LOGS_INGESTED_GB,
        ),
        Line(
            "X-Ray traces recorded",
            f"{traced:.2f} a sweep (Tracing {tracing})",
            SWEEPS_PER_MONTH * traced * XRAY_TRACE_RECORDED,
        ),
    ]
    return SlaCostTable(per_ticket, fixed, rules_line, sweep_ms, empty.local_ms(), warning_ms, breach_ms)


def _secret_max_age() -> int:
    from switchboard import runtime

    return runtime.SECRET_MAX_AGE_SECONDS


def print_report(measured: SlaMeasured, stack: Stack) -> SlaCostTable:
    table = model(measured, stack)
    print(
        "\n9c. AWS cost of SLA per 1 M tickets a month at section 7's list prices, from this run. Per ticket: its life"
        f" with a\n    policy less the same life without ({measured.tickets} tickets on moto: 8 WhatsApp messages,"
        " 2 replies, solved, closed); the enforcer as\n    deployed, swept a minute apart: empty sweeps (the steady"
        f" state), then {measured.events} tickets warning, then breaching (escalating to a\n    notify webhook and a"
        f" tag); LogLevel {measured.log_level}. Assumed: {WARNED_SHARE:.0%} of tickets warn, {BREACHED_SHARE:.0%}"
        " breach; a receiver answers a\n    webhook in"
        f" {PROVIDER_SEND_MS:g} ms; AWS requests take what section 7 assumes."
    )
    print(f"   {'line':<42} {'quantity':<74} {'$ a month':>9}")
    print("   per ticket, x 1 M tickets:")
    for line in table.per_ticket:
        print(f"   {line.item:<42} {line.per_message:<74} {line.dollars_per_message * TICKETS_PER_MONTH:>9.3f}")
    print(f"   fixed, the sweep every minute ({SWEEPS_PER_MONTH:,} a month), whatever the tickets:")
    for line in table.fixed:
        print(f"   {line.item:<42} {line.per_message:<74} {line.dollars_per_message:>9.3f}")
    print(f"   {'total at 1 M tickets a month':<42} {'':<74} {table.monthly(TICKETS_PER_MONTH):>9.3f}")
    for tickets in (100_000, 10_000):
        print(
            f"   At {tickets:,} tickets a month: {table.monthly(tickets):.2f} $, {table.monthly(tickets) / tickets * 1e6:.0f} $"
            " per 1 M tickets (the sweep's fixed part weighs more)."
        )
    print(
        "   Not included: CloudWatch's custom metrics (0.30 $ each a month; 7 prices none either): SlaTimersDue,"
        " SlaActionDelay,\n   SlaWarnings, SlaBreaches and SlaEscalations per policy, channel and metric; SNS, when a"
        f" notify action names a topic.\n   9c took {measured.seconds:.0f} s."
    )
    return table
