"""Sample events for the Messenger and Instagram webhook functions (written by events/generate.py).

Messenger bodies are Meta's samples in tests/fixtures/providers/messenger, byte for byte, where one exists
(text, attachment, delivery); the echo and every Instagram body are built field by field from Meta's
webhook reference by tests/support/drivers/messenger.py. All are signed as Meta signs them, with the
sample app secret, and the handshakes use the sample verify token.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tests.support.drivers.messenger import (
    INSTAGRAM_ACCOUNT_ID,
    SAMPLE_VERIFY_TOKEN,
    InstagramDriver,
    MessengerDriver,
    attachment_event,
    echo_event,
    encode,
    instagram_mid,
    seen_event,
    text_event,
    webhook,
)
from tests.support.lambda_events import http_api_event
from tests.support.paths import provider_fixture

MESSENGER = MessengerDriver()
INSTAGRAM = InstagramDriver()
# Meta's echo example, on the page and customer of the fixtures.
MESSENGER_ECHO = {
    "object": "page",
    "entry": [
        {
            "id": "<PAGE_ID>",
            "time": 1458692760000,
            "messaging": [
                echo_event(
                    mid="mid.1458692759627:b4ef9d19ec21086067",
                    customer="<PSID>",
                    timestamp=1458692759627,
                    account="<PAGE_ID>",
                    text="Thanks, we are on it!",
                )
            ],
        }
    ],
}
IG_CUSTOMER = "6350000000004821"
IG_SENT = 1749416383000  # 2025-06-08T20:59:43Z
IG_CDN_URL = "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=17961234567890123&signature=AbQ9sample"


def _instagram(*events: dict[str, Any]) -> bytes:
    return encode(webhook(*events, account=INSTAGRAM_ACCOUNT_ID, object_="instagram"))


# (file name, driver, body, when API Gateway received it)
_WEBHOOK_SAMPLES: list[tuple[str, MessengerDriver, Callable[[], bytes], datetime]] = [
    (
        "messenger-text.json",
        MESSENGER,
        lambda: provider_fixture("messenger", "text.json"),
        datetime(2016, 3, 23, 0, 25, 53, tzinfo=UTC),
    ),
    (
        "messenger-attachment.json",
        MESSENGER,
        lambda: provider_fixture("messenger", "attachment.json"),
        datetime(2018, 2, 12, 23, 46, 36, tzinfo=UTC),
    ),
    ("messenger-echo.json", MESSENGER, lambda: encode(MESSENGER_ECHO), datetime(2016, 3, 23, 0, 26, tzinfo=UTC)),
    (
        "messenger-delivery.json",
        MESSENGER,
        lambda: provider_fixture("messenger", "delivery.json"),
        datetime(2016, 3, 22, 17, 47, 37, tzinfo=UTC),
    ),
    (
        "instagram-text.json",
        INSTAGRAM,
        lambda: _instagram(
            text_event(
                mid=instagram_mid("sample-text"),
                customer=IG_CUSTOMER,
                text="이 가방 다른 색상도 있나요?",
                timestamp=IG_SENT,
                account=INSTAGRAM_ACCOUNT_ID,
            )
        ),
        datetime(2025, 6, 8, 20, 59, 44, tzinfo=UTC),
    ),
    (
        "instagram-attachment.json",
        INSTAGRAM,
        lambda: _instagram(
            attachment_event(
                mid=instagram_mid("sample-attachment"),
                customer=IG_CUSTOMER,
                attachments=[{"type": "image", "payload": {"url": IG_CDN_URL}}],
                timestamp=IG_SENT + 20_000,
                account=INSTAGRAM_ACCOUNT_ID,
            )
        ),
        datetime(2025, 6, 8, 21, 0, 4, tzinfo=UTC),
    ),
    (
        "instagram-echo.json",
        INSTAGRAM,
        lambda: _instagram(
            echo_event(
                mid=instagram_mid("sample-echo"),
                customer=IG_CUSTOMER,
                timestamp=IG_SENT + 120_000,
                account=INSTAGRAM_ACCOUNT_ID,
                text="네, 블랙과 베이지가 있어요.",
            )
        ),
        datetime(2025, 6, 8, 21, 1, 44, tzinfo=UTC),
    ),
    (
        "instagram-seen.json",
        INSTAGRAM,
        lambda: _instagram(
            seen_event(customer=IG_CUSTOMER, mid=instagram_mid("sample-echo"), timestamp=IG_SENT + 180_000)
        ),
        datetime(2025, 6, 8, 21, 2, 44, tzinfo=UTC),
    ),
]


def build_meta_messaging_events(request_id: Callable[[str], uuid.UUID]) -> dict[str, dict[str, Any]]:
    """File name -> event for the Messenger and Instagram webhook functions."""
    events: dict[str, dict[str, Any]] = {}
    for name, driver, body_of, arrived_at in _WEBHOOK_SAMPLES:
        body = body_of()
        events[name] = http_api_event(
            method="POST",
            path=driver.webhook_path,
            route_key=f"POST {driver.webhook_path}",
            headers=driver.headers(body),
            body=body,
            request_id=request_id(f"request:{name}").hex[:16],
            at=arrived_at,
        )
    for driver in (MESSENGER, INSTAGRAM):
        events[f"{driver.name}-handshake.json"] = http_api_event(
            method="GET",
            path=driver.webhook_path,
            route_key=f"GET {driver.webhook_path}",
            headers={"user-agent": "facebookplatform/1.0 (+http://developers.facebook.com)"},
            query={"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": SAMPLE_VERIFY_TOKEN},
            request_id=request_id(f"request:{driver.name}-handshake").hex[:16],
            at=datetime(2025, 6, 8, 20, 0, tzinfo=UTC),
        )
    return events
