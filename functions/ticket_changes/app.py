"""PATCH /tickets/{ticket_id} and POST /tickets/{ticket_id}/notes for agents (JWT-authorized at the gateway)."""

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from switchboard import runtime
from switchboard.api.agent_writes import handle_agent_write
from switchboard.observability import logger, metrics


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    return handle_agent_write(event, store=runtime.repositories(), access=runtime.access_settings())
