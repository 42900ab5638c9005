"""Scheduled (EventBridge, hourly): closes the tickets solved AutoCloseDays ago or more, as Zendesk's closing automation does."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from switchboard import runtime
from switchboard.observability import logger, metrics
from switchboard.tickets.closing import close_solved_tickets


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    settings = runtime.ticket_closer_settings()
    return close_solved_tickets(tickets=runtime.repositories().tickets, days=settings.auto_close_days)
