"""The AWS bill for 1 M inbound messages, and for 1 M agents' replies, at list prices (us-east-1, arm64), line by line.

Every quantity per message comes from this run: a customer's WhatsApp text takes the deployed path on moto,
in-process. The webhook function gets Meta's signed POST as API Gateway passes it; the message it puts on the
inbound queue is received from that queue and handed to the ticket writer as Lambda's event source mapping
does (one record per batch, as at the stated arrival rate). Both run as deployed, Powertools included, with
their clients on a boto3 session whose hooks count each AWS request, time it and size SQS sends; their log
output (Powertools lines and metric blobs, at the template's LogLevel) is captured and counted. DynamoDB units
are those of dynamodb_cost's meter, taken in a second pass of the same workload on a fresh stack (its item
reads would otherwise add to the writer's time).

What is not measured here is stated next to its line: the arrival rate, the time an AWS request takes from
Lambda, the CPU share Lambda gives the deployed memory, the event source mapping's long polls, the X-Ray
reservoir, the platform log records, and the secret cache's refresh.

Replies (reply_model, print_reply_report) are priced the same way from bench/reply_cost.py's round trip; the
sender's wait for the provider is an assumed PROVIDER_SEND_MS in place of the fake's answer time.
"""

from __future__ import annotations

import contextlib
import io
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import boto3

from bench.dynamodb_cost import Cost, CostMeter
from bench.workload import (
    WEBHOOK,
    WRITER,
    function_environment,
    function_spec,
    hooked_default_session,
    text_webhook,
    webhook_delivery,
)
from infra.functions import LambdaContext, load_function
from infra.provision import REGION
from tests.support.lambda_events import sqs_event, sqs_record

# List prices, us-east-1, without free tiers.
API_REQUEST = 1.00 / 1e6  # HTTP API, first 300 M requests a month; metered in 512 KB increments
API_METERING_BYTES = 512 * 1024
LAMBDA_REQUEST = 0.20 / 1e6
LAMBDA_ARM_GB_SECOND = 0.0000133334  # arm64, first 7.5 B GB-s a month; billed per 1 ms
SQS_FIFO_REQUEST = 0.50 / 1e6
SQS_STANDARD_REQUEST = 0.40 / 1e6
SQS_CHUNK_BYTES = 64 * 1024  # each 64 KB chunk of a request's payload is billed as one request
DYNAMODB_WRITE_UNIT = 0.625 / 1e6  # on-demand, since the price cut of 1 November 2024
DYNAMODB_READ_UNIT = 0.125 / 1e6
LOGS_INGESTED_GB = 0.50
XRAY_TRACE_RECORDED = 5.00 / 1e6
SECRETS_MANAGER_CALL = 0.05 / 10_000

# Stated assumptions.
MESSAGES_PER_MONTH = 1_000_000
ARRIVAL_PER_SECOND = MESSAGES_PER_MONTH / (30 * 86_400)  # 1 M messages a month, evenly spread
CUSTOMERS = 10
MESSAGES_PER_CUSTOMER = 8  # one new ticket per 8 messages
# Lambda gives a function one vCPU at 1,769 MB and a proportional share below it ("Configuring Lambda function
# memory"), so CPU-bound time measured on one core here stretches by 1,769 / MB (this core taken as a Graviton's).
FULL_VCPU_MB = 1769
# Time of one AWS request from inside Lambda, in-region (typical p50s, not measured here: moto answers in-process).
REQUEST_MS = {"SQS": 8.0, "DynamoDB": 5.0, "Secrets Manager": 15.0}
TRANSACTION_MS = 12.0  # TransactWriteItems: two-phase, slower than a single write
# Time of one provider send API call from Lambda (a WhatsApp Cloud API POST /messages answered 200), not measured
# here: the fake provider answers on this machine. The reply table prints what each 100 ms more would add.
PROVIDER_SEND_MS = 200.0
# Lambda's SQS event source mapping long-polls (20 s) with five connections while idle (AWS Compute Blog,
# "AWS Lambda adds Amazon SQS to supported event sources"); each poll that ends empty is a billed request.
ESM_POLLERS = 5
ESM_WAIT_SECONDS = 20
# X-Ray's sampling for Active tracing in Lambda: the first request each second, then 5 % ("Visualize Lambda
# function invocations using AWS X-Ray": the rate cannot be configured for a function).
XRAY_RESERVOIR_PER_SECOND = 1
XRAY_FIXED_RATE = 0.05
# PutLogEvents counts each event as its UTF-8 bytes plus 26; counted the same way here.
LOG_EVENT_OVERHEAD_BYTES = 26
GB = 1024**3
# Lambda's own records per invocation (shapes as documented in "Lambda system log events" and as the text
# format prints them); the request id and trace id are the fixed-width ones Lambda writes.
REQUEST_ID = "c6af9ac6-7b61-11e6-9a41-93e812345678"
TRACE_FIELDS = {
    "spanId": "0a2b3c4d5e6f7a8b",
    "type": "X-Amzn-Trace-Id",
    "value": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
}


@dataclass
class Invocation:
    wall_ns: int = 0
    aws_ns: int = 0
    calls: Counter[str] = field(default_factory=Counter)
    send_request_bytes: list[int] = field(default_factory=list)
    log_bytes: int = 0
    # The channel sender's calls to a provider's send API: their wall time here, and how many.
    provider_ns: int = 0
    provider_calls: int = 0


@dataclass
class FunctionFigures:
    """One function's warm invocations in this run (its first, cold one, left out)."""

    logical_id: str
    memory_mb: int
    invocations: list[Invocation]

    def mean(self, value) -> float:
        return sum(value(invocation) for invocation in self.invocations) / len(self.invocations)

    def calls(self, operation: str) -> float:
        return self.mean(lambda invocation: invocation.calls[operation])

    def local_ms(self) -> float:
        return self.mean(lambda invocation: _local_ns(invocation) / 1e6)

    def billed_ms(self) -> float:
        """Lambda's billed duration: the local part stretched to the memory's CPU share, plus each request's
        time in AWS and each provider call's, rounded up to the millisecond per invocation."""
        stretch = max(1.0, FULL_VCPU_MB / self.memory_mb)

        def billed(invocation: Invocation) -> int:
            local = _local_ns(invocation) / 1e6 * stretch
            waits = sum(_request_ms(call) * n for call, n in invocation.calls.items())
            return math.ceil(local + waits + invocation.provider_calls * PROVIDER_SEND_MS)

        return self.mean(billed)


def _local_ns(invocation: Invocation) -> int:
    return invocation.wall_ns - invocation.aws_ns - invocation.provider_ns


def _request_ms(call: str) -> float:
    service, _, operation = call.partition(" ")
    return TRANSACTION_MS if operation == "TransactWriteItems" else REQUEST_MS.get(service, 5.0)


@dataclass(frozen=True)
class Measured:
    messages: int
    api_requests: float  # per delivery, in 512 KB increments of its body
    webhook: FunctionFigures
    writer: FunctionFigures
    units: Cost
    log_level: str
    secret_reads_cold: int  # GetSecretValue calls of the webhook's first (cold) invocation
    secret_reads_warm: int  # and of all its warm ones together
    secret_max_age_seconds: int


class CallClock:
    """Counts, times and sizes every AWS request a function's clients make (botocore before/after-call hooks)."""

    def __init__(self) -> None:
        self.current = Invocation()

    @property
    def hooks(self) -> dict:
        return {"before-call": self._before, "after-call": self._after}

    def _before(self, model, params, context, **_) -> None:
        context["bench_started_ns"] = time.perf_counter_ns()
        self.current.calls[f"{model.service_model.service_id} {model.name}"] += 1
        if model.name in ("SendMessage", "SendMessageBatch"):
            self.current.send_request_bytes.append(len(params["body"]))

    def _after(self, context, **_) -> None:
        self.current.aws_ns += time.perf_counter_ns() - context["bench_started_ns"]


@contextlib.contextmanager
def _logs_captured(level: str):
    """Captures what a function writes to CloudWatch Logs: its Powertools lines and metric blobs (stdout)."""
    from switchboard.observability import logger

    captured = io.StringIO()
    handler = logger.registered_handler
    previous_level = logger.log_level
    logger.setLevel(level)
    # Each function is its own process in Lambda: no correlation id carried over from another one run here.
    logger.set_correlation_id(None)
    previous = handler.setStream(captured)
    try:
        with contextlib.redirect_stdout(captured):
            yield captured
    finally:
        handler.setStream(previous)
        logger.setLevel(previous_level)


def _invoke(handler, event, context, clock: CallClock, captured: io.StringIO) -> tuple[Any, Invocation]:
    clock.current = Invocation()
    captured.seek(0)
    captured.truncate()
    started = time.perf_counter_ns()
    result = handler(event, context)
    invocation = clock.current
    invocation.wall_ns = time.perf_counter_ns() - started
    lines = [line for line in captured.getvalue().splitlines() if line]
    invocation.log_bytes = sum(len(line.encode()) + LOG_EVENT_OVERHEAD_BYTES for line in lines)
    return result, invocation


def _deliveries() -> list[dict]:
    """Meta's POSTs: customer 0 first (the cold invocations), then the others' messages interleaved."""
    warm_up = [webhook_delivery(text_webhook(0, 0))]
    return warm_up + [
        webhook_delivery(text_webhook(customer, sequence))
        for sequence in range(MESSAGES_PER_CUSTOMER)
        for customer in range(1, CUSTOMERS + 1)
    ]


def _memory_mb(template: dict, logical_id: str) -> int:
    defaults = (template.get("Globals") or {}).get("Function") or {}
    properties = template["Resources"][logical_id]["Properties"]
    return int(properties.get("MemorySize", defaults.get("MemorySize", 128)))


def _log_level(stack) -> str:
    return stack.environment_of(WRITER).get("POWERTOOLS_LOG_LEVEL", "INFO")


def _run_webhook(stack, hooks: dict, clock: CallClock, level: str) -> list[Invocation]:
    spec = function_spec(stack, WEBHOOK)
    invocations = []
    with (
        function_environment(stack.environment_of(WEBHOOK)),
        hooked_default_session(hooks),
        _logs_captured(level) as captured,
    ):
        handler = load_function(spec)
        for number, event in enumerate(_deliveries()):
            context = LambdaContext(WEBHOOK, f"bench-allin-{number}", spec.timeout, _memory_mb(stack.template, WEBHOOK))
            response, invocation = _invoke(handler, event, context, clock, captured)
            if response["statusCode"] != 200:
                raise RuntimeError(f"the webhook refused a benchmark delivery: {response}")
            invocations.append(invocation)
    return invocations


def _queued_batches(stack) -> list[dict]:
    """Each queued message as the event source mapping hands it to the writer, a batch of one, FIFO order kept."""
    sqs = boto3.Session(region_name=REGION).client("sqs")
    url, arn = stack.ref("InboundQueue"), stack.attribute("InboundQueue", "Arn")
    batches = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, MessageSystemAttributeNames=["All"]).get(
        "Messages", []
    ):
        (message,) = messages
        batches.append(
            sqs_event(
                [
                    sqs_record(
                        message_id=message["MessageId"],
                        receipt_handle=message["ReceiptHandle"],
                        body=message["Body"],
                        attributes=message.get("Attributes", {}),
                        queue_arn=arn,
                    )
                ]
            )
        )
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return batches


def _run_writer(stack, hooks: dict, clock: CallClock, level: str, after_first=None) -> list[Invocation]:
    spec = function_spec(stack, WRITER)
    batches = _queued_batches(stack)
    invocations = []
    with (
        function_environment(stack.environment_of(WRITER)),
        hooked_default_session(hooks),
        _logs_captured(level) as captured,
    ):
        handler = load_function(spec)
        for number, batch in enumerate(batches):
            context = LambdaContext(WRITER, f"bench-allin-{number}", spec.timeout, _memory_mb(stack.template, WRITER))
            result, invocation = _invoke(handler, batch, context, clock, captured)
            if result["batchItemFailures"]:
                raise RuntimeError(f"the writer failed on a benchmark message: {result}")
            invocations.append(invocation)
            if after_first and number == 0:
                after_first()
    return invocations


def _units(stack, level: str) -> Cost:
    """The writer's DynamoDB units for the same workload, metered as in dynamodb_cost."""
    table_properties = stack.resolver.resolve(stack.template["Resources"]["TicketsTable"]["Properties"])
    meter = CostMeter(stack.ref("TicketsTable"), table_properties, boto3.Session(region_name=REGION).client("dynamodb"))
    _run_webhook(stack, {}, CallClock(), level)
    # Customer 0's first message warms the writer up; its units are left out with its time.
    _run_writer(stack, meter.hooks, CallClock(), level, after_first=meter.reset)
    return meter.reset()


def measure(stack, units_stack) -> Measured:
    from switchboard import runtime

    level = _log_level(stack)
    webhook_clock = CallClock()
    webhook = _run_webhook(stack, webhook_clock.hooks, webhook_clock, level)
    writer_clock = CallClock()
    writer = _run_writer(stack, writer_clock.hooks, writer_clock, level)
    units = _units(units_stack, level)
    secret_read = "Secrets Manager GetSecretValue"
    return Measured(
        messages=len(writer) - 1,
        api_requests=sum(
            max(1, math.ceil(len(delivery["body"].encode()) / API_METERING_BYTES)) for delivery in _deliveries()[1:]
        )
        / (len(writer) - 1),
        webhook=FunctionFigures(WEBHOOK, _memory_mb(stack.template, WEBHOOK), webhook[1:]),
        writer=FunctionFigures(WRITER, _memory_mb(stack.template, WRITER), writer[1:]),
        units=units,
        log_level=level,
        secret_reads_cold=webhook[0].calls[secret_read],
        secret_reads_warm=sum(invocation.calls[secret_read] for invocation in webhook[1:]),
        secret_max_age_seconds=runtime.SECRET_MAX_AGE_SECONDS,
    )


@dataclass(frozen=True)
class Line:
    item: str
    per_message: str
    dollars_per_message: float


@dataclass(frozen=True)
class CostTable:
    arrival_per_second: float
    messages_per_batch: float
    tracing: str
    log_format: str
    lines: list[Line]
    floor: list[Line]

    @property
    def total(self) -> float:
        return sum(line.dollars_per_message for line in self.lines)

    @property
    def floor_total(self) -> float:
        return sum(line.dollars_per_message for line in self.floor)


def _globals(template: dict) -> dict:
    return (template.get("Globals") or {}).get("Function") or {}


def tracing_mode(stack) -> str:
    """The functions' X-Ray mode as deployed with the template's defaults ("Disabled" when none)."""
    return str(stack.resolver.resolve(_globals(stack.template).get("Tracing", "Disabled")))


def log_format(stack) -> str:
    return str(stack.resolver.resolve((_globals(stack.template).get("LoggingConfig") or {}).get("LogFormat", "Text")))


def platform_log_bytes(log_format_name: str, memory_mb: int, billed_ms: int, traced: bool) -> int:
    """Bytes of Lambda's own records for one invocation: START, END and REPORT lines in the text format;
    platform.start and platform.report in the JSON format. A traced invocation's records carry its trace."""
    import json

    if log_format_name == "JSON":
        tracing = {"tracing": TRACE_FIELDS} if traced else {}
        start = {
            "time": "2026-12-03T08:51:00.123Z",
            "type": "platform.start",
            "record": {"requestId": REQUEST_ID, "version": "$LATEST", **tracing},
        }
        metrics = {
            "durationMs": billed_ms - 0.412,
            "billedDurationMs": billed_ms,
            "memorySizeMB": memory_mb,
            "maxMemoryUsedMB": 96,
        }
        report = {
            "time": "2026-12-03T08:51:00.140Z",
            "type": "platform.report",
            "record": {"requestId": REQUEST_ID, "metrics": metrics, "status": "success", **tracing},
        }
        events = [json.dumps(start, separators=(",", ":")), json.dumps(report, separators=(",", ":"))]
    else:
        xray = "\nXRAY TraceId: 1-5759e988-bd862e3fe1be46a994272793\tSegmentId: 53995c3f42cd8ad8\tSampled: true"
        xray = xray if traced else ""
        events = [
            f"START RequestId: {REQUEST_ID} Version: $LATEST\n",
            f"END RequestId: {REQUEST_ID}\n",
            f"REPORT RequestId: {REQUEST_ID}\tDuration: {billed_ms - 0.412:.2f} ms\tBilled Duration: {billed_ms} ms"
            f"\tMemory Size: {memory_mb} MB\tMax Memory Used: 96 MB\t{xray}\n",
        ]
    return sum(len(event.encode()) + LOG_EVENT_OVERHEAD_BYTES for event in events)


def sampled_share(invocations_per_second: float) -> float:
    """Share of a function's invocations Active tracing records at a Poisson arrival rate: the reservoir takes the
    first request of each second in which one arrives, the fixed rate 5 % of the rest."""
    reservoir = XRAY_RESERVOIR_PER_SECOND * (1 - math.exp(-invocations_per_second / XRAY_RESERVOIR_PER_SECOND))
    return (reservoir + XRAY_FIXED_RATE * (invocations_per_second - reservoir)) / invocations_per_second


def _event_source_mappings(stack) -> list[tuple[str, int, bool]]:
    """(queue, batch size, FIFO) of every SQS event source mapping in the template."""
    from infra.template import functions

    return [
        (
            source.queue_logical_id,
            source.batch_size,
            bool(stack.template["Resources"][source.queue_logical_id]["Properties"].get("FifoQueue", False)),
        )
        for spec in functions(stack.template)
        for source in spec.queue_sources
    ]


def _gb_seconds(memory_mb: int, milliseconds: float) -> float:
    return memory_mb / 1024 * milliseconds / 1000


def model(
    measured: Measured, stack, arrival_per_second: float = ARRIVAL_PER_SECOND, tracing: str | None = None
) -> CostTable:
    """Prices the figures per message at `arrival_per_second`, in the template's tracing mode unless told."""
    tracing = tracing or tracing_mode(stack)
    log_format_name = log_format(stack)
    webhook, writer = measured.webhook, measured.writer
    mappings = _event_source_mappings(stack)
    (writer_batch_size, inbound_fifo) = next((size, fifo) for queue, size, fifo in mappings if queue == "InboundQueue")
    inbound_price = SQS_FIFO_REQUEST if inbound_fifo else SQS_STANDARD_REQUEST
    queue_kind = "FIFO" if inbound_fifo else "standard"
    webhook_ms, writer_ms = webhook.billed_ms(), writer.billed_ms()
    # A FIFO mapping takes no batching window: a batch holds what arrived while the previous one ran.
    per_batch = min(writer_batch_size, 1 + arrival_per_second * writer_ms / 1000)
    writer_share = 1 / per_batch

    send_chunks = webhook.mean(
        lambda invocation: sum(max(1, math.ceil(size / SQS_CHUNK_BYTES)) for size in invocation.send_request_bytes)
    )
    sends = webhook.calls("SQS SendMessageBatch") + webhook.calls("SQS SendMessage")
    idle_polls = [(queue, ESM_POLLERS / ESM_WAIT_SECONDS / arrival_per_second, fifo) for queue, _, fifo in mappings]

    traced = tracing == "Active"
    webhook_sampled = sampled_share(arrival_per_second) if traced else 0.0
    writer_sampled = sampled_share(arrival_per_second * writer_share) if traced else 0.0
    traces = webhook_sampled + writer_sampled * writer_share

    def platform(figures: FunctionFigures, billed: float, sampled: float) -> float:
        memory, billed_ms = figures.memory_mb, math.ceil(billed)
        return (1 - sampled) * platform_log_bytes(log_format_name, memory, billed_ms, False) + sampled * (
            platform_log_bytes(log_format_name, memory, billed_ms, True)
        )

    webhook_app = webhook.mean(lambda i: i.log_bytes)
    writer_app = writer.mean(lambda i: i.log_bytes)
    webhook_platform = platform(webhook, webhook_ms, webhook_sampled)
    writer_platform = platform(writer, writer_ms, writer_sampled)
    log_bytes = webhook_app + webhook_platform + (writer_app + writer_platform) * writer_share

    # One warm container per function at this rate; it re-reads its secret when the cached copy is older than
    # max_age, i.e. once per max_age while messages keep coming (or on every message when they come rarer).
    reads_secret = measured.secret_reads_cold > 0
    secret_calls = min(1.0, 1 / (measured.secret_max_age_seconds * arrival_per_second)) if reads_secret else 0.0

    wru = (measured.units.table_write_units + measured.units.index_write_units) / measured.messages
    rru = measured.units.read_units / measured.messages
    stretch = lambda figures: max(1.0, FULL_VCPU_MB / figures.memory_mb)  # noqa: E731
    lines = [
        Line(
            "API Gateway HTTP API requests",
            f"{measured.api_requests:.2f} request (body < 512 KB)",
            measured.api_requests * API_REQUEST,
        ),
        Line(
            "Lambda requests",
            f"{1 + writer_share:.2f} (webhook 1, writer 1/{per_batch:.2f})",
            (1 + writer_share) * LAMBDA_REQUEST,
        ),
        Line(
            f"Lambda duration, webhook {webhook.memory_mb} MB",
            f"{webhook_ms:.1f} ms ({webhook.local_ms():.2f} ms here x{stretch(webhook):.2f} + AWS requests)",
            _gb_seconds(webhook.memory_mb, webhook_ms) * LAMBDA_ARM_GB_SECOND,
        ),
        # A batch takes about as long per record as a batch of one (the writer's requests are per record).
        Line(
            f"Lambda duration, writer {writer.memory_mb} MB",
            f"{writer_ms:.1f} ms ({writer.local_ms():.2f} ms here x{stretch(writer):.2f} + AWS requests)",
            _gb_seconds(writer.memory_mb, writer_ms) * LAMBDA_ARM_GB_SECOND,
        ),
        Line(
            "SQS sends",
            f"{send_chunks:.2f} ({sends:.2f} batch send, 64 KB chunks, {queue_kind})",
            send_chunks * inbound_price,
        ),
        Line(
            "SQS receives + deletes (event source)",
            f"{2 * writer_share:.2f} (1 receive + 1 delete per batch)",
            2 * writer_share * inbound_price,
        ),
        Line(
            f"SQS empty long polls ({len(mappings)} mappings)",
            f"{sum(polls for _, polls, _ in idle_polls):.2f} ({ESM_POLLERS} x 1 per {ESM_WAIT_SECONDS} s each)",
            sum(polls * (SQS_FIFO_REQUEST if fifo else SQS_STANDARD_REQUEST) for _, polls, fifo in idle_polls),
        ),
        Line("DynamoDB write request units", f"{wru:.2f} WRU", wru * DYNAMODB_WRITE_UNIT),
        Line("DynamoDB read request units", f"{rru:.2f} RRU", rru * DYNAMODB_READ_UNIT),
        Line(
            "CloudWatch Logs ingestion",
            f"{log_bytes:,.0f} B (app {webhook_app + writer_app * writer_share:,.0f},"
            f" Lambda {webhook_platform + writer_platform * writer_share:,.0f})",
            log_bytes / GB * LOGS_INGESTED_GB,
        ),
        Line("X-Ray traces recorded", f"{traces:.3f} (Tracing {tracing})", traces * XRAY_TRACE_RECORDED),
        Line(
            "Secrets Manager calls",
            f"{secret_calls:.4f} ({measured.secret_reads_cold} cold, {measured.secret_reads_warm} in"
            f" {measured.messages} warm; kept {measured.secret_max_age_seconds} s)",
            secret_calls * SECRETS_MANAGER_CALL,
        ),
    ]
    floor = [
        Line("API request", "1", API_REQUEST),
        Line("Lambda invocation, 1 ms at 128 MB", "1", LAMBDA_REQUEST + _gb_seconds(128, 1) * LAMBDA_ARM_GB_SECOND),
        Line("SQS send, receive, delete", "3", 3 * SQS_FIFO_REQUEST),
        Line("1 KB write", "1 WRU", DYNAMODB_WRITE_UNIT),
    ]
    return CostTable(arrival_per_second, per_batch, tracing, log_format_name, lines, floor)


def _per_million(dollars_per_message: float) -> float:
    return dollars_per_message * 1e6


def print_report(measured: Measured, stack, sla: Line | None = None) -> None:
    """Section 7; `sla` is the row of what an SLA policy adds per message (bench/sla_cost.py), printed under the
    total when measured."""
    table = model(measured, stack)
    print(
        f"\n7. All-in AWS cost of 1 M inbound messages at list prices (us-east-1, arm64, no free tier), from this run:"
        f"\n   {measured.messages} WhatsApp texts of {CUSTOMERS} customers ({MESSAGES_PER_CUSTOMER} each, so one new"
        f" ticket per {MESSAGES_PER_CUSTOMER}), webhook -> FIFO queue -> writer, warm;\n   LogLevel"
        f" {measured.log_level}, log format {table.log_format}; stated arrival {table.arrival_per_second:.2f}"
        f" messages/s (1 M a month, evenly)"
    )
    print(f"   {'line':<40} {'per message':<58} {'$ per 1 M':>9} {'share':>6}")
    for line in table.lines:
        dollars = _per_million(line.dollars_per_message)
        share = line.dollars_per_message / table.total
        print(f"   {line.item:<40} {line.per_message:<58} {dollars:>9.3f} {share:>6.0%}")
    floor = " + ".join(f"{line.item} ({_per_million(line.dollars_per_message):.3f})" for line in table.floor)
    print(f"   {'total':<40} {'':<58} {_per_million(table.total):>9.3f}")
    print(f"   {'floor':<40} {'':<58} {_per_million(table.floor_total):>9.3f}")
    print(f"   {'total / floor':<40} {'':<58} {table.total / table.floor_total:>8.2f}x")
    if sla is not None:
        print(f"   {'+ ' + sla.item:<40} {sla.per_message:<58} {_per_million(sla.dollars_per_message):>9.3f}")
        with_sla = table.total + sla.dollars_per_message
        print(f"   {'total with SLA':<40} {'':<58} {_per_million(with_sla):>9.3f}")
    print(f"   floor = {floor}")
    other = "PassThrough" if table.tracing == "Active" else "Active"
    switched = model(measured, stack, tracing=other)
    print(
        f"   TracingMode={other} (the operator's switch) would make it {_per_million(switched.total):.3f} $"
        f" ({switched.total / switched.floor_total:.2f}x the floor): Active tracing in Lambda records the first"
        f"\n   request each second and 5 % of the rest, a rate no sampling rule changes."
    )
    for factor in (10, 100):
        busier = model(measured, stack, arrival_per_second=ARRIVAL_PER_SECOND * factor)
        print(
            f"   At {factor}x the rate ({busier.arrival_per_second:.1f}/s):"
            f" writer batches of {busier.messages_per_batch:.2f},"
            f" total {_per_million(busier.total):.3f} $ = {busier.total / busier.floor_total:.2f}x the floor."
        )
    latencies = ", ".join(f"{service} {ms:g} ms" for service, ms in REQUEST_MS.items())
    print(
        f"   Assumed, not measured: an AWS request's time from Lambda ({latencies}, TransactWriteItems"
        f" {TRANSACTION_MS:g} ms);\n   CPU time here stretched by {FULL_VCPU_MB} MB / memory (Lambda's CPU share);"
        f" {ESM_POLLERS} idle long polls per mapping every {ESM_WAIT_SECONDS} s;\n   Lambda's platform records sized"
        f" from their documented shape; each log event + {LOG_EVENT_OVERHEAD_BYTES} B; one warm container per"
        f" function\n   (cold starts, about one an hour each, add < 0.01 $). Text messages: a media message adds a"
        f" media-queue send,\n   receive and delete, a media_fetcher invocation, an S3 put and an UpdateItem."
    )


REPLIES_PER_MONTH = 1_000_000
REPLY_ARRIVAL_PER_SECOND = REPLIES_PER_MONTH / (30 * 86_400)  # 1 M replies a month, evenly spread


@dataclass(frozen=True)
class ReplyMeasured:
    """One WhatsApp reply's round trip from this run (bench/reply_cost.py): warm invocations of each function."""

    replies: int
    replies_per_ticket: int
    receipts: int  # the provider's status webhooks for those replies
    api_requests: float  # per reply: its POST and its receipts' webhook posts, in 512 KB increments
    api: FunctionFigures  # TicketChangesFunction on the POST
    sender: FunctionFigures  # ChannelSenderFunction, one record per batch
    webhook: FunctionFigures  # WhatsAppWebhookFunction on each receipt
    writer: FunctionFigures  # TicketWriterFunction on each queued receipt, one per batch
    units: Cost  # every step's DynamoDB units for all the replies (bench/replies.py's meter)
    units_replies: int
    log_level: str
    sender_secret_reads_cold: int
    sender_secret_reads_warm: int
    secret_max_age_seconds: int

    @property
    def receipts_per_reply(self) -> float:
        return self.receipts / self.replies


def reply_model(
    measured: ReplyMeasured, stack, arrival_per_second: float = REPLY_ARRIVAL_PER_SECOND, tracing: str | None = None
) -> CostTable:
    """Prices one reply, its receipts included, at `arrival_per_second` replies, as `model` prices a message."""
    tracing = tracing or tracing_mode(stack)
    log_format_name = log_format(stack)
    api, sender, webhook, writer = measured.api, measured.sender, measured.webhook, measured.writer
    mappings = {queue: (size, fifo) for queue, size, fifo in _event_source_mappings(stack)}
    receipts = measured.receipts_per_reply
    receipt_rate = arrival_per_second * receipts

    def price(queue: str) -> float:
        return SQS_FIFO_REQUEST if mappings[queue][1] else SQS_STANDARD_REQUEST

    # A FIFO mapping takes no batching window: a batch holds what arrived while the previous one ran.
    api_ms, sender_ms, webhook_ms, writer_ms = (f.billed_ms() for f in (api, sender, webhook, writer))
    sender_batch = min(mappings["OutboundQueue"][0], 1 + arrival_per_second * sender_ms / 1000)
    writer_batch = min(mappings["InboundQueue"][0], 1 + receipt_rate * writer_ms / 1000)
    # (function, its invocations per reply, billed ms per invocation or per record)
    invoked = [
        (api, 1.0, api_ms),
        (sender, 1 / sender_batch, sender_ms),
        (webhook, receipts, webhook_ms),
        (writer, receipts / writer_batch, writer_ms),
    ]

    def chunks(figures: FunctionFigures) -> float:
        return figures.mean(lambda i: sum(max(1, math.ceil(size / SQS_CHUNK_BYTES)) for size in i.send_request_bytes))

    traced = tracing == "Active"
    traces = sum(
        per_reply * (sampled_share(arrival_per_second * per_reply) if traced else 0.0) for _, per_reply, _ in invoked
    )
    sampled = {f.logical_id: sampled_share(arrival_per_second * n) if traced else 0.0 for f, n, _ in invoked}

    def platform(figures: FunctionFigures, billed: float) -> float:
        memory, billed_ms, share = figures.memory_mb, math.ceil(billed), sampled[figures.logical_id]
        return (1 - share) * platform_log_bytes(log_format_name, memory, billed_ms, False) + share * (
            platform_log_bytes(log_format_name, memory, billed_ms, True)
        )

    # App lines per record (a batch of n logs n records' lines); Lambda's own records per invocation.
    app_logs = api.mean(lambda i: i.log_bytes) + sender.mean(lambda i: i.log_bytes)
    app_logs += receipts * (webhook.mean(lambda i: i.log_bytes) + writer.mean(lambda i: i.log_bytes))
    lambda_logs = sum(per_reply * platform(figures, billed) for figures, per_reply, billed in invoked)

    # One warm sender at this rate re-reads its send credentials once per max_age while replies keep coming.
    reads_secret = measured.sender_secret_reads_cold > 0
    secret_calls = min(1.0, 1 / (measured.secret_max_age_seconds * arrival_per_second)) if reads_secret else 0.0

    wru = (measured.units.table_write_units + measured.units.index_write_units) / measured.units_replies
    rru = measured.units.read_units / measured.units_replies
    stretch = lambda figures: max(1.0, FULL_VCPU_MB / figures.memory_mb)  # noqa: E731

    def duration(label: str, figures: FunctionFigures, per_reply: float, billed: float, extra: str = "") -> Line:
        times = f"{per_reply:.0f} receipts x " if per_reply != 1 else ""
        return Line(
            f"Lambda duration, {label} {figures.memory_mb} MB",
            f"{times}{billed:.1f} ms ({figures.local_ms():.2f} ms here x{stretch(figures):.2f} + AWS{extra})",
            per_reply * _gb_seconds(figures.memory_mb, billed) * LAMBDA_ARM_GB_SECOND,
        )

    outbound_sends, inbound_sends = chunks(api), receipts * chunks(webhook)
    lines = [
        Line(
            "API Gateway HTTP API requests",
            f"{measured.api_requests:.2f} (the reply's POST + {receipts:.0f} receipt webhooks)",
            measured.api_requests * API_REQUEST,
        ),
        Line(
            "Lambda requests",
            f"{sum(n for _, n, _ in invoked):.2f} (API 1, sender 1/{sender_batch:.2f}, webhook {receipts:.0f},"
            f" writer {receipts:.0f}/{writer_batch:.2f})",
            sum(n for _, n, _ in invoked) * LAMBDA_REQUEST,
        ),
        duration("API", api, 1, api_ms),
        duration("sender", sender, 1, sender_ms, f" + provider {PROVIDER_SEND_MS:g} ms"),
        duration("webhook", webhook, receipts, webhook_ms),
        duration("writer", writer, receipts, writer_ms),
        Line(
            "SQS outbound FIFO: sends",
            f"{outbound_sends:.2f} (the API's batch send, 64 KB chunks)",
            outbound_sends * price("OutboundQueue"),
        ),
        Line(
            "SQS outbound: receives + deletes",
            f"{2 / sender_batch:.2f} (1 receive + 1 delete per sender batch)",
            2 / sender_batch * price("OutboundQueue"),
        ),
        Line(
            "SQS inbound: receipt sends",
            f"{inbound_sends:.2f} ({receipts:.0f} webhook batch sends, 64 KB chunks)",
            inbound_sends * price("InboundQueue"),
        ),
        Line(
            "SQS inbound: receives + deletes",
            f"{2 * receipts / writer_batch:.2f} (1 receive + 1 delete per writer batch)",
            2 * receipts / writer_batch * price("InboundQueue"),
        ),
        Line("DynamoDB write request units", f"{wru:.2f} WRU (accepted, sent, receipts)", wru * DYNAMODB_WRITE_UNIT),
        Line("DynamoDB read request units", f"{rru:.2f} RRU", rru * DYNAMODB_READ_UNIT),
        Line(
            "CloudWatch Logs ingestion",
            f"{app_logs + lambda_logs:,.0f} B (app {app_logs:,.0f}, Lambda {lambda_logs:,.0f})",
            (app_logs + lambda_logs) / GB * LOGS_INGESTED_GB,
        ),
        Line("X-Ray traces recorded", f"{traces:.3f} (Tracing {tracing})", traces * XRAY_TRACE_RECORDED),
        Line(
            "Secrets Manager calls (sender)",
            f"{secret_calls:.4f} ({measured.sender_secret_reads_cold} cold, {measured.sender_secret_reads_warm} in"
            f" {len(sender.invocations)} warm; kept {measured.secret_max_age_seconds} s)",
            secret_calls * SECRETS_MANAGER_CALL,
        ),
    ]
    return CostTable(arrival_per_second, sender_batch, tracing, log_format_name, lines, floor=[])


def print_reply_report(measured: ReplyMeasured, stack) -> None:
    table = reply_model(measured, stack)
    print(
        f"\n7b. All-in AWS cost of 1 M agents' replies on WhatsApp at the same list prices, from this run:"
        f"\n   {measured.replies} replies ({measured.replies_per_ticket} per ticket): API -> outbound FIFO queue ->"
        f" sender -> fake Cloud API, which posts {measured.receipts_per_reply:.0f} signed status\n   webhooks per"
        " reply (sent, delivered, read, as Meta does) -> webhook -> inbound queue -> writer; warm invocations;"
        f"\n   LogLevel {measured.log_level}, log format {table.log_format}; stated arrival"
        f" {table.arrival_per_second:.2f} replies/s (1 M a month, evenly)"
    )
    print(f"   {'line':<40} {'per reply':<58} {'$ per 1 M':>9} {'share':>6}")
    for line in table.lines:
        dollars = _per_million(line.dollars_per_message)
        share = line.dollars_per_message / table.total
        print(f"   {line.item:<40} {line.per_message:<58} {dollars:>9.3f} {share:>6.0%}")
    print(f"   {'total':<40} {'':<58} {_per_million(table.total):>9.3f}")
    per_100_ms = measured.sender.memory_mb / 1024 * 0.1 * LAMBDA_ARM_GB_SECOND
    print(
        f"   The sender waits for the provider's answer, assumed {PROVIDER_SEND_MS:g} ms (not measured: the fake answers"
        f" on this machine);\n   each 100 ms more adds {_per_million(per_100_ms):.3f} $."
    )
    for factor in (10, 100):
        busier = reply_model(measured, stack, arrival_per_second=REPLY_ARRIVAL_PER_SECOND * factor)
        print(
            f"   At {factor}x the rate ({busier.arrival_per_second:.1f} replies/s): sender batches of"
            f" {busier.messages_per_batch:.2f}, total {_per_million(busier.total):.3f} $."
        )
    print(
        "   Otherwise assumed as in 7. Not added: the outbound mapping's empty long polls (a fixed monthly cost,"
        " already in 7),\n   and the webhook's secret reads (its cache is shared with 7's messages). A customer who"
        " turned read receipts off\n   sends no 'read'."
    )
