"""POST/GET /webhooks/instagram: verify Meta's signature, normalize, enqueue; GET answers Meta's handshake."""

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from switchboard import runtime
from switchboard.channels.meta_messaging import INSTAGRAM
from switchboard.observability import logger, metrics
from switchboard.webhooks import handle_webhook_event


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    settings = runtime.instagram_settings()
    return handle_webhook_event(
        event,
        adapter=INSTAGRAM,
        queue=runtime.inbound_queue(settings.inbound_queue_url),
        secrets=runtime.secret_source(settings.secret_arn),
    )
