"""The in-process stack's guard around Powertools' shared metric set (tests/support/shared_metrics.py):
handlers running as threads of one process, as the concurrency suites run them, flush metrics without
tripping over each other, as separate Lambda processes never would."""

import contextlib
import io
import sys
import threading
import warnings

from switchboard.observability import metrics
from tests.support import shared_metrics


@metrics.log_metrics
def handler(event, context):
    metrics.add_metric(name="BenchmarkedEvent", unit="Count", value=1)


def test_handlers_on_eight_threads_flush_their_metrics_without_errors(monkeypatch):
    # Given the guard, and threads switched as often as the interpreter allows (the race shows in a few calls)
    monkeypatch.setattr(metrics.provider, "namespace", "Switchboard")
    shared_metrics.install(monkeypatch)
    errors: list[str] = []

    def run() -> None:
        for _ in range(300):
            try:
                handler({}, None)
            except Exception as error:  # noqa: BLE001 (any error is the finding)
                errors.append(f"{type(error).__name__}: {error}")

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        # When eight threads add and flush metrics at once
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            threads = [threading.Thread(target=run) for _ in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    finally:
        sys.setswitchinterval(interval)
    # Then no flush saw another thread's half-cleared set (without the guard: SchemaValidationError, RuntimeError)
    assert errors == []
