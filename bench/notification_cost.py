"""10c. What 1 M proactive notifications cost on AWS at cost.py's list prices, from this run; the providers' own fees
listed apart and not summed.

One AlimTalk notification's whole path on moto, in-process, each function as deployed under its template environment
with its clients on a boto3 session whose hooks count, time and size every AWS request (cost.CallClock), its log
output captured and counted: the shop's signed POST /orders/events through OrderWebhookFunction, OrderEventsQueue's
record through OrderEventsFunction, NotificationQueue's through NotificationSenderFunction to the fake NHN Cloud
(in this process; its call timed, and the billed time puts cost.PROVIDER_SEND_MS in place of the fake's answer), and
the MESSAGE_RESULT_UPDATE it posts back through AlimtalkWebhookFunction and the inbound queue to TicketWriterFunction;
one record per batch, as at 1 M a month. NotificationSchedulerFunction's empty runs, a minute apart on its clock, are
the fixed part (43,200 a month). DynamoDB units are 10b's (bench/notifications.py measure_units).
"""

from __future__ import annotations

import math
import sys
import textwrap
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import boto3

from bench import notifications, replies
from bench.cost import (
    API_METERING_BYTES,
    API_REQUEST,
    DYNAMODB_READ_UNIT,
    DYNAMODB_WRITE_UNIT,
    FULL_VCPU_MB,
    GB,
    LAMBDA_ARM_GB_SECOND,
    LAMBDA_REQUEST,
    LOGS_INGESTED_GB,
    PROVIDER_SEND_MS,
    SECRETS_MANAGER_CALL,
    SQS_CHUNK_BYTES,
    SQS_FIFO_REQUEST,
    SQS_STANDARD_REQUEST,
    XRAY_TRACE_RECORDED,
    CallClock,
    FunctionFigures,
    Invocation,
    Line,
    _event_source_mappings,
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
from bench.notifications import (
    INTAKE,
    PROCESSOR,
    SCHEDULER,
    SENDER,
    WRITER,
    MeanCost,
    NotificationUnits,
    binding,
)
from bench.workload import hooked_default_session
from infra.local.schedules import scheduled_event
from infra.provision import REGION, Stack
from switchboard.models import NotifyChannel

NOTIFICATIONS_PER_MONTH = 1_000_000
ARRIVAL_PER_SECOND = NOTIFICATIONS_PER_MONTH / (30 * 86_400)  # evenly spread
SCHEDULER_RUNS_PER_MONTH = 30 * 24 * 60  # rate(1 minute)
# EventBridge bills custom events at 1.00 $ per million ("Amazon EventBridge pricing"); whether a scheduled rule's
# own invocations are billed so is not confirmed here, so its line prices them as custom events (an upper bound).
EVENTBRIDGE_EVENT = 1.00 / 1e6
# Stated, not measured: the default rules notify every shipment step, so an order's customer hears of its
# shipment.created, in_transit, out_for_delivery and delivered; the first event of an order may also be the customer's
# first (a new contact: more writes), the others find the contact.
NOTIFYING_EVENTS_PER_ORDER = 4
COST_NOTIFICATIONS = 11  # the first is each function's cold start, left out
SCHEDULER_RUNS = 11
SECRET_READ = "Secrets Manager GetSecretValue"
WEBHOOK = "AlimtalkWebhookFunction"


@dataclass(frozen=True)
class NotificationMeasured:
    notifications: int
    receipts: int
    api_requests: float  # per notification: the shop's POST and each receipt's webhook post, 512 KB increments
    intake: FunctionFigures
    processor: FunctionFigures
    sender: FunctionFigures
    webhook: FunctionFigures
    writer: FunctionFigures
    scheduler: FunctionFigures  # empty runs
    log_level: str
    secret_reads_cold: dict[str, int]  # per function: GetSecretValue calls of its cold invocation
    secret_max_age_seconds: int
    seconds: float

    @property
    def receipts_per_notification(self) -> float:
        return self.receipts / self.notifications


def measure(session, fakes) -> tuple[NotificationMeasured, Stack]:
    """`fakes` is an in-process FakeProviders holding its receipts; returns the stack the figures are priced against."""
    from switchboard import runtime
    from switchboard.channels.sending import SendHttp

    started = time.perf_counter()
    stack = replies.provision_for_replies(session, "notify-cost", fakes.template_parameters())
    fakes.use_channel_secrets(stack.channel_secrets)
    notifications.save_rules(
        notifications.repositories_of(session, stack),
        notifications.rules_for(NotifyChannel.ALIMTALK, key=notifications.sender_key("cost")),
    )
    level = _log_level(stack)
    clock = CallClock()
    invocations: dict[str, list[Invocation]] = {}
    posted_bytes: list[int] = []
    original_post = SendHttp.post

    def timed_post(self, *args: Any, **kwargs: Any):
        began = time.perf_counter_ns()
        try:
            return original_post(self, *args, **kwargs)
        finally:
            clock.current.provider_ns += time.perf_counter_ns() - began
            clock.current.provider_calls += 1

    def clocked(function: replies.Function, event: dict[str, Any]) -> Any:
        if "body" in event and "requestContext" in event:
            posted_bytes.append(len(str(event["body"]).encode()))
        with _logs_captured(level) as captured:
            result, invocation = _invoke(function.handler, event, function.context(), clock, captured)
        invocations.setdefault(function.logical_id, []).append(invocation)
        return result

    with (
        hooked_default_session(clock.hooks),
        mock.patch.object(SendHttp, "post", timed_post),
        replies.transactions_back_up_touched_items(),
        notifications.table_sorted_once(),
    ):
        receipts = _round_trip(stack, fakes, clocked)
        _scheduler_runs(stack, clocked)

    def warm(logical_id: str) -> FunctionFigures:
        return FunctionFigures(logical_id, _memory_mb(stack.template, logical_id), invocations[logical_id][1:])

    webhook = notifications._webhook_for(stack, "/webhooks/alimtalk")
    return (
        NotificationMeasured(
            notifications=COST_NOTIFICATIONS - 1,
            receipts=receipts - 1,
            api_requests=sum(max(1, math.ceil(size / API_METERING_BYTES)) for size in posted_bytes)
            / COST_NOTIFICATIONS,
            intake=warm(INTAKE),
            processor=warm(PROCESSOR),
            sender=warm(SENDER),
            webhook=warm(webhook),
            writer=warm(WRITER),
            scheduler=warm(SCHEDULER),
            log_level=level,
            secret_reads_cold={
                name: invocations[name][0].calls[SECRET_READ] for name in (INTAKE, SENDER, webhook, SCHEDULER)
            },
            secret_max_age_seconds=runtime.SECRET_MAX_AGE_SECONDS,
            seconds=time.perf_counter() - started,
        ),
        stack,
    )


def _round_trip(stack: Stack, fakes, clocked) -> int:
    """COST_NOTIFICATIONS customers' shipment.created, each function taking one record per invocation; returns how
    many receipts the provider posted."""
    from switchboard import queue

    sqs = boto3.Session(region_name=REGION).client("sqs")
    signing_key = stack.channel_secrets["orders"]["signing_key"]
    at = datetime.now(UTC)
    customers = range(900_000, 900_000 + COST_NOTIFICATIONS)
    with replies.running(stack, INTAKE, discard_logs=False) as intake:
        for customer in customers:
            body = notifications.shop_event(customer, at=at, promised=at + timedelta(days=2))
            answer = clocked(intake, notifications.signed_post(body, signing_key))
            if answer["statusCode"] != notifications.ACCEPTED:
                raise RuntimeError(f"the intake refused a priced event: {answer}")
    for consumer in (PROCESSOR, SENDER):
        source = binding(stack, consumer)
        with replies.running(stack, consumer, discard_logs=False) as function:
            while True:
                event, messages = replies.receive_batch(sqs, source, 1)
                if not messages:
                    break
                result = clocked(function, event)
                if replies.delete_done(sqs, source, messages, result):
                    raise RuntimeError(f"{consumer} gave a priced record back: {result}")
    receipts = fakes.take_receipts()
    with replies.running(stack, notifications._webhook_for(stack, "/webhooks/alimtalk"), discard_logs=False) as hook:
        for receipt in receipts:
            answer = clocked(hook, replies.webhook_post(receipt.target, dict(receipt.headers), receipt.body))
            if answer["statusCode"] != 200:
                raise RuntimeError(f"the AlimTalk webhook refused a receipt: {answer}")
    inbound = binding(stack, WRITER)
    with replies.running(stack, WRITER, discard_logs=False) as writer:
        while True:
            event, messages = replies.receive_batch(sqs, inbound, 1)
            if not messages:
                break
            if not hasattr(queue.decode(messages[0]["Body"]), "status"):
                raise RuntimeError("the inbound queue holds something other than a receipt")
            result = clocked(writer, event)
            if replies.delete_done(sqs, inbound, messages, result):
                raise RuntimeError(f"the writer failed on a receipt: {result}")
    return len(receipts)


def _scheduler_runs(stack: Stack, clocked) -> None:
    """The scheduler's handler a minute apart on its clock, nothing due (the notifications above are settled, their
    orders' promised dates two days away): the steady state, run 43,200 times a month."""
    spec = notifications.function_spec(stack, SCHEDULER)
    now = datetime.now(UTC).replace(second=30, microsecond=0)
    with replies.running(stack, SCHEDULER, discard_logs=False) as scheduler:
        module = sys.modules[f"switchboard_fn_{spec.code_dir.name}_app"]
        for run in range(SCHEDULER_RUNS):
            moment = now + timedelta(minutes=run)
            with mock.patch.object(module, "utc_now", lambda moment=moment: moment):
                figures = clocked(scheduler, scheduled_event(f"{SCHEDULER}-SweepNotifications", moment.timestamp()))
            if figures["due_read"]:
                raise RuntimeError(f"an empty scheduler run found something due: {figures}")


# -- the model ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NotificationCostTable:
    per_notification: list[Line]
    fixed: list[Line]  # dollars a month
    units: MeanCost  # DynamoDB per notification, as priced
    billed_ms: dict[str, float]  # per function: billed ms per invocation (one record)

    @property
    def per_notification_total(self) -> float:
        return sum(line.dollars_per_message for line in self.per_notification)

    @property
    def fixed_total(self) -> float:
        return sum(line.dollars_per_message for line in self.fixed)

    def monthly(self, notifications_per_month: int) -> float:
        return self.per_notification_total * notifications_per_month + self.fixed_total


def units_per_notification(units: NotificationUnits) -> MeanCost:
    """One AlimTalk notification's DynamoDB: its event accepted and processed (a new customer's first event once per
    order, a known customer's next events for the rest), the notification sent, and its receipts recorded."""
    channel = NotifyChannel.ALIMTALK
    first, following = units.mean(notifications.FIRST_EVENT, channel), units.mean(notifications.NEXT_EVENT, channel)
    share = 1 / NOTIFYING_EVENTS_PER_ORDER
    total = units.mean(notifications.NEW_EVENT, channel)
    total = total.plus(first, share).plus(following, 1 - share)
    total = total.plus(units.mean(notifications.SENT, channel))
    return total.plus(units.mean(notifications.RECEIPT, channel), units.receipts_per_notification(channel))


def model(
    measured: NotificationMeasured,
    units: NotificationUnits,
    stack: Stack,
    arrival_per_second: float = ARRIVAL_PER_SECOND,
) -> NotificationCostTable:
    tracing = tracing_mode(stack)
    log_format_name = log_format(stack)
    mappings = {queue: (size, fifo) for queue, size, fifo in _event_source_mappings(stack)}
    intake, processor, sender = measured.intake, measured.processor, measured.sender
    webhook, writer, scheduler = measured.webhook, measured.writer, measured.scheduler
    receipts = measured.receipts_per_notification
    billed = {f.logical_id: f.billed_ms() for f in (intake, processor, sender, webhook, writer, scheduler)}

    def price(queue: str) -> float:
        return SQS_FIFO_REQUEST if mappings[queue][1] else SQS_STANDARD_REQUEST

    def batch(queue: str, rate: float, ms: float) -> float:
        # A batch holds what arrived while the previous one ran (no batching window).
        return min(mappings[queue][0], 1 + rate * ms / 1000)

    processor_batch = batch("OrderEventsQueue", arrival_per_second, billed[PROCESSOR])
    sender_batch = batch("NotificationQueue", arrival_per_second, billed[SENDER])
    writer_batch = batch("InboundQueue", arrival_per_second * receipts, billed[WRITER])
    # (function, invocations per notification)
    invoked = [
        (intake, 1.0),
        (processor, 1 / processor_batch),
        (sender, 1 / sender_batch),
        (webhook, receipts),
        (writer, receipts / writer_batch),
    ]
    # Work per notification: one record's time for the batch consumers (a batch of n does n records' work).
    work = [(intake, 1.0), (processor, 1.0), (sender, 1.0), (webhook, receipts), (writer, receipts)]
    traced = tracing == "Active"
    sampled = {f.logical_id: sampled_share(arrival_per_second * n) if traced else 0.0 for f, n in invoked}
    traces = sum(n * sampled[f.logical_id] for f, n in invoked)

    def platform(figures: FunctionFigures) -> float:
        memory, billed_ms, share = figures.memory_mb, math.ceil(billed[figures.logical_id]), sampled[figures.logical_id]
        return (1 - share) * platform_log_bytes(log_format_name, memory, billed_ms, False) + share * (
            platform_log_bytes(log_format_name, memory, billed_ms, True)
        )

    app_logs = sum(n * f.mean(lambda i: i.log_bytes) for f, n in work)
    lambda_logs = sum(n * platform(f) for f, n in invoked)

    def chunks(figures: FunctionFigures) -> float:
        return figures.mean(lambda i: sum(max(1, math.ceil(size / SQS_CHUNK_BYTES)) for size in i.send_request_bytes))

    def duration(label: str, figures: FunctionFigures, per_notification: float, extra: str = "") -> Line:
        stretch = max(1.0, FULL_VCPU_MB / figures.memory_mb)
        times = f"{per_notification:.0f} x " if per_notification != 1 else ""
        return Line(
            f"Lambda duration, {label} {figures.memory_mb} MB",
            f"{times}{billed[figures.logical_id]:.1f} ms ({figures.local_ms():.2f} ms here x{stretch:.2f} + AWS{extra})",
            per_notification * _gb_seconds(figures.memory_mb, billed[figures.logical_id]) * LAMBDA_ARM_GB_SECOND,
        )

    def secret_calls(figures: FunctionFigures, per_notification: float) -> float:
        # One warm container re-reads its secret once per max_age while its invocations keep coming.
        if not measured.secret_reads_cold.get(figures.logical_id):
            return 0.0
        return min(per_notification, 1 / (measured.secret_max_age_seconds * arrival_per_second))

    units_total = units_per_notification(units)
    wru, rru = units_total.write_units, units_total.read_units
    secrets = secret_calls(intake, 1.0) + secret_calls(sender, 1.0) + secret_calls(webhook, receipts)
    lambda_requests = sum(n for _, n in invoked)
    per_notification = [
        Line(
            "API Gateway HTTP API requests",
            f"{measured.api_requests:.2f} (the shop's POST + {receipts:.0f} result webhook)",
            measured.api_requests * API_REQUEST,
        ),
        Line(
            "Lambda requests",
            f"{lambda_requests:.2f} (intake 1, processor 1/{processor_batch:.2f}, sender 1/{sender_batch:.2f},"
            f" webhook {receipts:.0f}, writer {receipts:.0f}/{writer_batch:.2f})",
            lambda_requests * LAMBDA_REQUEST,
        ),
        duration("intake", intake, 1),
        duration("processor", processor, 1),
        duration("sender", sender, 1, f" + NHN Cloud {PROVIDER_SEND_MS:g} ms"),
        duration("result webhook", webhook, receipts),
        duration("writer", writer, receipts),
        Line(
            "SQS OrderEventsQueue (FIFO): send",
            f"{chunks(intake):.2f} (the intake's SendMessage, 64 KB chunks)",
            chunks(intake) * price("OrderEventsQueue"),
        ),
        Line(
            "SQS OrderEventsQueue: receive + delete",
            f"{2 / processor_batch:.2f} (1 receive + 1 delete per processor batch)",
            2 / processor_batch * price("OrderEventsQueue"),
        ),
        Line(
            "SQS NotificationQueue (standard): send",
            f"{chunks(processor):.2f} (the processor's SendMessageBatch)",
            chunks(processor) * price("NotificationQueue"),
        ),
        Line(
            "SQS NotificationQueue: receive + delete",
            f"{2 / sender_batch:.2f} (1 receive + 1 delete per sender batch)",
            2 / sender_batch * price("NotificationQueue"),
        ),
        Line(
            "SQS InboundQueue (FIFO): receipts",
            f"{receipts * chunks(webhook) + 2 * receipts / writer_batch:.2f} (the webhook's send, the writer's"
            " receive + delete)",
            (receipts * chunks(webhook) + 2 * receipts / writer_batch) * price("InboundQueue"),
        ),
        Line(
            "DynamoDB write request units",
            f"{wru:.1f} WRU (10b: accepted, processed, sent, {receipts:.0f} receipt)",
            wru * DYNAMODB_WRITE_UNIT,
        ),
        Line(
            "DynamoDB read request units",
            f"{rru:.1f} RRU (of which the rules item {2 * read_units_of(units):.0f}: read to process and to send)",
            rru * DYNAMODB_READ_UNIT,
        ),
        Line(
            "CloudWatch Logs ingestion",
            f"{app_logs + lambda_logs:,.0f} B (app {app_logs:,.0f}, Lambda {lambda_logs:,.0f})",
            (app_logs + lambda_logs) / GB * LOGS_INGESTED_GB,
        ),
        Line("X-Ray traces recorded", f"{traces:.3f} (Tracing {tracing})", traces * XRAY_TRACE_RECORDED),
        Line(
            "Secrets Manager calls",
            f"{secrets:.4f} (intake, sender, webhook: each re-read every {measured.secret_max_age_seconds} s)",
            secrets * SECRETS_MANAGER_CALL,
        ),
    ]
    runs = SCHEDULER_RUNS_PER_MONTH
    run_ms = billed[SCHEDULER]
    queries, gets = scheduler.calls("DynamoDB Query"), scheduler.calls("DynamoDB GetItem")
    updates = scheduler.calls("DynamoDB UpdateItem")
    # Each empty bucket Query reads nothing: 0.5 RRU, an index read's minimum; the cursor's GetItem is strongly
    # consistent (1 RRU) and its UpdateItem 1 WRU (the cursor is far below 1 KB).
    run_rru, run_wru = 0.5 * queries + gets, updates
    run_logs = scheduler.mean(lambda i: i.log_bytes) + platform_log_bytes(
        log_format_name, scheduler.memory_mb, math.ceil(run_ms), False
    )
    stretch = max(1.0, FULL_VCPU_MB / scheduler.memory_mb)
    fixed = [
        Line("Lambda requests", f"{runs:,} runs (rate(1 minute))", runs * LAMBDA_REQUEST),
        Line(
            f"Lambda duration, scheduler {scheduler.memory_mb} MB",
            f"{run_ms:.0f} ms each ({scheduler.local_ms():.1f} ms here x{stretch:.2f} + {queries + gets + updates:.0f}"
            " AWS requests)",
            runs * _gb_seconds(scheduler.memory_mb, run_ms) * LAMBDA_ARM_GB_SECOND,
        ),
        Line(
            "DynamoDB read request units",
            f"{run_rru:.1f} RRU each ({queries:.0f} empty bucket Queries x 0.5, the cursor)",
            runs * run_rru * DYNAMODB_READ_UNIT,
        ),
        Line(
            "DynamoDB write request units", f"{run_wru:.0f} WRU each (the cursor)", runs * run_wru * DYNAMODB_WRITE_UNIT
        ),
        Line(
            "CloudWatch Logs ingestion",
            f"{run_logs:,.0f} B each (the run's line and metrics, Lambda's records)",
            runs * run_logs / GB * LOGS_INGESTED_GB,
        ),
        Line(
            "EventBridge scheduled rule",
            f"{runs:,} invocations, priced as custom events (1.00 $/M): an upper bound, unconfirmed",
            runs * EVENTBRIDGE_EVENT,
        ),
    ]
    return NotificationCostTable(per_notification, fixed, units_total, billed)


def read_units_of(units: NotificationUnits) -> float:
    """One strongly consistent read of the rules item: 1 RRU per 4 KB."""
    return math.ceil(units.rules_bytes / 4096)


# -- the providers' fees, apart -----------------------------------------------------------------------------------

PROVIDER_FEES = (
    (
        "AlimTalk (NHN Cloud), per message delivered",
        "unconfirmed: NHN Cloud's own price page was not found; Korean dealers publish 8-19 KRW"
        " (hackle.io 8-10, Solapi's API sample 19), VAT excluded",
    ),
    (
        "대체발송 SMS / LMS when KakaoTalk cannot deliver",
        "unconfirmed: dealers publish SMS 10-20 KRW, LMS 33-50 KRW, billed only when the fallback is sent",
    ),
    (
        "SMS via Twilio to a Korean mobile, per segment",
        "unconfirmed: Twilio prices by destination per segment (its Pricing API, per account); a Korean text is"
        " UCS-2, 70 characters in one segment, 67 per part: the default template takes {segments}",
    ),
    (
        "WhatsApp utility template",
        "charged only outside the 24-hour customer service window, per delivered message since 2025-07-01"
        " (Meta, Pricing on the WhatsApp Business Platform); the rate for +82 is unconfirmed here",
    ),
)


def print_report(measured: NotificationMeasured, units: NotificationUnits, stack: Stack, sms_segments: int) -> None:
    table = model(measured, units, stack)
    print(
        "\n10c. AWS cost of 1 M proactive notifications at section 7's list prices, from this run: AlimTalk, the path"
        f"\n    shop POST -> intake -> FIFO queue -> processor -> queue -> sender -> fake NHN Cloud -> its result"
        f" webhook ->\n    inbound queue -> writer, warm, one record per batch ({measured.notifications} notifications);"
        f" LogLevel {measured.log_level}; stated arrival\n    {ARRIVAL_PER_SECOND:.2f}/s (1 M a month, evenly);"
        f" each order's customer told of {NOTIFYING_EVENTS_PER_ORDER} shipment steps (the first also makes the"
        " contact)"
    )
    print(f"   {'line':<42} {'per notification':<86} {'$ per 1 M':>9}")
    for line in table.per_notification:
        print(f"   {line.item:<42} {line.per_message:<86} {line.dollars_per_message * 1e6:>9.3f}")
    print(f"   {'total per 1 M notifications':<42} {'':<86} {table.per_notification_total * 1e6:>9.3f}")
    print(f"   fixed, the scheduler every minute ({SCHEDULER_RUNS_PER_MONTH:,} runs a month), whatever the volume:")
    for line in table.fixed:
        print(f"   {line.item:<42} {line.per_message:<86} {line.dollars_per_message:>9.3f}")
    print(f"   {'total a month at 1 M notifications':<42} {'':<86} {table.monthly(NOTIFICATIONS_PER_MONTH):>9.3f}")
    for volume in (100_000, 10_000_000):
        print(
            f"   At {volume:,} a month: {table.monthly(volume):,.2f} $, {table.monthly(volume) / volume * 1e6:,.2f} $ per"
            " 1 M (the fixed part weighs less as the volume grows)."
        )
    receipts = units.receipts_per_notification
    print(
        f"   WhatsApp or SMS instead of AlimTalk: their receipts ({receipts(NotifyChannel.WHATSAPP):.0f} and"
        f" {receipts(NotifyChannel.SMS):.0f} a notification, 10b) each add a webhook post, a webhook and a writer"
        " invocation,\n   an inbound send and the writer's update. Assumed as in 7 and 7b: AWS request latencies,"
        f" the provider answering in {PROVIDER_SEND_MS:g} ms; measured in {measured.seconds:.0f} s."
    )
    print("   The providers' fees, per message, apart and not summed:")
    segments = f"{sms_segments} segments" if sms_segments else "its segments"
    for item, fee in PROVIDER_FEES:
        print(f"   - {item}:")
        print(
            textwrap.fill(fee.format(segments=segments), width=118, initial_indent=" " * 5, subsequent_indent=" " * 5)
        )
