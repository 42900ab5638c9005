"""The local JWT authorizer accepts what API Gateway's would and nothing else."""

from __future__ import annotations

import base64
import json
import time

import pytest

from infra.local import jwt

pytestmark = pytest.mark.e2e

ISSUER, AUDIENCE = "https://issuer.test", "switchboard-test"
KEY = jwt.new_signing_key()
AUTHORIZER = jwt.JwtAuthorizer(ISSUER, (AUDIENCE,), KEY)


def _claims(**overrides):
    return {"sub": "agent-1", "iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 60, **overrides}


@pytest.mark.parametrize(("role", "groups"), [("agent", ["agent"]), ("admin", ["agent", "admin"]), ("none", None)])
def test_dev_tokens_carry_their_role_as_cognito_groups(role, groups):
    claims = AUTHORIZER.claims_of(jwt.dev_token(KEY, ISSUER, AUDIENCE, role))
    assert claims.get("cognito:groups") == groups and "scope" not in claims


def test_dev_tokens_carry_their_role_as_scopes_when_the_stack_reads_scopes():
    token = jwt.dev_token(KEY, ISSUER, AUDIENCE, "admin", roles_claim="scope", role_prefix="switchboard/")
    claims = AUTHORIZER.claims_of(token)
    assert jwt.scopes_of(claims) == ["openid", "switchboard/agent", "switchboard/admin"]
    assert "cognito:groups" not in claims


def test_dev_token_is_accepted_with_or_without_the_bearer_scheme():
    token = jwt.dev_token(KEY, ISSUER, AUDIENCE)
    for header in (f"Bearer {token}", f"bearer {token}", token):
        claims = AUTHORIZER.claims_of(header)
        assert claims["sub"] == jwt.DEV_SUBJECT
        assert claims["exp"] - claims["iat"] == 12 * 3600


@pytest.mark.parametrize(
    "make_claims",
    [
        lambda: _claims(exp=int(time.time()) - 1),
        lambda: _claims(exp="tomorrow"),
        lambda: {k: v for k, v in _claims().items() if k != "exp"},
        lambda: _claims(nbf=int(time.time()) + 600),
        lambda: _claims(iss="https://someone-else.test"),
        lambda: _claims(aud="another-app"),
        lambda: _claims(aud=["another-app"]),
    ],
    ids=["expired", "exp-not-a-number", "no-exp", "not-yet-valid", "other-issuer", "other-audience", "other-audiences"],
)
def test_tokens_the_authorizer_refuses(make_claims):
    with pytest.raises(jwt.InvalidToken):
        AUTHORIZER.claims_of("Bearer " + jwt.encode(make_claims(), KEY))


def test_a_token_signed_with_another_key_or_tampered_or_unsigned_is_refused():
    good = jwt.encode(_claims(), KEY)
    header, payload, signature = good.split(".")
    elevated = base64.urlsafe_b64encode(json.dumps(_claims(sub="admin")).encode()).rstrip(b"=").decode()
    unsigned_header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    for token in (
        jwt.encode(_claims(), jwt.new_signing_key()),
        f"{header}.{elevated}.{signature}",
        f"{unsigned_header}.{payload}.",
        "not-a-jwt",
        "",
    ):
        with pytest.raises(jwt.InvalidToken):
            AUTHORIZER.claims_of(token)


def test_cognito_access_tokens_match_on_client_id():
    claims = {k: v for k, v in _claims(client_id=AUDIENCE).items() if k != "aud"}
    assert AUTHORIZER.claims_of(jwt.encode(claims, KEY))["client_id"] == AUDIENCE


def test_claims_are_handed_on_as_api_gateway_renders_them():
    rendered = jwt.gateway_claims({"sub": "a", "exp": 1700000000, "admin": True, "groups": ["x", "y"], "ratio": 0.5})
    assert rendered == {"sub": "a", "exp": "1700000000", "admin": "true", "groups": "[x y]", "ratio": "0.5"}
    assert jwt.scopes_of({"scope": "a b"}) == ["a", "b"]
    assert jwt.scopes_of({"scp": ["a"]}) == ["a"]
    assert jwt.scopes_of({}) is None


def test_authorizer_comes_from_the_templates_default_jwt_authorizer():
    api = {
        "Auth": {
            "DefaultAuthorizer": "AgentJwt",
            "Authorizers": {
                "AgentJwt": {"JwtConfiguration": {"issuer": {"Ref": "Issuer"}, "audience": {"Ref": "Audience"}}}
            },
        }
    }
    values = {"Issuer": ISSUER, "Audience": [AUDIENCE, "second"]}
    authorizer = jwt.authorizer_of_api(api, lambda v: values[v["Ref"]], KEY)
    assert (authorizer.issuer, authorizer.audiences) == (ISSUER, (AUDIENCE, "second"))
    assert jwt.authorizer_of_api({}, lambda v: v, KEY) is None
