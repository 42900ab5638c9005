"""The admin API of the notification rules (JWT-authorized at the gateway, admin role), versioned."""

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from switchboard import runtime
from switchboard.api.notification_admin import handle_notification_admin
from switchboard.models import utc_now
from switchboard.observability import logger, metrics


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    return handle_notification_admin(
        event, store=runtime.repositories(), access=runtime.access_settings(), now=utc_now()
    )
