"""SQS consumer of SES's reports on agents' mail (through SNS): each bounce, complaint or delivery becomes a
receipt on the inbound queue, which the ticket writer records once."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from switchboard import runtime
from switchboard.email.mail_events import forward_mail_events
from switchboard.observability import logger, metrics


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    queue = runtime.inbound_queue(runtime.mail_events_settings().inbound_queue_url)
    return forward_mail_events(event, context, queue=queue)
