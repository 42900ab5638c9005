"""Functions run in their own processes, like Lambda execution environments."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.local.workers import FunctionPool, WorkerSpec, WorkerStartFailed

pytestmark = pytest.mark.e2e

PROBE = textwrap.dedent(
    """
    import os
    import time

    def handler(event, context):
        if event.get("raise"):
            raise ValueError("the probe was asked to fail")
        if event.get("sleep"):
            time.sleep(event["sleep"])
        if event.get("exit"):
            os._exit(3)
        if event.get("unserializable"):
            return {"when": object()}
        return {
            "event": event,
            "stage": os.environ.get("STAGE"),
            "leaked": os.environ.get("SWITCHBOARD_PARENT_ONLY"),
            "request_id": context.aws_request_id,
            "remaining_ms": context.get_remaining_time_in_millis(),
            "pid": os.getpid(),
        }
    """
)


def _spec(code_dir: Path, timeout: int = 1) -> WorkerSpec:
    return WorkerSpec("ProbeFunction", code_dir, "app.handler", timeout, {"STAGE": "dev", "PATH": "/usr/bin:/bin"})


@pytest.fixture(scope="module")
def probe(tmp_path_factory) -> Iterator[FunctionPool]:
    code_dir = tmp_path_factory.mktemp("probe")
    (code_dir / "app.py").write_text(PROBE)
    pool = FunctionPool(_spec(code_dir), size=1)
    pool.start()
    pool.wait_ready()
    yield pool
    pool.stop()


def test_handler_sees_its_own_environment_and_a_lambda_context(tmp_path, monkeypatch):
    # Given a variable only the runner has when the function's environment starts
    monkeypatch.setenv("SWITCHBOARD_PARENT_ONLY", "secret")
    (tmp_path / "app.py").write_text(PROBE)
    pool = FunctionPool(_spec(tmp_path), size=1)
    pool.start()
    pool.wait_ready()

    # When the function is invoked
    try:
        invocation = pool.invoke({"hello": "world"})
        second = pool.invoke({})
    finally:
        pool.stop()

    # Then it got the event as JSON, its template environment, and nothing else of the runner's
    assert not invocation.failed
    assert invocation.result["event"] == {"hello": "world"}
    assert invocation.result["stage"] == "dev"
    assert invocation.result["leaked"] is None
    assert 0 < invocation.result["remaining_ms"] <= 1000
    assert invocation.result["request_id"] != second.result["request_id"]


def test_handler_exception_comes_back_as_lambdas_error_document_and_the_worker_stays_warm(probe):
    pid = probe.invoke({}).result["pid"]
    failed = probe.invoke({"raise": True})
    assert failed.error["errorType"] == "ValueError"
    assert failed.error["errorMessage"] == "the probe was asked to fail"
    assert "the probe was asked to fail" in "".join(failed.error["stackTrace"])
    assert probe.invoke({}).result["pid"] == pid


def test_unserializable_result_is_a_marshal_error(probe):
    assert probe.invoke({"unserializable": True}).error["errorType"] == "Runtime.MarshalError"


def test_timeout_kills_the_environment_and_the_next_invocation_gets_a_new_one(probe):
    # Given a warm worker
    pid = probe.invoke({}).result["pid"]

    # When an invocation outlives the function's timeout
    started = time.monotonic()
    timed_out = probe.invoke({"sleep": 30})

    # Then it fails as a Lambda timeout, promptly, and the next invocation runs in a fresh process
    assert timed_out.error["errorType"] == "Sandbox.Timedout"
    assert time.monotonic() - started < 5
    after = probe.invoke({})
    assert not after.failed
    assert after.result["pid"] != pid


def test_a_crashed_environment_is_an_exit_error_and_is_replaced(probe):
    pid = probe.invoke({}).result["pid"]
    assert probe.invoke({"exit": True}).error["errorType"] == "Runtime.ExitError"
    after = probe.invoke({})
    assert not after.failed
    assert after.result["pid"] != pid


def test_a_function_that_cannot_import_stops_the_start(tmp_path):
    (tmp_path / "app.py").write_text("import a_module_that_does_not_exist\n")
    pool = FunctionPool(_spec(tmp_path), size=1)
    pool.start()
    with pytest.raises(WorkerStartFailed, match="a_module_that_does_not_exist"):
        pool.wait_ready()
    pool.stop()
