"""Sends each queued agent reply through its channel's provider, once (outbound FIFO queue → provider)."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from switchboard import runtime
from switchboard.observability import logger, metrics
from switchboard.outbound.batch import send_batch


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    queue = runtime.outbound_queue(runtime.sender_settings().outbound_queue_url)
    return send_batch(event, sender=runtime.channel_sender(), queue=queue)
