"""Starts `python -m infra.local` once for the e2e session, on free ports and a temporary state directory."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from tests.e2e.local_stack import LocalStack
from tests.support.paths import REPO_ROOT

STARTUP_TIMEOUT_SECONDS = 60
# The runner stops 16 functions' workers, moto and the fake providers: about 5 s idle here, and it has taken
# 14 s at the end of a full `make test` on a loaded 2-core machine. Ignoring SIGINT would take forever.
SHUTDOWN_TIMEOUT_SECONDS = 30


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    state_dir = tmp_path_factory.mktemp("switchboard-local")
    log_path = state_dir / "runner.log"
    port = _free_port()
    env = {**os.environ, "SWITCHBOARD_PORT": str(port), "SWITCHBOARD_STATE_DIR": str(state_dir)}
    env.pop("SWITCHBOARD_MOTO_PORT", None)
    with log_path.open("wb") as log:
        runner = subprocess.Popen(
            [sys.executable, "-m", "infra.local"], cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        state_path = state_dir / "local.json"
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not (state_path.exists() and _listening(port)):
            if runner.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the local runner did not come up:\n{log_path.read_text(errors='replace')}")
            time.sleep(0.2)
        yield LocalStack(state=json.loads(state_path.read_text()), state_dir=state_dir, log_path=log_path)
    finally:
        _stop(runner, log_path)


def _stop(runner: subprocess.Popen, log_path) -> None:
    if runner.poll() is None:
        runner.send_signal(signal.SIGINT)
    try:
        code = runner.wait(SHUTDOWN_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        runner.kill()
        runner.wait()
        pytest.fail(f"the local runner ignored SIGINT for {SHUTDOWN_TIMEOUT_SECONDS}s:\n{_tail(log_path)}")
    assert code == 0, f"the local runner exited with {code}:\n{_tail(log_path)}"


def _tail(log_path) -> str:
    return log_path.read_text(errors="replace")[-4000:]
