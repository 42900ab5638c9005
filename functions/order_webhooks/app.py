"""POST /webhooks/shopify, POST /orders/events and the orders EventBridge bus: verify, answer 202 (or duplicate),
queue the shop event per order."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from switchboard import runtime
from switchboard.models import utc_now
from switchboard.observability import logger, metrics
from switchboard.orders.intake import accept_order_event


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    settings = runtime.order_webhook_settings()
    store = runtime.repositories()
    return accept_order_event(
        event,
        secrets_of=runtime.order_secrets(),
        queue=runtime.order_event_queue(settings.order_events_queue_url),
        seen=lambda dedup_key: store.orders.event_seen(dedup_key),
        now=utc_now(),
    )
