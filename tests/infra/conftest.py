"""Fixtures for the infrastructure checks: the template as written, as SAM translates it, and as provisioned."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from deployed_stack import translate
from moto import mock_aws

from infra.provision import REGION, Stack, provision
from infra.template import ROOT, FunctionSpec, functions, load_template

HERE = Path(__file__).resolve().parent
PROBE = HERE / "function_probe.py"
PROBE_TIMEOUT_SECONDS = 120


@pytest.fixture(scope="session")
def template() -> dict:
    return load_template()


@pytest.fixture(scope="session")
def translated(template) -> dict:
    return translate(template)


@pytest.fixture(scope="session")
def function_specs(template) -> dict[str, FunctionSpec]:
    return {spec.logical_id: spec for spec in functions(template)}


@pytest.fixture(scope="module")
def provisioned_stack(template) -> Stack:
    """The template's stateful resources in moto (in-process), for resolving ARNs in policies."""
    with mock_aws():
        yield provision(boto3.Session(region_name=REGION), prefix="infra-test", template=template)


@pytest.fixture(scope="session")
def cli_environment() -> dict[str, str]:
    """Environment for SAM CLI subprocesses: the venv's tools (sam, python3.13) first on PATH."""
    venv_bin = str(Path(sys.executable).parent)
    return {
        **os.environ,
        "PATH": os.pathsep.join([venv_bin, os.environ.get("PATH", "")]),
        "SAM_CLI_TELEMETRY": "0",
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", REGION),
    }


@pytest.fixture(scope="session")
def sam(cli_environment) -> str:
    """The SAM CLI the Makefile installs into the venv, next to this interpreter."""
    path = Path(sys.executable).parent / "sam"
    assert path.exists(), f"SAM CLI not found at {path}: run `make test` (it installs aws-sam-cli into .venv)"
    return str(path)


@pytest.fixture(scope="session")
def probes(function_specs, tmp_path_factory) -> dict[str, dict]:
    """Runs every function once in its own fresh interpreter (tests/infra/function_probe.py), in parallel."""
    out_dir = tmp_path_factory.mktemp("probes")
    # Nothing from this process's environment leaks into the function: the probe sets the Lambda one.
    child_environment = {"PATH": os.environ.get("PATH", "")}
    running = {}
    for logical_id in function_specs:
        result_path = out_dir / f"{logical_id}.json"
        process = subprocess.Popen(
            [sys.executable, str(PROBE), logical_id, str(result_path)],
            cwd=ROOT,
            env=child_environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        running[logical_id] = (process, result_path)
    results = {}
    for logical_id, (process, result_path) in running.items():
        output, _ = process.communicate(timeout=PROBE_TIMEOUT_SECONDS)
        assert process.returncode == 0 and result_path.exists(), f"probe of {logical_id} crashed:\n{output}"
        results[logical_id] = json.loads(result_path.read_text())
    return results
