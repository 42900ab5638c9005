"""What 1 M agents' replies cost: the quantities per reply that cost.reply_model prices, from this run.

A WhatsApp reply takes its whole round trip (bench/replies.py round_trip) on moto, in-process: the agent's POST
through TicketChangesFunction, the outbound queue's message through ChannelSenderFunction to the fake Cloud API
(infra/fakes, in this process), and each signed status webhook the fake posts back through
WhatsAppWebhookFunction and the inbound queue to TicketWriterFunction. As in cost.py, each function runs as
deployed with its clients on a boto3 session whose hooks count, time and size every AWS request, and its log
output is captured and counted; the sender's calls to the provider are timed too, so that the billed duration
puts an assumed provider answer time (cost.PROVIDER_SEND_MS) in place of the fake's. DynamoDB units are those
of section 1 (bench/replies.py measure_units), taken on their own stack.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

from bench import replies
from bench.cost import (
    API_METERING_BYTES,
    CallClock,
    FunctionFigures,
    Invocation,
    ReplyMeasured,
    _invoke,
    _log_level,
    _logs_captured,
    _memory_mb,
)
from bench.workload import hooked_default_session

CUSTOMERS = 5
REPLIES_PER_TICKET = 2
SECRET_READ = "Secrets Manager GetSecretValue"


def measure(stack, fakes, units: replies.ReplyUnits) -> ReplyMeasured:
    """`fakes` is an in-process FakeProviders accepting `stack`'s secrets: its receipts are taken and posted."""
    from switchboard import runtime
    from switchboard.channels.sending import SendHttp

    level = _log_level(stack)
    clock = CallClock()
    invocations: dict[str, list[Invocation]] = {}
    posted_bytes: list[int] = []
    original_post = SendHttp.post

    def timed_post(self, *args: Any, **kwargs: Any):
        started = time.perf_counter_ns()
        try:
            return original_post(self, *args, **kwargs)
        finally:
            clock.current.provider_ns += time.perf_counter_ns() - started
            clock.current.provider_calls += 1

    def clocked(function: replies.Function, event: dict[str, Any], step: str, detail: str) -> Any:
        if step in (replies.ACCEPTED, replies.RECEIPT_WEBHOOK):
            posted_bytes.append(len(event["body"].encode()))
        with _logs_captured(level) as captured:
            result, invocation = _invoke(function.handler, event, function.context(), clock, captured)
        invocations.setdefault(function.logical_id, []).append(invocation)
        return result

    tickets = replies.customers_write(
        stack, replies.WHATSAPP, range(CUSTOMERS), sent_at=datetime.now(UTC) - timedelta(minutes=5)
    )
    with hooked_default_session(clock.hooks), mock.patch.object(SendHttp, "post", timed_post):
        receipts = replies.round_trip(stack, fakes, tickets, REPLIES_PER_TICKET, clocked, discard_logs=False)

    def warm(logical_id: str) -> FunctionFigures:
        # Each function's first invocation is its cold start (clients built, secret read): left out.
        return FunctionFigures(logical_id, _memory_mb(stack.template, logical_id), invocations[logical_id][1:])

    sender = invocations[replies.SENDER]
    count = CUSTOMERS * REPLIES_PER_TICKET
    return ReplyMeasured(
        replies=count,
        replies_per_ticket=REPLIES_PER_TICKET,
        receipts=receipts,
        api_requests=sum(max(1, -(-size // API_METERING_BYTES)) for size in posted_bytes) / count,
        api=warm(replies.API),
        sender=warm(replies.SENDER),
        webhook=warm(replies.webhook_of(stack, replies.WHATSAPP)),
        writer=warm(replies.WRITER),
        units=units.total(),
        units_replies=units.replies,
        log_level=level,
        sender_secret_reads_cold=sender[0].calls[SECRET_READ],
        sender_secret_reads_warm=sum(invocation.calls[SECRET_READ] for invocation in sender[1:]),
        secret_max_age_seconds=runtime.SECRET_MAX_AGE_SECONDS,
    )
