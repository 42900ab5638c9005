"""SQS consumer: fetches each attachment from its provider into the attachments bucket; failed jobs go back to the queue."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from switchboard import runtime
from switchboard.media.fetch import fetch_batch
from switchboard.observability import logger, metrics


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    return fetch_batch(event, context, fetcher=runtime.media_fetcher())
