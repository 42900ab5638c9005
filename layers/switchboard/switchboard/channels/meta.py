"""What Meta's platforms (WhatsApp Cloud API, Messenger, Instagram) share: the signature and the handshake."""

from __future__ import annotations

import hashlib
import hmac

from switchboard.channels.base import ChannelSecrets, WebhookRequest
from switchboard.errors import Forbidden, InvalidRequest, InvalidSignature

SIGNATURE_HEADER = "x-hub-signature-256"
_PREFIX = "sha256="


def verify_signature(request: WebhookRequest, app_secret: str) -> None:
    """Meta signs the raw body bytes as sent (non-ASCII escaped as \\uXXXX); re-serialized JSON would not match."""
    if not app_secret:
        raise InvalidSignature("no app secret is configured for this channel")
    header = request.header(SIGNATURE_HEADER)
    if not header:
        raise InvalidSignature(f"missing {SIGNATURE_HEADER} header")
    if not header.startswith(_PREFIX):
        raise InvalidSignature(f"{SIGNATURE_HEADER} must look like sha256=<hex>")
    expected = hmac.new(app_secret.encode(), request.body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, header[len(_PREFIX) :].strip().lower()):
        raise InvalidSignature("signature does not match the body")


def sign(body: bytes, app_secret: str) -> str:
    """The header value Meta would send for this body (used by tests, samples and the local runner)."""
    return _PREFIX + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def answer_handshake(request: WebhookRequest, secrets: ChannelSecrets) -> str:
    """Meta's subscription check: echo hub.challenge when hub.verify_token matches ours."""
    mode = request.query.get("hub.mode")
    token = request.query.get("hub.verify_token", "")
    challenge = request.query.get("hub.challenge")
    if mode != "subscribe" or challenge is None:
        raise InvalidRequest("expected hub.mode=subscribe with hub.challenge and hub.verify_token")
    expected = secrets.get("verify_token", "")
    if not expected or not hmac.compare_digest(expected.encode(), token.encode()):
        raise Forbidden("hub.verify_token does not match the configured verify token")
    return challenge
