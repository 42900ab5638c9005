"""Each function runs in its own processes, like a Lambda execution environment: its own
os.environ, the layer on sys.path, the handler imported once and then invoked many times.

A worker serves one invocation at a time. Events and results cross the pipe as JSON text, as they
cross Lambda's runtime API, so a handler that returns something unserializable fails here as it
would in AWS. A crashed or timed-out worker is replaced on the next invocation (a new cold start).
"""

from __future__ import annotations

import contextlib
import io
import json
import multiprocessing
import os
import queue
import signal
import sys
import threading
import traceback
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

from infra.template import FunctionSpec

_SPAWN = multiprocessing.get_context("spawn")
_STARTUP_TIMEOUT_SECONDS = 60
_STOP_TIMEOUT_SECONDS = 5


class WorkerStartFailed(Exception):
    """A function's module could not be imported: every invocation would fail, so the runner stops."""


@dataclass(frozen=True)
class Invocation:
    """What an invocation returned: the handler's result, or Lambda's error document."""

    result: Any = None
    error: dict[str, Any] | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None


class Invoker(Protocol):
    """A function the gateway and the pollers can invoke: a worker pool here, a thread in the test stack."""

    @property
    def name(self) -> str: ...

    def invoke(self, event: Mapping[str, Any]) -> Invocation: ...


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker process needs; plain data, because it crosses into a spawned interpreter."""

    function_name: str
    code_dir: Path
    handler: str
    timeout_seconds: int
    environment: dict[str, str]


def lambda_environment(
    spec: FunctionSpec, function_env: Mapping[str, str], aws_env: Mapping[str, str]
) -> dict[str, str]:
    """The variables Lambda itself sets, then the function's own, then the local AWS endpoint and credentials."""
    region = aws_env.get("AWS_DEFAULT_REGION", "us-east-1")
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "LAMBDA_TASK_ROOT": str(spec.code_dir),
        "_HANDLER": spec.handler,
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_LAMBDA_FUNCTION_NAME": spec.logical_id,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.logical_id}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "local",
        "AWS_REGION": region,
        **function_env,
        **aws_env,
    }


def _serve(spec: WorkerSpec, conn) -> None:
    """The worker process: import once, then answer invocations until told to stop or the runner goes away."""
    # Ctrl-C reaches the whole process group; the runner decides when workers stop, so that
    # an invocation in flight finishes instead of dying mid-write.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)
    os.environ.clear()
    os.environ.update(spec.environment)
    os.chdir(spec.code_dir)
    sys.path.insert(0, str(spec.code_dir))

    from infra.functions import LambdaContext, load_handler

    try:
        handler = load_handler(spec.code_dir, spec.handler)
    except BaseException as exc:  # noqa: BLE001 - Lambda reports any init failure as Runtime.ImportModuleError
        conn.send(("init_error", error_document(exc, "Runtime.ImportModuleError")))
        return
    conn.send(("ready", None))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message[0] == "stop":
            return
        _, request_id, event_json = message
        context = LambdaContext(spec.function_name, request_id, timeout_seconds=spec.timeout_seconds)
        try:
            result = handler(json.loads(event_json), context)
        except BaseException as exc:  # noqa: BLE001 - Lambda reports every handler failure, SystemExit included
            conn.send(("error", error_document(exc)))
            continue
        try:
            conn.send(("ok", json.dumps(result)))
        except (TypeError, ValueError) as exc:
            conn.send(("error", error_document(exc, "Runtime.MarshalError")))


def error_document(exc: BaseException, error_type: str | None = None) -> dict[str, Any]:
    """Lambda's error document for an exception a handler raised."""
    return {
        "errorMessage": str(exc),
        "errorType": error_type or type(exc).__name__,
        "stackTrace": traceback.format_exception(exc),
    }


class Worker:
    """One execution environment. The lock keeps it to one invocation at a time, as Lambda does."""

    def __init__(self, spec: WorkerSpec) -> None:
        self.spec = spec
        self._lock = threading.Lock()
        self._process: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None
        self._stopped = False

    def start(self) -> None:
        parent_end, child_end = _SPAWN.Pipe()
        self._process = _SPAWN.Process(
            target=_serve, args=(self.spec, child_end), name=f"lambda:{self.spec.function_name}", daemon=True
        )
        self._process.start()
        child_end.close()
        self._conn = parent_end

    def _pipe(self) -> Connection:
        if self._conn is None:
            raise RuntimeError(f"{self.spec.function_name}'s worker is not running")
        return self._conn

    def wait_ready(self) -> None:
        if not self._pipe().poll(_STARTUP_TIMEOUT_SECONDS):
            self._discard()
            raise WorkerStartFailed(f"{self.spec.function_name} did not start within {_STARTUP_TIMEOUT_SECONDS}s")
        try:
            status, detail = self._pipe().recv()
        except EOFError as exc:
            self._discard()
            raise WorkerStartFailed(f"{self.spec.function_name} exited while starting") from exc
        if status != "ready":
            self._discard()
            raise WorkerStartFailed(
                f"{self.spec.function_name} failed to initialise: {detail['errorMessage']}\n"
                + "".join(detail["stackTrace"])
            )

    def invoke(self, event: Mapping[str, Any]) -> Invocation:
        with self._lock:
            if self._stopped:
                return Invocation(
                    error={"errorType": "Runtime.Stopped", "errorMessage": "the local runner is stopping"}
                )
            if self._process is None or not self._process.is_alive():
                self._discard()
                self.start()
                try:
                    self.wait_ready()
                except WorkerStartFailed as exc:
                    return Invocation(error={"errorType": "Runtime.ImportModuleError", "errorMessage": str(exc)})
            request_id = str(uuid.uuid4())
            exited = Invocation(
                error={"errorType": "Runtime.ExitError", "errorMessage": f"{request_id} the runtime exited"}
            )
            try:
                self._pipe().send(("invoke", request_id, json.dumps(event)))
                # Lambda stops the function at its timeout; the extra second covers the pipe round trip.
                if not self._pipe().poll(self.spec.timeout_seconds + 1):
                    self._discard()
                    return Invocation(
                        error={
                            "errorType": "Sandbox.Timedout",
                            "errorMessage": f"{request_id} Task timed out after {self.spec.timeout_seconds:.2f} seconds",
                        }
                    )
                status, payload = self._pipe().recv()
            except (EOFError, OSError):
                self._discard()
                return exited
            if status == "ok":
                return Invocation(result=json.loads(payload))
            return Invocation(error=payload)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            if self._process is not None and self._process.is_alive():
                # A worker that already died has closed its end; _discard below cleans it up.
                with contextlib.suppress(OSError):
                    self._pipe().send(("stop",))
                self._process.join(_STOP_TIMEOUT_SECONDS)
            self._discard()

    def _discard(self) -> None:
        if self._process is not None:
            if self._process.is_alive():
                self._process.kill()
            self._process.join(_STOP_TIMEOUT_SECONDS)
            self._process = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class FunctionPool:
    """A function's warm execution environments; an invocation waits for a free one."""

    def __init__(self, spec: WorkerSpec, size: int) -> None:
        self.spec = spec
        self._workers = [Worker(spec) for _ in range(max(1, size))]
        self._idle: queue.Queue[Worker] = queue.Queue()

    @property
    def name(self) -> str:
        return self.spec.function_name

    def start(self) -> None:
        for worker in self._workers:
            worker.start()

    def wait_ready(self) -> None:
        for worker in self._workers:
            worker.wait_ready()
            self._idle.put(worker)

    def invoke(self, event: Mapping[str, Any]) -> Invocation:
        worker = self._idle.get()
        try:
            return worker.invoke(event)
        finally:
            self._idle.put(worker)

    def stop(self) -> None:
        for worker in self._workers:
            worker.stop()
