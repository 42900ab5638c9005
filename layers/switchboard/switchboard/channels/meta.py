"""What Meta's platforms (WhatsApp Cloud API, Messenger, Instagram) share: the signature and the handshake."""

from __future__ import annotations

import hashlib
import hmac

from switchboard.errors import Forbidden, InvalidRequest, InvalidSignature
from switchboard.http_request import WebhookRequest
from switchboard.proof import ChannelSecrets, every_account, same_secret

SIGNATURE_HEADER = "x-hub-signature-256"
LEGACY_SIGNATURE_HEADER = "x-hub-signature"
ALLOW_SHA1_SETTING = "allow_sha1_signature"
PROOF_SECRET = "app_secret"
# "Webhooks payloads can be up to 3MB." (WhatsApp Cloud API, Webhooks overview); Messenger and Instagram
# batch up to 1,000 events per POST under the same platform.
MAX_BODY_BYTES = 3 * 1024 * 1024
_PREFIX = "sha256="
_LEGACY_PREFIX = "sha1="


def verify_signature(request: WebhookRequest, app_secret: str, *, allow_sha1: bool = False) -> None:
    """Meta signs the raw body bytes as sent (non-ASCII escaped as \\uXXXX); re-serialized JSON would not match.

    With `allow_sha1`, a request that carries only the legacy `X-Hub-Signature: sha1=<hex>` (older
    proxies and relays forward just that one) is checked against it instead. Whenever the SHA-256
    header is present it alone decides, so a weaker signature can never stand in for a failed stronger one.
    """
    if not app_secret:
        raise InvalidSignature("no app secret is configured for this channel")
    header = request.header(SIGNATURE_HEADER)
    if header is None and allow_sha1 and request.header(LEGACY_SIGNATURE_HEADER) is not None:
        _verify_sha1(request, app_secret)
        return
    if not header:
        raise InvalidSignature(f"missing {SIGNATURE_HEADER} header")
    if not header.startswith(_PREFIX):
        raise InvalidSignature(f"{SIGNATURE_HEADER} must look like sha256=<hex>")
    expected = hmac.new(app_secret.encode(), request.body, hashlib.sha256).hexdigest()
    if not same_secret(expected, header[len(_PREFIX) :].strip().lower()):
        raise InvalidSignature("signature does not match the body")


def verify_any_account(request: WebhookRequest, secrets: ChannelSecrets) -> str | None:
    """The account whose app secret signed the body: None for the default (top-level) secret, else its key
    under "accounts". Pages or numbers of several apps can share one webhook URL, each app signing with its
    own secret; which accounts that proof may speak for is checked once the body is parsed
    (channels.base.require_proof_covers, with PROOF_SECRET)."""
    first_refusal: InvalidSignature | None = None
    tried: set[tuple[str, bool]] = set()
    for account_id, account in every_account(secrets):
        app_secret, allow_sha1 = str(account.get(PROOF_SECRET) or ""), allows_sha1(account)
        if not app_secret or (app_secret, allow_sha1) in tried:
            continue
        tried.add((app_secret, allow_sha1))
        try:
            verify_signature(request, app_secret, allow_sha1=allow_sha1)
            return account_id
        except InvalidSignature as refusal:
            first_refusal = first_refusal or refusal
    raise first_refusal or InvalidSignature("no app secret is configured for this channel")


def _verify_sha1(request: WebhookRequest, app_secret: str) -> None:
    header = request.header(LEGACY_SIGNATURE_HEADER) or ""
    if not header.startswith(_LEGACY_PREFIX):
        raise InvalidSignature(f"{LEGACY_SIGNATURE_HEADER} must look like sha1=<hex>")
    expected = hmac.new(app_secret.encode(), request.body, hashlib.sha1).hexdigest()
    if not same_secret(expected, header[len(_LEGACY_PREFIX) :].strip().lower()):
        raise InvalidSignature("signature does not match the body")


def allows_sha1(secrets: ChannelSecrets) -> bool:
    """The channel secret's opt-in to the legacy SHA-1 signature: JSON true (or the string "true")."""
    setting = secrets.get(ALLOW_SHA1_SETTING)
    return setting is True or (isinstance(setting, str) and setting.strip().lower() == "true")


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
    if not expected or not same_secret(expected, token):
        raise Forbidden("hub.verify_token does not match the configured verify token")
    return challenge
