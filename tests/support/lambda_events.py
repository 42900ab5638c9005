"""The events Lambda hands our functions: API Gateway HTTP API (payload format 2.0) requests and SQS batches.

Shapes follow the AWS documentation ("Working with AWS Lambda proxy integrations for HTTP APIs",
"Using Lambda with Amazon SQS"), field for field, so handlers see in tests what they see in AWS.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
API_ID = "sb1x2y3z4a"

# The claims API Gateway's JWT authorizer passes on for an agent signed in through Cognito: a user in the
# `agent` group. HTTP APIs pass every claim as a string, so the groups array arrives as "[agent]".
NO_ROLE_CLAIMS: dict[str, str] = {
    "sub": "3f6c1e2a-5b7d-4c8e-9a0b-1c2d3e4f5a6b",
    "iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Sw1tchB0d",
    "client_id": "6v8s1q2e3r4t5y6u7i8o9p0a1s",
    "token_use": "access",
    "scope": "aws.cognito.signin.user.admin",
    "username": "agent.kim",
    "auth_time": "1749416000",
    "iat": "1749416000",
    "exp": "1749419600",
}
AGENT_CLAIMS: dict[str, str] = {**NO_ROLE_CLAIMS, "cognito:groups": "[agent]"}
ADMIN_CLAIMS: dict[str, str] = {**NO_ROLE_CLAIMS, "cognito:groups": "[agent admin]", "username": "admin.park"}


def http_api_event(
    *,
    method: str,
    path: str,
    route_key: str,
    headers: Mapping[str, str] | None = None,
    query: Mapping[str, str] | None = None,
    path_parameters: Mapping[str, str] | None = None,
    body: bytes | None = None,
    base64_body: bool = False,
    claims: Mapping[str, str] | None = None,
    request_id: str = "Yb3mTiVsoAMEJ5g=",
    at: datetime = datetime(2025, 6, 8, 21, 0, 0, tzinfo=UTC),
) -> dict[str, Any]:
    """An HTTP API request as API Gateway passes it to Lambda.

    Header names arrive lower-cased. The body is text unless `base64_body`, which is what API Gateway
    does for payloads it treats as binary. Authorizer claims appear only on JWT-protected routes.
    """
    event_headers = {
        "accept": "*/*",
        **({"content-length": str(len(body))} if body is not None else {}),
        "host": f"{API_ID}.execute-api.{REGION}.amazonaws.com",
        "x-amzn-trace-id": "Root=1-68460a50-1f2e3d4c5b6a79880a1b2c3d",
        "x-forwarded-for": "173.252.95.10",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
        **{name.lower(): value for name, value in (headers or {}).items()},
    }
    request_context: dict[str, Any] = {
        "accountId": ACCOUNT_ID,
        "apiId": API_ID,
        "domainName": f"{API_ID}.execute-api.{REGION}.amazonaws.com",
        "domainPrefix": API_ID,
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": event_headers["x-forwarded-for"],
            "userAgent": event_headers.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": route_key,
        "stage": "$default",
        "time": at.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(at.timestamp() * 1000),
    }
    if claims is not None:
        request_context["authorizer"] = {"jwt": {"claims": dict(claims), "scopes": None}}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": urlencode(query or {}),
        "headers": event_headers,
        "requestContext": request_context,
        "isBase64Encoded": base64_body,
    }
    if query:
        event["queryStringParameters"] = dict(query)
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if body is not None:
        # A text body must be UTF-8; API Gateway passes anything else base64-encoded.
        event["body"] = base64.b64encode(body).decode() if base64_body else body.decode("utf-8")
    return event


def sqs_record(
    *,
    message_id: str,
    receipt_handle: str,
    body: str,
    attributes: Mapping[str, str],
    queue_arn: str,
) -> dict[str, Any]:
    """One record of an SQS event; `attributes` are the message's system attributes (FIFO ones included)."""
    return {
        "messageId": message_id,
        "receiptHandle": receipt_handle,
        "body": body,
        "attributes": dict(attributes),
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3],
    }


def sqs_event(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {"Records": list(records)}


@dataclass(frozen=True)
class HttpResponse:
    """What a function returned to API Gateway (payload format 2.0)."""

    status: int
    headers: Mapping[str, str]
    body: str

    @classmethod
    def of(cls, response: Mapping[str, Any]) -> HttpResponse:
        return cls(int(response["statusCode"]), dict(response.get("headers") or {}), response.get("body") or "")

    def json(self) -> Any:
        assert self.headers.get("content-type") == "application/json", self.headers
        return json.loads(self.body)
