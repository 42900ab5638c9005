"""Who may do what on the agents' API: roles come from one claim of the token, as API Gateway's JWT
authorizer passes it on, and the function fails closed whatever the claim holds."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchboard.api.agents import Role, caller_of, claim_values
from switchboard.config import AccessSettings
from switchboard.errors import Forbidden, Unauthorized
from tests.support.lambda_events import ADMIN_CLAIMS, AGENT_CLAIMS, NO_ROLE_CLAIMS

COGNITO_GROUPS = AccessSettings()
RESOURCE_SERVER_SCOPES = AccessSettings(roles_claim="scope", role_prefix="switchboard/")


def event(claims, scopes=None):
    return {"requestContext": {"authorizer": {"jwt": {"claims": claims, "scopes": scopes}}}}


def test_a_cognito_group_names_the_role():
    assert caller_of(event(AGENT_CLAIMS), COGNITO_GROUPS).roles == {Role.AGENT}
    assert caller_of(event(ADMIN_CLAIMS), COGNITO_GROUPS).roles == {Role.AGENT, Role.ADMIN}


def test_an_admin_holds_the_agent_role_too():
    admin_only = {**NO_ROLE_CLAIMS, "cognito:groups": "[admin]"}
    assert caller_of(event(admin_only), COGNITO_GROUPS).require(Role.AGENT).subject == NO_ROLE_CLAIMS["sub"]


def test_an_agent_is_not_an_admin():
    with pytest.raises(Forbidden):
        caller_of(event(AGENT_CLAIMS), COGNITO_GROUPS).require(Role.ADMIN)


@pytest.mark.parametrize(
    "groups",
    [None, "", "[]", "[Agent]", "[agents]", "[switchboard/agent]", "[ agent-admin ]", 42, {"agent": True}],
)
def test_a_token_without_a_role_is_forbidden_whatever_its_groups_claim_holds(groups):
    claims = dict(NO_ROLE_CLAIMS) if groups is None else {**NO_ROLE_CLAIMS, "cognito:groups": groups}
    with pytest.raises(Forbidden):
        caller_of(event(claims), COGNITO_GROUPS).require(Role.AGENT)


def test_a_token_without_a_subject_is_unauthorized_before_its_roles_are_read():
    without_subject = {key: value for key, value in AGENT_CLAIMS.items() if key != "sub"}
    with pytest.raises(Unauthorized):
        caller_of(event(without_subject), COGNITO_GROUPS)
    with pytest.raises(Unauthorized):
        caller_of({}, COGNITO_GROUPS)


def test_oauth_scopes_name_roles_with_the_resource_servers_prefix():
    # Given a Cognito resource server `switchboard` whose scopes are the roles
    claims = {**NO_ROLE_CLAIMS, "scope": "openid switchboard/agent"}
    # Then the scope claim and the scopes the authorizer passes on both count, and only with the prefix
    assert caller_of(event(claims), RESOURCE_SERVER_SCOPES).roles == {Role.AGENT}
    assert caller_of(event(NO_ROLE_CLAIMS, scopes=["switchboard/admin"]), RESOURCE_SERVER_SCOPES).roles == {Role.ADMIN}
    assert caller_of(event({**NO_ROLE_CLAIMS, "scope": "agent admin"}), RESOURCE_SERVER_SCOPES).roles == set()


def test_groups_are_not_read_when_roles_are_scopes():
    assert caller_of(event(ADMIN_CLAIMS), RESOURCE_SERVER_SCOPES).roles == set()


@given(
    st.one_of(
        st.text(max_size=20_000), st.lists(st.one_of(st.text(max_size=50), st.integers(), st.none()), max_size=600)
    )
)
def test_any_claim_value_yields_a_bounded_list_of_names_and_never_an_error(raw):
    names = claim_values(raw)
    assert len(names) <= 256 and all(isinstance(name, str) for name in names)


@given(st.lists(st.sampled_from(["agent", "admin", "viewer", "[agent]"]), max_size=5))
def test_the_roles_found_are_exactly_the_role_names_listed(groups):
    claims = {**NO_ROLE_CLAIMS, "cognito:groups": "[" + " ".join(groups) + "]"}
    assert caller_of(event(claims), COGNITO_GROUPS).roles == {
        Role(name) for name in groups if name in ("agent", "admin")
    }
