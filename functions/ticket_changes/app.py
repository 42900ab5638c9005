"""The agents' writes (JWT-authorized at the gateway): PATCH /tickets/{ticket_id}, notes, replies, resends, and a
contact's tags (PATCH /contacts/{contact_id})."""

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from switchboard import runtime
from switchboard.api.agent_writes import handle_agent_write
from switchboard.observability import logger, metrics


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    return handle_agent_write(
        event,
        store=runtime.repositories(),
        access=runtime.access_settings(),
        queue=runtime.outbound_queue(runtime.reply_settings().outbound_queue_url),
        templates=runtime.whatsapp_templates(),
    )
