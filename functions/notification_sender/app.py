"""Sends each queued notification once, on the contact's channel or the next of the shop's fallback chain."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from switchboard import runtime
from switchboard.observability import logger, metrics
from switchboard.proactive.sender import send_notification_batch


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    return send_notification_batch(event, sender=runtime.notification_sender(), queue=runtime.notification_queue())
