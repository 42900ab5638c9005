"""Lambda runs each concurrent invocation in a process of its own; the in-process stack runs them as threads
of one process, where they share Powertools' one metric set. Powertools checks that set for emptiness and
then serializes it in two steps, so a thread whose metrics another thread flushed in between raised
"Must contain at least one metric" (SchemaValidationError) where no Lambda ever would. Adding and flushing
under one lock makes each flush see the set as it is; what a flush prints may then hold several
invocations' metrics, which no test reads."""

from __future__ import annotations

import functools
import threading

import pytest
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider


def install(monkeypatch: pytest.MonkeyPatch) -> None:
    # On the class: every Metrics instance of the process shares one metric set, whichever imported it.
    lock = threading.RLock()
    for name in ("add_metric", "flush_metrics"):
        unlocked = getattr(AmazonCloudWatchEMFProvider, name)

        @functools.wraps(unlocked)
        def locked(self, *args, _unlocked=unlocked, **kwargs):
            with lock:
                return _unlocked(self, *args, **kwargs)

        monkeypatch.setattr(AmazonCloudWatchEMFProvider, name, locked)
