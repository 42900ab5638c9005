"""Applies each queued shop event to its order once and creates the one notification it calls for."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from switchboard import runtime
from switchboard.models import utc_now
from switchboard.observability import logger, metrics
from switchboard.proactive.order_events import process_order_events


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    return process_order_events(
        event.get("Records", []),
        store=runtime.repositories(),
        rules_of=runtime.notification_rules,
        queue=runtime.notification_queue(),
        now=utc_now(),
    )
