"""Section 10, proactive notifications (issue 12): a sale day's burst of shop events (10a), DynamoDB per
notification (10b) and what one scheduler run reads against what is due (10d). bench/notification_cost.py prices
1 M notifications (10c).

10a. The issue's sale day: a burst of shop events, each a generic-signed POST /orders/events (HMAC-SHA256 over
     "<timestamp>.<body>", orders/generic.py sign) for another customer's shipment. Two measurements:
     - the burst: every event through OrderWebhookFunction's handler as deployed (events accepted per second: its
       202s), then OrderEventsFunction's handler on OrderEventsQueue's batches of 10 as the FIFO queue gives them
       (notifications created per second); in steps of BURST_STEP events (each step accepted, then processed), up to
       BURST_TARGET events or while the next step fits BURST_BUDGET_SECONDS.
     - the sends: each channel mix's own burst through the whole pipeline at once, on a fresh stack: one thread
       posting the events, one processing OrderEventsQueue, SENDER_THREADS threads draining NotificationQueue
       (proactive/sender.py with the real Pacer, outbound/pacing.py), against the fake providers in a child
       process, which stamps each send's arrival. Notifications sent per second per channel against the limit
       outbound/pacing.py keeps for the sending account, and the wait from each event's 202 to its send reaching
       the provider. The three functions run their handlers' bodies (functions/*/app.py without the Powertools
       decorators, whose log context is one per process) under the functions' merged environment.
     A whole 10,000-event burst takes moto too long here; its drain in AWS is computed from the limits and the
     functions' capacity (their MaximumConcurrency over 10c's billed time per notification), and says so.
10b. DynamoDB per notification: each step's function handler as deployed, its requests counted and units computed
     by dynamodb_cost's meter (refused writes charged as in 8a), on its own stack with in-process fake providers whose
     receipts are posted through the channel's webhook function and the writer.
10d. One scheduler run (proactive/scheduler.py run_scheduler) over 1,000, 10,000 and 100,000 orders with a
     promised delivery date, exactly DUE_ORDERS of them past it, each size on a stack of its own: the orders built in
     memory as the processor builds them (orders/state.py apply) and stored in the repository's shape (store/orders.py
     _order_item, _watched_order_items below) straight into moto's table, the due ones processed as shop events a
     minute before the run. A botocore hook counts the index entries the run's Queries returned: entries read / due,
     as in 9a.

moto is slower than DynamoDB in ways DynamoDB is not (writer_throughput's note): besides the transactions' backup
(replies.transactions_back_up_touched_items), every index Query sorts the whole table comparing attribute values
pair by pair (table_sorted_once below). Rates measured here are a floor.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import json
import math
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import boto3

from bench import replies
from bench.dynamodb_cost import Cost, item_size, read_units
from bench.replies import Function, ProviderProcess, RefusedWritesCharged, transactions_back_up_touched_items
from bench.sla import item_size_unchecked
from bench.workload import function_environment, function_spec, hooked_default_session, logs_discarded
from infra.functions import load_function
from infra.local.pollers import QueueBinding
from infra.provision import ACCOUNT_ID, REGION, Stack, provision
from infra.template import functions
from switchboard.models import NotifyChannel
from switchboard.notifications.defaults import DEFAULT_RULES
from switchboard.notifications.models import NotificationRules, Senders
from switchboard.orders.events import OrderEventType
from tests.support.drivers.twilio import BUSINESS_NUMBER
from tests.support.drivers.whatsapp import PHONE_NUMBER_ID
from tests.support.lambda_events import http_api_event

INTAKE = "OrderWebhookFunction"
PROCESSOR = "OrderEventsFunction"
SENDER = "NotificationSenderFunction"
SCHEDULER = "NotificationSchedulerFunction"
WRITER = "TicketWriterFunction"
ORDERS_PATH = "/orders/events"
BURST_TARGET = 10_000
BURST_BUDGET_SECONDS = 90.0
BURST_STEP = 250
SENDER_THREADS = 4
SHOP_NAME = "세일상회"
# The shop's sending accounts: Twilio's and WhatsApp's are the drivers' sample numbers, whose credentials the
# stacks are seeded with; an AlimTalk senderKey is 40 characters (NHN Cloud, AlimTalk API v2.2).
SMS_NUMBER = BUSINESS_NUMBER
WHATSAPP_NUMBER_ID = PHONE_NUMBER_ID
# What a shop's order events carry, and what the fake providers name as the recipient: Korean mobile numbers.
PHONE_PREFIX = "+8210"
ACCEPTED = 202
FINAL_RESULTS = frozenset({"sent", "failed", "skipped", "unknown"})


# -- moto, where it does not scale as DynamoDB does -------------------------------------------------------------


@contextlib.contextmanager
def table_sorted_once() -> Iterator[None]:
    """moto answers a Query by sorting every item of the table by its keys, comparing two DynamoType values by
    building each one's Python value again (cast_value) at every comparison: a Query of a 10,000-item table costs
    about 10^5 such conversions, whatever it reads. While this is on, each item's keys are converted once per sort:
    the same order (the sort key is the same values moto compares), at a cost that grows as n log n comparisons of
    plain values."""
    from moto.dynamodb.models.table import Table

    original = Table.all_items

    def sort_key(item: Any) -> Any:
        hash_value = item.hash_key.cast_value
        return (hash_value, item.range_key.cast_value) if item.range_key else hash_value

    def all_items(self: Table) -> list[Any]:
        items: list[Any] = []
        for hash_set in self.items.values():
            items.extend(hash_set.values() if self.range_key_attr else [hash_set])
        return sorted(items, key=sort_key)

    Table.all_items = all_items  # type: ignore[method-assign]
    try:
        yield
    finally:
        Table.all_items = original  # type: ignore[method-assign]


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Python's cyclic collector scans every live object each time it runs its oldest generation, and moto's tables
    are millions of them: storing 100,000 orders would spend much of its time there. Paused while the bench stores
    them (no figure is measured meanwhile); the orders make no reference cycles to collect."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextlib.contextmanager
def metrics_serialized() -> Iterator[None]:
    """Powertools keeps one metric set per process and changes it without a lock: Lambda runs one invocation per
    process at a time. The live runs' threads share it, so each metrics call takes one lock here."""
    from switchboard.observability import metrics

    lock = threading.RLock()
    names = ("add_metric", "add_dimension", "add_metadata", "flush_metrics")

    def locked(call: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(call)
        def run(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return call(*args, **kwargs)

        return run

    for name in names:
        setattr(metrics, name, locked(getattr(metrics, name)))
    try:
        yield
    finally:
        for name in names:
            delattr(metrics, name)


# -- the shop, its events and its rules -------------------------------------------------------------------------


def phone_of(customer: int) -> str:
    return f"{PHONE_PREFIX}{customer:08d}"


def customer_of(recipient: str) -> int | None:
    """The customer a provider's recipient names (+821012345678, 821012345678 or 01012345678)."""
    digits = re.sub(r"\D", "", recipient[:32])
    return int(digits[-8:]) if len(digits) >= 8 else None


def shop_event(
    customer: int,
    event_type: OrderEventType = OrderEventType.SHIPMENT_CREATED,
    *,
    at: datetime,
    promised: datetime | None = None,
) -> bytes:
    """The generic endpoint's body (docs/notifications.md, the issue's example) for customer `customer`'s order."""
    shipment: dict[str, Any] = {
        "id": "S-1",
        "carrier": "CJ대한통운",
        "tracking_number": f"65{customer:08d}",
        "tracking_url": f"https://trace.example.com/cj/65{customer:08d}",
    }
    if promised is not None:
        shipment["promised_delivery_at"] = promised.isoformat()
    body = {
        "event_id": f"evt-{customer}-{event_type.value}",
        "type": event_type.value,
        "occurred_at": at.isoformat(),
        "order": {
            "id": f"SALE-{customer}",
            "number": str(100_000 + customer),
            "placed_at": (at - timedelta(days=1)).isoformat(),
            "customer": {
                "id": f"cus_{customer}",
                "phone": phone_of(customer),
                "name": "김민준",
                "locale": "ko-KR",
                "timezone": "Asia/Seoul",
            },
        },
        "shipment": shipment,
    }
    return json.dumps(body, ensure_ascii=False).encode()


def signed_post(body: bytes, signing_key: str) -> dict[str, Any]:
    """The shop's POST as API Gateway hands it to OrderWebhookFunction, signed now."""
    from switchboard.orders.generic import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

    stamp = str(int(time.time()))
    headers = {
        "content-type": "application/json",
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: sign(body, signing_key, stamp),
    }
    return http_api_event(method="POST", path=ORDERS_PATH, route_key=f"POST {ORDERS_PATH}", headers=headers, body=body)


def sender_key(name: str) -> str:
    """A senderKey of its own per run (40 characters), so each run's AlimTalk pacing starts from an empty bucket."""
    return hashlib.sha1(name.encode()).hexdigest()


def rules_for(channel: NotifyChannel, *, key: str, notifying: NotificationRules = DEFAULT_RULES) -> NotificationRules:
    """The default rules (every shipment event notifies, in ko/en/ja) sending on `channel` alone."""
    senders = Senders(alimtalk_sender_key=key, sms_from=SMS_NUMBER, whatsapp_phone_number_id=WHATSAPP_NUMBER_ID)
    return notifying.model_copy(update={"fallback_chain": (channel,), "senders": senders, "shop_name": SHOP_NAME})


def save_rules(store: Any, rules: NotificationRules) -> None:
    current = rules_in_force(store)
    store.notification_rules.save(rules, current.version, actor_id="bench", at=datetime.now(UTC))


def rules_in_force(store: Any) -> NotificationRules:
    """The rules as the functions read them: the current item, one strongly consistent GetItem."""
    return store.notification_rules.saved().rules


def repositories_of(session, stack: Stack) -> Any:
    from switchboard.store.repositories import Repositories

    return Repositories.on(session.client("dynamodb"), stack.ref("TicketsTable"))


def binding(stack: Stack, consumer: str) -> QueueBinding:
    (source,) = function_spec(stack, consumer).queue_sources
    return QueueBinding.of(source, stack)


def loaded(stack: Stack, logical_id: str) -> Function:
    """A function's handler, loaded under whatever environment is set (several functions share one here)."""
    from bench.cost import _memory_mb

    spec = function_spec(stack, logical_id)
    return Function(logical_id, load_function(spec), spec.timeout, _memory_mb(stack.template, logical_id))


def pipeline_environment(stack: Stack) -> dict[str, str]:
    """The intake's, the processor's and the sender's environments in one: each reads only its own settings."""
    return {
        **stack.environment_of(INTAKE),
        **stack.environment_of(PROCESSOR),
        **stack.environment_of(SENDER),
    }


def take_batches(sqs, queue: QueueBinding) -> list[dict[str, Any]]:
    """Every message on the queue, received as Lambda's event source mapping receives them (up to its batch size
    at a time; a FIFO queue gives one message per order at a time) and deleted: the batches it would invoke with."""
    batches: list[dict[str, Any]] = []
    while True:
        event, messages = replies.receive_batch(sqs, queue)
        if not messages:
            return batches
        sqs.delete_message_batch(
            QueueUrl=queue.queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )
        batches.append(event)


def quantile(values: list[float], q: float) -> float:
    """Nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)] if ordered else float("nan")


# -- 10a: the burst through the intake and the processor ---------------------------------------------------------


@dataclass(frozen=True)
class Burst:
    events: int
    notifications: int
    batches: int
    accept_ms: list[float]  # each event's intake invocation
    batch_ms: list[float]  # each processor invocation (a batch of up to 10)
    wall_seconds: float  # the whole burst here, the bench's own receiving and signing included

    @property
    def accept_seconds(self) -> float:
        return sum(self.accept_ms) / 1000

    @property
    def process_seconds(self) -> float:
        return sum(self.batch_ms) / 1000

    @property
    def accepted_per_second(self) -> float:
        return self.events / self.accept_seconds

    @property
    def processed_per_second(self) -> float:
        return self.events / self.process_seconds

    @property
    def notifications_per_second(self) -> float:
        return self.notifications / self.process_seconds

    @property
    def target_seconds(self) -> float:
        """BURST_TARGET events at this run's pace."""
        return BURST_TARGET * self.wall_seconds / self.events


def measure_burst(session, provider_parameters: dict[str, str]) -> Burst:
    """Steps of BURST_STEP events, each accepted then processed, while the next step fits the budget."""
    stack = replies.provision_for_replies(session, "notify-burst", provider_parameters)
    save_rules(repositories_of(session, stack), rules_for(NotifyChannel.ALIMTALK, key=sender_key("burst")))
    signing_key = stack.channel_secrets["orders"]["signing_key"]
    sqs = session.client("sqs")
    orders_queue, notifications_queue = binding(stack, PROCESSOR), binding(stack, SENDER)
    accept_ms: list[float] = []
    batch_ms: list[float] = []
    batches = notifications = events = 0
    at = datetime.now(UTC)
    started = time.perf_counter()
    with (
        function_environment(pipeline_environment(stack)),
        logs_discarded(),
        transactions_back_up_touched_items(),
        table_sorted_once(),
    ):
        intake, processor = loaded(stack, INTAKE), loaded(stack, PROCESSOR)
        while events < BURST_TARGET:
            elapsed = time.perf_counter() - started
            if events and elapsed + elapsed / events * BURST_STEP > BURST_BUDGET_SECONDS:
                break
            step = range(events, min(events + BURST_STEP, BURST_TARGET))
            for customer in step:
                post = signed_post(shop_event(customer, at=at, promised=at + timedelta(days=2)), signing_key)
                began = time.perf_counter_ns()
                answer = intake(post)
                accept_ms.append((time.perf_counter_ns() - began) / 1e6)
                if answer["statusCode"] != ACCEPTED:
                    raise RuntimeError(f"the intake refused a burst event: {answer}")
            for batch in take_batches(sqs, orders_queue):
                began = time.perf_counter_ns()
                result = processor(batch)
                batch_ms.append((time.perf_counter_ns() - began) / 1e6)
                if result["batchItemFailures"]:
                    raise RuntimeError(f"the processor failed on burst events: {result}")
                batches += 1
                queued = take_batches(sqs, notifications_queue)
                notifications += sum(len(queued_batch["Records"]) for queued_batch in queued)
            events = step.stop
    return Burst(events, notifications, batches, accept_ms, batch_ms, time.perf_counter() - started)


# -- 10a: each channel's burst through the whole pipeline at once -----------------------------------------------


@dataclass(frozen=True)
class LiveSpec:
    name: str
    label: str
    channel: NotifyChannel
    events: int
    deadline_seconds: float  # the run stops then; what is not sent stays queued (and is counted)
    first_customer: int
    alimtalk_rate: float = 300.0  # the stack's AlimtalkRatePerSecond (its default)
    # The senders start once every event is processed: with the whole burst queued they could outrun the limit from
    # their first send, so the pacer alone decides their rate.
    senders_after_processing: bool = False


LIVE_RUNS = (
    LiveSpec("alimtalk", "AlimTalk (300/s per senderKey)", NotifyChannel.ALIMTALK, 100, 25.0, 200_000),
    LiveSpec("alimtalk-10", "AlimTalk (limit set to 10/s)", NotifyChannel.ALIMTALK, 60, 20.0, 300_000, 10.0, True),
    LiveSpec("whatsapp", "WhatsApp (80/s per number)", NotifyChannel.WHATSAPP, 100, 25.0, 400_000),
    LiveSpec("sms", "SMS, one Twilio number", NotifyChannel.SMS, 24, 12.0, 500_000),
)
_PROVIDER_OF = {NotifyChannel.ALIMTALK: "alimtalk", NotifyChannel.WHATSAPP: "graph", NotifyChannel.SMS: "twilio"}


@dataclass(frozen=True)
class Pace:
    """outbound/pacing.py's limit on a run's sends: `rate` units a second (messages, or an SMS number's segments),
    one message costing `cost` units."""

    rate: float
    cost: float

    @property
    def messages_per_second(self) -> float:
        return self.rate / self.cost


@dataclass
class LiveRun:
    spec: LiveSpec
    pace: Pace
    accepted_at: dict[int, float]  # customer -> when the intake answered 202 (epoch seconds)
    sent_at: dict[int, float]  # customer -> when the send reached the fake provider
    results: Counter[str]  # the sender's reports
    paced_waits: list[int]  # each paced deferral's wait, in seconds (the queue's DelaySeconds)
    seconds: float
    sms_segments: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def sent(self) -> int:
        return len(self.sent_at)

    @property
    def waits(self) -> list[float]:
        return [self.sent_at[c] - self.accepted_at[c] for c in self.sent_at if c in self.accepted_at]

    @property
    def provider_times(self) -> list[float]:
        return sorted(self.sent_at.values())

    @property
    def at_provider_per_second(self) -> float:
        times = self.provider_times
        if len(times) < 2 or times[-1] <= times[0]:
            return float("nan")
        return (len(times) - 1) / (times[-1] - times[0])

    @property
    def busiest_second(self) -> int:
        times, most, start = self.provider_times, 0, 0
        for end, at in enumerate(times):
            while at - times[start] >= 1.0:
                start += 1
            most = max(most, end - start + 1)
        return most


def measure_live_runs(session, provider: ProviderProcess) -> list[LiveRun]:
    return [_live_run(session, provider, spec) for spec in LIVE_RUNS]


def _live_run(session, provider: ProviderProcess, spec: LiveSpec) -> LiveRun:
    parameters = {**provider.template_parameters, "AlimtalkRatePerSecond": f"{spec.alimtalk_rate:g}"}
    stack = replies.provision_for_replies(session, f"notify-live-{spec.name}", parameters)
    provider.accept(stack.channel_secrets)
    save_rules(repositories_of(session, stack), rules_for(spec.channel, key=sender_key(spec.name)))
    with (
        function_environment(pipeline_environment(stack)),
        logs_discarded(),
        metrics_serialized(),
        transactions_back_up_touched_items(),
        table_sorted_once(),
    ):
        return _Pipeline(stack, spec, provider).run()


class _Pipeline:
    """One live run: the handlers' bodies (functions/order_webhooks, order_events, notification_sender app.py) in
    threads, as Lambda would run them side by side; SQS receives and deletes are the event source mappings'."""

    def __init__(self, stack: Stack, spec: LiveSpec, provider: ProviderProcess) -> None:
        from switchboard import runtime

        self.stack, self.spec, self.provider = stack, spec, provider
        self.signing_key = stack.channel_secrets["orders"]["signing_key"]
        self.orders_queue, self.notifications_queue = binding(stack, PROCESSOR), binding(stack, SENDER)
        # Built once here, as a warm container has them, before the threads share them.
        self.store = runtime.repositories()
        self.sender = runtime.notification_sender()
        self.queue = runtime.notification_queue()
        self.intake_queue = runtime.order_event_queue(runtime.order_webhook_settings().order_events_queue_url)
        self.secrets_of = runtime.order_secrets()
        self.lock = threading.Lock()
        self.sqs_lock = threading.Lock()
        self.accepted_at: dict[int, float] = {}
        self.results: Counter[str] = Counter()
        self.settled: set[str] = set()
        self.paced_waits: list[int] = []
        self.errors: list[str] = []
        self.accepting_done = threading.Event()
        self.processing_done = threading.Event()

    def run(self) -> LiveRun:
        spec = self.spec
        started_at = time.time()
        started = time.perf_counter()
        self.deadline = started + spec.deadline_seconds
        original_send = self.sender.send
        with mock.patch.object(self.sender, "send", self._counted(original_send)):
            threads = [threading.Thread(target=self._accept), threading.Thread(target=self._process)]
            threads += [threading.Thread(target=self._send) for _ in range(SENDER_THREADS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        seconds = time.perf_counter() - started
        sent_at, sms_text = self._arrivals(started_at)
        pace = _pace_of(spec, sms_text)
        return LiveRun(
            spec=spec,
            pace=pace,
            accepted_at=dict(self.accepted_at),
            sent_at=sent_at,
            results=self.results,
            paced_waits=self.paced_waits,
            seconds=seconds,
            sms_segments=int(pace.cost) if spec.channel is NotifyChannel.SMS else 0,
            errors=self.errors,
        )

    def _counted(self, send: Callable[..., Any]) -> Callable[..., Any]:
        def counted(notification_id: str, *, now: datetime) -> Any:
            report = send(notification_id, now=now)
            with self.lock:
                self.results[report.result] += 1
                if report.result in FINAL_RESULTS:
                    self.settled.add(notification_id)
                if report.result == "deferred" and report.reason == "paced" and report.retry_in_seconds:
                    self.paced_waits.append(report.retry_in_seconds)
            return report

        return counted

    def _accept(self) -> None:
        from switchboard.models import utc_now
        from switchboard.orders.intake import accept_order_event

        at = datetime.now(UTC)
        try:
            for customer in range(self.spec.first_customer, self.spec.first_customer + self.spec.events):
                post = signed_post(shop_event(customer, at=at, promised=at + timedelta(days=2)), self.signing_key)
                answer = accept_order_event(
                    post,
                    secrets_of=self.secrets_of,
                    queue=self.intake_queue,
                    seen=self.store.orders.event_seen,
                    now=utc_now(),
                )
                if answer["statusCode"] == ACCEPTED:
                    self.accepted_at[customer] = time.time()
                else:
                    self._failed(f"intake answered {answer['statusCode']}")
        except Exception as error:  # noqa: BLE001 - the run reports it; the other threads stop at the deadline
            self._failed(f"intake: {error!r}")
        finally:
            self.accepting_done.set()

    def _process(self) -> None:
        from switchboard.models import utc_now
        from switchboard.proactive.order_events import process_order_events

        sqs = boto3.Session(region_name=REGION).client("sqs")
        try:
            while time.perf_counter() < self.deadline:
                with self.sqs_lock:
                    event, messages = replies.receive_batch(sqs, self.orders_queue)
                if not messages:
                    if self.accepting_done.is_set() and not self._waiting(sqs, self.orders_queue):
                        return
                    time.sleep(0.01)
                    continue
                result = process_order_events(
                    event["Records"],
                    store=self.store,
                    rules_of=lambda: rules_in_force(self.store),
                    queue=self.queue,
                    now=utc_now(),
                )
                with self.sqs_lock:
                    if replies.delete_done(sqs, self.orders_queue, messages, result):
                        self._failed(f"the processor gave records back: {result}")
        except Exception as error:  # noqa: BLE001
            self._failed(f"processor: {error!r}")
        finally:
            self.processing_done.set()

    def _send(self) -> None:
        from switchboard.proactive.sender import send_notification_batch

        sqs = boto3.Session(region_name=REGION).client("sqs")
        if self.spec.senders_after_processing:
            self.processing_done.wait(max(0.0, self.deadline - time.perf_counter()))
        try:
            while time.perf_counter() < self.deadline:
                with self.sqs_lock:
                    event, messages = replies.receive_batch(sqs, self.notifications_queue)
                if not messages:
                    with self.lock:
                        settled = len(self.settled)
                    if self.processing_done.is_set() and settled >= len(self.accepted_at):
                        return
                    time.sleep(0.02)
                    continue
                result = send_notification_batch(event, sender=self.sender, queue=self.queue)
                with self.sqs_lock:
                    if replies.delete_done(sqs, self.notifications_queue, messages, result):
                        self._failed(f"the sender gave records back: {result}")
        except Exception as error:  # noqa: BLE001
            self._failed(f"sender: {error!r}")

    def _waiting(self, sqs, queue: QueueBinding) -> int:
        with self.sqs_lock:
            attributes = sqs.get_queue_attributes(QueueUrl=queue.queue_url, AttributeNames=["All"])["Attributes"]
        names = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
        return sum(int(attributes[name]) for name in names)

    def _failed(self, what: str) -> None:
        with self.lock:
            self.errors.append(what[:300])

    def _arrivals(self, since: float) -> tuple[dict[int, float], str | None]:
        """When each customer's send first reached the fake provider and was taken (its log, oldest first), and
        the longest text Twilio got (SMS: what the pacer counts the segments of)."""
        provider_name = _PROVIDER_OF[self.spec.channel]
        sent_at: dict[int, float] = {}
        sms_text: str | None = None
        for entry in reversed(self.provider.sent()):
            at = datetime.fromisoformat(entry["at"]).timestamp()
            if at < since or entry.get("provider") != provider_name or entry.get("status") not in (200, 201):
                continue
            customer = customer_of(_recipient_of(entry))
            if customer is not None and customer not in sent_at:
                sent_at[customer] = at
            body = (entry.get("form") or {}).get("Body")
            if body and len(body) > len(sms_text or ""):
                sms_text = body
        return sent_at, sms_text


def _recipient_of(entry: dict[str, Any]) -> str:
    document = entry.get("json") or {}
    if entry.get("provider") == "alimtalk":
        recipients = document.get("recipientList") or [{}]
        return str(recipients[0].get("recipientNo") or "")
    if entry.get("provider") == "graph":
        return str(document.get("to") or "")
    return str((entry.get("form") or {}).get("To") or "")


def _pace_of(spec: LiveSpec, sms_text: str | None) -> Pace:
    """The limit outbound/pacing.py keeps on the run's sending account: limits_of for a request like the run's (an
    SMS's cost is the segments of the text Twilio got)."""
    from switchboard.channels.sending import AlimTalkMessage, OutboundRequest
    from switchboard.outbound.pacing import limits_of

    request = OutboundRequest(
        attempt_id="bench",
        message_id="bench",
        ticket_id="bench",
        channel=spec.channel.timeline_channel,
        channel_account_id={NotifyChannel.SMS: SMS_NUMBER, NotifyChannel.WHATSAPP: WHATSAPP_NUMBER_ID}.get(
            spec.channel, sender_key(spec.name)
        ),
        recipient_id=phone_of(spec.first_customer),
        text=sms_text if spec.channel is NotifyChannel.SMS else None,
        alimtalk=AlimTalkMessage(sender_key=sender_key(spec.name), template_code="SB_SHIPPED_KO")
        if spec.channel is NotifyChannel.ALIMTALK
        else None,
        now=datetime.now(UTC),
    )
    limit = min(limits_of(request, spec.alimtalk_rate), key=lambda limit: limit.rate_per_second / limit.cost)
    return Pace(limit.rate_per_second, limit.cost)


# -- 10b: DynamoDB per notification -------------------------------------------------------------------------------

UNITS_CUSTOMERS = 2
UNIT_CHANNELS = (NotifyChannel.ALIMTALK, NotifyChannel.WHATSAPP, NotifyChannel.SMS)
NEW_EVENT, DUPLICATE, FIRST_EVENT, NEXT_EVENT = "accepted", "duplicate", "processed: first", "processed: next"
SENT, DEFERRED, RECEIPT = "sent", "deferred", "receipt"


@dataclass(frozen=True)
class Metered:
    step: str
    channel: NotifyChannel
    detail: str
    cost: Cost


@dataclass(frozen=True)
class NotificationUnits:
    steps: list[Metered]
    rules_bytes: int  # the current rules item, as stored

    def of(self, step: str, channel: NotifyChannel | None = None, detail: str | None = None) -> list[Metered]:
        return [
            metered
            for metered in self.steps
            if metered.step == step
            and (channel is None or metered.channel is channel)
            and (detail is None or metered.detail == detail)
        ]

    def mean(self, step: str, channel: NotifyChannel | None = None, detail: str | None = None) -> MeanCost:
        return MeanCost.of([metered.cost for metered in self.of(step, channel, detail)])

    def receipts_per_notification(self, channel: NotifyChannel) -> float:
        return len(self.of(RECEIPT, channel)) / max(1, len(self.of(SENT, channel)))


@dataclass(frozen=True)
class MeanCost:
    samples: int
    requests: float
    items_written: float
    table_write_units: float
    index_write_units: float
    read_units: float
    operations: tuple[str, ...]  # of the last sample
    refused: int  # writes refused by their condition, over all samples

    @classmethod
    def of(cls, costs: list[Cost]) -> MeanCost:
        n = max(1, len(costs))
        return cls(
            samples=len(costs),
            requests=sum(c.requests for c in costs) / n,
            items_written=sum(c.items_written for c in costs) / n,
            table_write_units=sum(c.table_write_units for c in costs) / n,
            index_write_units=sum(c.index_write_units for c in costs) / n,
            read_units=sum(c.read_units for c in costs) / n,
            operations=tuple(costs[-1].operations) if costs else (),
            refused=sum(len(c.failed) for c in costs),
        )

    @property
    def write_units(self) -> float:
        return self.table_write_units + self.index_write_units

    def plus(self, other: MeanCost, times: float = 1.0) -> MeanCost:
        return MeanCost(
            samples=self.samples,
            requests=self.requests + times * other.requests,
            items_written=self.items_written + times * other.items_written,
            table_write_units=self.table_write_units + times * other.table_write_units,
            index_write_units=self.index_write_units + times * other.index_write_units,
            read_units=self.read_units + times * other.read_units,
            operations=(),
            refused=self.refused + other.refused,
        )


ZERO = MeanCost(0, 0.0, 0.0, 0.0, 0.0, 0.0, (), 0)


def measure_units(session, fakes) -> NotificationUnits:
    """Per channel, UNITS_CUSTOMERS customers' shipment.created, then (AlimTalk) their shipment.in_transit: each
    step metered on its own. `fakes` is an in-process FakeProviders holding its receipts."""
    stack = replies.provision_for_replies(session, "notify-units", fakes.template_parameters())
    fakes.use_channel_secrets(stack.channel_secrets)
    store = repositories_of(session, stack)
    properties = stack.resolver.resolve(stack.template["Resources"]["TicketsTable"]["Properties"])
    meter = RefusedWritesCharged(
        stack.ref("TicketsTable"), properties, boto3.Session(region_name=REGION).client("dynamodb")
    )
    steps: list[Metered] = []
    customer = 600_000
    with hooked_default_session(meter.hooks), transactions_back_up_touched_items(), table_sorted_once():
        for channel in UNIT_CHANNELS:
            save_rules(store, rules_for(channel, key=sender_key(f"units-{channel.value}")))
            meter.reset()
            customers = range(customer, customer + UNITS_CUSTOMERS)
            customer += UNITS_CUSTOMERS
            kinds = [OrderEventType.SHIPMENT_CREATED]
            if channel is NotifyChannel.ALIMTALK:
                kinds.append(OrderEventType.SHIPMENT_IN_TRANSIT)
            for kind in kinds:
                steps += _metered_round(stack, fakes, meter, channel, customers, kind)
    rules_item = session.client("dynamodb").get_item(
        TableName=stack.ref("TicketsTable"), Key={"pk": {"S": "NOTIFY#RULES"}, "sk": {"S": "CURRENT"}}
    )["Item"]
    return NotificationUnits(steps, item_size(rules_item))


def _metered_round(
    stack: Stack,
    fakes,
    meter: RefusedWritesCharged,
    channel: NotifyChannel,
    customers: range,
    kind: OrderEventType,
) -> list[Metered]:
    """The customers' `kind` events: accepted, processed one record per batch, one repeated (a duplicate), each
    notification sent one per batch, and every receipt the provider posts through its webhook and the writer."""
    sqs = boto3.Session(region_name=REGION).client("sqs")
    signing_key = stack.channel_secrets["orders"]["signing_key"]
    first = kind is OrderEventType.SHIPMENT_CREATED
    steps: list[Metered] = []

    def metered(step: str, detail: str, call: Callable[[], Any]) -> Any:
        meter.reset()
        result = call()
        steps.append(Metered(step, channel, detail, meter.reset()))
        return result

    at = datetime.now(UTC)
    posts = [signed_post(shop_event(c, kind, at=at, promised=at + timedelta(days=2)), signing_key) for c in customers]
    with replies.running(stack, INTAKE) as intake:
        for post in posts:
            answer = metered(NEW_EVENT, kind.value, functools.partial(intake, post))
            if answer["statusCode"] != ACCEPTED:
                raise RuntimeError(f"the intake refused a metered event: {answer}")
    with replies.running(stack, PROCESSOR) as processor:
        for batch in take_batches(sqs, binding(stack, PROCESSOR)):
            for record in batch["Records"]:
                detail = "first event, new customer" if first else "next event, known customer"
                step = FIRST_EVENT if first else NEXT_EVENT
                result = metered(step, detail, functools.partial(processor, {"Records": [record]}))
                if result["batchItemFailures"]:
                    raise RuntimeError(f"the processor failed on a metered event: {result}")
    with replies.running(stack, INTAKE) as intake:
        answer = metered(DUPLICATE, kind.value, lambda: intake(posts[0]))
        if answer["statusCode"] != 200:
            raise RuntimeError(f"the intake did not answer a processed event as a duplicate: {answer}")
    notifications = binding(stack, SENDER)
    with replies.running(stack, SENDER) as sender:
        while True:
            event, messages = replies.receive_batch(sqs, notifications, 1)
            if not messages:
                # A notification the pacer deferred comes back when its DelaySeconds are over (SMS: 1 segment/s).
                if not _still_queued(sqs, notifications):
                    break
                time.sleep(0.1)
                continue
            meter.reset()
            result = sender(event)
            cost = meter.reset()
            settled = any(operation.startswith("TransactWriteItems") for operation in cost.operations)
            steps.append(Metered(SENT if settled else DEFERRED, channel, kind.value, cost))
            if replies.delete_done(sqs, notifications, messages, result):
                raise RuntimeError(f"the sender gave a metered notification back: {result}")
    steps += _metered_receipts(stack, fakes, meter, channel, sqs)
    return steps


def _still_queued(sqs, queue: QueueBinding) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=queue.queue_url, AttributeNames=["All"])["Attributes"]
    names = (
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    )
    return sum(int(attributes[name]) for name in names)


def _metered_receipts(stack: Stack, fakes, meter: RefusedWritesCharged, channel: NotifyChannel, sqs) -> list[Metered]:
    """Each receipt the fake posted: its webhook function (which queues it), then the writer (which records it)."""
    from switchboard import queue

    steps: list[Metered] = []
    inbound = binding(stack, WRITER)
    for receipt in fakes.take_receipts():
        path = urlsplit(receipt.target).path or receipt.target
        webhook = _webhook_for(stack, path)
        event = replies.webhook_post(path, dict(receipt.headers), receipt.body)
        with replies.running(stack, webhook) as function:
            meter.reset()
            answer = function(event)
            webhook_cost = meter.reset()
        if answer["statusCode"] >= 300:
            raise RuntimeError(f"{webhook} refused a receipt: {answer}")
        with replies.running(stack, WRITER) as writer:
            while True:
                batch, messages = replies.receive_batch(sqs, inbound, 1)
                if not messages:
                    break
                status = str(getattr(queue.decode(messages[0]["Body"]), "status", "?"))
                meter.reset()
                result = writer(batch)
                cost = meter.reset()
                if replies.delete_done(sqs, inbound, messages, result):
                    raise RuntimeError(f"the writer failed on a receipt: {result}")
                combined = Cost(
                    operations=webhook_cost.operations + cost.operations,
                    items_written=webhook_cost.items_written + cost.items_written,
                    table_write_units=webhook_cost.table_write_units + cost.table_write_units,
                    index_write_units=webhook_cost.index_write_units + cost.index_write_units,
                    read_units=webhook_cost.read_units + cost.read_units,
                    failed=webhook_cost.failed + cost.failed,
                )
                steps.append(Metered(RECEIPT, channel, status, combined))
                webhook_cost = Cost()
    return steps


def _webhook_for(stack: Stack, path: str) -> str:
    return next(
        spec.logical_id
        for spec in functions(stack.template)
        if any(route.method == "POST" and route.path == path for route in spec.routes)
    )


# -- 10d: what one scheduler run reads ----------------------------------------------------------------------------

SCHEDULER_SIZES = (1_000, 10_000, 100_000)
DUE_ORDERS = 100
T_SCHEDULE = datetime(2026, 12, 3, 9, 0, 30, tzinfo=UTC)
PROMISE_SPREAD = timedelta(days=2)
PROMISE_MARGIN = timedelta(minutes=10)
SCAN_PAGE_BYTES = 1024 * 1024
DUE_INDEX = "ByNotifyDue"


@dataclass
class DueReads:
    requests: Counter[str] = field(default_factory=Counter)
    entries: int = 0  # ByNotifyDue entries the run's Queries returned
    bucket_queries: int = 0
    empty_bucket_queries: int = 0
    index_read_units: float = 0.0  # of the Queries of ByNotifyDue: finding what is due
    read_units: float = 0.0  # every read of the run's, acting on what it found included


class DueReadCounter:
    """A botocore hook on the run's DynamoDB client: requests by operation, ByNotifyDue entries read, and read units
    by DynamoDB's rules (an index Query 0.5 RRU per 4 KB it returns, at least 0.5; a strongly consistent GetItem
    1 RRU per 4 KB, 1 for a missing item)."""

    def __init__(self) -> None:
        self.reads = DueReads()

    def register(self, client) -> None:
        client.meta.events.register("before-call.dynamodb", self._before)
        client.meta.events.register("after-call.dynamodb", self._after)

    def _before(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["bench_due_request"] = json.loads(params["body"] or b"{}")

    def _after(self, model, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        request = context.get("bench_due_request", {})
        reads = self.reads
        reads.requests[model.name] += 1
        if "Error" in parsed:
            return
        if model.name == "Query":
            items = parsed.get("Items", [])
            consistent = request.get("ConsistentRead") and "IndexName" not in request
            units = (1.0 if consistent else 0.5) * read_units(sum(item_size(i) for i in items))
            reads.read_units += units
            if request.get("IndexName") == DUE_INDEX:
                reads.index_read_units += units
                reads.entries += len(items)
                reads.bucket_queries += 1
                reads.empty_bucket_queries += not items
        elif model.name == "GetItem":
            factor = 1.0 if request.get("ConsistentRead") else 0.5
            reads.read_units += factor * read_units(item_size(parsed.get("Item")))


@dataclass(frozen=True)
class ScheduleRow:
    orders: int
    due: int
    figures: dict[str, int]  # run_scheduler's own
    reads: DueReads
    orders_bytes: int  # every watched order as stored: what a naive run would read
    run_seconds: float
    build_seconds: float

    @property
    def ratio(self) -> float:
        return self.reads.entries / self.due

    @property
    def naive_read_units(self) -> float:
        # A Scan is eventually consistent by default: 0.5 RRU per 4 KB of each 1 MB page.
        pages, last = divmod(self.orders_bytes, SCAN_PAGE_BYTES)
        return pages * 0.5 * (SCAN_PAGE_BYTES // 4096) + 0.5 * read_units(last)

    @property
    def naive_requests(self) -> int:
        return self.orders_bytes // SCAN_PAGE_BYTES + 1


@dataclass(frozen=True)
class ScheduleFigures:
    rows: list[ScheduleRow]
    seconds: float


def measure_scheduler(session) -> ScheduleFigures:
    started = time.perf_counter()
    rows: list[ScheduleRow] = []
    with table_sorted_once(), transactions_back_up_touched_items(), logs_discarded():
        for size in SCHEDULER_SIZES:
            stack = provision(session, prefix=f"bench-notify-due-{size}")
            with function_environment(stack.environment_of(SCHEDULER)):
                rows.append(_scheduler_row(session, stack, size))
            # Its orders are of no further use: the sections after this one get their memory back.
            session.client("dynamodb").delete_table(TableName=stack.ref("TicketsTable"))
    return ScheduleFigures(rows, time.perf_counter() - started)


def _scheduler_row(session, stack: Stack, size: int) -> ScheduleRow:
    from switchboard.notifications.queue import NotificationQueue
    from switchboard.proactive.scheduler import run_scheduler
    from switchboard.store.repositories import Repositories

    table = stack.ref("TicketsTable")
    store = repositories_of(session, stack)
    # Shipment events do not notify here (only the delay apology does): the due orders' own events add nothing due.
    quiet = DEFAULT_RULES.model_copy(update={"rules": ()})
    save_rules(store, rules_for(NotifyChannel.ALIMTALK, key=sender_key("scheduler"), notifying=quiet))
    queue = NotificationQueue(session.client("sqs"), stack.ref("NotificationQueue"))
    now = T_SCHEDULE
    rules = functools.partial(rules_in_force, store)
    # The run a minute before, over nothing due: it leaves the cursor where a run every minute leaves it.
    run_scheduler(now - timedelta(minutes=1), store=store, queue=queue, rules=rules, sleep=lambda _: None)
    build_started = time.perf_counter()
    orders_bytes = _store_watched_orders(table, size - DUE_ORDERS, now)
    orders_bytes += _process_due_orders(store, session.client("dynamodb"), table, now)
    build_seconds = time.perf_counter() - build_started
    counted = session.client("dynamodb")
    counter = DueReadCounter()
    counter.register(counted)
    run_started = time.perf_counter()
    figures = run_scheduler(now, store=Repositories.on(counted, table), queue=queue, rules=rules, sleep=lambda _: None)
    run_seconds = time.perf_counter() - run_started
    if figures["apologies"] != DUE_ORDERS or figures["failures"]:
        raise RuntimeError(f"the run over {size:,} orders did not apologize for the {DUE_ORDERS} late ones: {figures}")
    return ScheduleRow(size, DUE_ORDERS, figures, counter.reads, orders_bytes, run_seconds, build_seconds)


def _watched_order(now: datetime):
    """A customer's order as the processor stores it after its shipment.created with a promised date."""
    from switchboard.orders.events import OrderEvent
    from switchboard.orders.state import apply

    body = json.loads(shop_event(0, at=now - timedelta(days=1), promised=now + PROMISE_SPREAD))
    event = OrderEvent.model_validate({**body, "source": "generic", "shop": "default"})
    return apply(None, event, contact_id="c_" + "0" * 24, now=now - timedelta(days=1)).state


def _store_watched_orders(table: str, count: int, now: datetime) -> int:
    """`count` orders whose promised dates spread over (now + PROMISE_MARGIN, now + PROMISE_SPREAD], put straight
    into moto's table where the processor's transaction would put them (moto's backend put_item, its item-size check
    off as in 9a). Returns their stored bytes."""
    from moto.dynamodb.models import dynamodb_backends

    backend = dynamodb_backends[ACCOUNT_ID][REGION]
    stored_bytes = 0
    with item_size_unchecked(), gc_paused():
        for item in _watched_order_items(count, now):
            backend.put_item(table, item)
            stored_bytes += item_size(item)
    return stored_bytes


def _watched_order_items(count: int, now: datetime) -> Iterator[dict[str, Any]]:
    """The orders as store/orders.py stores them: one template order's item with what differs from order to order
    (its keys, ids, customer link, shipment and delay timer) written over it, the first and the last checked equal to
    the repository's own _order_item, so the shape cannot drift from it."""
    from switchboard.models import sortable_time
    from switchboard.orders.state import delay_due_at
    from switchboard.store.customers import customer_pk
    from switchboard.store.due_index import DueKeys
    from switchboard.store.orders import _order_item, order_part, order_pk
    from switchboard.store.table import to_attributes

    template = _watched_order(now)
    ((shipment_id, shipment),) = template.shipments.items()
    written_at = now - timedelta(days=1)
    base = _order_item(template, delay_due_at(template, 0), written_at)
    placed = sortable_time(template.placed_at or template.first_seen_at)
    due_keys = DueKeys()
    for index in range(count):
        customer = 700_000 + index
        order_key = f"generic#default#SALE-{customer}"
        contact_id = f"c_{customer:024x}"
        promised = now + PROMISE_MARGIN + (PROMISE_SPREAD - PROMISE_MARGIN) * (index + 1) / count
        shipments = {shipment_id: shipment.model_copy(update={"promised_delivery_at": promised})}
        pk = order_pk(order_key)
        item = {
            **base,
            "pk": {"S": pk},
            **to_attributes(
                {
                    "order_key": order_key,
                    "order_id": f"SALE-{customer}",
                    "number": str(100_000 + customer),
                    "contact_id": contact_id,
                    "shipments": {shipment_id: shipments[shipment_id].model_dump(mode="json")},
                }
            ),
            "customer_pk": {"S": customer_pk(contact_id)},
            "customer_sk": {"S": f"ORDER#{placed}#{order_part(order_key)}"},
            **due_keys.due_keys(pk, promised, written_at),
        }
        if index in (0, count - 1):
            order = template.model_copy(
                update={
                    "order_key": order_key,
                    "order_id": f"SALE-{customer}",
                    "number": str(100_000 + customer),
                    "contact_id": contact_id,
                    "shipments": shipments,
                }
            )
            if item != _order_item(order, delay_due_at(order, 0), written_at):
                raise RuntimeError("the bench's order items no longer match store/orders.py _order_item")
        yield item


def _process_due_orders(store: Any, client, table: str, now: datetime) -> int:
    """DUE_ORDERS customers' shipment.created through the processor a minute before the run, each promising
    delivery within the minute before it: their contacts, orders and delay timers as the processor writes them.
    Returns the orders' stored bytes."""
    from switchboard.orders.events import OrderEvent
    from switchboard.proactive.order_events import process
    from switchboard.store.orders import ORDER_SK, order_pk
    from switchboard.store.table import key

    processed_at = now - timedelta(minutes=1)
    stored_bytes = 0
    for index in range(DUE_ORDERS):
        customer = 800_000 + index
        promised = now - timedelta(seconds=1 + 58 * index / DUE_ORDERS)
        body = json.loads(shop_event(customer, at=processed_at - timedelta(hours=1), promised=promised))
        event = OrderEvent.model_validate({**body, "source": "generic", "shop": "default"})
        outcome = process(
            event, store=store, rules_of=functools.partial(rules_in_force, store), queue=None, now=processed_at
        )
        if outcome.order is None or outcome.order.contact_id is None:
            raise RuntimeError(f"a due order was not recorded with its customer: {outcome}")
        stored = client.get_item(TableName=table, Key=key(order_pk(outcome.order.order_key), ORDER_SK))["Item"]
        stored_bytes += item_size(stored)
    return stored_bytes


# -- the section, and its report ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class NotificationSection:
    burst: Burst
    live: list[LiveRun]
    units: NotificationUnits
    cost: Any  # a bench.notification_cost.NotificationMeasured: that module builds on this one, not the other way
    cost_stack: Stack
    schedule: ScheduleFigures
    seconds: float


@dataclass(frozen=True)
class AwsCapacity:
    """What the deployed pipeline takes a second at most, computed from the template and 10c's billed times: the
    order route's throttle, and each queue consumer's MaximumConcurrency invocations working one record after
    another for the billed time of one."""

    route_rate: float
    route_burst: float
    processor_concurrency: int
    processor_ms: float
    sender_concurrency: int
    sender_ms: float

    @property
    def processor_per_second(self) -> float:
        return self.processor_concurrency * 1000 / self.processor_ms

    @property
    def sender_per_second(self) -> float:
        return self.sender_concurrency * 1000 / self.sender_ms

    @classmethod
    def of(cls, stack: Stack, billed_ms: dict[str, float]) -> AwsCapacity:
        return cls(
            route_rate=float(stack.resolver.parameters["OrderRouteRateLimit"]),
            route_burst=float(stack.resolver.parameters["OrderRouteBurstLimit"]),
            processor_concurrency=_max_concurrency(stack, PROCESSOR),
            processor_ms=billed_ms[PROCESSOR],
            sender_concurrency=_max_concurrency(stack, SENDER),
            sender_ms=billed_ms[SENDER],
        )


def _max_concurrency(stack: Stack, logical_id: str) -> int:
    events = stack.template["Resources"][logical_id]["Properties"]["Events"]
    (source,) = (event["Properties"] for event in events.values() if event["Type"] == "SQS")
    return int((source.get("ScalingConfig") or {}).get("MaximumConcurrency", 1000))


def sustained_per_second(run: LiveRun) -> float:
    """Sends a second over the later half of the run's sends: the Pacer lets a second's worth go at once
    (Pacer.BURST_SECONDS) and builds that allowance up again while sends are slower than the rate, so a run's first
    sends may come faster than the limit; by its later half the allowance is spent."""
    times = run.provider_times
    later = times[len(times) // 2 :]
    if len(later) < 3 or later[-1] <= later[0]:
        return run.at_provider_per_second
    return (len(later) - 1) / (later[-1] - later[0])


def report_sends(section: NotificationSection, billed_ms: dict[str, float]) -> None:
    from switchboard.outbound.pacing import Pacer

    burst = section.burst
    print(
        "\n10. Proactive notifications (issue 12): a sale day's burst, DynamoDB and AWS cost per notification, what the"
        " scheduler reads"
    )
    print(
        "10a. A sale day on moto in-process with the fake providers (a child process): generic-signed shop events (POST"
        '\n     /orders/events, HMAC-SHA256 over "<timestamp>.<body>"), each a new customer\'s shipment.created with a'
        " promised date, under\n     the default rules (every shipment step notifies)."
    )
    asked = "all" if burst.events >= BURST_TARGET else "the largest number of steps that fit"
    print(
        f"   The burst: {burst.events:,} events of the {BURST_TARGET:,} asked ({asked} {BURST_BUDGET_SECONDS:.0f} s here, in"
        f" steps of {BURST_STEP}; {BURST_TARGET:,} would take\n   ~{burst.target_seconds:.0f} s at this run's pace)."
        " Each step accepted by OrderWebhookFunction's handler, then processed by OrderEventsFunction's on the FIFO"
        f"\n   queue's batches of 10 ({burst.batches} batches). The burst took {burst.wall_seconds:.0f} s, the bench's"
        " own signing and receiving included."
    )
    print(f"   {'stage':<46} {'count':>6} {'seconds':>8} {'per s':>7} {'p50 ms':>7} {'p99 ms':>7}")
    rows: tuple[tuple[str, int, float, list[float], str], ...] = (
        ("events accepted (202, intake handler)", burst.events, burst.accept_seconds, burst.accept_ms, ""),
        ("events processed (a batch of up to 10)", burst.events, burst.process_seconds, burst.batch_ms, "  per batch"),
        ("notifications created", burst.notifications, burst.process_seconds, [], ""),
    )
    for label, count, seconds, samples, note in rows:
        p50 = f"{quantile(samples, 0.5):>7.1f}" if samples else f"{'':>7}"
        p99 = f"{quantile(samples, 0.99):>7.1f}" if samples else f"{'':>7}"
        print(f"   {label:<46} {count:>6,} {seconds:>8.1f} {count / seconds:>7.1f} {p50} {p99}{note}")
    print(
        "\n   The sends: each channel mix's own burst through the whole pipeline at once, on a fresh stack: one thread"
        f" posting the events,\n   one processing them, {SENDER_THREADS} sender threads (NotificationSender with the"
        " real Pacer), all sharing this process. limit/s: what\n   outbound/pacing.py keeps for the sending account, in"
        " messages (SMS: 1 segment/s over the message's segments); sends/s: first to\n   last arrival at the fake;"
        " later half: over the later half of the sends (ratio: its share of the limit); paced: deferrals for a later"
        "\n   slot; left: not sent when the run stopped; wait: from the event's 202 to its send reaching the provider,"
        " seconds."
    )
    print(
        f"   {'channel mix':<30} {'events':>6} {'sent':>5} {'paced':>6} {'left':>5} {'limit/s':>7} {'sends/s':>8}"
        f" {'later half':>10} {'ratio':>6} {'busiest 1 s':>11} {'wait p50':>8} {'p99':>6} {'max':>6}"
    )
    for run in section.live:
        waits = run.waits
        limit = run.pace.messages_per_second
        sustained = sustained_per_second(run)
        print(
            f"   {run.spec.label:<30} {run.spec.events:>6} {run.sent:>5} {len(run.paced_waits):>6}"
            f" {run.spec.events - run.sent:>5} {limit:>7g} {run.at_provider_per_second:>8.2f} {sustained:>10.2f}"
            f" {sustained / limit:>6.2f} {run.busiest_second:>11} {quantile(waits, 0.5):>8.1f}"
            f" {quantile(waits, 0.99):>6.1f} {quantile(waits, 1.0):>6.1f}"
        )
        for error in run.errors[:3]:
            print(f"     ! {error}")
    _report_send_notes(section, billed_ms, Pacer.HEADROOM)


def _report_send_notes(section: NotificationSection, billed_ms: dict[str, float], headroom: float) -> None:
    runs = {run.spec.name: run for run in section.live}
    free = [runs[name] for name in ("alimtalk", "whatsapp") if name in runs]
    capped, sms = runs.get("alimtalk-10"), runs.get("sms")
    lines = []
    if free:
        rates = " and ".join(
            f"{sustained_per_second(run):.1f}/s ({sustained_per_second(run) / run.pace.messages_per_second:.0%})"
            for run in free
        )
        lines.append(
            f"AlimTalk at 300/s and WhatsApp at 80/s: {rates} of the limit: moto in one process (every function"
            " and the\n   fake's client sharing one interpreter) is the bound, not the pacing; the waits are that"
            " backlog."
        )
    if capped is not None:
        allowed = capped.spec.alimtalk_rate * headroom
        lines.append(
            f"AlimTalk with the stack's AlimtalkRatePerSecond set to {capped.spec.alimtalk_rate:g}, its senders started"
            " once the burst was queued: the pacer is the\n   bound:"
            f" {sustained_per_second(capped):.1f}/s over the later half (it keeps {headroom:.0%} of the"
            f" limit, {allowed:g}/s); its busiest second carried {capped.busiest_second}: the allowance of a second's"
            " worth at once comes on\n   top of the rate (Pacer.BURST_SECONDS), up to about twice the limit in one"
            " second, which a provider counting per second may refuse."
        )
    if sms is not None:
        mean_wait = sum(sms.paced_waits) / len(sms.paced_waits) if sms.paced_waits else 0.0
        left = sms.spec.events - sms.sent
        lines.append(
            f"SMS, {sms.spec.events} events to one Twilio number: {sms.sent} sent in {sms.seconds:.0f} s at"
            f" {sms.at_provider_per_second:.2f}/s ({sms.sms_segments} segments each at {sms.pace.rate:g} segment/s),"
            f" {left} still queued;\n   {len(sms.paced_waits)} paced deferrals, each a claim, a deferral write and an"
            f" SQS send with DelaySeconds (mean {mean_wait:.1f} s): every waiting\n   notification asks again at the"
            " next free slot, so deferrals grow with the backlog."
        )
    for line in lines:
        print(f"   {line}")
    capacity = AwsCapacity.of(section.cost_stack, billed_ms)
    print(
        f"\n   A {BURST_TARGET:,}-event burst in AWS, computed (not measured): events are accepted at most at the order"
        f" route's throttle\n   (OrderRouteRateLimit {capacity.route_rate:g}/s, burst {capacity.route_burst:g}; a shop"
        " retries its 429s), processed at most at MaximumConcurrency\n"
        f"   {capacity.processor_concurrency} x 1000 / {capacity.processor_ms:.0f} ms ="
        f" {capacity.processor_per_second:.0f}/s and sent at most at {capacity.sender_concurrency} x 1000 /"
        f" {capacity.sender_ms:.0f} ms = {capacity.sender_per_second:.0f}/s (10c's billed time\n   of one record, NHN"
        " Cloud answering in 200 ms), and paced to the account's limit x"
        f" {headroom:g}. The last notification waits about the drain."
    )
    print(
        f"   {'channel (its limit)':<44} {'bound/s':>8}  {'bound by':<20} {'drain':>8} | {'here (moto)':>11}"
        f" {'drain':>8}"
    )
    for label, limit_per_second, run in _aws_channels(section):
        bounds = {
            "the order route": capacity.route_rate,
            "the processor": capacity.processor_per_second,
            "the senders": capacity.sender_per_second,
            "the account's limit": limit_per_second * headroom,
        }
        bound_by = min(bounds, key=lambda name: bounds[name])
        drain = BURST_TARGET / bounds[bound_by]
        here = sustained_per_second(run) if run is not None else float("nan")
        print(
            f"   {label:<44} {bounds[bound_by]:>8.2f}  {bound_by:<20} {_duration(drain):>8} | {here:>9.2f}/s"
            f" {_duration(BURST_TARGET / here):>8}"
        )
    if sms is not None and sms.sms_segments:
        per_number = sms.pace.messages_per_second * headroom
        numbers = math.ceil(BURST_TARGET / (per_number * 3600))
        mean_wait = sum(sms.paced_waits) / len(sms.paced_waits) if sms.paced_waits else 2.0
        print(
            f"   A sale day on SMS: one number drains {per_number * 3600:,.0f} messages an hour; {BURST_TARGET:,} need"
            f" {numbers} numbers to go out within the\n   hour (rules.senders holds one sms_from: a pool is not"
            f" supported today), or AlimTalk ({BURST_TARGET:,} in minutes). Meanwhile each waiting\n   notification"
            f" comes back every ~{mean_wait:.1f} s: {BURST_TARGET:,} waiting make ~{BURST_TARGET / mean_wait:,.0f}"
            " claims and deferrals a second, each reading the number's\n   rate item, one partition (3,000 RRU/s at"
            " most): the backlog itself would be throttled."
        )


def _aws_channels(section: NotificationSection) -> list[tuple[str, float, LiveRun | None]]:
    """Each channel's label, its limit in messages a second, and the live run that measured it."""
    runs = {run.spec.name: run for run in section.live}
    channels: list[tuple[str, float, LiveRun | None]] = [
        ("AlimTalk (300/s per senderKey, the default)", 300.0, runs.get("alimtalk")),
        ("WhatsApp (80/s per number)", 80.0, runs.get("whatsapp")),
    ]
    sms = runs.get("sms")
    if sms is not None:
        label = f"SMS, one number ({sms.pace.rate:g} seg/s, {sms.pace.cost:g} seg each)"
        channels.append((label, sms.pace.messages_per_second, sms))
    return channels


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


_UNIT_ROWS = (
    (NEW_EVENT, None, None, "accepted: a new event (intake)"),
    (DUPLICATE, None, None, "accepted: a duplicate (200, nothing queued)"),
    (FIRST_EVENT, None, None, "processed: a new customer's first event"),
    (NEXT_EVENT, None, None, "processed: a known customer's next event"),
    (SENT, NotifyChannel.ALIMTALK, None, "sent: AlimTalk (claim, reads, pace, settle)"),
    (SENT, NotifyChannel.WHATSAPP, None, "sent: WhatsApp template"),
    (SENT, NotifyChannel.SMS, None, "sent: SMS via Twilio"),
    (DEFERRED, NotifyChannel.SMS, None, "deferred: SMS paced (claim, deferral)"),
    (RECEIPT, NotifyChannel.ALIMTALK, None, "receipt: AlimTalk result (webhook + writer)"),
    (RECEIPT, NotifyChannel.WHATSAPP, None, "receipt: WhatsApp status, each"),
    (RECEIPT, NotifyChannel.SMS, None, "receipt: Twilio status callback, each"),
)


def report_units(units: NotificationUnits) -> None:
    print(
        "\n10b. DynamoDB per notification, each step its function's handler as deployed (requests counted by a botocore"
        "\n     before-call hook, units computed as in 1, a write refused by its condition charged as in 8a);"
        f" {UNITS_CUSTOMERS} customers a channel,\n     each step's mean"
    )
    header = f"   {'step':<46} {'requests':>8} {'written':>7} {'WCU table':>9} {'WCU GSI':>7} {'RCU':>5}  calls"
    print(header)
    for step, channel, detail, label in _UNIT_ROWS:
        mean = units.mean(step, channel, detail)
        if not mean.samples:
            continue
        print(f"   {label:<46} {_unit_columns(mean)}  {', '.join(mean.operations)}")
    alimtalk = NotifyChannel.ALIMTALK
    receipts = units.receipts_per_notification(alimtalk)
    base = units.mean(NEW_EVENT, alimtalk).plus(units.mean(SENT, alimtalk))
    base = base.plus(units.mean(RECEIPT, alimtalk), receipts)
    for label, processed in (
        ("per AlimTalk notification, known customer", units.mean(NEXT_EVENT, alimtalk)),
        ("per AlimTalk notification, new customer", units.mean(FIRST_EVENT, alimtalk)),
    ):
        print(f"   {label:<46} {_unit_columns(base.plus(processed))}")
    rules_units = math.ceil(units.rules_bytes / 4096)
    known = base.plus(units.mean(NEXT_EVENT, alimtalk))
    print(
        f"   The rules item (NOTIFY#RULES, {units.rules_bytes / 1024:.1f} KB with the default rules' ko/en/ja templates)"
        f" is read strongly consistent by\n   the processor for each event and by the sender for each notification:"
        f" {rules_units} RCU a read, {2 * rules_units} of the notification's {known.read_units:.0f}. A WhatsApp\n"
        "   notification gets"
        f" {units.receipts_per_notification(NotifyChannel.WHATSAPP):.0f} receipts (sent, delivered, read), SMS"
        f" {units.receipts_per_notification(NotifyChannel.SMS):.0f}, AlimTalk {receipts:.0f}."
    )


def _unit_columns(mean: MeanCost) -> str:
    return (
        f"{mean.requests:>8.1f} {mean.items_written:>7.1f} {mean.table_write_units:>9.1f}"
        f" {mean.index_write_units:>7.1f} {mean.read_units:>5.1f}"
    )


def report_schedule(figures: ScheduleFigures) -> None:
    from switchboard.store.due_index import SETTLE_MINUTES, SHARDS

    print(
        f"\n10d. One scheduler run (proactive/scheduler.py run_scheduler, moto in-process) over N orders with a"
        f" promised delivery date,\n     exactly {DUE_ORDERS} of them past it within the minute before the run, the"
        " others' dates spread over the next 2 days; each size\n     on its own stack, a run a minute before leaving"
        " the cursor as a run every minute leaves it. The run's client hooked: ByNotifyDue\n     entries its Queries"
        " returned, units by DynamoDB's rules (as 9a): finding is the Queries' RRU, all adds reading and writing what"
        "\n     it acts on. Beside it, a naive run finding the late orders by reading every watched order (a Scan of"
        " the orders as\n     stored, 0.5 RRU per 4 KB of each 1 MB page), computed from their stored sizes."
    )
    print(
        f"   {'orders':>7} {'due':>4} {'entries':>7} {'Queries':>7} {'finding':>7} {'all':>6} {'entries':>7} |"
        f" {'naive:':>6} {'entries':>8} {'requests':>8} {'RRU':>8} {'entries':>8} | {'naive /':>7}"
    )
    print(
        f"   {'':>7} {'':>4} {'read':>7} {'(empty)':>7} {'RRU':>7} {'RRU':>6} {'/ due':>7} | {'':>6} {'read':>8}"
        f" {'':>8} {'':>8} {'/ due':>8} | {'finding':>7}"
    )
    for row in figures.rows:
        reads = row.reads
        queries = f"{reads.bucket_queries} ({reads.empty_bucket_queries})"
        print(
            f"   {row.orders:>7,} {row.due:>4} {reads.entries:>7,} {queries:>7} {reads.index_read_units:>7.1f}"
            f" {reads.read_units:>6.1f} {row.ratio:>7.2f} | {'':>6} {row.orders:>8,} {row.naive_requests:>8,}"
            f" {row.naive_read_units:>8,.1f} {row.orders / row.due:>8,.0f} |"
            f" {row.naive_read_units / reads.index_read_units:>6,.0f}x"
        )
    if figures.rows:
        last = figures.rows[-1]
        requests = ", ".join(f"{name} x{count}" for name, count in sorted(last.reads.requests.items()))
        sizes = " / ".join(f"{row.orders:,}" for row in figures.rows)
        runs = " / ".join(f"{row.run_seconds:.1f}" for row in figures.rows)
        builds = sum(row.build_seconds for row in figures.rows)
        print(
            f"   The run at {last.orders:,}: {requests}: the rules once, then for each late order the order, its"
            " contact and whether\n   it was told already, one transaction (apology and order), the cursor;"
            f" {last.figures['buckets_read']} bucket Queries (the cursor trails by {SETTLE_MINUTES} minutes:"
            f" {last.figures['buckets_read'] // SHARDS}\n   minutes x {SHARDS} shards). Its own count: {last.figures['due_read']} due read, {last.figures['apologies']} apologies"
            f" queued. Time here at {sizes} orders: the run {runs} s\n   (moto answers an index Query by going through"
            f" every item of the table); building the orders took {builds:.0f} s; 10d took"
            f" {figures.seconds:.0f} s."
        )
