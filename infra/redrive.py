"""Moves dead-lettered inbound messages back onto the inbound queue (`make redrive`).

By default it reads the running local stack's .switchboard/local.json (SWITCHBOARD_STATE_DIR
overrides the directory). With --queue-url and --dlq-url and no --endpoint-url it runs against AWS
with the usual credential chain.

Each message is sent again with its MessageGroupId, so a conversation keeps its order, and a new
MessageDeduplicationId: SQS FIFO would silently drop a resend of the same id within its 5-minute
deduplication window. Nothing is written twice because the ticket writer deduplicates by the
provider's message id in the table. A message is deleted from the dead-letter queue only after the
send succeeded; if the delete then fails, the message is moved again on the next run, which the
writer's deduplication makes harmless.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.template import ROOT, load_template, resources_of_type

SOURCE_QUEUE = "InboundQueue"
_MAX_DEDUPLICATION_ID = 128
_BATCH = 10


@dataclass(frozen=True)
class RedriveTarget:
    queue_url: str
    dlq_url: str
    endpoint_url: str | None
    region: str | None


@dataclass(frozen=True)
class RedriveResult:
    moved: int
    failed: int


def dead_letter_queue_of(template: dict[str, Any], source_logical_id: str) -> str:
    """The logical id of the queue the source's RedrivePolicy dead-letters into."""
    props = resources_of_type(template, "AWS::SQS::Queue")[source_logical_id]["Properties"]
    target = props["RedrivePolicy"]["deadLetterTargetArn"]
    return target["Fn::GetAtt"][0]


def redriven_deduplication_id(original: str | None, moment_ms: int) -> str:
    candidate = f"{original or 'none'}:redrive:{moment_ms}"
    if len(candidate) <= _MAX_DEDUPLICATION_ID:
        return candidate
    return hashlib.sha256(candidate.encode()).hexdigest()


def redrive(sqs, queue_url: str, dlq_url: str, now_ms=lambda: int(time.time() * 1000)) -> RedriveResult:
    """Moves every message visible on the dead-letter queue back to the source queue."""
    fifo = queue_url.endswith(".fifo")
    moved = failed = 0
    while True:
        response = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=_BATCH,
            WaitTimeSeconds=1,
            # Long enough to send and delete; a message we could not move reappears afterwards.
            VisibilityTimeout=60,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages") or []
        if not messages:
            return RedriveResult(moved, failed)
        entries = []
        for index, message in enumerate(messages):
            entry: dict[str, Any] = {"Id": str(index), "MessageBody": message["Body"]}
            if message.get("MessageAttributes"):
                entry["MessageAttributes"] = message["MessageAttributes"]
            if fifo:
                attributes = message.get("Attributes") or {}
                entry["MessageGroupId"] = attributes["MessageGroupId"]
                entry["MessageDeduplicationId"] = redriven_deduplication_id(
                    attributes.get("MessageDeduplicationId"), now_ms()
                )
            entries.append(entry)
        sent = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        sent_ids = {int(s["Id"]) for s in sent.get("Successful") or []}
        for failure in sent.get("Failed") or []:
            print(
                f"could not resend {messages[int(failure['Id'])]['MessageId']}: {failure.get('Message')}",
                file=sys.stderr,
            )
        done = [messages[i] for i in sorted(sent_ids)]
        if done:
            deleted = sqs.delete_message_batch(
                QueueUrl=dlq_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
            for failure in deleted.get("Failed") or []:
                print(
                    f"resent but could not delete from the dead-letter queue: {failure.get('Message')}", file=sys.stderr
                )
        moved += len(done)
        failed += len(messages) - len(done)
        if len(done) < len(messages):
            # A FIFO group with an unsent message must not have later messages overtake it; stop here.
            return RedriveResult(moved, failed)


def _local_target(state_dir: Path) -> RedriveTarget:
    state_path = state_dir / "local.json"
    if not state_path.exists():
        raise SystemExit(
            f"{state_path} not found: start the local stack with `make run`, or pass --queue-url and --dlq-url"
        )
    state = json.loads(state_path.read_text())
    resources = state["resources"]
    return RedriveTarget(
        queue_url=resources[SOURCE_QUEUE],
        dlq_url=resources[dead_letter_queue_of(load_template(), SOURCE_QUEUE)],
        endpoint_url=state["aws_endpoint_url"],
        region=state["region"],
    )


def _client(target: RedriveTarget):
    import boto3

    if target.endpoint_url is None:
        return boto3.client("sqs", region_name=target.region)
    # The local stack's moto takes any credentials; a developer's AWS profile must not be used for it.
    return boto3.client(
        "sqs",
        endpoint_url=target.endpoint_url,
        region_name=target.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.redrive", description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--queue-url", help="source queue to move messages back to (with --dlq-url: skip local.json)")
    parser.add_argument("--dlq-url", help="dead-letter queue to drain")
    parser.add_argument("--endpoint-url", help="SQS endpoint; omit to use AWS")
    parser.add_argument("--region", help="AWS region (default: from the environment or the queue URL)")
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=Path(os.environ.get("SWITCHBOARD_STATE_DIR") or ROOT / ".switchboard"),
        help="directory of the local stack's local.json",
    )
    args = parser.parse_args(argv)
    if bool(args.queue_url) != bool(args.dlq_url):
        parser.error("--queue-url and --dlq-url go together")
    if args.queue_url:
        target = RedriveTarget(
            args.queue_url, args.dlq_url, args.endpoint_url, args.region or _region_of(args.queue_url)
        )
    else:
        target = _local_target(args.state_dir)
    result = redrive(_client(target), target.queue_url, target.dlq_url)
    print(f"moved {result.moved} message(s) from {target.dlq_url} to {target.queue_url}")
    if result.failed:
        print(f"{result.failed} message(s) could not be moved and stay in the dead-letter queue", file=sys.stderr)
        return 1
    return 0


def _region_of(queue_url: str) -> str | None:
    # https://sqs.<region>.amazonaws.com/<account>/<name>
    host = queue_url.split("/")[2] if "://" in queue_url else ""
    parts = host.split(".")
    return (
        parts[1]
        if len(parts) > 3 and parts[0] == "sqs"
        else os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    )


if __name__ == "__main__":
    sys.exit(main())
