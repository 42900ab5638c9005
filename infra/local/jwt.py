"""HS256 tokens for the local stand-in of API Gateway's JWT authorizer (signed and read with joserfc).

In AWS the authorizer checks RS256 tokens against the issuer's JWKS; locally there is no identity
provider, so the runner signs its own dev token with a key that lives only as long as the process.
The checks mirror the authorizer's: signature, `exp`, `nbf`, `iss`, and `aud` (or `client_id`).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from joserfc import jwt as jose_jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

DEV_SUBJECT = "dev-agent"
DEV_TOKEN_LIFETIME_SECONDS = 12 * 3600
# The dev tokens' roles (none: a valid token without a role, which the API refuses with 403); an admin is
# given both names, as a Cognito user in both groups would be.
DEV_ROLES: dict[str, tuple[str, ...]] = {"agent": ("agent",), "admin": ("agent", "admin"), "none": ()}


class InvalidToken(Exception):
    """The request must be refused with 401, as API Gateway does, before any function runs."""


def new_signing_key() -> bytes:
    return secrets.token_bytes(32)


def encode(claims: Mapping[str, Any], key: bytes) -> str:
    return jose_jwt.encode({"alg": "HS256", "typ": "JWT"}, dict(claims), OctKey.import_key(key))


def dev_token(
    key: bytes,
    issuer: str,
    audience: str,
    role: str = "agent",
    *,
    roles_claim: str = "cognito:groups",
    role_prefix: str = "",
    now: float | None = None,
) -> str:
    """A token for `role` (a DEV_ROLES name), its roles spelled as the stack reads them (RolesClaim and
    RolePrefix): a list claim like Cognito's groups, or space-separated OAuth scopes."""
    issued_at = int(time.time() if now is None else now)
    names = [role_prefix + name for name in DEV_ROLES[role]]
    claims: dict[str, Any] = {
        "sub": DEV_SUBJECT if role == "agent" else f"dev-{role}",
        "iss": issuer,
        "aud": audience,
        "iat": issued_at,
        "exp": issued_at + DEV_TOKEN_LIFETIME_SECONDS,
    }
    if roles_claim in ("scope", "scp"):
        claims[roles_claim] = " ".join(["openid", *names])
    elif names:
        claims[roles_claim] = names
    return encode(claims, key)


@dataclass(frozen=True)
class JwtAuthorizer:
    issuer: str
    audiences: tuple[str, ...]
    key: bytes

    def claims_of(self, authorization: str | None, now: float | None = None) -> dict[str, Any]:
        """The verified claims of an Authorization header value, or InvalidToken."""
        if not authorization:
            raise InvalidToken("no Authorization header")
        # API Gateway accepts the token with or without the Bearer scheme.
        token = authorization.strip()
        if token[:7].lower() == "bearer ":
            token = token[7:].strip()
        claims = _verified(token, self.key)
        moment = time.time() if now is None else now
        exp = claims.get("exp")
        if not isinstance(exp, (int, float)) or isinstance(exp, bool) or exp <= moment:
            raise InvalidToken("token is expired or has no exp")
        nbf = claims.get("nbf")
        if nbf is not None and (not isinstance(nbf, (int, float)) or nbf > moment):
            raise InvalidToken("token is not valid yet")
        if claims.get("iss") != self.issuer:
            raise InvalidToken("token has another issuer")
        if not self.audiences_match(claims):
            raise InvalidToken("token is for another audience")
        return claims

    def audiences_match(self, claims: Mapping[str, Any]) -> bool:
        aud = claims.get("aud")
        offered = [aud] if isinstance(aud, str) else list(aud) if isinstance(aud, list) else []
        # Cognito access tokens carry the app client in client_id instead of aud.
        if isinstance(claims.get("client_id"), str):
            offered.append(claims["client_id"])
        return any(isinstance(a, str) and a in self.audiences for a in offered)


def _verified(token: str, key: bytes) -> dict[str, Any]:
    """The claims of a token signed with `key`; only HS256, so "none" or an asymmetric alg is refused."""
    try:
        claims = jose_jwt.decode(token, OctKey.import_key(key), algorithms=["HS256"]).claims
    except (JoseError, ValueError, TypeError) as exc:  # joserfc's own, and what malformed base64/JSON raise
        raise InvalidToken(f"token refused: {type(exc).__name__}") from exc
    if not isinstance(claims, dict):
        raise InvalidToken("token payload is not a JSON object")
    return claims


def gateway_claims(claims: Mapping[str, Any]) -> dict[str, str]:
    """Claims as API Gateway hands them to the function: every value a string, lists as "[a b]"."""
    return {name: _claim_text(value) for name, value in claims.items()}


def _claim_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return str(int(value)) if float(value).is_integer() else str(value)
    if isinstance(value, list):
        return "[" + " ".join(_claim_text(v) for v in value) + "]"
    return json.dumps(value, separators=(",", ":"))


def scopes_of(claims: Mapping[str, Any]) -> list[str] | None:
    """API Gateway reads scopes from `scope` (space separated) or `scp`; null when the token has none."""
    raw = claims.get("scope", claims.get("scp"))
    if isinstance(raw, str):
        return raw.split() or None
    if isinstance(raw, Iterable) and not isinstance(raw, (bytes, Mapping)):
        return [str(s) for s in raw] or None
    return None


def authorizer_of_api(api_properties: Mapping[str, Any], resolve, key: bytes) -> JwtAuthorizer | None:
    """The HttpApi's default JWT authorizer, with its issuer and audiences resolved; None when the API has none."""
    auth = api_properties.get("Auth") or {}
    name = auth.get("DefaultAuthorizer")
    if not name:
        return None
    config = ((auth.get("Authorizers") or {}).get(name) or {}).get("JwtConfiguration")
    if not config:
        return None
    audience = resolve(config.get("audience"))
    audiences = (audience,) if isinstance(audience, str) else tuple(str(a) for a in audience or ())
    return JwtAuthorizer(issuer=str(resolve(config.get("issuer"))), audiences=audiences, key=key)
