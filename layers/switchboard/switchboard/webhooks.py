"""Inbound webhook flow for every channel: verify, then parse, then enqueue; nothing is stored before verify."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from switchboard.channels.base import ChannelAdapter, ChannelSecrets, WebhookRequest, check_body_size, require_proof_covers
from switchboard.errors import MethodNotAllowed, SwitchboardError
from switchboard.http import error_response, json_response, text_response
from switchboard.models import utc_now
from switchboard.observability import logger, metrics
from switchboard.queue import InboundQueue

# A route's body cap when its adapter names none (MAX_BODY_BYTES in each adapter, listed in README).
DEFAULT_MAX_BODY_BYTES = 1024 * 1024


def handle_webhook_event(
    event: Mapping[str, Any],
    adapter: ChannelAdapter,
    queue: InboundQueue,
    secrets: Callable[[], ChannelSecrets],
) -> dict[str, Any]:
    """Serves a channel's webhook route: GET is the provider's subscription handshake, POST a delivery."""
    try:
        request = WebhookRequest.from_http_api_event(event)
        if request.method == "GET" and hasattr(adapter, "answer_handshake"):
            return text_response(200, adapter.answer_handshake(request, secrets()))
        if request.method != "POST":
            raise MethodNotAllowed(f"{request.method} is not served on this webhook")
        return _receive(request, adapter, queue, secrets())
    except SwitchboardError as error:
        logger.warning("webhook rejected", extra={"channel": adapter.name, "error": error.code, "reason": error.message})
        metrics.add_metric(name=f"WebhookRejected_{error.code}", unit="Count", value=1)
        return error_response(error)


def _receive(request: WebhookRequest, adapter: ChannelAdapter, queue: InboundQueue, secrets: ChannelSecrets) -> dict[str, Any]:
    check_body_size(request.body, getattr(adapter, "max_body_bytes", DEFAULT_MAX_BODY_BYTES))
    account_id = adapter.verify(request, secrets)
    events = adapter.parse(request.body, received_at=utc_now(), account_id=account_id)
    # Adapters whose proof is an account's secret (proof_secret names it) may only file events under
    # accounts that secret belongs to.
    if proof_secret := getattr(adapter, "proof_secret", None):
        require_proof_covers(events, secrets, proof_secret, account_id)
    if events:
        queue.send(events)
    # DEBUG, not INFO: the metric counts deliveries; a line per delivery would cost more to ingest than its queue send.
    logger.debug("webhook accepted", extra={"channel": adapter.name, "events": len(events)})
    metrics.add_metric(name="InboundEventsEnqueued", unit="Count", value=len(events))
    acknowledge = getattr(adapter, "acknowledge", None)
    return acknowledge(events) if acknowledge else json_response(200, {"received": len(events)})
