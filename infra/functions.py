"""Loads a function's handler the way Lambda does: its CodeUri folder plus the shared layer on the path.

Every function's module is called `app`, so each is loaded under a unique module name.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infra.template import ROOT, FunctionSpec

LAYER_DIR = ROOT / "layers" / "switchboard"


def use_layer() -> None:
    """What Lambda does by mounting the layer at /opt/python."""
    if str(LAYER_DIR) not in sys.path:
        sys.path.insert(0, str(LAYER_DIR))


def load_handler(code_dir: Path, handler: str) -> Callable[[dict, Any], Any]:
    use_layer()
    module_name, function_name = handler.rsplit(".", 1)
    path = code_dir / (module_name.replace(".", "/") + ".py")
    unique = f"switchboard_fn_{code_dir.name}_{module_name.replace('.', '_')}"
    spec = importlib.util.spec_from_file_location(unique, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[unique] = module
    spec.loader.exec_module(module)
    return getattr(module, function_name)


def load_function(spec: FunctionSpec) -> Callable[[dict, Any], Any]:
    return load_handler(spec.code_dir, spec.handler)


class LambdaContext:
    """The attributes of Lambda's context object that Powertools and our handlers read."""

    def __init__(self, function_name: str, request_id: str, timeout_seconds: int = 30, memory_mb: int = 512) -> None:
        import time

        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory_mb
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        import time

        return max(0, int((self._deadline - time.monotonic()) * 1000))
