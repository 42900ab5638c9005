"""Inbound webhook flow for every channel: verify, then parse, then enqueue; nothing is stored before verify."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeIs

from switchboard.channels.base import Acknowledges, AnswersHandshake, ChannelAdapter
from switchboard.errors import MethodNotAllowed, SwitchboardError
from switchboard.http import error_response, json_response, text_response
from switchboard.http_request import WebhookRequest, check_body_size
from switchboard.models import utc_now
from switchboard.observability import logger, metrics
from switchboard.proof import ChannelSecrets, require_proof_covers
from switchboard.queue import InboundQueue


def handle_webhook_event(
    event: Mapping[str, Any],
    adapter: ChannelAdapter,
    queue: InboundQueue,
    secrets: Callable[[], ChannelSecrets],
) -> dict[str, Any]:
    """Serves a channel's webhook route: GET is the provider's subscription handshake, POST a delivery."""
    try:
        request = WebhookRequest.from_http_api_event(event)
        if request.method == "GET" and _answers_handshake(adapter):
            return text_response(200, adapter.answer_handshake(request, secrets()))
        if request.method != "POST":
            raise MethodNotAllowed(f"{request.method} is not served on this webhook")
        return _receive(request, adapter, queue, secrets())
    except SwitchboardError as error:
        logger.warning(
            "webhook rejected", extra={"webhook": adapter.webhook, "error": error.code, "reason": error.message}
        )
        metrics.add_metric(name=f"WebhookRejected_{error.code}", unit="Count", value=1)
        return error_response(error)


def _receive(
    request: WebhookRequest, adapter: ChannelAdapter, queue: InboundQueue, secrets: ChannelSecrets
) -> dict[str, Any]:
    check_body_size(request.body, adapter.max_body_bytes)
    account_id = adapter.verify(request, secrets)
    events = adapter.parse(request.body, received_at=utc_now(), account_id=account_id)
    # Adapters whose proof is an account's secret (proof_secret names it) may only file events under
    # accounts that secret belongs to.
    if adapter.proof_secret:
        require_proof_covers(events, secrets, adapter.proof_secret, account_id)
    if events:
        queue.send(events)
    # DEBUG, not INFO: the metric counts deliveries; a line per delivery would cost more to ingest than its queue send.
    logger.debug("webhook accepted", extra={"webhook": adapter.webhook, "events": len(events)})
    metrics.add_metric(name="InboundEventsEnqueued", unit="Count", value=len(events))
    if _acknowledges(adapter):
        return adapter.acknowledge(events)
    return json_response(200, {"received": len(events)})


def _answers_handshake(adapter: object) -> TypeIs[AnswersHandshake]:
    return _has_capability(adapter, AnswersHandshake)


def _acknowledges(adapter: object) -> TypeIs[Acknowledges]:
    return _has_capability(adapter, Acknowledges)


# An adapter's capabilities are its class's. isinstance against a runtime-checkable Protocol inspects the members
# on every call, about 10 µs when they do not match (most adapters, every POST); once per class costs nothing.
_CAPABILITIES: dict[tuple[type, type], bool] = {}


def _has_capability(adapter: object, capability: type) -> bool:
    known = _CAPABILITIES.get((type(adapter), capability))
    if known is None:
        known = _CAPABILITIES[(type(adapter), capability)] = issubclass(type(adapter), capability)
    return known
