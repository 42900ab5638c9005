"""Exactly once for shop events under what SQS, shops and AWS really do: the same event processed twenty times at
once, a failed or half-done AWS call anywhere in the processor followed by SQS's redelivery, and a shipment's events
arriving in any order."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from itertools import permutations

import pytest

from switchboard.notifications.queue import NotificationQueue
from switchboard.proactive.order_events import Outcome, process
from switchboard.proactive.scheduler import run_scheduler
from switchboard.store.repositories import Repositories
from tests.support.faults import Fault, FaultyClient
from tests.support.orders import PROMISED, T0, Clock, E, QueueProbe, items, rules, shop_event
from tests.support.stack import run_together

pytestmark = pytest.mark.slow

RULES = rules()
_WRITES = frozenset({"TransactWriteItems", "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "SendMessageBatch"})


def notifications(stack) -> list[dict]:
    return [item for item in items(stack, "NOTIFY#") if item["sk"] == "NOTIFY"]


def test_the_same_event_processed_twenty_times_at_once_makes_one_notification(stack):
    # Given a new customer's shipment event, and twenty processors (SQS at-least-once, a visibility timeout lapsing)
    store = Repositories.on(stack.dynamodb, stack.table_name, clock=Clock())
    probe = QueueProbe(stack.sqs)
    event = shop_event(E.SHIPMENT_IN_TRANSIT, promised=PROMISED)
    # When all twenty process it at the same moment
    outcomes = run_together(
        [partial(process, event, store=store, rules_of=lambda: RULES, queue=probe.queue, now=T0, sleep=lambda _: None)]
        * 20
    )
    # Then one recorded it and notified; every other saw a duplicate
    assert sorted(o.outcome for o in outcomes) == [Outcome.DUPLICATE] * 19 + [Outcome.NOTIFIED]
    # And there is one contact, one event record, one notification, queued once
    assert len(stack.contacts()) == 1
    assert len(items(stack, "ORDEREVENT#")) == 1
    (notification,) = notifications(stack)
    assert probe.taken() == [notification["id"]]


def test_any_single_failed_aws_call_of_the_processor_ends_in_the_table_of_a_clean_run(stack):
    """Every DynamoDB and SQS call of processing a new customer's event fails in turn, refused (nothing applied) or
    with its response lost (applied; only writes, since a read whose answer is lost changed nothing), then SQS
    redelivers the event: the table must end as a clean run leaves it, the notification queued (by the processor, or
    by the scheduler when the processor's enqueue failed)."""
    dynamodb, sqs = FaultyClient(stack.dynamodb), FaultyClient(stack.sqs)
    clock = Clock()
    store = Repositories.on(dynamodb, stack.table_name, clock=clock)
    probe = QueueProbe(stack.sqs)
    queue = NotificationQueue(sqs, probe.url)
    event = shop_event(E.SHIPMENT_IN_TRANSIT, promised=PROMISED)

    def deliver() -> Outcome:
        return process(event, store=store, rules_of=lambda: RULES, queue=queue, now=T0, sleep=lambda _: None).outcome

    # Given a clean run, to count its calls and keep the table it leaves
    dynamodb.disarm(), sqs.disarm()
    assert deliver() is Outcome.NOTIFIED
    clean, clean_queued = stack.table_items(), probe.taken()
    calls = [(dynamodb, number, op) for number, op in enumerate(dynamodb.calls, start=1)]
    calls += [(sqs, number, op) for number, op in enumerate(sqs.calls, start=1)]
    assert [op for _, _, op in calls] == [
        "GetItem",  # the event's record: processed before?
        "GetItem",  # the order
        "BatchGetItem",  # the customer's links
        "GetItem",  # the notification: made before?
        "TransactWriteItems",
        "SendMessageBatch",
    ]
    (notification_id,) = clean_queued
    differences = []
    for fault in (Fault.REFUSED, Fault.RESPONSE_LOST):
        for client, call_number, operation in calls:
            if fault is Fault.RESPONSE_LOST and operation not in _WRITES:
                continue
            case = f"call {call_number} ({operation}) {fault.value}"
            stack.empty_table()
            # When that call fails once, and SQS redelivers the event until it is processed
            client.arm(call_number, fault)
            try:
                deliver()
            except Exception:  # noqa: BLE001 - the record fails, as in Lambda; SQS redelivers it
                pass
            dynamodb.disarm(), sqs.disarm()
            outcome = deliver()
            # And the scheduler runs two minutes later, as every minute
            clock.now = T0 + timedelta(minutes=2)
            run_scheduler(
                clock.now,
                store=Repositories.on(stack.dynamodb, stack.table_name),
                queue=probe.queue,
                rules=lambda: RULES,
            )
            clock.now = T0
            # Then the table is the clean run's, but for the scheduler's cursor and the look it took
            after = [i for i in stack.table_items() if i["pk"]["S"] != "NOTIFY#SWEEP"]
            if _without_due_keys(after) != _without_due_keys(clean):
                differences.append(f"{case}: table differs (outcome {outcome})")
            queued = set(probe.taken())
            if queued != {notification_id}:
                differences.append(f"{case}: queued {queued}")
    assert differences == []


def _without_due_keys(table: list[dict]) -> list[dict]:
    # A notification the scheduler queued again is filed for its next look: the same item, another bucket.
    return [{k: v for k, v in item.items() if k != "notify_due_pk"} for item in table]


@pytest.mark.parametrize(
    "order",
    list(permutations([E.SHIPMENT_CREATED, E.SHIPMENT_IN_TRANSIT, E.SHIPMENT_OUT_FOR_DELIVERY, E.SHIPMENT_DELIVERED])),
    ids=lambda types: ">".join(t.value.split(".")[1] for t in types),
)
def test_a_shipments_events_in_any_order_never_send_a_stale_step(stack, order):
    # Given a shipment's four events, each stamped when it happened, an hour apart
    store = Repositories.on(stack.dynamodb, stack.table_name, clock=Clock())
    probe = QueueProbe(stack.sqs)
    happened = {
        E.SHIPMENT_CREATED: T0,
        E.SHIPMENT_IN_TRANSIT: T0 + timedelta(hours=1),
        E.SHIPMENT_OUT_FOR_DELIVERY: T0 + timedelta(hours=2),
        E.SHIPMENT_DELIVERED: T0 + timedelta(hours=3),
    }
    # When they arrive in this order
    notified = []
    for arrival, event_type in enumerate(order):
        now = T0 + timedelta(hours=4, minutes=arrival)
        processed = process(
            shop_event(event_type, at=happened[event_type]),
            store=store,
            rules_of=lambda: RULES,
            queue=probe.queue,
            now=now,
            sleep=lambda _: None,
        )
        if processed.outcome is Outcome.NOTIFIED:
            notified.append(event_type)
    # Then the shipment ends delivered, the delivery is told once, and nothing after it
    state = store.orders.order("generic#minjun-shop#A-1042")
    assert state is not None and state.shipments["S-1"].status is E.SHIPMENT_DELIVERED
    assert notified.count(E.SHIPMENT_DELIVERED) == 1
    assert notified[-1] is E.SHIPMENT_DELIVERED
    # And every step told moved the shipment forward
    ranks = [list(happened).index(t) for t in notified]
    assert ranks == sorted(ranks)
    assert len(notifications(stack)) == len(notified) == len(set(probe.taken()))
