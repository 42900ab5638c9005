"""Every minute: records the SLA warnings and breaches due, at their deadlines, and acts on their escalations once."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from switchboard import runtime
from switchboard.observability import logger, metrics
from switchboard.tickets.sla_enforcer import enforce_sla


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    return enforce_sla(runtime.repositories(), runtime.sla_notice_sender())
