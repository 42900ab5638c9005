"""SQS event-source mappings: poll a queue, invoke the function with Lambda's SQS event, delete what succeeded.

The one local acceleration: a failed record is made visible again after SWITCHBOARD_LOCAL_REDELIVERY_SECONDS
(default 1) instead of waiting out the queue's VisibilityTimeout (180 s in the template), so retries and
dead-lettering can be watched in seconds. Receive counts and the RedrivePolicy's maxReceiveCount are
untouched: moto moves a message to the dead-letter queue when it is received after maxReceiveCount
receives, as SQS does.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from infra.local.workers import Invocation, Invoker
from infra.provision import REGION, Stack
from infra.template import QueueSource

log = logging.getLogger("switchboard.local")

_ERROR_BACKOFF_SECONDS = 1.0


@dataclass(frozen=True)
class QueueBinding:
    """A queue_source of a function, resolved against the provisioned stack."""

    source: QueueSource
    queue_url: str
    queue_arn: str
    region: str

    @classmethod
    def of(cls, source: QueueSource, stack: Stack) -> QueueBinding:
        return cls(
            source=source,
            queue_url=stack.ref(source.queue_logical_id),
            queue_arn=stack.attribute(source.queue_logical_id, "Arn"),
            region=REGION,
        )


def sqs_event(messages: list[dict[str, Any]], binding: QueueBinding) -> dict[str, Any]:
    """The event Lambda's SQS poller builds from ReceiveMessage results."""
    return {"Records": [sqs_record(message, binding.queue_arn) for message in messages]}


def sqs_record(message: Mapping[str, Any], queue_arn: str) -> dict[str, Any]:
    """One received message as the record Lambda hands the function."""
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes") or {}),
        "messageAttributes": {
            name: _message_attribute(value) for name, value in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3],
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def _message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    # Lambda spells SQS's attribute fields in camelCase and hands binary values over as base64 text.
    attribute: dict[str, Any] = {"stringListValues": [], "binaryListValues": [], "dataType": value["DataType"]}
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode("ascii")
    return attribute


def failed_message_ids(invocation: Invocation, batch_ids: list[str], report_batch_item_failures: bool) -> list[str]:
    """Which records go back to the queue, by Lambda's rules for SQS batches."""
    if invocation.failed:
        return list(batch_ids)
    if not report_batch_item_failures:
        return []
    result = invocation.result
    if result is None:
        return []
    failures = result.get("batchItemFailures") if isinstance(result, dict) else None
    if failures is None:
        return [] if isinstance(result, dict) else list(batch_ids)
    ids = [f.get("itemIdentifier") if isinstance(f, dict) else None for f in failures]
    # An empty, null or unknown itemIdentifier makes Lambda treat the whole batch as failed.
    if any(not isinstance(i, str) or i not in batch_ids for i in ids):
        return list(batch_ids)
    return [i for i in batch_ids if i in set(ids)]


@dataclass(frozen=True)
class BatchOutcome:
    """One batch as the event source mapping saw it: records received, records returned to the queue (reported
    in batchItemFailures, or all of them when the invocation failed), and the invocation's error, if any."""

    received: int
    returned: int = 0
    error: dict[str, Any] | None = None


class SqsPoller:
    """One event-source mapping: a thread that long-polls the queue and invokes the function.

    `poll_once` is the mapping's whole rule for one batch (receive, invoke, delete what succeeded, return the
    rest); the in-process test stack drives it directly instead of starting the thread."""

    def __init__(
        self,
        binding: QueueBinding,
        function: Invoker,
        sqs_client,
        redelivery_seconds: int,
        stop: threading.Event,
        wait_seconds: int = 1,
    ) -> None:
        self.binding = binding
        self.function = function
        self._sqs = sqs_client
        self._redelivery_seconds = redelivery_seconds
        self._stop = stop
        self._wait_seconds = wait_seconds
        self._thread = threading.Thread(
            target=self._run, name=f"sqs:{binding.source.queue_logical_id}->{function.name}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except (BotoCoreError, ClientError) as exc:
                if self._stop.is_set():
                    return
                log.warning("polling %s failed: %s", self.binding.source.queue_logical_id, exc)
                self._stop.wait(_ERROR_BACKOFF_SECONDS)

    def poll_once(self) -> BatchOutcome:
        """Receives one batch and processes it."""
        response = self._sqs.receive_message(
            QueueUrl=self.binding.queue_url,
            MaxNumberOfMessages=min(self.binding.source.batch_size, 10),
            WaitTimeSeconds=self._wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages") or []
        if not messages:
            return BatchOutcome(0)
        started = time.monotonic()
        invocation = self.function.invoke(sqs_event(messages, self.binding))
        batch_ids = [m["MessageId"] for m in messages]
        failed = set(failed_message_ids(invocation, batch_ids, self.binding.source.report_batch_item_failures))
        if invocation.failed:
            error = invocation.error or {}
            log.error(
                "%s failed on a batch of %d: %s: %s\n%s",
                self.function.name,
                len(messages),
                error.get("errorType"),
                error.get("errorMessage"),
                "".join(error.get("stackTrace") or []),
            )
        done, retry = self.settle(messages, failed)
        self._delete(done)
        self._redeliver_soon(retry)
        log.info(
            "%s <- %s: %d records, %d done, %d returned to the queue (%d ms)",
            self.function.name,
            self.binding.source.queue_logical_id,
            len(messages),
            len(done),
            len(retry),
            (time.monotonic() - started) * 1000,
        )
        return BatchOutcome(len(messages), len(failed), invocation.error)

    def settle(
        self, messages: list[dict[str, Any]], failed: set[str]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Which received messages are deleted and which go back to the queue."""
        return [m for m in messages if m["MessageId"] not in failed], [m for m in messages if m["MessageId"] in failed]

    def _delete(self, messages: list[dict[str, Any]]) -> None:
        if not messages:
            return
        response = self._sqs.delete_message_batch(
            QueueUrl=self.binding.queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )
        for failure in response.get("Failed") or []:
            log.warning("could not delete a processed message: %s", failure.get("Message"))

    def _redeliver_soon(self, messages: list[dict[str, Any]]) -> None:
        if not messages:
            return
        response = self._sqs.change_message_visibility_batch(
            QueueUrl=self.binding.queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": self._redelivery_seconds}
                for i, m in enumerate(messages)
            ],
        )
        for failure in response.get("Failed") or []:
            log.warning("could not return a failed message to the queue early: %s", failure.get("Message"))
