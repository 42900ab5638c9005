"""CPU time the WhatsApp webhook spends per delivery, next to the least any webhook must do.

The handler runs as deployed (Powertools logging and metrics included, output discarded) with only the
queue and the secret source replaced: a no-op queue, and the secret already in hand, as it is for five
minutes after the first read. The baseline is HMAC-SHA256 of the body plus json.loads of it. Each
request is timed with time.process_time_ns, alternating handler, logic and baseline on the same body.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from unittest import mock

from bench.workload import (
    WEBHOOK,
    Percentiles,
    function_environment,
    function_spec,
    interleaved_cpu,
    logs_discarded,
    text_webhook,
    webhook_delivery,
)
from infra.functions import LambdaContext, load_function

WARM_UP = 300


class DiscardingQueue:
    """Stands in for the SQS queue: accepts every event and does nothing."""

    def send(self, events) -> None:
        pass


@dataclass(frozen=True)
class WebhookCpu:
    requests: int
    body_bytes: int
    handler: Percentiles
    logic: Percentiles
    baseline: Percentiles


def measure(stack, requests: int = 10_000) -> WebhookCpu:
    from switchboard import runtime
    from switchboard.channels.whatsapp import ADAPTER
    from switchboard.webhooks import handle_webhook_event

    spec = function_spec(stack, WEBHOOK)
    channel_secrets = stack.channel_secrets["whatsapp"]
    app_secret = channel_secrets["app_secret"].encode()
    body = text_webhook(customer=7, sequence=1)
    event = webhook_delivery(body)
    queue = DiscardingQueue()
    context = LambdaContext(WEBHOOK, "bench-webhook", spec.timeout)

    def run_handler() -> None:
        response = handler(event, context)
        if response["statusCode"] != 200:
            raise RuntimeError(f"the webhook refused the benchmark delivery: {response}")

    def run_logic() -> None:
        handle_webhook_event(event, adapter=ADAPTER, queue=queue, secrets=lambda: channel_secrets)

    def run_baseline() -> None:
        hmac.new(app_secret, body, hashlib.sha256).hexdigest()
        json.loads(body)

    with (
        function_environment(stack.environment_of(WEBHOOK)),
        logs_discarded(),
        mock.patch.object(runtime, "inbound_queue", lambda url: queue),
        mock.patch.object(runtime, "secret_source", lambda arn: lambda: channel_secrets),
    ):
        handler = load_function(spec)
        timed = interleaved_cpu(
            {"handler": run_handler, "logic": run_logic, "baseline": run_baseline}, requests, WARM_UP
        )

    return WebhookCpu(
        requests=requests,
        body_bytes=len(body),
        handler=timed["handler"],
        logic=timed["logic"],
        baseline=timed["baseline"],
    )
