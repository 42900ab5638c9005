"""Inbound-parse webhooks (Mailgun, Postmark, SendGrid): verify, then keep the raw mail in the mail bucket.

Nothing is parsed for tickets here: the bucket's notification hands the mail to the same intake as SES,
so every path gets the same parsing, threading and dedup. Order matters: the proof is checked first, the
body is read next (a malformed one is refused before anything is written), a one-time token is claimed,
and only then is the mail stored. An error after the proof is a 5xx, which providers retry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from switchboard.email.providers.base import MailWebhook, ReplayToken
from switchboard.errors import InvalidSignature, MethodNotAllowed, SwitchboardError
from switchboard.http import error_response, json_response
from switchboard.http_request import WebhookRequest
from switchboard.models import utc_now
from switchboard.observability import logger, metrics
from switchboard.proof import ChannelSecrets
from switchboard.store.mail_bucket import MailBucket


def handle_mail_webhook(
    event: Mapping[str, Any],
    webhook: MailWebhook,
    *,
    bucket: MailBucket,
    claim_token: Callable[[ReplayToken, bytes], bool] | None = None,
    secrets: Callable[[], ChannelSecrets],
    max_age_seconds: int,
) -> dict[str, Any]:
    try:
        request = WebhookRequest.from_http_api_event(event)
        if request.method != "POST":
            raise MethodNotAllowed(f"{request.method} is not served on this webhook")
        token = webhook.verify(request, secrets(), utc_now(), max_age_seconds)
        delivery = webhook.extract(request)
        if token is not None and (claim_token is None or not claim_token(token, request.body)):
            raise InvalidSignature("this signed token was already used for another delivery")
        bucket.put_delivery(webhook.name, delivery.raw_mime, delivery.provider_id)
    except SwitchboardError as error:
        logger.warning(
            "mail webhook rejected", extra={"provider": webhook.name, "error": error.code, "reason": error.message}
        )
        metrics.add_metric(name=f"WebhookRejected_{error.code}", unit="Count", value=1)
        return error_response(error)
    logger.debug("mail webhook accepted", extra={"provider": webhook.name, "size_bytes": len(delivery.raw_mime)})
    metrics.add_metric(name="MailWebhookAccepted", unit="Count", value=1)
    return json_response(200, {"received": 1})
