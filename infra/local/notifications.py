"""What `make run` sets up for proactive notifications: the default rule set (so a signed sample shop event produces
a message with no set-up), sending from the fake providers' accounts, and a signed sample Shopify event to curl."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3

from infra.functions import use_layer
from infra.local.samples import SignedSample
from infra.provision import LOCAL_SUPPORT_DOMAIN, REGION, Stack

# The shop's sending accounts on the fake providers: any 40-character sender key, the numbers and ids the other
# samples use (infra/local/samples.py), and an address of the local support domain.
LOCAL_SENDERS = {
    "alimtalk_sender_key": "sb" + "0" * 38,
    "alimtalk_resend_number": "15990000",
    "sms_from": "+15557654321",
    "whatsapp_phone_number_id": "106540352242922",
    "email_from": f"notify@{LOCAL_SUPPORT_DOMAIN}",
}
SAMPLE_SHOP = "switchboard-dev.myshopify.com"
SAMPLE_PHONE = "+821012345678"


def seed_notification_rules(stack: Stack, endpoint_url: str) -> None:
    """Saves the default rules (every shipment and refund event notifies, in Korean, English and Japanese) unless an
    admin already saved some on this state."""
    use_layer()
    from switchboard.notifications.defaults import DEFAULT_RULES
    from switchboard.store.repositories import Repositories
    from switchboard.store.table import WriteConflict

    client = boto3.client("dynamodb", region_name=REGION, endpoint_url=endpoint_url)
    store = Repositories.on(client, str(stack.ref("TicketsTable")))
    if store.notification_rules.in_force().version > 0:
        return
    rules = DEFAULT_RULES.model_copy(update={"senders": DEFAULT_RULES.senders.model_copy(update=LOCAL_SENDERS)})
    try:
        store.notification_rules.save(rules, 0, actor_id="make-run", at=datetime.now(UTC))
    except WriteConflict:
        return  # someone saved meanwhile: theirs stands


def shopify_fulfillment_body(now: datetime) -> dict[str, Any]:
    """A Shopify `fulfillments/create` webhook body for order 1042 of the sample customer, shaped like Shopify's
    Fulfillment resource (REST Admin API)."""
    return {
        "id": 4_512_345_678_901,
        "order_id": 5_101_234_567_890,
        "name": "#1042.1",
        "status": "success",
        "shipment_status": "in_transit",
        "created_at": now.isoformat(),
        "updated_at": now.isoformat(),
        "tracking_company": "CJ대한통운",
        "tracking_number": "6543210987",
        "tracking_numbers": ["6543210987"],
        "tracking_url": "https://trace.cjlogistics.com/next/tracking.html?wblNo=6543210987",
        "tracking_urls": ["https://trace.cjlogistics.com/next/tracking.html?wblNo=6543210987"],
        "email": "min@example.com",
        "destination": {"first_name": "민준", "last_name": "김", "phone": SAMPLE_PHONE, "country_code": "KR"},
        "estimated_delivery_at": (now + timedelta(days=1)).isoformat(),
    }


def write_shopify_sample(state_dir: Path, client_secret: str) -> tuple[SignedSample, dict[str, str]]:
    """Shopify signs the exact bytes it sends (base64 HMAC-SHA256 with the app's client secret), so the file is what
    curl must send; returns the sample and the other headers Shopify sets."""
    body = json.dumps(shopify_fulfillment_body(datetime.now(UTC)), ensure_ascii=False, separators=(",", ":")).encode()
    path = state_dir / "sample-shopify.json"
    path.write_bytes(body)
    signature = base64.b64encode(hmac.new(client_secret.encode(), body, hashlib.sha256).digest()).decode()
    headers = {
        "X-Shopify-Topic": "fulfillments/create",
        "X-Shopify-Shop-Domain": SAMPLE_SHOP,
        "X-Shopify-Event-Id": f"evt-local-{secrets.token_hex(8)}",
        "X-Shopify-Webhook-Id": f"wh-local-{secrets.token_hex(8)}",
        "X-Shopify-API-Version": "2025-07",
    }
    return SignedSample(path=path, signature=signature), headers
