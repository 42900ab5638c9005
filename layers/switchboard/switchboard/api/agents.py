"""Who is calling the agents' API, and what they may do.

API Gateway's JWT authorizer has verified the token before we run, and where roles are OAuth scopes it
has also checked the route's scopes. Both are checked again here, so that a route deployed without the
authorizer or without its scopes fails closed: no subject is a 401, no role for the route is a 403.

Roles come from one claim of the token (`AccessSettings.roles_claim`): Cognito's `cognito:groups` by
default, or `scope`/`scp` for an OAuth server's scopes. A role is the claim's value `<prefix>agent` or
`<prefix>admin`; with Cognito resource-server scopes the prefix is the resource server's identifier and a
slash (`switchboard/agent`). An admin is an agent too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from switchboard.config import AccessSettings
from switchboard.errors import Forbidden, Unauthorized

# A claim is read only this far: a token's groups or scopes are a few short names, never more.
_MAX_CLAIM_CHARS = 8192
_MAX_ROLE_NAMES = 256


class Role(StrEnum):
    AGENT = "agent"  # reads and works tickets, lists held mail
    ADMIN = "admin"  # also releases held mail and manages configuration


@dataclass(frozen=True)
class Caller:
    subject: str
    roles: frozenset[Role]

    def require(self, role: Role) -> Caller:
        """This caller if they hold `role` (an admin holds agent too), else Forbidden."""
        if role in self.roles or Role.ADMIN in self.roles:
            return self
        raise Forbidden(f"this route needs the {role.value} role, which the token does not carry")


def caller_of(event: Mapping[str, Any], settings: AccessSettings) -> Caller:
    """The caller from the JWT claims API Gateway passes on: Unauthorized without a subject."""
    jwt = ((event.get("requestContext") or {}).get("authorizer") or {}).get("jwt") or {}
    claims = jwt.get("claims") or {}
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise Unauthorized("a bearer token from the configured issuer is required")
    names = claim_values(claims.get(settings.roles_claim))
    if settings.roles_claim in ("scope", "scp"):
        # The authorizer passes the scopes it read on beside the claims; either spelling names them.
        names += claim_values(jwt.get("scopes"))
    by_name = {settings.role_prefix + role.value: role for role in Role}
    return Caller(subject, frozenset(by_name[name] for name in names if name in by_name))


def claim_values(raw: Any) -> list[str]:
    """The names in a list-valued claim as API Gateway hands it over.

    HTTP APIs pass every claim as a string: an array claim such as `cognito:groups` arrives as
    "[agent admin]", and `scope` is space separated ("openid switchboard/agent"). A real list is read too,
    for payloads that keep JSON types. Group names cannot hold spaces in this spelling, which Cognito's
    group names for roles need not.
    """
    if isinstance(raw, str):
        text = raw[:_MAX_CLAIM_CHARS].strip()
        if text.startswith("[") and text.endswith("]"):
            text = text[1:-1]
        return text.split()[:_MAX_ROLE_NAMES]
    if isinstance(raw, list):
        return [value for value in raw[:_MAX_ROLE_NAMES] if isinstance(value, str)]
    return []
