"""The SAM CLI accepts the template and config as they are, and builds a layer Lambda can load on arm64."""

from __future__ import annotations

import subprocess
import tomllib

import pytest

from infra.template import ROOT, resources_of_type

SAMCONFIG = ROOT / "samconfig.toml"
BUILD_TIMEOUT_SECONDS = 600
ELF_MACHINE_AARCH64 = 183  # e_machine of an ELF binary built for arm64


def _config_environments() -> list[str]:
    return [name for name, section in tomllib.loads(SAMCONFIG.read_text()).items() if isinstance(section, dict)]


@pytest.mark.parametrize("config_env", _config_environments())
def test_sam_validate_lint_is_clean(sam, cli_environment, config_env):
    result = subprocess.run(
        [sam, "validate", "--lint", "--config-env", config_env, "--template", "template.yaml"],
        cwd=ROOT,
        env=cli_environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


@pytest.fixture(scope="module")
def build(sam, cli_environment, tmp_path_factory):
    """`sam build` into a scratch folder with the same settings as `make build` (samconfig's cached/parallel)."""
    scratch = tmp_path_factory.mktemp("sam-build")
    result = subprocess.run(
        [
            sam,
            "build",
            "--build-dir",
            str(scratch / "build"),
            "--cache-dir",
            str(scratch / "cache"),
            "--template",
            "template.yaml",
        ],
        cwd=ROOT,
        env=cli_environment,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_SECONDS,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return scratch / "build"


@pytest.mark.slow
def test_sam_build_packages_every_function_and_the_layer(build, template):
    for logical_id, body in resources_of_type(template, "AWS::Serverless::Function").items():
        handler_module = body["Properties"]["Handler"].rsplit(".", 1)[0].replace(".", "/") + ".py"
        assert (build / logical_id / handler_module).is_file(), logical_id
    for logical_id in resources_of_type(template, "AWS::Serverless::LayerVersion"):
        assert (build / logical_id / "python" / "switchboard" / "__init__.py").is_file(), logical_id


@pytest.mark.slow
def test_built_layer_bundles_the_runtime_dependencies_but_not_the_sdk(build, template):
    (layer_id,) = resources_of_type(template, "AWS::Serverless::LayerVersion")
    site = build / layer_id / "python"
    for package in ("pydantic", "pydantic_core", "aws_lambda_powertools", "cryptography"):
        assert (site / package / "__init__.py").is_file(), f"{package} is missing from the layer"
    # The python3.13 runtime ships boto3/botocore; bundling them would only grow every cold start.
    assert not (site / "boto3").exists() and not (site / "botocore").exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("distribution", "extension_glob", "tag_prefix"),
    [
        ("pydantic_core", "pydantic_core/_pydantic_core.*.so", "cp313-cp313-manylinux"),
        # cryptography ships one stable-ABI wheel per platform for every CPython from 3.11 on.
        ("cryptography", "cryptography/hazmat/bindings/_rust.abi3.so", "cp311-abi3-manylinux"),
    ],
)
def test_built_native_dependencies_are_the_linux_aarch64_wheels(
    build, template, distribution, extension_glob, tag_prefix
):
    (layer_id,) = resources_of_type(template, "AWS::Serverless::LayerVersion")
    site = build / layer_id / "python"
    (wheel_info,) = site.glob(f"{distribution}-*.dist-info/WHEEL")
    tags = [line.split(":", 1)[1].strip() for line in wheel_info.read_text().splitlines() if line.startswith("Tag:")]
    assert tags and all(tag.startswith(tag_prefix) and tag.endswith("_aarch64") for tag in tags), tags
    (extension,) = site.glob(extension_glob)
    header = extension.read_bytes()[:20]
    assert header[:4] == b"\x7fELF" and int.from_bytes(header[18:20], "little") == ELF_MACHINE_AARCH64
