"""POST /mail/held/release for admins (JWT-authorized at the gateway, admin role): a held mail goes through the intake again as a customer mail."""

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from switchboard import runtime
from switchboard.api.held_mail import handle_held_mail_release
from switchboard.observability import logger, metrics


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    settings = runtime.held_mail_release_settings()
    return handle_held_mail_release(
        event,
        store=runtime.repositories().held_mail,
        mail_bucket=runtime.mail_bucket(settings.mail_bucket),
        access=runtime.access_settings(),
    )
