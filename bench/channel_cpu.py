"""CPU time each channel's webhook spends per delivery, next to the least any webhook must do.

Every channel's test driver (tests/support/drivers) builds a signed text delivery in its provider's
real shape; the function runs as deployed with only its outputs (a no-op queue, or for the mail webhooks a
no-op mail bucket and replay-token store) and the secret source (the driver's sample secrets, as they are
for five minutes after the first read) replaced. The baseline is HMAC-SHA256 over the body plus decoding
it (json.loads; parse_qsl for form posts; for SendGrid's multipart/form-data, splitting the body at its
boundary into header and value). Handler, baseline and (for mail) verify + extract alternate on the same
body, each call timed with time.process_time_ns.

The mail webhooks' own work is verify + extract (the proof, then the raw mail out of the provider's body)
and one S3 put of that mail; verify + extract is also timed alone, next to the same baseline. SES has no
webhook (its receipt rule writes the mail bucket), so it has nothing to time here.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from unittest import mock
from urllib.parse import parse_qsl

from bench.webhook_cpu import DiscardingQueue
from bench.workload import Percentiles, function_environment, interleaved_cpu, logs_discarded
from infra.functions import LambdaContext, load_function
from infra.template import functions
from tests.support.drivers import DRIVERS, ChannelDriver
from tests.support.drivers.email import SendGridDriver
from tests.support.lambda_events import http_api_event

WARM_UP = 200
NO_WEBHOOK = "no webhook: SES's receipt rule writes the mail bucket itself (see 1b)"
SENT_AT = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
SIGNED_SENDGRID = "sendgrid+sig"


@dataclass(frozen=True)
class ChannelCpu:
    channel: str
    body_bytes: int
    handler: Percentiles
    baseline: Percentiles
    # The mail webhooks only: their verify + extract, without Powertools and the bucket write.
    logic: Percentiles | None = None


@dataclass(frozen=True)
class Skipped:
    channel: str
    reason: str


class DiscardingMailBucket:
    """Stands in for the mail bucket: takes the raw mail and stores nothing."""

    name = "bench-discarded"

    def put_delivery(self, provider: str, raw_mime: bytes, provider_id: str | None) -> str:
        return f"inbound/{provider}/discarded"


class GrantingTokens:
    """Stands in for the replay-token claim in DynamoDB (Mailgun): every token is new."""

    def claim_replay_token(self, provider: str, token: str, body_sha256: str, expires_at: datetime) -> bool:
        return True


class GrantingRepositories:
    replay_tokens = GrantingTokens()


def _webhook_function(stack, driver: ChannelDriver):
    return next(
        spec
        for spec in functions(stack.template)
        if any(route.method == "POST" and route.path == driver.webhook_path for route in spec.routes)
    )


def _mail_webhook(provider: str):
    from switchboard.email.providers.mailgun import MailgunWebhook
    from switchboard.email.providers.postmark import PostmarkWebhook
    from switchboard.email.providers.sendgrid import SendGridWebhook

    return {"mailgun": MailgunWebhook, "postmark": PostmarkWebhook, "sendgrid": SendGridWebhook}[provider]()


def _baseline(body: bytes, content_type: str, key: bytes) -> None:
    hmac.new(key, body, hashlib.sha256).hexdigest()
    if content_type.startswith("multipart/form-data"):
        boundary = b"--" + content_type.partition("boundary=")[2].encode()
        [part.partition(b"\r\n\r\n") for part in body.split(boundary)]
    elif body.startswith(b"{"):
        json.loads(body)
    else:
        parse_qsl(body.decode())


def _verify_and_extract(driver: ChannelDriver, event: dict, secrets: dict[str, str], max_age_seconds: int):
    """A mail webhook's own work on `event`: check the provider's proof, then take the raw mail out."""
    from switchboard.http_request import WebhookRequest
    from switchboard.models import utc_now

    webhook = _mail_webhook(driver.provider)
    request = WebhookRequest.from_http_api_event(event)

    def run() -> None:
        webhook.verify(request, secrets, utc_now(), max_age_seconds)
        webhook.extract(request)

    return run


def measure_channel(stack, driver: ChannelDriver, requests: int, label: str | None = None) -> ChannelCpu:
    from switchboard import runtime
    from switchboard.models import Channel

    spec = _webhook_function(stack, driver)
    message = driver.text_message(
        driver.customer(1, "김민준"),
        message_id=driver.message_id("bench"),
        text="주문한 상품이 아직 안 왔어요",
        sent_at=SENT_AT,
    )
    # Mailgun's proof travels inside the form: `request` adds it to the body.
    headers, body = driver.request(message)
    path = driver.webhook_path
    event = http_api_event(method="POST", path=path, route_key=f"POST {path}", headers=headers, body=body)
    context = LambdaContext(spec.logical_id, "bench-channel", spec.timeout)
    content_type = headers.get("content-type", "")
    key = b"baseline-signing-key"
    queue = DiscardingQueue()
    secrets = dict(driver.secrets)
    is_mail = driver.channel is Channel.EMAIL
    with (
        function_environment(stack.environment_of(spec.logical_id)),
        logs_discarded(),
        mock.patch.object(runtime, "inbound_queue", lambda url: queue),
        mock.patch.object(runtime, "mail_bucket", lambda name: DiscardingMailBucket()),
        mock.patch.object(runtime, "repositories", GrantingRepositories),
        mock.patch.object(runtime, "secret_source", lambda arn: lambda: secrets),
    ):
        handler = load_function(spec)
        response = handler(event, context)
        if response["statusCode"] != 200:
            raise RuntimeError(f"{driver.name} refused the benchmark delivery: {response}")
        runs = {"handler": lambda: handler(event, context), "baseline": lambda: _baseline(body, content_type, key)}
        if is_mail:
            max_age_seconds = runtime.mail_webhook_settings().max_age_seconds
            runs["logic"] = _verify_and_extract(driver, event, secrets, max_age_seconds)
        timed = interleaved_cpu(runs, requests, WARM_UP)
    return ChannelCpu(
        label or (driver.provider if is_mail else driver.name),
        len(body),
        timed["handler"],
        timed["baseline"],
        timed["logic"] if is_mail else None,
    )


def measure(stack, requests: int = 3_000) -> list[ChannelCpu | Skipped]:
    rows: list[ChannelCpu | Skipped] = []
    for driver in DRIVERS:
        if not driver.has_webhook:
            rows.append(Skipped(getattr(driver, "provider", driver.name), NO_WEBHOOK))
        elif isinstance(driver, SendGridDriver):
            # With and without a security policy: basic auth alone, then basic auth and the ECDSA signature.
            rows.append(measure_channel(stack, SendGridDriver(signed=False), requests))
            rows.append(measure_channel(stack, driver, requests, label=SIGNED_SENDGRID))
        else:
            rows.append(measure_channel(stack, driver, requests))
    return rows
