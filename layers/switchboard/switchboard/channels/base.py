"""The interface every channel adapter implements, and the request it receives."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from switchboard.errors import MalformedPayload
from switchboard.models import DeliveryReceipt, InboundMessage

ChannelSecrets = Mapping[str, str]


class WebhookRequest(BaseModel):
    """An HTTP request as the provider sent it: the raw body bytes are what providers sign."""

    model_config = ConfigDict(frozen=True)

    method: str
    path: str
    headers: dict[str, str]
    query: dict[str, str]
    body: bytes

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
        )


InboundEvents = Sequence[InboundMessage | DeliveryReceipt]


class ChannelAdapter(Protocol):
    """Provider quirks live behind this: verify first, then parse into normalized events."""

    name: str

    def verify(self, request: WebhookRequest, secrets: ChannelSecrets) -> None:
        """Raises InvalidSignature unless the request provably comes from the provider."""

    def parse(self, body: bytes, received_at: datetime) -> InboundEvents:
        """Raises MalformedPayload when the body is not the provider's documented shape."""

    # Providers with a subscription handshake on GET (Meta's hub.challenge) also implement
    # answer_handshake(request, secrets) -> str; others answer GET with 405.
