"""POST /webhooks/alimtalk: verify NHN Cloud's delivery results, normalize them into receipts, enqueue."""

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from switchboard import runtime
from switchboard.channels.alimtalk import RESULTS
from switchboard.observability import logger, metrics
from switchboard.webhooks import handle_webhook_event


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    settings = runtime.alimtalk_settings()
    return handle_webhook_event(
        event,
        adapter=RESULTS,
        queue=runtime.inbound_queue(settings.inbound_queue_url),
        secrets=runtime.secret_source(settings.secret_arn),
    )
