"""The interface every channel adapter implements, and the request it receives."""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import from_json

from switchboard.errors import InvalidSignature, MalformedPayload, PayloadTooLarge
from switchboard.models import DeliveryReceipt, FollowChange, InboundMessage, MessageEdit, ReadWatermark

ChannelSecrets = Mapping[str, str]


class WebhookRequest(BaseModel):
    """An HTTP request as the provider sent it: the raw body bytes are what providers sign."""

    model_config = ConfigDict(frozen=True)

    method: str
    path: str
    headers: dict[str, str]
    query: dict[str, str]
    body: bytes
    path_params: dict[str, str] = {}
    raw_query: str = ""

    @property
    def url(self) -> str:
        """The URL as the provider called it, from what API Gateway forwards (Twilio signs it)."""
        scheme = (self.header("x-forwarded-proto") or "https").split(",")[0].strip()
        host = self.header("host") or ""
        return f"{scheme}://{host}{self.path}" + (f"?{self.raw_query}" if self.raw_query else "")

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @classmethod
    def from_http_api_event(cls, event: Mapping) -> WebhookRequest:
        """Builds the request from an API Gateway HTTP API (payload 2.0) event."""
        http = (event.get("requestContext") or {}).get("http") or {}
        raw_body = event.get("body") or ""
        if event.get("isBase64Encoded"):
            try:
                body = base64.b64decode(raw_body, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise MalformedPayload("body is flagged base64 but is not valid base64") from exc
        else:
            body = raw_body.encode("utf-8", errors="surrogatepass") if isinstance(raw_body, str) else bytes(raw_body)
        return cls(
            method=str(http.get("method") or "").upper(),
            path=str(http.get("path") or event.get("rawPath") or ""),
            headers={str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()},
            query={str(k): str(v) for k, v in (event.get("queryStringParameters") or {}).items()},
            body=body,
            path_params={str(k): str(v) for k, v in (event.get("pathParameters") or {}).items()},
            raw_query=str(event.get("rawQueryString") or ""),
        )


InboundEvents = Sequence[InboundMessage | DeliveryReceipt | MessageEdit | ReadWatermark | FollowChange]


def read_json(body: bytes) -> Any:
    """The body as JSON, or MalformedPayload. pydantic's parser, unlike json.loads, refuses "\\ud800"-style
    escapes with no partner: such a string is not text, and once accepted could not go onto the queue."""
    try:
        return from_json(body)
    except ValueError as exc:
        # pydantic-core's message names the position, never the content.
        raise MalformedPayload(f"body is not JSON: {str(exc)[:120]}") from exc


@contextmanager
def payload_errors(what: str) -> Iterator[None]:
    """Turns whatever reading a provider payload raises into MalformedPayload (400) that names the wrong
    fields and never their values: those are the customer's content."""
    try:
        yield
    except MalformedPayload:
        raise
    except ValidationError as exc:
        problems = [f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors()[:3]]
        raise MalformedPayload(f"not {what}: {'; '.join(problems)[:300]}") from exc
    except (ValueError, TypeError, KeyError, OverflowError, RecursionError) as exc:
        raise MalformedPayload(f"not {what}: unreadable field ({type(exc).__name__})") from exc


def same_secret(expected: str, presented: str) -> bool:
    """Constant-time equality of two strings, whatever characters they hold (a lone surrogate included):
    how every proof a provider presents is compared, so its timing tells an attacker nothing."""
    return hmac.compare_digest(expected.encode("utf-8", "surrogatepass"), presented.encode("utf-8", "surrogatepass"))


def check_body_size(body: bytes, limit: int) -> None:
    """Refuses a body over the route's cap before anything reads it: no provider sends more (see each
    adapter's MAX_BODY_BYTES and docs/channels), and parsing or hashing it would cost time and memory."""
    if len(body) > limit:
        raise PayloadTooLarge(f"body is {len(body)} bytes; this webhook takes at most {limit}")


def proven_account(secrets: ChannelSecrets, setting: str, proves: Callable[[str], bool], refusal: str) -> str | None:
    """The account whose `setting` secret made the proof: None for the default (top-level) secret, else
    the key under "accounts". Each distinct secret is tried, from the body's bytes alone (nothing parsed).
    Raises InvalidSignature when none did. Which accounts the proof may speak for is settled after
    parsing, by require_proof_covers."""
    tried: set[str] = set()
    configured = False
    for account_id, account in every_account(secrets):
        secret = account.get(setting)
        if not isinstance(secret, str) or not secret or secret in tried:
            continue
        tried.add(secret)
        configured = True
        if proves(secret):
            return account_id
    raise InvalidSignature(refusal if configured else f"no {setting.replace('_', ' ')} is configured for this channel")


def require_proof_covers(events: Sequence[Any], secrets: ChannelSecrets, setting: str, proven: str | None) -> None:
    """Every account the events are filed under must have, as its own secret, the one that made the proof.

    An account configured under "accounts" with its own secret is covered by that secret only; the
    default secret covers every account not configured separately, so single-account setups are
    unchanged. Without this, app A's secret would vouch for a payload naming page B.
    """
    secret = str(account_secrets(secrets, proven).get(setting) or "")
    for account_id in {event.channel_account_id for event in events}:
        if not same_secret(str(account_secrets(secrets, account_id).get(setting) or ""), secret):
            raise InvalidSignature("the payload names an account whose own secret did not sign it")


def account_secrets(secrets: ChannelSecrets, account_id: str | None) -> ChannelSecrets:
    """The credentials of one channel account.

    A channel's secret holds its default account's credentials at the top level and, for teams with
    several accounts (two LINE channels, two Telegram bots, several pages), one object per account id
    under "accounts", whose keys override the defaults.
    """
    accounts = secrets.get("accounts")
    defaults = {key: value for key, value in secrets.items() if key != "accounts"}
    if account_id and isinstance(accounts, Mapping) and isinstance(accounts.get(account_id), Mapping):
        return {**defaults, **accounts[account_id]}
    return defaults


def every_account(secrets: ChannelSecrets) -> list[tuple[str | None, ChannelSecrets]]:
    """The default account (id None) and each named account, for proofs that do not name their account."""
    accounts = secrets.get("accounts")
    named = [(str(k), account_secrets(secrets, str(k))) for k in accounts] if isinstance(accounts, Mapping) else []
    return [(None, account_secrets(secrets, None)), *named]


class ChannelAdapter(Protocol):
    """Provider quirks live behind this: verify first, then parse into normalized events."""

    name: str

    def verify(self, request: WebhookRequest, secrets: ChannelSecrets) -> str | None:
        """Raises InvalidSignature unless the request provably comes from the provider.

        Returns the channel account the proof belongs to when the proof itself identifies it (a
        Telegram bot's secret token), else None (the payload names its account)."""

    def parse(self, body: bytes, received_at: datetime, account_id: str | None = None) -> InboundEvents:
        """Raises MalformedPayload when the body is not the provider's documented shape."""

    # Optional:
    # - answer_handshake(request, secrets) -> str: a subscription check on GET (Meta's hub.challenge);
    #   without it GET is answered 405.
    # - acknowledge(events) -> dict: the HTTP response the provider expects once events are queued
    #   (Kakao's SkillResponse, Twilio's empty TwiML); without it, 200 {"received": n}.
