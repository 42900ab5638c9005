"""Sample events for the LINE and Telegram webhook functions (written by events/generate.py).

Bodies are the provider samples in tests/fixtures/providers/line and tests/fixtures/providers/telegram, byte for
byte: LINE's is signed with the sample channel secret as LINE signs it (x-line-signature), Telegram's
carry the sample secret token in X-Telegram-Bot-Api-Secret-Token, as Telegram sends it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.drivers.line import LineDriver
from tests.support.drivers.telegram import TelegramDriver
from tests.support.lambda_events import http_api_event
from tests.support.paths import provider_fixture

LINE = LineDriver()
TELEGRAM = TelegramDriver()
# (event file, channel, fixture)
SAMPLES = [
    ("line-text-and-image.json", "line", "text-and-image.json"),
    ("telegram-text.json", "telegram", "text.json"),
    ("telegram-document.json", "telegram", "document.json"),
]


def build_line_telegram_events(ids: Callable[[str], uuid.UUID]) -> dict[str, dict[str, Any]]:
    events: dict[str, dict[str, Any]] = {}
    for name, channel, fixture in SAMPLES:
        driver = LINE if channel == "line" else TELEGRAM
        body = provider_fixture(channel, fixture)
        events[name] = http_api_event(
            method="POST",
            path=driver.webhook_path,
            route_key=f"POST {driver.webhook_path}",
            headers=driver.headers(body),
            body=body,
            request_id=ids(f"request:{name}").hex[:16],
            at=_sent_at(channel, body) + timedelta(seconds=1),
        )
    return events


def _sent_at(channel: str, body: bytes) -> datetime:
    sample = json.loads(body)
    if channel == "line":
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(
            milliseconds=max(event["timestamp"] for event in sample["events"])
        )
    return datetime.fromtimestamp(sample["message"]["date"], UTC)
