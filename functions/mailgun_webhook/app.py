"""POST /webhooks/email/mailgun: verify the signature over timestamp+token, refuse old or reused tokens, then keep the raw mail in the mail bucket for the email intake."""

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from switchboard import runtime
from switchboard.email.providers.mailgun import MailgunWebhook
from switchboard.email.replay_guard import ReplayGuard
from switchboard.email.webhooks import handle_mail_webhook
from switchboard.observability import logger, metrics


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    settings = runtime.mail_webhook_settings()
    return handle_mail_webhook(
        event,
        MailgunWebhook(),
        bucket=runtime.mail_bucket(settings.mail_bucket),
        claim_token=ReplayGuard("mailgun", runtime.repositories().replay_tokens),
        secrets=runtime.secret_source(settings.secret_arn),
        max_age_seconds=settings.max_age_seconds,
    )
