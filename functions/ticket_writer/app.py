"""SQS FIFO consumer: writes each inbound event into its ticket exactly once; failed records go back to the queue."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from switchboard import runtime
from switchboard.observability import logger, metrics
from switchboard.tickets.writer import write_batch


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    return write_batch(event, context, store=runtime.repositories(), media=runtime.media_jobs())
