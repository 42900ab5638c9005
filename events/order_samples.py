"""Sample events of the shop events and notifications functions: a signed Shopify fulfillment, the processor's
queue record for it, the sender's queue record, NHN Cloud's AlimTalk result, and the notification rules' admin
routes. Signed with the sample secrets below, which the function probe seeds (tests/infra/function_probe.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from switchboard.notifications.defaults import DEFAULT_RULES
from switchboard.orders.events import OrderCustomer, OrderEvent, OrderEventType, OrderInfo, OrderSource, ShipmentInfo
from switchboard.orders.queue import deduplication_id, group_id
from tests.support.lambda_events import ACCOUNT_ID, REGION, http_api_event, sqs_record

SAMPLE_SECRETS = {
    "shopify": {"client_secret": "sample-shopify-client-secret"},
    "orders": {"signing_key": "sample-orders-signing-key"},
    "alimtalk": {
        "app_key": "sample-alimtalk-app-key",
        "secret_key": "sample-alimtalk-secret-key",
        "webhook_secret": "sample-alimtalk-webhook-secret",
    },
}
ORDER_EVENTS_QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:switchboard-dev-OrderEventsQueue-5KD2N8QW1R7T.fifo"
NOTIFICATION_QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:switchboard-dev-NotificationQueue-9PZ3H6VB2M4X"
SHOP = "minjun-store.myshopify.com"
FULFILLMENT = {
    "id": 4512345678901,
    "order_id": 5101234567890,
    "name": "#1042.1",
    "status": "success",
    "shipment_status": "in_transit",
    "created_at": "2026-12-03T09:00:00+09:00",
    "updated_at": "2026-12-03T09:00:00+09:00",
    "tracking_company": "CJ대한통운",
    "tracking_number": "6543210987",
    "tracking_numbers": ["6543210987"],
    "tracking_url": "https://trace.cjlogistics.com/next/tracking.html?wblNo=6543210987",
    "tracking_urls": ["https://trace.cjlogistics.com/next/tracking.html?wblNo=6543210987"],
    "email": "min@example.com",
    "destination": {"first_name": "민준", "last_name": "김", "phone": "+821012345678", "country_code": "KR"},
}
EVENT = OrderEvent(
    source=OrderSource.SHOPIFY,
    shop=SHOP,
    event_id="fulfillments/update:4512345678901:98880550-7158-44d4-b7cd-2c97c8a091b5",
    type=OrderEventType.SHIPMENT_IN_TRANSIT,
    occurred_at=datetime(2026, 12, 3, 0, 0, tzinfo=UTC),
    order=OrderInfo(
        id="5101234567890",
        number="1042",
        customer=OrderCustomer(phone="+821012345678", email="min@example.com", name="김민준"),
    ),
    shipment=ShipmentInfo(
        id="4512345678901",
        carrier="CJ대한통운",
        tracking_number="6543210987",
        tracking_url="https://trace.cjlogistics.com/next/tracking.html?wblNo=6543210987",
    ),
    provider_status="fulfillments/update:in_transit",
)


def build_order_events(
    event_id: Callable[[str], uuid.UUID], agent_request: Callable[..., dict[str, Any]], admin_claims: dict[str, str]
) -> dict[str, dict[str, Any]]:
    body = json.dumps(FULFILLMENT, ensure_ascii=False, separators=(",", ":")).encode()
    signature = base64.b64encode(
        hmac.new(SAMPLE_SECRETS["shopify"]["client_secret"].encode(), body, hashlib.sha256).digest()
    ).decode()
    results = {
        "hooksId": "202612030900001010sample",
        "webhookConfigId": "sample-webhook-config",
        "productName": "KakaoTalk Bizmessage",
        "appKey": SAMPLE_SECRETS["alimtalk"]["app_key"],
        "event": "MESSAGE_RESULT_UPDATE",
        "hooks": [
            {
                "hookId": "202612030900051010sample",
                "kakaoMessageType": "ALIMTALK",
                "requestId": "20261203090000sample",
                "recipientSeq": 1,
                "requestDate": "2026-12-03 09:00:00.000",
                "createDate": "2026-12-03 09:00:01.000",
                "receiveDate": "2026-12-03 09:00:05.000",
                "recipientNo": "01012345678",
                "resultCode": "1000",
                "senderGroupingKey": "sb" + "0" * 38,
                "recipientGroupingKey": "ntf_sample",
            }
        ],
    }
    results_body = json.dumps(results, ensure_ascii=False).encode()
    return {
        "shopify-fulfillment.json": http_api_event(
            method="POST",
            path="/webhooks/shopify",
            route_key="POST /webhooks/shopify",
            headers={
                "content-type": "application/json",
                "user-agent": "Shopify-Captain-Hook",
                "x-shopify-topic": "fulfillments/update",
                "x-shopify-shop-domain": SHOP,
                "x-shopify-event-id": "98880550-7158-44d4-b7cd-2c97c8a091b5",
                "x-shopify-webhook-id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
                "x-shopify-triggered-at": "2026-12-03T00:00:01Z",
                "x-shopify-api-version": "2025-07",
                "x-shopify-hmac-sha256": signature,
            },
            body=body,
            request_id=event_id("request:shopify").hex[:16],
        ),
        "order-events-batch.json": {
            "Records": [
                sqs_record(
                    message_id=str(event_id("order-event")),
                    receipt_handle="AQEB" + event_id("receipt:order-event").hex * 4,
                    body=EVENT.model_dump_json(),
                    attributes={
                        "ApproximateReceiveCount": "1",
                        "SentTimestamp": "1764720001000",
                        "SenderId": "AROAZ2RJ4EXAMPLE5N7QK:switchboard-dev-OrderWebhookFunction",
                        "ApproximateFirstReceiveTimestamp": "1764720001040",
                        "MessageGroupId": group_id(EVENT.order_key),
                        "MessageDeduplicationId": deduplication_id(EVENT.dedup_key),
                        "SequenceNumber": "18887442331800124001",
                    },
                    queue_arn=ORDER_EVENTS_QUEUE_ARN,
                )
            ]
        },
        "notification-sender-batch.json": {
            "Records": [
                sqs_record(
                    message_id=str(event_id("notification")),
                    receipt_handle="AQEB" + event_id("receipt:notification").hex * 4,
                    body=json.dumps({"notification_id": "ntf_sample"}),
                    attributes={
                        "ApproximateReceiveCount": "1",
                        "SentTimestamp": "1764720002000",
                        "SenderId": "AROAZ2RJ4EXAMPLE5N7QK:switchboard-dev-OrderEventsFunction",
                        "ApproximateFirstReceiveTimestamp": "1764720002040",
                    },
                    queue_arn=NOTIFICATION_QUEUE_ARN,
                )
            ]
        },
        "alimtalk-results.json": http_api_event(
            method="POST",
            path="/webhooks/alimtalk",
            route_key="POST /webhooks/alimtalk",
            headers={
                "content-type": "application/json;charset=UTF-8",
                "x-toast-webhook-signature": SAMPLE_SECRETS["alimtalk"]["webhook_secret"],
            },
            body=results_body,
            request_id=event_id("request:alimtalk").hex[:16],
        ),
        "notification-rules-get.json": agent_request(
            "notification-rules", "GET /admin/notification-rules", claims=admin_claims
        ),
        "notification-rules-put.json": agent_request(
            "notification-rules-put",
            "PUT /admin/notification-rules",
            body=json.loads(DEFAULT_RULES.model_dump_json(exclude={"version"})),
            headers={"if-match": "0"},
            claims=admin_claims,
        ),
    }
