"""The events Lambda hands our functions: API Gateway HTTP API (payload format 2.0) requests and SQS batches.

The shapes are built once, by the local runner's gateway and event source (infra/local), which follow the AWS
documentation ("Working with AWS Lambda proxy integrations for HTTP APIs", "Using Lambda with Amazon SQS")
field for field; this module only fixes what a sample needs to be reproducible.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from infra.local.http_api_payload import HttpRequest, build_event
from infra.local.pollers import sqs_record as lambda_sqs_record
from infra.provision import LOCAL_API_ID

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
API_ID = LOCAL_API_ID
DOMAIN = f"{API_ID}.execute-api.{REGION}.amazonaws.com"
SOURCE_IP = "173.252.95.10"

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
    claims: Mapping[str, str] | None = None,
    request_id: str = "Yb3mTiVsoAMEJ5g=",
    at: datetime = datetime(2025, 6, 8, 21, 0, 0, tzinfo=UTC),
) -> dict[str, Any]:
    """An HTTP API request as API Gateway passes it to Lambda, built by the local gateway's own event builder
    (infra/local/http_api_payload.py) from what a provider's client sends to the deployed API's domain.

    Only the moment, the request id and the trace id are fixed, so that a sample event comes out the same on
    every run. Whether the body arrives as text or base64 follows its content type, as in API Gateway.
    """
    request = HttpRequest(
        method=method,
        raw_path=path,
        raw_query=urlencode(query or {}),
        header_pairs=[
            ("accept", "*/*"),
            *([("content-length", str(len(body)))] if body is not None else []),
            ("host", DOMAIN),
            ("x-forwarded-port", "443"),
            ("x-forwarded-proto", "https"),
            *((name.lower(), value) for name, value in (headers or {}).items()),
        ],
        body=body or b"",
        source_ip=SOURCE_IP,
    )
    return build_event(
        request,
        route_key,
        path_parameters or {},
        api_id=API_ID,
        request_id=request_id,
        claims=claims,
        now=at.timestamp(),
        trace_id=f"Root=1-{int(at.timestamp()):08x}-1f2e3d4c5b6a79880a1b2c3d",
    )


def sqs_record(
    *,
    message_id: str,
    receipt_handle: str,
    body: str,
    attributes: Mapping[str, str],
    queue_arn: str,
) -> dict[str, Any]:
    """One record of an SQS event, as the local event source builds it from a received message; `attributes`
    are the message's system attributes (FIFO ones included)."""
    received = {
        "MessageId": message_id,
        "ReceiptHandle": receipt_handle,
        "Body": body,
        "Attributes": dict(attributes),
        "MD5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
    }
    return lambda_sqs_record(received, queue_arn)


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
