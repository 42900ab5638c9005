"""Who is calling the agents' API. API Gateway's JWT authorizer has verified the token before we run; the
claims it passes on are checked again here so that a route deployed without the authorizer fails closed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from switchboard.errors import Unauthorized


def agent_of(event: Mapping[str, Any]) -> str:
    """The agent's subject from the JWT claims API Gateway passes on, or Unauthorized."""
    jwt = ((event.get("requestContext") or {}).get("authorizer") or {}).get("jwt") or {}
    subject = (jwt.get("claims") or {}).get("sub")
    if not isinstance(subject, str) or not subject:
        raise Unauthorized("a bearer token from the configured issuer is required")
    return subject
