"""API Gateway HTTP API payload format 2.0: the event it builds from a request, and how it maps the
function's result back to an HTTP response."""

from __future__ import annotations

import base64
import json
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from infra.local.jwt import gateway_claims, scopes_of
from infra.local.workers import Invocation
from infra.provision import ACCOUNT_ID

log = logging.getLogger("switchboard.local")

_TEXT_TYPES = {
    "application/json",
    "application/xml",
    "application/x-www-form-urlencoded",
    "application/javascript",
    "application/graphql",
    "application/x-ndjson",
}


@dataclass(frozen=True)
class HttpRequest:
    method: str
    raw_path: str
    raw_query: str
    header_pairs: list[tuple[str, str]]
    body: bytes
    source_ip: str
    protocol: str = "HTTP/1.1"


def is_textual(content_type: str | None) -> bool:
    """API Gateway passes text bodies as they are and base64-encodes everything else."""
    if not content_type:
        return False
    mime = content_type.split(";", 1)[0].strip().lower()
    return mime.startswith("text/") or mime in _TEXT_TYPES or mime.endswith(("+json", "+xml"))


def build_event(
    request: HttpRequest,
    route_key: str,
    path_parameters: Mapping[str, str],
    *,
    api_id: str,
    request_id: str,
    claims: Mapping[str, Any] | None = None,
    now: float | None = None,
    trace_id: str | None = None,
) -> dict[str, Any]:
    """The payload format 2.0 event API Gateway sends for this request (`now` and `trace_id` are fixed only where a
    sample event must come out the same on every run)."""
    moment = time.time() if now is None else now
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.header_pairs:
        lowered = name.lower()
        if lowered == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        headers[lowered] = f"{headers[lowered]},{value}" if lowered in headers else value
    headers["x-forwarded-for"] = (
        f"{headers['x-forwarded-for']}, {request.source_ip}" if "x-forwarded-for" in headers else request.source_ip
    )
    headers.setdefault("x-forwarded-proto", "http")
    domain = headers.get("host", "127.0.0.1")
    headers.setdefault("x-forwarded-port", domain.rsplit(":", 1)[1] if ":" in domain else "80")
    headers["x-amzn-trace-id"] = trace_id or f"Root=1-{int(moment):08x}-{secrets.token_hex(12)}"

    query: dict[str, str] = {}
    for name, value in parse_qsl(request.raw_query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value

    http = {
        "method": request.method,
        "path": request.raw_path,
        "protocol": request.protocol,
        "sourceIp": request.source_ip,
        "userAgent": headers.get("user-agent", ""),
    }
    context: dict[str, Any] = {
        "accountId": ACCOUNT_ID,
        "apiId": api_id,
        "domainName": domain,
        "domainPrefix": domain.split(".", 1)[0].split(":", 1)[0],
        "http": http,
        "requestId": request_id,
        "routeKey": route_key,
        "stage": "$default",
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(moment)),
        "timeEpoch": int(moment * 1000),
    }
    if claims is not None:
        context["authorizer"] = {"jwt": {"claims": gateway_claims(claims), "scopes": scopes_of(claims)}}

    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": request.raw_path,
        "rawQueryString": request.raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    event["requestContext"] = context
    if request.body:
        text = _utf8(request.body) if is_textual(headers.get("content-type")) else None
        event["body"] = text if text is not None else base64.b64encode(request.body).decode("ascii")
        event["isBase64Encoded"] = text is None
    else:
        event["isBase64Encoded"] = False
    return event


def _utf8(body: bytes) -> str | None:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def gateway_message(status: int, message: str) -> HttpResponse:
    body = json.dumps({"message": message}, separators=(",", ":")).encode()
    return HttpResponse(status, [("content-type", "application/json")], body)


def http_response(invocation: Invocation) -> HttpResponse:
    """Maps a function's result to the HTTP response, as API Gateway does for payload format 2.0."""
    if invocation.failed:
        return gateway_message(502, "Internal Server Error")
    result = invocation.result
    if not isinstance(result, dict) or "statusCode" not in result:
        # No statusCode: API Gateway assumes 200 and a JSON body made of the whole result.
        body = result if isinstance(result, str) else json.dumps(result)
        return HttpResponse(200, [("content-type", "application/json")], body.encode())
    try:
        return _structured_response(result)
    except (TypeError, ValueError) as exc:
        log.error("function returned a response API Gateway cannot map: %s", exc)
        return gateway_message(502, "Internal Server Error")


def _structured_response(result: dict[str, Any]) -> HttpResponse:
    status = result["statusCode"]
    if isinstance(status, bool) or not isinstance(status, (int, str)) or not 100 <= int(status) <= 599:
        raise ValueError(f"statusCode {status!r} is not an HTTP status")
    headers: list[tuple[str, str]] = []
    for name, value in (result.get("headers") or {}).items():
        if isinstance(value, (dict, list)):
            raise TypeError(f"header {name!r} must be a string")
        headers.append((str(name), str(value).lower() if isinstance(value, bool) else str(value)))
    for cookie in result.get("cookies") or []:
        headers.append(("set-cookie", str(cookie)))
    body = result.get("body")
    if body is None:
        payload = b""
    elif not isinstance(body, str):
        raise TypeError("body must be a string")
    elif result.get("isBase64Encoded"):
        payload = base64.b64decode(body, validate=True)
    else:
        payload = body.encode("utf-8")
    return HttpResponse(int(status), headers, payload)
