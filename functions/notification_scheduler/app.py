"""Every minute: queues the notifications due and apologizes once for each delivery past its promised date."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from switchboard import runtime
from switchboard.models import utc_now
from switchboard.observability import logger, metrics
from switchboard.proactive.scheduler import run_scheduler


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    return run_scheduler(
        utc_now(), store=runtime.repositories(), queue=runtime.notification_queue(), rules=runtime.notification_rules
    )
