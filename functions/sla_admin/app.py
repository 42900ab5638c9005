"""The admin API of the SLA rules (JWT-authorized at the gateway, admin role): business-hours schedules, the
ordered policy list, and the dry run of a policy list on a ticket."""

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from switchboard import runtime
from switchboard.api.sla_admin import handle_sla_admin
from switchboard.models import utc_now
from switchboard.observability import logger, metrics


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    return handle_sla_admin(
        event,
        store=runtime.repositories(),
        access=runtime.access_settings(),
        local_hooks_base=runtime.sla_admin_settings().local_hooks_base,
        now=utc_now(),
    )
