"""POST /webhooks/email/sendgrid: check basic auth (and SendGrid's signature when a key is configured), then keep the raw mail in the mail bucket for the email intake."""

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from switchboard import runtime
from switchboard.email.providers.sendgrid import SendGridWebhook
from switchboard.email.webhooks import handle_mail_webhook
from switchboard.observability import logger, metrics


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    settings = runtime.mail_webhook_settings()
    return handle_mail_webhook(
        event,
        SendGridWebhook(),
        bucket=runtime.mail_bucket(settings.mail_bucket),
        secrets=runtime.secret_source(settings.secret_arn),
        max_age_seconds=settings.max_age_seconds,
    )
