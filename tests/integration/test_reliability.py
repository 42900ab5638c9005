"""Exactly-once under what providers, SQS and AWS really do: redeliveries, concurrent writers, and a
failed or half-done AWS call anywhere in the writer. Written against the channel driver, so every
channel runs the same suite."""

from datetime import UTC, datetime, timedelta
from functools import partial

import pytest

from switchboard.models import DeliveryStatus
from tests.support.agents import agent_replies
from tests.support.faults import Fault, FaultyClient
from tests.support.stack import run_together

pytestmark = pytest.mark.slow

SENT = datetime(2025, 6, 8, 21, 0, tzinfo=UTC)


def test_same_webhook_delivered_twenty_times_lands_once(stack, channel, queue_dedup_window_lapsed):
    # Given one customer message, as the provider signs and sends it
    driver = channel.driver
    message_id, customer = driver.message_id("delivered-twenty-times"), driver.customer(1, "김민준")
    body = driver.text_message(customer, message_id=message_id, text="주문 취소할게요", sent_at=SENT)
    # When the provider delivers it five times, each after the writer has finished with the last copy,
    # then fifteen times at once while three writers drain the queue side by side
    for _ in range(5):
        assert channel.deliver(body).status == 200
        stack.drain_queue()
    responses = run_together([partial(channel.deliver, body)] * 15)
    report = stack.drain_queue(workers=3)
    # Then every delivery was acknowledged, and the ticket holds the message once
    assert {response.status for response in responses} == {200}
    assert report.failed_records == 0
    found = stack.only_ticket()
    assert [m["external_id"] for m in found["messages"]] == [driver.external_id(customer, message_id)]
    assert (found["ticket"]["number"], found["ticket"]["message_count"]) == (1, 1)
    assert len(stack.contacts()) == 1
    assert stack.dead_lettered_count() == 0


def test_same_queued_message_handed_to_ten_writers_at_once_lands_once(stack, channel):
    # Given a queued message (SQS is at-least-once: a visibility timeout can lapse mid-write)
    driver = channel.driver
    message_id, customer = driver.message_id("ten-writers"), driver.customer(1)
    channel.deliver(driver.text_message(customer, message_id=message_id, text="hello?", sent_at=SENT))
    (queued,) = stack.take_queued()
    # When ten writers receive it at the same moment
    responses = run_together([partial(stack.invoke, stack.writer, stack.writer_event([queued]))] * 10)
    # Then all succeed and the message is stored once
    assert [r["batchItemFailures"] for r in responses] == [[]] * 10
    found = stack.only_ticket()
    assert [m["external_id"] for m in found["messages"]] == [driver.external_id(customer, message_id)]
    assert found["ticket"]["message_count"] == 1


def test_twenty_first_messages_from_a_new_customer_written_at_once_make_one_ticket(stack, channel):
    # Given a new customer sent twenty messages in twenty seconds
    driver = channel.driver
    customer = driver.customer(2, "이서연")
    for n in range(20):
        body = driver.text_message(
            customer,
            message_id=driver.message_id(f"burst-{n}"),
            text=f"메시지 {n}",
            sent_at=SENT + timedelta(seconds=n),
        )
        assert channel.deliver(body).status == 200
    queued = stack.take_queued()
    assert len(queued) == 20
    # When twenty writers each get one of them, all starting together, and failed records come back
    # the same way until none fail (before SQS would dead-letter them)
    pending, receive_count = queued, 0
    while pending:
        receive_count += 1
        assert receive_count < stack.max_receive_count, f"{len(pending)} records would have been dead-lettered"
        outcomes = run_together(
            [partial(stack.write, stack.writer_event([m], receive_count=receive_count)) for m in pending]
        )
        pending = [message for message, outcome in zip(pending, outcomes, strict=True) if outcome.failed]
    # Then there is one contact and one ticket, number 1, with the twenty messages in the order sent
    (contact,) = stack.contacts()
    found = stack.only_ticket()
    ticket = found["ticket"]
    assert (ticket["number"], ticket["message_count"], ticket["requester"]["contact_id"]) == (1, 20, contact.id)
    assert [m["text"] for m in found["messages"]] == [f"메시지 {n}" for n in range(20)]
    assert [m["created_at"] for m in found["messages"]] == sorted(m["created_at"] for m in found["messages"])
    first_and_last = (ticket["first_customer_message_at"], ticket["last_customer_message_at"])
    if driver.stamps_messages:
        assert first_and_last == ("2025-06-08T21:00:00Z", "2025-06-08T21:00:19Z")
    else:
        # Kakao and Twilio send no time with a message: its arrival stands in for when it was sent.
        assert first_and_last == (found["messages"][0]["created_at"], found["messages"][-1]["created_at"])


class DayOfTraffic:
    """A scenario touching every path of the writer, captured as the webhooks enqueued it, replayable
    into an empty table: a new customer, their next message, a provider redelivery; then an agent's
    reply, its receipts, the customer's answer, a second new customer, a stray receipt.

    Ticket numbers follow the order tickets are opened in, and SQS FIFO orders messages only within a
    conversation: when one conversation's record fails, another's may open its ticket first and take
    the lower number. That is no loss and no double, but it would make two honest runs differ, so
    each half of the day opens one ticket.
    """

    def __init__(self, stack, channel):
        self.stack = stack
        driver = channel.driver
        minjun, seoyeon = driver.customer(1, "김민준"), driver.customer(2, "이서연")
        self.reply_id = driver.message_id("agent-reply")

        def text(customer, label, words, minutes):
            return driver.text_message(
                customer, message_id=driver.message_id(label), text=words, sent_at=SENT + timedelta(minutes=minutes)
            )

        before_reply = [
            text(minjun, "m1", "주문한 신발이 아직 안 왔어요", 0),
            text(minjun, "m2", "주문번호 2025-0608-17", 1),
            text(minjun, "m1", "주문한 신발이 아직 안 왔어요", 0),
        ]
        after_reply = [text(minjun, "m3", "감사합니다!", 20), text(seoyeon, "s1", "사이즈 교환 가능한가요?", 21)]
        if driver.supports_receipts:
            at = SENT + timedelta(minutes=16)
            after_reply[:0] = [
                driver.receipt(minjun, message_id=self.reply_id, status=DeliveryStatus.DELIVERED, at=at),
                driver.receipt(
                    minjun, message_id=self.reply_id, status=DeliveryStatus.READ, at=at + timedelta(minutes=1)
                ),
            ]
            after_reply.append(
                driver.receipt(seoyeon, message_id=driver.message_id("never-sent"), status=DeliveryStatus.READ, at=at)
            )
        self.before_reply = self._enqueued(channel, before_reply)
        self.after_reply = self._enqueued(channel, after_reply)

    def _enqueued(self, channel, bodies):
        for body in bodies:
            assert channel.deliver(body).status == 200
        return self.stack.take_queued()

    def replay(self, *, at_least_once: bool = False) -> tuple[list, list]:
        """Runs the writer over the captured traffic from an empty table; the table after each half."""
        self.stack.empty_table()
        self.stack.enqueue(self.before_reply)
        self.stack.drain_queue(at_least_once=at_least_once)
        halfway = self.stack.table_items()
        store = self.stack.repositories()
        # The first half opens one ticket, the first customer's (found by position: channels such as
        # Messenger and LINE carry no display names for a requester to be found by).
        (ticket,) = store.tickets.list_tickets(status=None, limit=100, cursor=None).tickets
        agent_replies(
            store, ticket.id, external_id=self.reply_id, text="오늘 출고됩니다.", at=SENT + timedelta(minutes=15)
        )
        self.stack.enqueue(self.after_reply)
        self.stack.drain_queue(at_least_once=at_least_once)
        assert self.stack.dead_lettered_count() == 0
        return halfway, self.stack.table_items()


_WRITES = frozenset({"TransactWriteItems", "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"})


def test_any_single_failed_writer_call_is_redelivered_to_the_same_final_table(
    stack, channel, queue_dedup_window_lapsed
):
    # Given a day of traffic, delivered once through the webhook, and the writer's DynamoDB client
    # wrapped so that one chosen call fails
    traffic = DayOfTraffic(stack, channel)
    writer_dynamodb: FaultyClient = stack.wrap_runtime_client("dynamodb", FaultyClient)
    # And the table a run without faults leaves, and the calls the writer makes on the way
    writer_dynamodb.disarm()
    clean = traffic.replay()
    calls = list(writer_dynamodb.calls)
    # Enough calls to cover the writer's paths (a channel without receipts, such as Instagram, makes 15)
    assert len(calls) >= 15 and "TransactWriteItems" in calls
    # When each call in turn fails once, in each way a call can fail, and SQS redelivers. Two ways cover all three:
    # an unreachable endpoint fails before the request leaves, as a refused one does, so our code takes the same
    # path; and a read whose answer is lost changed nothing, as a refused read did, so only writes lose theirs.
    differences = []
    for fault in (Fault.REFUSED, Fault.RESPONSE_LOST):
        for call_number, operation in enumerate(calls, start=1):
            if fault is Fault.RESPONSE_LOST and operation not in _WRITES:
                continue
            writer_dynamodb.arm(call_number, fault)
            outcome = traffic.replay()
            if outcome != clean:
                halfway_or_end = "before the agent's reply" if outcome[0] != clean[0] else "at the end"
                differences.append(f"call {call_number} ({operation}) {fault.value}: table differs {halfway_or_end}")
    # Then every run ends with exactly the table of the clean run: nothing lost, nothing doubled
    assert differences == []


def test_every_record_delivered_twice_leaves_the_same_table(stack, channel, queue_dedup_window_lapsed):
    # Given a day of traffic and the table it leaves when each record is delivered once
    traffic = DayOfTraffic(stack, channel)
    once = traffic.replay()
    # When SQS delivers every record a second time after the writer succeeded
    twice = traffic.replay(at_least_once=True)
    # Then the table is the same
    assert twice == once
