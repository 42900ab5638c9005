"""SQS consumer of the mail bucket's notifications: each raw mail (SES or webhook) becomes one inbound message."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from switchboard import runtime
from switchboard.email.intake import process_notifications
from switchboard.observability import logger, metrics


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    return process_notifications(event, context, receive=runtime.mail_receiver())
