"""The webhook flow called directly (no moto): a channel adapter with a recording queue and given secrets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from switchboard.channels.whatsapp import ADAPTER
from switchboard.queue import InboundQueue
from switchboard.webhooks import handle_webhook_event
from tests.support.drivers.whatsapp import WhatsAppDriver
from tests.support.fakes import RecordingSqs
from tests.support.lambda_events import HttpResponse, http_api_event

QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/switchboard-dev-InboundQueue.fifo"
WHATSAPP = WhatsAppDriver()


def whatsapp_post(body: bytes | None, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    return http_api_event(
        method="POST",
        path=WHATSAPP.webhook_path,
        route_key=f"POST {WHATSAPP.webhook_path}",
        headers=headers,
        body=body,
    )


def call_whatsapp_webhook(
    event: dict[str, Any], *, secrets: Mapping[str, str] = WHATSAPP.secrets, sqs: RecordingSqs | None = None
) -> tuple[HttpResponse, RecordingSqs]:
    sqs = sqs if sqs is not None else RecordingSqs()
    response = handle_webhook_event(event, adapter=ADAPTER, queue=InboundQueue(sqs, QUEUE_URL), secrets=lambda: secrets)
    return HttpResponse.of(response), sqs
