"""`python -m infra.redrive` against SQS FIFO queues (moto in-process)."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from infra.redrive import dead_letter_queue_of, main, redrive, redriven_deduplication_id
from infra.template import load_template

pytestmark = pytest.mark.e2e


@pytest.fixture
def queues():
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        fifo = {"FifoQueue": "true", "ContentBasedDeduplication": "false"}
        dlq = sqs.create_queue(QueueName="inbound-dlq.fifo", Attributes=fifo)["QueueUrl"]
        queue = sqs.create_queue(QueueName="inbound.fifo", Attributes=fifo)["QueueUrl"]
        yield sqs, queue, dlq


def _bodies_by_group(sqs, url) -> list[tuple[str, str, str]]:
    found = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages", [])
        if not messages:
            return found
        for m in messages:
            found.append((m["Attributes"]["MessageGroupId"], m["Body"], m["Attributes"]["MessageDeduplicationId"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def test_redrive_moves_every_dead_letter_back_in_group_order_with_new_deduplication_ids(queues):
    # Given dead letters of two conversations, more than one receive batch of them
    sqs, queue, dlq = queues
    sent = [(f"conversation-{i % 2}", f"event-{i}") for i in range(13)]
    for index, (group, body) in enumerate(sent):
        sqs.send_message(QueueUrl=dlq, MessageBody=body, MessageGroupId=group, MessageDeduplicationId=f"dedup-{index}")

    # When they are redriven
    result = redrive(sqs, queue, dlq, now_ms=lambda: 1700000000000)

    # Then all are back on the source queue, each conversation in its order, under fresh dedup ids
    assert (result.moved, result.failed) == (13, 0)
    assert _bodies_by_group(sqs, dlq) == []
    moved = _bodies_by_group(sqs, queue)
    for group in ("conversation-0", "conversation-1"):
        assert [body for g, body, _ in moved if g == group] == [body for g, body in sent if g == group]
    assert all(dedup.endswith(":redrive:1700000000000") for _, _, dedup in moved)


def test_an_empty_dead_letter_queue_moves_nothing(queues):
    sqs, queue, dlq = queues
    assert redrive(sqs, queue, dlq).moved == 0


def test_explicit_queue_urls_skip_the_local_state(queues, capsys, tmp_path):
    # Given one dead letter and no local stack state at all
    sqs, queue, dlq = queues
    sqs.send_message(QueueUrl=dlq, MessageBody="event", MessageGroupId="g", MessageDeduplicationId="d")

    # When redrive is pointed at the queues directly (as against AWS)
    code = main(["--queue-url", queue, "--dlq-url", dlq, "--region", "us-east-1", "--state-dir", str(tmp_path)])

    # Then it moves the message and says so
    assert code == 0
    assert capsys.readouterr().out.startswith("moved 1 message(s)")
    assert [body for _, body, _ in _bodies_by_group(sqs, queue)] == ["event"]


def test_without_a_running_stack_it_says_how_to_start_one(tmp_path):
    with pytest.raises(SystemExit, match="make run"):
        main(["--state-dir", str(tmp_path)])


def test_dead_letter_queue_comes_from_the_templates_redrive_policy():
    assert dead_letter_queue_of(load_template(), "InboundQueue") == "InboundDeadLetterQueue"


def test_long_deduplication_ids_stay_within_the_sqs_limit():
    short = redriven_deduplication_id("abc", 1)
    long = redriven_deduplication_id("x" * 128, 1)
    assert short == "abc:redrive:1"
    assert len(long) <= 128 and long != redriven_deduplication_id("x" * 128, 2)
