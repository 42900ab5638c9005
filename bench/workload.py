"""The traffic every benchmark replays and the harness around the functions.

Webhooks come from the WhatsApp test driver (Meta's payload shape and signature, tests/support/drivers),
and the events Lambda hands the functions from tests/support/lambda_events, so the bench measures
exactly the shapes the tests exercise.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from infra.template import FunctionSpec, functions
from tests.support.drivers.whatsapp import WhatsAppDriver
from tests.support.lambda_events import http_api_event, sqs_event, sqs_record

WHATSAPP = WhatsAppDriver()
FIRST_SENT_AT = datetime(2025, 6, 8, 21, 0, 0, tzinfo=UTC)
WEBHOOK = "WhatsAppWebhookFunction"
WRITER = "TicketWriterFunction"


def function_spec(stack, logical_id: str) -> FunctionSpec:
    return next(spec for spec in functions(stack.template) if spec.logical_id == logical_id)


def text_webhook(customer: int, sequence: int) -> bytes:
    """The body Meta posts when customer number `customer` sends their message number `sequence`."""
    return WHATSAPP.text_message(
        WHATSAPP.customer(customer, f"Customer {customer}"),
        message_id=WHATSAPP.message_id(f"bench:{customer}:{sequence}"),
        text=f"Hi, my order #{4000 + customer} has not arrived yet. Could you check? ({sequence})",
        sent_at=FIRST_SENT_AT + timedelta(seconds=sequence),
    )


def webhook_delivery(body: bytes) -> dict[str, Any]:
    """Meta's signed POST of `body`, as API Gateway passes it to the webhook function."""
    path = WHATSAPP.webhook_path
    return http_api_event(method="POST", path=path, route_key=f"POST {path}", headers=WHATSAPP.headers(body), body=body)


def inbound_events(customers: int, messages_per_customer: int, first_customer: int = 0) -> list:
    """Normalized events, through the real WhatsApp adapter, interleaved across customers as traffic is."""
    from switchboard.channels.whatsapp import ADAPTER

    received_at = datetime.now(UTC)
    events = []
    for sequence in range(messages_per_customer):
        for customer in range(first_customer, first_customer + customers):
            events.extend(ADAPTER.parse(text_webhook(customer, sequence), received_at=received_at))
    return events


def writer_batch(events: list, queue_arn: str) -> dict[str, Any]:
    """The event Lambda's SQS FIFO event source passes the writer for one batch of queued events."""
    from switchboard import queue

    records = []
    for event in events:
        body = queue.encode(event)
        attributes = {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": str(int(time.time() * 1000)),
            "MessageGroupId": queue.message_group_id(event),
            "MessageDeduplicationId": queue.deduplication_id(event),
        }
        message_id = hashlib.sha256(body.encode()).hexdigest()[:32]
        records.append(
            sqs_record(
                message_id=message_id, receipt_handle=message_id, body=body, attributes=attributes, queue_arn=queue_arn
            )
        )
    return sqs_event(records)


@contextlib.contextmanager
def hooked_default_session(handlers: dict[str, Callable[..., None]]) -> Iterator[None]:
    """A fresh boto3 default session with botocore event handlers registered. The functions' clients are
    created from it (switchboard.runtime calls boto3.client), so the handlers see exactly their calls."""
    import boto3

    boto3.setup_default_session(region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    for event_name, handler in handlers.items():
        boto3.DEFAULT_SESSION.events.register(event_name, handler)
    try:
        yield
    finally:
        boto3.DEFAULT_SESSION = None


@contextlib.contextmanager
def function_environment(variables: dict[str, str]) -> Iterator[None]:
    """Sets a function's template environment and forgets the per-container wiring built under another one."""
    from switchboard import runtime

    saved = dict(os.environ)
    os.environ.update(variables)
    runtime.reset()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        runtime.reset()


@contextlib.contextmanager
def logs_discarded() -> Iterator[None]:
    """Functions log and emit metrics to stdout as in Lambda (so the cost is measured); nobody reads them here."""
    from switchboard.observability import logger

    handler = logger.registered_handler
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        previous = handler.setStream(devnull)
        try:
            yield
        finally:
            handler.setStream(previous)
