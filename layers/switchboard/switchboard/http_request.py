"""The HTTP request a webhook receives, as API Gateway hands it over, and the first reads of its body.

Neutral ground for every inbound route: the chat channels' adapters, the mail providers' webhooks and the
agents' API read requests through this module, none of them through another's.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic_core import from_json

from switchboard.errors import MalformedPayload, PayloadTooLarge


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


def read_json(body: bytes) -> Any:
    """The body as JSON, or MalformedPayload. pydantic's parser, unlike json.loads, refuses "\\ud800"-style
    escapes with no partner: such a string is not text, and once accepted could not go onto the queue."""
    try:
        return from_json(body)
    except ValueError as exc:
        # pydantic-core's message names the position, never the content.
        raise MalformedPayload(f"body is not JSON: {str(exc)[:120]}") from exc


def check_body_size(body: bytes, limit: int) -> None:
    """Refuses a body over the route's cap before anything reads it: no provider sends more (see each
    adapter's MAX_BODY_BYTES and docs/channels), and parsing or hashing it would cost time and memory."""
    if len(body) > limit:
        raise PayloadTooLarge(f"body is {len(body)} bytes; this webhook takes at most {limit}")
