"""The fake providers' outbound half: the send APIs, the local outbox (`GET /__fake__/sent`) and the signed
delivery receipts each provider posts back to our webhooks.

Each provider's send API is one `OutboundProvider` in its own module (infra/fakes/outbound_<provider>.py):
it recognizes its paths, checks credentials and the request as the real API does, answers in the real
shape, and returns the receipts the real provider would post afterwards (signed with the webhook secret
our adapter verifies). `FakeProviders` routes every POST through `OUTBOUND_PROVIDERS`, records it in the
sent log, applies injected faults first, and hands receipts to its receipt sink:

- the local runner's sink POSTs them to the local gateway, as the real providers would;
- tests leave the sink unset and take them with `FakeProviders.take_receipts()`, to deliver when they choose.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from email.policy import default as default_policy
from typing import Any, Protocol
from urllib.parse import parse_qsl


@dataclass(frozen=True)
class OutboundCall:
    """One request our stack made to a provider's send API."""

    provider: str
    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def form(self) -> list[tuple[str, str]]:
        return parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True)

    def form_dict(self) -> dict[str, str]:
        return dict(self.form())

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == wanted), None)


@dataclass(frozen=True)
class FakeAnswer:
    status: int
    body: Any  # JSON-serializable, or bytes sent as they are
    headers: Mapping[str, str] = field(default_factory=dict)
    # Outbox entries for what the provider sent besides the request itself (NHN Cloud's 대체발송 SMS), shown in
    # `GET /__fake__/sent` after the request's own entry.
    also_sent: tuple[dict[str, Any], ...] = ()


# The target of a receipt that reaches us through AWS rather than a webhook: "sqs:<logical id of the queue>" (SES's
# events, which SNS puts on MailEventsQueue). The local runner and the test stack send its body to that queue.
QUEUE_TARGET = "sqs:"


@dataclass(frozen=True)
class Receipt:
    """A webhook request the provider posts back after a send (a delivery status), already signed; or a message
    it publishes to a queue of ours (`QUEUE_TARGET`)."""

    provider: str
    # Our webhook path (/webhooks/whatsapp), the full URL the request named (Twilio's StatusCallback), or
    # "sqs:<queue logical id>".
    target: str
    headers: Mapping[str, str]
    body: bytes

    @property
    def queue(self) -> str | None:
        """The logical id of the queue this receipt is a message of; None when it is a webhook request."""
        return self.target.removeprefix(QUEUE_TARGET) if self.target.startswith(QUEUE_TARGET) else None


@dataclass
class SigningSecrets:
    """The webhook secrets receipts are signed with: the same ones our adapters verify."""

    whatsapp_app_secret: str = "fake-whatsapp-app-secret"
    messenger_app_secret: str = "fake-messenger-app-secret"
    instagram_app_secret: str = "fake-instagram-app-secret"
    twilio_auth_token: str = "fake-twilio-auth-token"
    # The SLA notify webhooks' key (infra/fakes/outbound_hooks.py checks it); None: the fake hooks take any request.
    sla_webhook_signing_key: str | None = None
    # NHN Cloud's result webhooks carry it as X-Toast-Webhook-Signature (infra/fakes/outbound_alimtalk.py).
    alimtalk_webhook_secret: str = "fake-alimtalk-webhook-secret"


class OutboundProvider(Protocol):
    """A fake send API. One that remembers anything between requests (LINE's retry keys) also has `reset()`,
    which FakeProviders.reset calls between tests."""

    name: str

    def handles(self, path: str) -> bool: ...

    def answer(self, call: OutboundCall, context: FakeContext) -> tuple[FakeAnswer, list[Receipt]]:
        """The provider's answer to the call, and the receipts it posts afterwards."""
        ...


@dataclass(frozen=True)
class FakeContext:
    """What a fake send API checks against: the credentials it accepts and the secrets it signs with."""

    credentials: Any  # infra.fakes.providers.Credentials
    signing: SigningSecrets
    base_url: str
    now: datetime


# Headers that carry a credential, never shown in the outbox: Authorization, and NHN Cloud's X-Secret-Key.
_CREDENTIAL_HEADERS = frozenset({"authorization", "x-secret-key"})


def sent_entry(call: OutboundCall, at: datetime) -> dict[str, Any]:
    """How `GET /__fake__/sent` shows a call: provider, method, path, headers (never a credential), the parsed
    body (`json`, `form`, or for SES's raw mail its decoded `mime`), and when; `status` and `answer` are added
    once the fake has answered."""
    entry: dict[str, Any] = {
        "provider": call.provider,
        "method": call.method,
        "path": call.path + (f"?{call.query}" if call.query else ""),
        "headers": {key: value for key, value in call.headers.items() if key.lower() not in _CREDENTIAL_HEADERS},
        "at": at.astimezone(UTC).isoformat(),
    }
    content_type = (call.header("Content-Type") or "").lower()
    if "json" in content_type:
        document = call.json()
        entry["json"] = document
        raw = _raw_mime(document)
        if raw is not None:
            entry["mime"] = raw
    elif "x-www-form-urlencoded" in content_type:
        entry["form"] = call.form_dict()
    else:
        entry["raw"] = call.body.decode("utf-8", "replace")
    return entry


def _raw_mime(document: Any) -> str | None:
    """The MIME of an SES v2 SendEmail with raw content, decoded for reading."""
    import base64

    try:
        data = document["Content"]["Raw"]["Data"]
    except (TypeError, KeyError):
        return None
    try:
        raw = base64.b64decode(data)
    except ValueError:
        return None
    message_from_bytes(raw, policy=default_policy)  # proves it parses
    return raw.decode("utf-8", "replace")


# Filled by the provider modules at import (infra/fakes/outbound_*.py), in the order they are tried.
OUTBOUND_PROVIDERS: list[OutboundProvider] = []


def load_outbound_providers() -> None:
    """Imports every infra/fakes/outbound_<provider>.py, each of which registers its provider once."""
    import importlib
    import pkgutil

    import infra.fakes

    for module in pkgutil.iter_modules(infra.fakes.__path__):
        if module.name.startswith("outbound_"):
            importlib.import_module(f"infra.fakes.{module.name}")


def register(provider: OutboundProvider) -> None:
    if all(existing.name != provider.name for existing in OUTBOUND_PROVIDERS):
        OUTBOUND_PROVIDERS.append(provider)
