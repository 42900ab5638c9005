"""Cold import time of each function, next to what creating one boto3 client costs.

Each sample is a fresh interpreter (python -I) with the function's folder and the shared layer on
sys.path, as Lambda lays them out (/var/task, /opt/python), and the function's template environment.
The child times its own import with time.perf_counter, so interpreter start-up is excluded on both
sides. One unmeasured round first writes the bytecode caches; rounds alternate between targets.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
from dataclasses import dataclass

from infra.functions import LAYER_DIR
from infra.template import functions

ROUNDS = 10
BASELINE = "boto3 + SQS client"
_CHILD = """
import importlib, sys, time
sys.path[:0] = {paths!r}
started = time.perf_counter()
{statement}
print(time.perf_counter() - started)
"""


@dataclass(frozen=True)
class ImportTime:
    target: str
    median_ms: float


def _sample(paths: list[str], statement: str, environment: dict[str, str]) -> float:
    result = subprocess.run(
        [sys.executable, "-I", "-c", _CHILD.format(paths=paths, statement=statement)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return float(result.stdout.strip().splitlines()[-1])


def measure(stack) -> list[ImportTime]:
    lambda_environment = {"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "LANG": "en_US.UTF-8"}
    targets: dict[str, tuple[list[str], str, dict[str, str]]] = {}
    for spec in functions(stack.template):
        paths = [str(spec.code_dir), str(LAYER_DIR)]
        statement = f"importlib.import_module({spec.module_name!r})"
        targets[spec.logical_id] = (paths, statement, lambda_environment | stack.environment_of(spec.logical_id))
    targets[BASELINE] = ([], 'import boto3; boto3.client("sqs", region_name="us-east-1")', lambda_environment)

    samples: dict[str, list[float]] = {name: [] for name in targets}
    for round_number in range(ROUNDS + 1):
        for name, (paths, statement, environment) in targets.items():
            seconds = _sample(paths, statement, environment)
            if round_number:
                samples[name].append(seconds)
    return [ImportTime(name, statistics.median(values) * 1000) for name, values in samples.items()]
