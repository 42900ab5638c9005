"""Ticket writer throughput on moto (in-process), next to a bare put_item loop.

Both sides run in the same process against the same moto backend, interleaved batch by batch, so drift
in machine speed weighs on both; the baseline writes into a table of its own with the same key schema,
so it does not grow the writer's table. The ratio, not the absolute rate, is the figure: moto is far
slower than DynamoDB, and its TransactWriteItems deep-copies the table once per item (to roll back),
so each transaction costs more as the table grows. The time the writer spends inside DynamoDB calls is
measured with botocore before-call/after-call hooks, to tell moto's share from the writer's own."""

from __future__ import annotations

import time
from dataclasses import dataclass

import boto3

from bench.workload import (
    WRITER,
    function_environment,
    function_spec,
    hooked_default_session,
    inbound_events,
    logs_discarded,
    writer_batch,
)
from infra.functions import LambdaContext, load_function
from infra.provision import REGION

SQS_BATCH_SIZE = 10


@dataclass(frozen=True)
class Throughput:
    messages: int
    customers: int
    writer_seconds: float
    writer_seconds_in_dynamodb: float
    put_item_seconds: float

    @property
    def writer_per_second(self) -> float:
        return self.messages / self.writer_seconds

    @property
    def put_item_per_second(self) -> float:
        return self.messages / self.put_item_seconds


def measure(stack, customers: int = 30, messages_per_customer: int = 10) -> Throughput:
    spec = function_spec(stack, WRITER)
    table = stack.ref("TicketsTable")
    queue_arn = stack.attribute("InboundQueue", "Arn")
    # Customer 0's message warms both sides up (client creation, first imports); customers 1..n are measured.
    (warm_up,) = inbound_events(customers=1, messages_per_customer=1)
    events = inbound_events(customers, messages_per_customer, first_customer=1)
    batches = [events[i : i + SQS_BATCH_SIZE] for i in range(0, len(events), SQS_BATCH_SIZE)]
    bare = boto3.Session(region_name=REGION).client("dynamodb")
    baseline_table = f"{table}-put-item-baseline"
    schema = bare.describe_table(TableName=table)["Table"]
    bare.create_table(
        TableName=baseline_table,
        KeySchema=schema["KeySchema"],
        AttributeDefinitions=[
            a
            for a in schema["AttributeDefinitions"]
            if a["AttributeName"] in {k["AttributeName"] for k in schema["KeySchema"]}
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    in_dynamodb = [0.0]

    def call_started(context, **_) -> None:
        context["bench_started"] = time.perf_counter()

    def call_finished(context, **_) -> None:
        in_dynamodb[0] += time.perf_counter() - context["bench_started"]

    def put_items(batch, offset: int) -> None:
        # The same number of items, each carrying the queued event's JSON, one unconditional put each.
        for index, event in enumerate(batch):
            bare.put_item(
                TableName=baseline_table,
                Item={
                    "pk": {"S": f"BENCH#{offset + index}"},
                    "sk": {"S": "PUT"},
                    "event": {"S": event.model_dump_json()},
                },
            )

    hooks = {"before-call.dynamodb": call_started, "after-call.dynamodb": call_finished}
    with function_environment(stack.environment_of(WRITER)), logs_discarded(), hooked_default_session(hooks):
        handler = load_function(spec)
        context = LambdaContext(WRITER, "bench-throughput", spec.timeout)
        handler(writer_batch([warm_up], queue_arn), context)
        put_items([warm_up], offset=-1)

        in_dynamodb[0] = writer_seconds = put_item_seconds = 0.0
        for number, batch in enumerate(batches):
            started = time.perf_counter()
            result = handler(writer_batch(batch, queue_arn), context)
            writer_seconds += time.perf_counter() - started
            if result["batchItemFailures"]:
                raise RuntimeError(f"the writer failed records: {result['batchItemFailures']}")
            started = time.perf_counter()
            put_items(batch, offset=number * SQS_BATCH_SIZE)
            put_item_seconds += time.perf_counter() - started

    return Throughput(len(events), customers, writer_seconds, in_dynamodb[0], put_item_seconds)
