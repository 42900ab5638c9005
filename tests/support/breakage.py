"""Breaking one field of a valid provider payload: how the drivers build bodies that must be refused (400)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from hypothesis import strategies as st

DELETE = object()
"""As a replacement: remove the field instead of changing its value."""

Breakage = tuple[Callable[[], Any], tuple, Any]
"""(a builder of a valid payload, the path of the field to break, DELETE or a strategy of bad values)."""


def broken_payload(breakage: Breakage) -> st.SearchStrategy[Any]:
    build, path, replacement = breakage
    if replacement is DELETE:
        return st.just(replaced(build(), path, DELETE))
    return replacement.map(lambda value: replaced(build(), path, value))


def replaced(payload: Any, path: Iterable, value: Any) -> Any:
    """The payload with the field at `path` set to `value`, or removed when `value` is DELETE."""
    *parents, last = path
    parent = payload
    for step in parents:
        parent = parent[step]
    if value is DELETE:
        del parent[last]
    else:
        parent[last] = value
    return payload
