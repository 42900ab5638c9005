"""Agents' replies through the outbox: DynamoDB per step, the sender's CPU per reply, and replies per second.

A reply takes the deployed path on moto, in-process, each function under its own template environment: the
agent's POST /tickets/{id}/replies as API Gateway passes it to TicketChangesFunction, the outbound FIFO queue's
message as Lambda's event source hands it to ChannelSenderFunction, which sends over urllib3 to the fake
providers (infra/fakes), and the signed receipts the fake posts back, through WhatsAppWebhookFunction and the
inbound queue to TicketWriterFunction. The customers' tickets are opened the same way, by their own messages.

8a. DynamoDB: each step's requests are counted and its units computed by dynamodb_cost's meter, which here
    also charges a write refused by its condition, as DynamoDB does (RefusedWritesCharged).
8b. CPU: ChannelSender.send for one attempt (claim, build, pace, provider call, settle), timed with
    time.process_time next to one urllib3 POST of the same request to the same fake endpoint. The fake runs in
    a child process there, so that the process's CPU time is the sender's side of the exchange only.
8c. Throughput: a burst of replies accepted, then drained by the sender from the outbound queue in its
    template batches; the fake provider (child process) stamps when each send arrived.
The same round trip, timed instead of metered, gives cost.py the cost of 1 M replies (reply_cost.py).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from bench.cost import _memory_mb
from bench.dynamodb_cost import Cost, CostMeter, item_size, write_units
from bench.workload import (
    Percentiles,
    function_environment,
    function_spec,
    hooked_default_session,
    logs_discarded,
    percentiles,
)
from infra.functions import LambdaContext, load_function
from infra.local.pollers import QueueBinding, sqs_event
from infra.provision import REGION, provision
from infra.template import ROOT, functions
from tests.support.drivers import DRIVERS, ChannelDriver
from tests.support.drivers.telegram import TelegramDriver
from tests.support.drivers.whatsapp import WhatsAppDriver
from tests.support.lambda_events import AGENT_CLAIMS, http_api_event

API = "TicketChangesFunction"
SENDER = "ChannelSenderFunction"
WRITER = "TicketWriterFunction"
REPLY_ROUTE = "POST /tickets/{ticket_id}/replies"
WHATSAPP = WhatsAppDriver()
TELEGRAM = TelegramDriver()
# An agent's answer as agents write them: two short sentences (Korean, as the rest of the bench's traffic).
REPLY_TEXT = (
    "문의하신 주문은 오늘 오후에 출고되었습니다. 내일 오전 중 도착 예정이며, 송장번호는 문자로 안내해 드리겠습니다."
)
# A record the sender could not take comes back after the queue's visibility timeout (minutes): not waited for.
DRAIN_TIMEOUT_SECONDS = 120
CUSTOMER_TEXT = "주문한 러닝화가 아직 도착하지 않았어요. 언제 받을 수 있을까요?"


def provision_for_replies(session, name: str, provider_parameters: dict[str, str]):
    """A stack whose sender and media fetcher talk to the fake providers, with the drivers' sample secrets."""
    seed = {driver.name: dict(driver.secrets) for driver in DRIVERS}
    return provision(session, prefix=f"bench-{name}", seed=seed, parameters=provider_parameters)


_SERVE = """
import json, sys
from infra.fakes.providers import FakeProviders
fake = FakeProviders().start()
fake.receipt_sink = lambda receipt: None
print(json.dumps({"base_url": fake.base_url, "parameters": fake.template_parameters()}), flush=True)
for line in sys.stdin:
    fake.use_channel_secrets(json.loads(line))
    print("ok", flush=True)
"""


class ProviderProcess:
    """infra.fakes.providers.FakeProviders served by a child process; the receipts it would post are dropped."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-c", _SERVE], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        started = json.loads(self._readline())
        self.base_url: str = started["base_url"]
        self.template_parameters: dict[str, str] = started["parameters"]

    def _readline(self) -> str:
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError("the fake providers' process ended")
        return line

    def accept(self, channel_secrets: dict[str, dict[str, str]]) -> None:
        """Makes the fakes accept a stack's credentials and sign receipts with its webhook secrets."""
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps(channel_secrets) + "\n")
        self._process.stdin.flush()
        self._readline()

    def sent(self) -> list[dict[str, Any]]:
        """GET /__fake__/sent: every request made to a send API, newest first."""
        with urllib.request.urlopen(f"{self.base_url}/__fake__/sent", timeout=10) as answer:
            return json.loads(answer.read())

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        self._process.wait(timeout=10)


@contextlib.contextmanager
def provider_process() -> Iterator[ProviderProcess]:
    process = ProviderProcess()
    try:
        yield process
    finally:
        process.close()


@contextlib.contextmanager
def transactions_back_up_touched_items() -> Iterator[None]:
    """moto backs a TransactWriteItems up by deep-copying the whole table once per item of it, before applying
    any, and puts the copy back if one fails: each transaction costs time in proportion to the table, so a burst
    of replies slows down as it fills the table (writer_throughput's note), which DynamoDB does not. While this
    is on, the backup is the items the transaction names, read before it runs and put back (or deleted) if it
    fails: the same rollback, at a cost that does not grow with the table."""
    import copy

    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    original = models.DynamoDBBackend.transact_write_items

    class CopiesAllButTables:
        @staticmethod
        def deepcopy(value: Any, memo: dict | None = None) -> Any:
            return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    def transact_write_items(self, transact_items: list[dict[str, Any]]) -> None:
        before = []
        for entry in transact_items:
            for operation in entry.values():
                table = self.tables.get(operation.get("TableName"))
                if table is None:
                    continue
                names = [name for name in (table.hash_key_attr, table.range_key_attr) if name]
                key = operation.get("Key") or {name: operation.get("Item", {}).get(name) for name in names}
                if None in key.values():
                    continue  # malformed: moto refuses it before writing anything
                found = self.get_item(table.name, key)
                before.append((table.name, key, found.to_json()["Attributes"] if found else None))
        models.copy = CopiesAllButTables  # type: ignore[assignment]
        try:
            return original(self, transact_items)
        except Exception:
            for table_name, key, attributes in before:
                if attributes is None:
                    self.delete_item(table_name, key)
                else:
                    self.put_item(table_name, attributes)
            raise
        finally:
            models.copy = copy

    models.DynamoDBBackend.transact_write_items = transact_write_items
    try:
        yield
    finally:
        models.DynamoDBBackend.transact_write_items = original


@dataclass
class Function:
    logical_id: str
    handler: Callable[[dict, Any], Any]
    timeout: int
    memory_mb: int
    invocations: int = 0

    def context(self) -> LambdaContext:
        self.invocations += 1
        return LambdaContext(self.logical_id, f"bench-{self.invocations}", self.timeout, self.memory_mb)

    def __call__(self, event: dict) -> Any:
        return self.handler(event, self.context())


@contextlib.contextmanager
def running(stack, logical_id: str, *, discard_logs: bool = True) -> Iterator[Function]:
    """The function loaded as a fresh container would be, under its own environment (its log lines discarded
    unless the caller captures them)."""
    spec = function_spec(stack, logical_id)
    with function_environment(stack.environment_of(logical_id)), contextlib.ExitStack() as logs:
        if discard_logs:
            logs.enter_context(logs_discarded())
        yield Function(logical_id, load_function(spec), spec.timeout, _memory_mb(stack.template, logical_id))


def webhook_of(stack, driver: ChannelDriver) -> str:
    return next(
        spec.logical_id
        for spec in functions(stack.template)
        if any(route.method == "POST" and route.path == driver.webhook_path for route in spec.routes)
    )


def webhook_post(path: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    return http_api_event(method="POST", path=path, route_key=f"POST {path}", headers=headers, body=body)


def reply_event(ticket_id: str, key: str, text: str = REPLY_TEXT) -> dict[str, Any]:
    """The agent's POST as API Gateway hands it over, with the claims the JWT authorizer passes on."""
    path = f"/tickets/{ticket_id}/replies"
    return http_api_event(
        method="POST",
        path=path,
        route_key=REPLY_ROUTE,
        headers={"content-type": "application/json", "idempotency-key": key},
        path_parameters={"ticket_id": ticket_id},
        body=json.dumps({"text": text}, ensure_ascii=False).encode(),
        claims=AGENT_CLAIMS,
        request_id=uuid.uuid4().hex[:16],
    )


def accepted_attempt(response: dict[str, Any]) -> str:
    if response["statusCode"] != 202:
        raise RuntimeError(f"the reply was not accepted: {response}")
    return json.loads(response["body"])["message"]["attempt_id"]


def _binding(stack, consumer: str) -> QueueBinding:
    (source,) = function_spec(stack, consumer).queue_sources
    return QueueBinding.of(source, stack)


def receive_batch(sqs, binding: QueueBinding, size: int | None = None) -> tuple[dict[str, Any], list[dict]]:
    """One receive as Lambda's event source mapping makes it, and the event it hands the function."""
    messages = sqs.receive_message(
        QueueUrl=binding.queue_url,
        MaxNumberOfMessages=min(size or binding.source.batch_size, 10),
        MessageSystemAttributeNames=["All"],
        WaitTimeSeconds=0,
    ).get("Messages", [])
    return sqs_event(messages, binding), messages


def delete_done(sqs, binding: QueueBinding, messages: list[dict], result: dict[str, Any]) -> int:
    """Deletes what the function did not give back (ReportBatchItemFailures); returns how many it gave back."""
    failed = {failure["itemIdentifier"] for failure in result.get("batchItemFailures", [])}
    done = [message for message in messages if message["MessageId"] not in failed]
    if done:
        sqs.delete_message_batch(
            QueueUrl=binding.queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
        )
    return len(messages) - len(done)


def customers_write(stack, driver: ChannelDriver, customers: range, *, sent_at: datetime) -> list[str]:
    """Each customer's message through the channel's webhook and the writer; their tickets' ids, in order."""
    sqs = boto3.Session(region_name=REGION).client("sqs")
    with running(stack, webhook_of(stack, driver)) as webhook:
        for number in customers:
            body = driver.text_message(
                driver.customer(number, f"고객 {number}"),
                message_id=driver.message_id(f"bench-replies:{number}"),
                text=CUSTOMER_TEXT,
                sent_at=sent_at,
            )
            response = webhook(webhook_post(driver.webhook_path, driver.headers(body), body))
            if response["statusCode"] >= 300:
                raise RuntimeError(f"the {driver.name} webhook refused a customer's message: {response}")
    from switchboard import queue, runtime

    inbound = _binding(stack, WRITER)
    conversations: list[str] = []
    with running(stack, WRITER) as writer:
        while True:
            event, messages = receive_batch(sqs, inbound)
            if not messages:
                break
            conversations.extend(queue.decode(message["Body"]).conversation_key for message in messages)
            result = writer(event)
            if delete_done(sqs, inbound, messages, result):
                raise RuntimeError(f"the writer failed on a customer's message: {result}")
        tickets = runtime.repositories().tickets
        found = [tickets.current_ticket_id(conversation) for conversation in dict.fromkeys(conversations)]
    if len(found) != len(customers) or None in found:
        raise RuntimeError(f"expected {len(customers)} tickets, found {found}")
    return [ticket_id for ticket_id in found if ticket_id is not None]


Invoke = Callable[[Function, dict[str, Any], str, str], Any]

ACCEPTED, SENT, RECEIPT_WEBHOOK, RECEIPT = "accepted", "sent", "receipt webhook", "receipt"
FIRST_REPLY, NEXT_REPLY = "first reply on a ticket", "next reply on it"


def _plain(function: Function, event: dict[str, Any], step: str, detail: str) -> Any:
    return function(event)


def round_trip(
    stack, fakes, tickets: list[str], replies_per_ticket: int, invoke: Invoke = _plain, *, discard_logs: bool = True
) -> int:
    """Every ticket gets `replies_per_ticket` replies (the tickets take turns, as agents' replies interleave);
    each function then takes its share as Lambda would at a low arrival rate, one record per batch: the API
    accepts, the sender sends, the provider's receipts come through the webhook, the writer records them.
    `invoke` runs (and observes) each invocation. Returns how many receipts the provider posted."""
    sqs = boto3.Session(region_name=REGION).client("sqs")
    with running(stack, API, discard_logs=discard_logs) as api:
        for number in range(replies_per_ticket):
            for ticket_id in tickets:
                detail = FIRST_REPLY if number == 0 else NEXT_REPLY
                accepted_attempt(
                    invoke(api, reply_event(ticket_id, f"bench-reply-{ticket_id}-{number}"), ACCEPTED, detail)
                )
    outbound = _binding(stack, SENDER)
    with running(stack, SENDER, discard_logs=discard_logs) as sender:
        for number in range(replies_per_ticket * len(tickets)):
            event, messages = receive_batch(sqs, outbound, 1)
            detail = FIRST_REPLY if number < len(tickets) else NEXT_REPLY
            result = invoke(sender, event, SENT, detail)
            if delete_done(sqs, outbound, messages, result):
                raise RuntimeError(f"the sender gave a reply back: {result}")
    receipts = fakes.take_receipts()
    with running(stack, webhook_of(stack, WHATSAPP), discard_logs=discard_logs) as webhook:
        for receipt in receipts:
            event = webhook_post(receipt.target, dict(receipt.headers), receipt.body)
            response = invoke(webhook, event, RECEIPT_WEBHOOK, _whatsapp_status(receipt.body))
            if response["statusCode"] != 200:
                raise RuntimeError(f"the webhook refused a receipt: {response}")
    from switchboard import queue

    inbound = _binding(stack, WRITER)
    with running(stack, WRITER, discard_logs=discard_logs) as writer:
        while True:
            event, messages = receive_batch(sqs, inbound, 1)
            if not messages:
                break
            status = str(getattr(queue.decode(messages[0]["Body"]), "status", "?"))
            result = invoke(writer, event, RECEIPT, status)
            if delete_done(sqs, inbound, messages, result):
                raise RuntimeError(f"the writer failed on a receipt: {result}")
    return len(receipts)


def _whatsapp_status(body: bytes) -> str:
    (entry,) = json.loads(body)["entry"]
    (change,) = entry["changes"]
    return ",".join(status["status"] for status in change["value"].get("statuses", []))


@dataclass(frozen=True)
class Metered:
    step: str
    detail: str
    cost: Cost


@dataclass(frozen=True)
class ReplyUnits:
    replies: int
    receipts: int
    steps: list[Metered]

    def total(self, step: str | None = None) -> Cost:
        """The units of one step (or of every step) over all the replies."""
        total = Cost()
        for metered in self.steps:
            if step is None or metered.step == step:
                total.operations += metered.cost.operations
                total.items_written += metered.cost.items_written
                total.table_write_units += metered.cost.table_write_units
                total.index_write_units += metered.cost.index_write_units
                total.read_units += metered.cost.read_units
                total.failed += metered.cost.failed
        return total


class RefusedWritesCharged(CostMeter):
    """dynamodb_cost's meter, plus DynamoDB's rule for a single-item write whose condition fails: "If a
    ConditionExpression evaluates to false during a conditional write, DynamoDB still consumes write capacity
    from the table", one unit for a missing item, else by the item's size (Developer Guide, "Working with
    items", Capacity units consumed by conditional writes). It writes nothing, so no index units."""

    def _after(self, model, parsed, context, **kwargs) -> None:
        refused = parsed.get("Error", {}).get("Code") == "ConditionalCheckFailedException"
        if refused and model.name in ("PutItem", "UpdateItem", "DeleteItem"):
            for _, before, _ in context.get("bench_writes", []):
                self.cost.table_write_units += write_units(item_size(before), transactional=False)
        super()._after(model, parsed, context, **kwargs)


def measure_units(stack, fakes, customers: int = 3, replies_per_ticket: int = 2) -> ReplyUnits:
    """Each invocation of the round trip metered as dynamodb_cost meters the writer."""
    tickets = customers_write(stack, WHATSAPP, range(customers), sent_at=datetime.now(UTC) - timedelta(minutes=5))
    table_properties = stack.resolver.resolve(stack.template["Resources"]["TicketsTable"]["Properties"])
    meter = RefusedWritesCharged(
        stack.ref("TicketsTable"), table_properties, boto3.Session(region_name=REGION).client("dynamodb")
    )
    steps: list[Metered] = []

    def metered(function: Function, event: dict[str, Any], step: str, detail: str) -> Any:
        meter.reset()
        result = function(event)
        steps.append(Metered(step, detail, meter.reset()))
        return result

    with hooked_default_session(meter.hooks):
        receipts = round_trip(stack, fakes, tickets, replies_per_ticket, metered)
    return ReplyUnits(customers * replies_per_ticket, receipts, steps)


@dataclass(frozen=True)
class SenderCpu:
    replies: int
    send: Percentiles
    in_dynamodb: Percentiles  # the part of each send spent inside its DynamoDB calls (botocore + moto)
    outside_dynamodb: Percentiles
    baseline: Percentiles
    dynamodb_calls: float


def _whatsapp_send_request(provider: ProviderProcess, stack) -> tuple[str, bytes, dict[str, str]]:
    """The WhatsApp send the sender just made (URL, body, headers), as the fake received it."""
    latest = next(entry for entry in provider.sent() if entry["provider"] == "graph")
    url = provider.base_url + latest["path"]
    token = stack.channel_secrets["whatsapp"]["access_token"]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json; charset=utf-8"}
    return url, json.dumps(latest["json"], ensure_ascii=False).encode(), headers


def measure_sender_cpu(stack, provider: ProviderProcess, replies: int = 150, warm_up: int = 20) -> SenderCpu:
    """Each round: the API accepts a reply (not timed), ChannelSender.send sends its attempt, then the baseline
    POSTs the same request with urllib3; both timed with time.process_time_ns, the first `warm_up` rounds
    dropped. Transactions back up only the items they touch (transactions_back_up_touched_items)."""
    import urllib3

    from switchboard import runtime
    from switchboard.models import utc_now

    (ticket_id,) = customers_write(stack, WHATSAPP, range(1), sent_at=datetime.now(UTC) - timedelta(minutes=5))
    in_calls = {"ns": 0, "calls": 0}

    def call_started(context, **_) -> None:
        context["bench_cpu"] = time.process_time_ns()

    def call_finished(context, **_) -> None:
        in_calls["ns"] += time.process_time_ns() - context["bench_cpu"]
        in_calls["calls"] += 1

    pool = urllib3.PoolManager(retries=False)
    samples: dict[str, list[int]] = {"send": [], "in_dynamodb": [], "baseline": []}
    calls = 0
    hooks = {"before-call.dynamodb": call_started, "after-call.dynamodb": call_finished}
    # Both functions in one environment (each reads only its own settings), so that neither's wiring is rebuilt
    # between rounds: a warm API container and a warm sender.
    environment = {**stack.environment_of(API), **stack.environment_of(SENDER)}
    with (
        transactions_back_up_touched_items(),
        hooked_default_session(hooks),
        function_environment(environment),
        logs_discarded(),
    ):
        spec = function_spec(stack, API)
        api = Function(API, load_function(spec), spec.timeout, _memory_mb(stack.template, API))
        sender = runtime.channel_sender()
        baseline_request: tuple[str, bytes, dict[str, str]] | None = None
        for number in range(warm_up + replies):
            attempt_id = accepted_attempt(api(reply_event(ticket_id, f"bench-cpu-{number}")))
            in_calls.update(ns=0, calls=0)
            started = time.process_time_ns()
            report = sender.send(attempt_id, now=utc_now())
            elapsed = time.process_time_ns() - started
            if report.result != "sent":
                raise RuntimeError(f"the sender did not send a benchmark reply: {report}")
            spent_in_calls, made = in_calls["ns"], in_calls["calls"]
            if baseline_request is None:
                baseline_request = _whatsapp_send_request(provider, stack)
            url, body, headers = baseline_request
            started = time.process_time_ns()
            answer = pool.request("POST", url, body=body, headers=headers)
            baseline = time.process_time_ns() - started
            if answer.status != 200:
                raise RuntimeError(f"the baseline request was refused: {answer.status} {answer.data[:200]!r}")
            if number >= warm_up:
                samples["send"].append(elapsed)
                samples["in_dynamodb"].append(spent_in_calls)
                samples["baseline"].append(baseline)
                calls += made
    outside = [send - inside for send, inside in zip(samples["send"], samples["in_dynamodb"], strict=True)]
    return SenderCpu(
        replies=replies,
        send=percentiles(samples["send"]),
        in_dynamodb=percentiles(samples["in_dynamodb"]),
        outside_dynamodb=percentiles(outside),
        baseline=percentiles(samples["baseline"]),
        dynamodb_calls=calls / replies,
    )


@dataclass(frozen=True)
class Burst:
    channel: str
    replies: int
    conversations: int
    configured_per_second: float  # outbound/pacing.py's limit for the bucket the burst shares
    accept_seconds: float
    drain_seconds: float
    in_dynamodb_seconds: float  # of the drain, inside the sender's DynamoDB calls (botocore + moto)
    invocations: int
    given_back: int  # records the sender gave back to the queue (paced for longer than it sleeps)
    max_concurrency: int  # the sender's event source mapping's ScalingConfig
    provider_times: list[float] = field(default_factory=list)  # when each send reached the fake, epoch seconds

    @property
    def end_to_end_per_second(self) -> float:
        return self.replies / (self.accept_seconds + self.drain_seconds)

    @property
    def at_provider_per_second(self) -> float:
        first, last = self.provider_times[0], self.provider_times[-1]
        return (len(self.provider_times) - 1) / (last - first) if last > first else float("inf")

    @property
    def busiest_second(self) -> int:
        """The most sends the provider received within any one second (a sliding window)."""
        times, most, start = self.provider_times, 0, 0
        for end, at in enumerate(times):
            while at - times[start] >= 1.0:
                start += 1
            most = max(most, end - start + 1)
        return most

    @property
    def closest_gap(self) -> float:
        return min((b - a for a, b in zip(self.provider_times, self.provider_times[1:], strict=False)), default=0.0)


def measure_burst(
    stack, provider: ProviderProcess, driver: ChannelDriver, *, conversations: int, replies_per_conversation: int
) -> Burst:
    """The burst is accepted (the API, one POST after another), then the sender drains the outbound queue as its
    event source mapping would with one poller: receive up to the template's batch size, invoke, delete what
    it did not give back; a record it gives back comes again when its delay (the pacing's wait) is over."""
    tickets = customers_write(stack, driver, range(conversations), sent_at=datetime.now(UTC) - timedelta(minutes=5))
    sqs = boto3.Session(region_name=REGION).client("sqs")
    outbound = _binding(stack, SENDER)
    sent_before = len(provider.sent())
    in_calls = [0.0]

    def call_started(context, **_) -> None:
        context["bench_started"] = time.perf_counter()

    def call_finished(context, **_) -> None:
        in_calls[0] += time.perf_counter() - context["bench_started"]

    hooks = {"before-call.dynamodb": call_started, "after-call.dynamodb": call_finished}
    with transactions_back_up_touched_items(), hooked_default_session(hooks):
        with running(stack, API) as api:
            started = time.perf_counter()
            for number in range(replies_per_conversation):
                for ticket_id in tickets:
                    accepted_attempt(api(reply_event(ticket_id, f"bench-burst-{ticket_id}-{number}")))
            accept_seconds = time.perf_counter() - started
        invocations = given_back = 0
        with running(stack, SENDER) as sender:
            in_calls[0] = 0.0
            started = time.perf_counter()
            while True:
                event, messages = receive_batch(sqs, outbound)
                if not messages:
                    if _queue_is_empty(sqs, outbound):
                        break
                    if time.perf_counter() - started > DRAIN_TIMEOUT_SECONDS:
                        raise RuntimeError("the burst's replies are still in the outbound queue: a sender failed")
                    time.sleep(0.02)
                    continue
                invocations += 1
                given_back += delete_done(sqs, outbound, messages, sender(event))
            drain_seconds = time.perf_counter() - started
    sent = provider.sent()  # newest first
    times = sorted(datetime.fromisoformat(entry["at"]).timestamp() for entry in sent[: len(sent) - sent_before])
    limit = tightest_limit(driver)
    return Burst(
        channel=driver.name,
        replies=conversations * replies_per_conversation,
        conversations=conversations,
        configured_per_second=limit.rate_per_second,
        accept_seconds=accept_seconds,
        drain_seconds=drain_seconds,
        in_dynamodb_seconds=in_calls[0],
        invocations=invocations,
        given_back=given_back,
        max_concurrency=_max_concurrency(stack),
        provider_times=times,
    )


def _max_concurrency(stack) -> int:
    events = stack.template["Resources"][SENDER]["Properties"]["Events"]
    (source,) = (event["Properties"] for event in events.values() if event["Type"] == "SQS")
    return int((source.get("ScalingConfig") or {}).get("MaximumConcurrency", 1000))


def tightest_limit(driver: ChannelDriver):
    """The pacing's slowest limit (outbound/pacing.py) on a reply to one conversation of the channel's account."""
    from switchboard.channels.sending import OutboundRequest
    from switchboard.models import utc_now
    from switchboard.outbound.pacing import limits_of

    request = OutboundRequest(
        attempt_id="a",
        message_id="m",
        ticket_id="t",
        channel=driver.channel,
        channel_account_id="account",
        recipient_id="conversation",
        text=REPLY_TEXT,
        now=utc_now(),
    )
    return min(limits_of(request), key=lambda limit: limit.rate_per_second)


def _queue_is_empty(sqs, binding: QueueBinding) -> bool:
    attributes = sqs.get_queue_attributes(
        QueueUrl=binding.queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"]) == 0
    )


@dataclass(frozen=True)
class Replies:
    units: ReplyUnits
    cpu: SenderCpu
    bursts: list[Burst]


def measure(session, provider: ProviderProcess, units: ReplyUnits) -> Replies:
    """Sections 8b and 8c (8a is `units`, measured first for the cost table too); each on its own stack."""
    cpu_stack = provision_for_replies(session, "replies-cpu", provider.template_parameters)
    provider.accept(cpu_stack.channel_secrets)
    cpu = measure_sender_cpu(cpu_stack, provider)
    bursts = []
    for driver, conversations, each in ((WHATSAPP, 20, 10), (TELEGRAM, 1, 5)):
        stack = provision_for_replies(session, f"replies-burst-{driver.name}", provider.template_parameters)
        provider.accept(stack.channel_secrets)
        bursts.append(
            measure_burst(stack, provider, driver, conversations=conversations, replies_per_conversation=each)
        )
    return Replies(units, cpu, bursts)


def _step(units: ReplyUnits, step: str, detail: str) -> Cost:
    return next(metered.cost for metered in reversed(units.steps) if (metered.step, metered.detail) == (step, detail))


def report(figures: Replies) -> None:
    units, cpu = figures.units, figures.cpu
    print(
        "\n8. Agents' replies on WhatsApp through the outbox (moto in-process; the fake Cloud API answers 200 and posts"
        "\n   the signed sent, delivered and read status webhooks Meta posts). In 8b and 8c moto's transactions back up"
        "\n   only the items they touch, not the whole table per item (replies.transactions_back_up_touched_items),"
        "\n   so that they do not slow down as the table fills; the rollback is the same."
    )
    print(
        f"\n8a. DynamoDB per reply, each step its function's handler as deployed (requests counted and units computed"
        f"\n    as in 1; {units.replies} replies on {units.replies // 2} tickets)"
    )
    print(f"   {'step':<44} {'requests':>8} {'items written':>14} {'WCU table':>10} {'WCU GSI':>8} {'RCU':>4}  calls")
    rows = [
        ("accepted: first reply on a ticket", _step(units, ACCEPTED, FIRST_REPLY)),
        ("accepted: next reply on it", _step(units, ACCEPTED, NEXT_REPLY)),
        ("sent: the sender, one attempt, one record", _step(units, SENT, NEXT_REPLY)),
        ("receipt 'sent' (writer; reply already sent)", _step(units, RECEIPT, "sent")),
        ("receipt 'delivered' (writer)", _step(units, RECEIPT, "delivered")),
        ("receipt 'read' (writer)", _step(units, RECEIPT, "read")),
    ]
    for case, cost in rows:
        note = "  (refused by its condition, charged as DynamoDB does)" if cost.failed else ""
        print(
            f"   {case:<44} {cost.requests:>8} {cost.items_written:>14} {cost.table_write_units:>10}"
            f" {cost.index_write_units:>8} {cost.read_units:>4}  {', '.join(cost.operations)}{note}"
        )
    total, n = units.total(), units.replies
    print(
        f"   {'per reply, every step (mean of this run)':<44} {total.requests / n:>8.1f} {total.items_written / n:>14.1f}"
        f" {total.table_write_units / n:>10.1f} {total.index_write_units / n:>8.1f} {total.read_units / n:>4.1f}"
    )
    print(
        f"    {units.receipts / units.replies:.0f} receipts per reply, each also a WhatsApp webhook invocation"
        " (no DynamoDB request: it queues the receipt)."
    )
    print(
        "    A write refused by its condition still costs write units (one, or the item's size: DynamoDB Developer"
        '\n    Guide, "Capacity units consumed by conditional writes"); this section charges it, 1 does not.'
    )

    ratio = lambda value, base: f"{value / base:.1f}x"  # noqa: E731
    print(
        f"\n8b. Sender CPU per reply: ChannelSender.send for one attempt (claim, build, pace, provider call, settle),"
        f"\n    {cpu.replies} replies, time.process_time_ns, each next to the baseline; the fake Cloud API runs in a"
        f" child process,\n    so only our side of each request is counted"
    )
    print(f"   {'':<56} {'p50 us':>8} {'p99 us':>8}  {'p50 ratio':>9}  {'p99 ratio':>9}")
    lines = (
        (f"ChannelSender.send (its {cpu.dynamodb_calls:.0f} DynamoDB calls on moto)", cpu.send),
        ("  of which inside those calls (botocore + moto)", cpu.in_dynamodb),
        ("  the rest: our code, the request over urllib3", cpu.outside_dynamodb),
        ("baseline: one urllib3 POST of the same request, pooled", cpu.baseline),
    )
    for label, timed in lines:
        print(
            f"   {label:<56} {timed.p50_us:>8.0f} {timed.p99_us:>8.0f}"
            f"  {ratio(timed.p50_us, cpu.baseline.p50_us):>9}  {ratio(timed.p99_us, cpu.baseline.p99_us):>9}"
        )
    print(
        f"    One reply's send = {cpu.send.p50_us / cpu.baseline.p50_us:.0f}x one urllib3 request here, most of it"
        f" moto answering DynamoDB in-process; without\n    moto's share,"
        f" {cpu.outside_dynamodb.p50_us / cpu.baseline.p50_us:.1f}x (p50). In Lambda the DynamoDB calls cost only"
        " the client's part (serialize, sign, send, parse)."
    )

    print(
        "\n8c. Replies per second through the outbox: a burst accepted (POSTs one after another), then drained from the"
        "\n    outbound queue by one sender poller in the template's batches; the fake stamps each send's arrival"
    )
    print(
        f"   {'burst':<26} {'replies':>7} {'accept s':>8} {'drain s':>8} {'end-to-end/s':>12} {'at provider/s':>13}"
        f" {'busiest 1 s':>11} {'closest gap s':>13} {'limit/s':>8}"
    )
    for burst in figures.bursts:
        label = f"{_NAMES[burst.channel]}, {burst.conversations} chat{'s' if burst.conversations > 1 else ''}"
        print(
            f"   {label:<26} {burst.replies:>7} {burst.accept_seconds:>8.1f} {burst.drain_seconds:>8.1f}"
            f" {burst.end_to_end_per_second:>12.1f} {burst.at_provider_per_second:>13.2f} {burst.busiest_second:>11}"
            f" {burst.closest_gap:>13.3f} {burst.configured_per_second:>8g}"
        )
    print("    limit/s: outbound/pacing.py's limit on the burst (WhatsApp per number, Telegram per chat).")
    whatsapp, telegram = figures.bursts
    rate = whatsapp.configured_per_second
    notes = [
        f"WhatsApp: {whatsapp.invocations} sender invocations, {whatsapp.given_back} records given back for a later"
        f" slot, {whatsapp.in_dynamodb_seconds / whatsapp.drain_seconds:.0%} of the drain",
        f"inside DynamoDB calls on moto. The burst reached {whatsapp.at_provider_per_second / rate:.0%} of the"
        f" number's {rate:g}/s: one sender on moto is the bound,",
        f"not the pacing (a second's worth of sends may go at once, then {rate:g}/s). DynamoDB answers without this"
        " process's CPU,",
        f"and Lambda runs up to the mapping's MaximumConcurrency ({whatsapp.max_concurrency}) batches of different"
        " conversations at once: whether",
        f"the shared rate item then holds {rate:g}/s is not measured here. moto is slower than DynamoDB: these rates"
        " are a floor.",
        f"Telegram: {telegram.replies} replies to one chat left in {telegram.drain_seconds:.1f} s"
        f" ({telegram.invocations} invocation, {telegram.given_back} given back), spaced by the pacing's"
        f" {1 / telegram.configured_per_second:g} s",
        f"(the sender sleeps out each wait). The closest two reached the provider {telegram.closest_gap:.3f} s apart:"
        " slots are reserved",
        "exactly 1 s apart, and the time from a reservation to its request (the claim on moto, building it) varies.",
    ]
    for note in notes:
        print(f"    {note}")


_NAMES = {"whatsapp": "WhatsApp", "telegram": "Telegram"}
