"""The largest delivery each chat webhook takes within its 10-second timeout.

For each channel, the delivery with the most events its route's body cap lets in (the smallest events the
provider batches: WhatsApp statuses, Messenger delivery receipts, LINE follow events), verified, parsed,
encoded and sent through InboundQueue as deployed. SQS is a stand-in that sleeps SQS_LATENCY_SECONDS per
SendMessageBatch (an assumption: a 10-entry batch in the same region, measured by AWS users at 10-30 ms),
so the figure is CPU measured here plus the queue's round trips on eight lanes. Twilio, Telegram and Kakao
carry one event per request.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from switchboard.channels.line import ADAPTER as LINE
from switchboard.channels.meta_messaging import MESSENGER
from switchboard.channels.whatsapp import ADAPTER as WHATSAPP
from switchboard.http_request import WebhookRequest
from switchboard.models import utc_now
from switchboard.queue import InboundQueue
from tests.support.drivers.line import line_signature
from tests.support.drivers.messenger import meta_signature

SQS_LATENCY_SECONDS = 0.02
TIMEOUT_SECONDS = 10
SECRETS = {"app_secret": "sample-app-secret", "channel_secret": "sample-line-channel-secret"}


class LatentSqs:
    def send_message_batch(self, *, QueueUrl, Entries):
        time.sleep(SQS_LATENCY_SECONDS)
        return {"Successful": [{"Id": entry["Id"]} for entry in Entries], "Failed": []}


@dataclass(frozen=True)
class LargeDelivery:
    channel: str
    body_bytes: int
    events: int
    seconds: float

    @property
    def events_within_timeout(self) -> int:
        return int(self.events * TIMEOUT_SECONDS / self.seconds)


def _whatsapp(count: int) -> bytes:
    statuses = [
        {
            "id": f"wamid.{index:020d}",
            "status": "delivered",
            "timestamp": "1749416383",
            "recipient_id": f"8210{index % 10**8:08d}",
        }
        for index in range(count)
    ]
    value = {"messaging_product": "whatsapp", "metadata": {"phone_number_id": "106540352242922"}, "statuses": statuses}
    return json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}],
        }
    ).encode()


def _messenger(count: int) -> bytes:
    events = [
        {
            "sender": {"id": f"{index:016d}"},
            "recipient": {"id": "104532198765432"},
            "delivery": {"mids": [f"m_{index:020d}"], "watermark": 1749416384000},
        }
        for index in range(count)
    ]
    return json.dumps(
        {"object": "page", "entry": [{"id": "104532198765432", "time": 1749416384000, "messaging": events}]}
    ).encode()


def _line(count: int) -> bytes:
    events = [
        {
            "type": "follow",
            "timestamp": 1749416384000,
            "source": {"type": "user", "userId": f"U{index:032x}"},
            "webhookEventId": f"01{index:024d}",
            "mode": "active",
        }
        for index in range(count)
    ]
    return json.dumps({"destination": "U4af4980629e2a1f7bfbbc1bdf3f0a7c1", "events": events}).encode()


def _largest(build: Callable[[int], bytes], cap: int) -> bytes:
    low, high = 1, 1
    while len(build(high)) <= cap:
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if len(build(middle)) <= cap else (low, middle)
    return build(low)


def _time(adapter, body: bytes, headers: dict[str, str]) -> tuple[int, float]:
    request = WebhookRequest(method="POST", path="/webhooks/bench", headers=headers, query={}, body=body)
    started = time.perf_counter()
    account = adapter.verify(request, SECRETS)
    events = adapter.parse(body, received_at=utc_now(), account_id=account)
    InboundQueue(LatentSqs(), "https://sqs.bench/queue.fifo").send(events)
    return len(events), time.perf_counter() - started


def measure() -> list[LargeDelivery]:
    rows = []
    for name, adapter, build, sign in (
        ("whatsapp", WHATSAPP, _whatsapp, lambda body: {"x-hub-signature-256": meta_signature(body)}),
        ("messenger", MESSENGER, _messenger, lambda body: {"x-hub-signature-256": meta_signature(body)}),
        ("line", LINE, _line, lambda body: {"x-line-signature": line_signature(body)}),
    ):
        body = _largest(build, adapter.max_body_bytes)
        events, seconds = _time(adapter, body, sign(body))
        rows.append(LargeDelivery(name, len(body), events, seconds))
    return rows


def report(rows: list[LargeDelivery]) -> None:
    print(
        f"\n6b. Largest delivery per chat webhook (body cap, smallest events; SQS {SQS_LATENCY_SECONDS * 1000:.0f} ms per batch, 8 lanes)"
    )
    print(f"   {'channel':<10} {'body bytes':>10} {'events':>8} {'seconds':>8} {'events in 10 s':>15}")
    for row in rows:
        print(
            f"   {row.channel:<10} {row.body_bytes:>10,} {row.events:>8,} {row.seconds:>8.2f} {row.events_within_timeout:>15,}"
        )


if __name__ == "__main__":
    report(measure())
