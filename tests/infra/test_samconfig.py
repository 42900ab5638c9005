"""samconfig.toml gives each environment a complete, safe deploy: its own stack and Stage, IAM
capability, a changeset to confirm, and only placeholders where operators supply their own values."""

from __future__ import annotations

import tomllib

import pytest
from samcli.cli.types import CfnParameterOverridesType

from infra.template import ROOT, local_secret_parameters

ENVIRONMENTS = {"default": "dev", "prod": "prod"}
OPERATOR_PARAMETERS = ("JwtIssuer", "JwtAudience", "WhatsAppSecretArn")
PLACEHOLDER = "REPLACE_ME"


@pytest.fixture(scope="module")
def samconfig() -> dict:
    return tomllib.loads((ROOT / "samconfig.toml").read_text())


def _overrides(deploy: dict) -> dict[str, str]:
    # The SAM CLI's own parser, so list and string spellings are read exactly as `sam deploy` reads them.
    return CfnParameterOverridesType().convert(deploy["parameter_overrides"], None, None)


def test_config_has_a_dev_and_a_prod_environment(samconfig):
    assert samconfig["version"] == 0.1
    assert {name for name, section in samconfig.items() if isinstance(section, dict)} == set(ENVIRONMENTS)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_environment_deploys_its_own_stack_with_a_confirmed_changeset(samconfig, environment):
    section = samconfig[environment]
    assert section["global"]["parameters"]["stack_name"] == f"switchboard-{ENVIRONMENTS[environment]}"
    assert section["global"]["parameters"]["region"]
    deploy = section["deploy"]["parameters"]
    assert deploy["resolve_s3"] is True
    assert deploy["capabilities"] == "CAPABILITY_IAM"
    assert deploy["confirm_changeset"] is True
    build = section["build"]["parameters"]
    assert build["cached"] is True and build["parallel"] is True


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_parameter_overrides_set_the_stage_and_leave_operator_values_as_placeholders(samconfig, template, environment):
    overrides = _overrides(samconfig[environment]["deploy"]["parameters"])
    assert set(overrides) <= set(template["Parameters"]), "overrides a parameter the template does not declare"
    assert overrides["Stage"] == ENVIRONMENTS[environment]
    assert overrides["Stage"] in template["Parameters"]["Stage"]["AllowedValues"]
    for name in OPERATOR_PARAMETERS:
        assert PLACEHOLDER in overrides[name], f"{name} must be left for `sam deploy --guided` to fill in"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_config_holds_no_secret_values(samconfig, template, environment):
    text = (ROOT / "samconfig.toml").read_text()
    secret_keys = {key for spec in local_secret_parameters(template).values() for key in spec["keys"]}
    assert secret_keys and not any(key in text for key in secret_keys)
    overrides = _overrides(samconfig[environment]["deploy"]["parameters"])
    for parameter in local_secret_parameters(template):
        # The parameter names where the secret lives; the secret itself stays in Secrets Manager.
        assert overrides[parameter].startswith("arn:aws:secretsmanager:")


def test_prod_names_an_alarm_target_for_the_operator_to_fill_in(samconfig):
    # The template's rule refuses Stage=prod without AlarmEmail or AlarmTopicArn: the saved config has one.
    overrides = _overrides(samconfig["prod"]["deploy"]["parameters"])
    targets = [overrides[name] for name in ("AlarmEmail", "AlarmTopicArn") if overrides.get(name)]
    assert targets and all(PLACEHOLDER in target for target in targets)
