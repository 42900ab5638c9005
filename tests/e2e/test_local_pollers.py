"""Which SQS records go back to the queue, by Lambda's rules for batch responses."""

from __future__ import annotations

import pytest

from infra.local.pollers import QueueBinding, failed_message_ids, sqs_event
from infra.local.workers import Invocation
from infra.template import QueueSource

pytestmark = pytest.mark.e2e

BATCH = ["m1", "m2", "m3"]


@pytest.mark.parametrize(
    ("invocation", "reports", "returned"),
    [
        (Invocation(error={"errorType": "ValueError"}), True, BATCH),
        (Invocation(error={"errorType": "ValueError"}), False, BATCH),
        (Invocation(result={"batchItemFailures": [{"itemIdentifier": "m2"}]}), True, ["m2"]),
        (Invocation(result={"batchItemFailures": [{"itemIdentifier": "m2"}]}), False, []),
        (Invocation(result={"batchItemFailures": []}), True, []),
        (Invocation(result=None), True, []),
        (Invocation(result={}), True, []),
        (Invocation(result={"batchItemFailures": [{"itemIdentifier": "unknown"}]}), True, BATCH),
        (Invocation(result={"batchItemFailures": [{"itemIdentifier": ""}]}), True, BATCH),
        (Invocation(result={"batchItemFailures": [{"id": "m1"}]}), True, BATCH),
        (Invocation(result="not an object"), True, BATCH),
    ],
    ids=[
        "error-reporting",
        "error-plain",
        "partial",
        "partial-ignored-without-reporting",
        "empty-list",
        "null",
        "empty-object",
        "unknown-id",
        "empty-id",
        "bad-key",
        "invalid-response",
    ],
)
def test_records_returned_to_the_queue(invocation, reports, returned):
    assert failed_message_ids(invocation, BATCH, reports) == returned


def test_sqs_event_has_lambdas_record_shape():
    binding = QueueBinding(
        QueueSource("InboundQueue", 10, True),
        "http://q/InboundQueue.fifo",
        "arn:aws:sqs:us-east-1:123456789012:q.fifo",
        "us-east-1",
    )
    message = {
        "MessageId": "m1",
        "ReceiptHandle": "r1",
        "Body": "{}",
        "MD5OfBody": "99914b932bd37a50b983c5e7c90ae93b",
        "Attributes": {"ApproximateReceiveCount": "1", "MessageGroupId": "g", "MessageDeduplicationId": "d"},
        "MessageAttributes": {
            "trace": {"DataType": "String", "StringValue": "t"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x01"},
        },
    }
    (record,) = sqs_event([message], binding)["Records"]
    assert record["messageId"] == "m1"
    assert record["receiptHandle"] == "r1"
    assert record["attributes"]["MessageGroupId"] == "g"
    assert record["messageAttributes"]["trace"] == {
        "stringValue": "t",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert record["messageAttributes"]["blob"]["binaryValue"] == "AQ=="
    assert (record["eventSource"], record["eventSourceARN"], record["awsRegion"]) == (
        "aws:sqs",
        binding.queue_arn,
        "us-east-1",
    )
    assert record["md5OfBody"] == message["MD5OfBody"]
