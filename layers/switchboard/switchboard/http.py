"""HTTP API (payload 2.0) responses, and the one place domain errors become HTTP status codes."""

from __future__ import annotations

import json
from typing import Any

from switchboard.errors import SwitchboardError


def json_response(status_code: int, body: Any, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "statusCode": status_code,
        "headers": {"content-type": "application/json", **(headers or {})},
        "body": json.dumps(body, ensure_ascii=False, separators=(",", ":")),
    }


def text_response(status_code: int, text: str, content_type: str = "text/plain") -> dict[str, Any]:
    return {"statusCode": status_code, "headers": {"content-type": content_type}, "body": text}


def error_response(error: SwitchboardError) -> dict[str, Any]:
    return json_response(error.status_code, {"error": error.code, "message": error.message, **error.details})
