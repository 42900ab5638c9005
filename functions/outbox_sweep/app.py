"""Every minute: queues again each reply attempt still in the outbox a minute after it was due."""

from dataclasses import asdict

from aws_lambda_powertools.utilities.typing import LambdaContext

from switchboard import runtime
from switchboard.models import utc_now
from switchboard.observability import logger, metrics
from switchboard.outbound.sweep import sweep_outbox


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    queue = runtime.outbound_queue(runtime.outbound_queue_settings().outbound_queue_url)
    return asdict(sweep_outbox(runtime.repositories().outbox, queue, now=utc_now()))
