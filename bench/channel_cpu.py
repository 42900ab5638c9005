"""CPU time each channel's webhook spends per delivery, next to the least any webhook must do.

Every channel's test driver (tests/support/drivers) builds a signed text delivery in its provider's
real shape; the function runs as deployed with only the queue (a no-op) and the secret source (the
driver's sample secrets, as they are for five minutes after the first read) replaced. The baseline is
HMAC-SHA256 over the body plus decoding it (json.loads, or parse_qsl for Twilio's form posts).
Handler and baseline alternate on the same body, timed with time.process_time_ns.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from unittest import mock
from urllib.parse import parse_qsl

from bench.webhook_cpu import DiscardingQueue, Percentiles, _percentiles
from bench.workload import function_environment, logs_discarded
from infra.functions import LambdaContext, load_function
from infra.template import functions
from tests.support.drivers import DRIVERS, ChannelDriver
from tests.support.lambda_events import http_api_event

WARM_UP = 200
SENT_AT = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


@dataclass(frozen=True)
class ChannelCpu:
    channel: str
    body_bytes: int
    handler: Percentiles
    baseline: Percentiles


def _webhook_function(stack, driver: ChannelDriver):
    return next(
        spec
        for spec in functions(stack.template)
        if any(route.method == "POST" and route.path == driver.webhook_path for route in spec.routes)
    )


def _baseline(body: bytes, key: bytes) -> None:
    hmac.new(key, body, hashlib.sha256).hexdigest()
    if body.startswith(b"{"):
        json.loads(body)
    else:
        parse_qsl(body.decode())


def measure_channel(stack, driver: ChannelDriver, requests: int) -> ChannelCpu:
    from switchboard import runtime

    spec = _webhook_function(stack, driver)
    body = driver.text_message(
        driver.customer(1, "김민준"), message_id=driver.message_id("bench"), text="주문한 상품이 아직 안 왔어요", sent_at=SENT_AT
    )
    path = driver.webhook_path
    event = http_api_event(method="POST", path=path, route_key=f"POST {path}", headers=driver.headers(body), body=body)
    context = LambdaContext(spec.logical_id, "bench-channel", spec.timeout)
    key = b"baseline-signing-key"
    queue = DiscardingQueue()
    secrets = dict(driver.secrets)
    samples: dict[str, list[int]] = {"handler": [], "baseline": []}
    with (
        function_environment(stack.environment_of(spec.logical_id)),
        logs_discarded(),
        mock.patch.object(runtime, "inbound_queue", lambda url: queue),
        mock.patch.object(runtime, "secret_source", lambda arn: lambda: secrets),
    ):
        handler = load_function(spec)
        response = handler(event, context)
        if response["statusCode"] != 200:
            raise RuntimeError(f"{driver.name} refused the benchmark delivery: {response['statusCode']}")
        for round_number in range(WARM_UP + requests):
            started = time.process_time_ns()
            handler(event, context)
            handler_ns = time.process_time_ns() - started
            started = time.process_time_ns()
            _baseline(body, key)
            baseline_ns = time.process_time_ns() - started
            if round_number >= WARM_UP:
                samples["handler"].append(handler_ns)
                samples["baseline"].append(baseline_ns)
    return ChannelCpu(driver.name, len(body), _percentiles(samples["handler"]), _percentiles(samples["baseline"]))


def measure(stack, requests: int = 3_000) -> list[ChannelCpu]:
    return [measure_channel(stack, driver, requests) for driver in DRIVERS]
