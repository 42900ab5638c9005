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


# Values of the wrong type, for fields an adapter relies on. Each driver combines them with its
# provider's own rules (which timestamps or coordinates are out of range, which fields may be null).
SCALARS = st.one_of(st.integers(), st.floats(), st.booleans(), st.none())
SMALL_LISTS = st.lists(st.integers(), max_size=3)
SMALL_DICTS = st.dictionaries(st.text(max_size=5), st.integers(), max_size=3)


def _nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


NESTED = st.integers(1, 60).map(_nested)
NOT_STR = st.one_of(SCALARS, SMALL_LISTS, SMALL_DICTS, NESTED)
EMPTY_OR_NOT_STR = st.one_of(st.just(""), NOT_STR)
NOT_STR_NOR_NULL = st.one_of(st.integers(), st.floats(), st.booleans(), SMALL_LISTS, SMALL_DICTS, NESTED)
NOT_LIST = st.one_of(SCALARS, st.text(max_size=10), SMALL_DICTS)
NOT_DICT = st.one_of(SCALARS, st.text(max_size=10), SMALL_LISTS, NESTED)
NOT_DICT_OR_NULL = st.one_of(st.integers(), st.floats(), st.booleans(), st.text(max_size=10), SMALL_LISTS)


WORDS = st.from_regex(r"\A[a-z]{1,12}\Z")
# Words float() reads as numbers: an adapter that converts with float() rightly takes them.
NUMBER_WORDS = ("nan", "inf", "infinity")


def bad_timestamps(last_valid: int, *, null_is_bad: bool = True) -> st.SearchStrategy[Any]:
    """What no provider sends as a whole-number epoch timestamp whose range ends at `last_valid`."""
    return st.one_of(
        st.integers(max_value=-1),
        st.integers(min_value=last_valid + 1),
        st.floats().filter(lambda number: not number.is_integer()),
        WORDS,
        *([st.none()] if null_is_bad else []),
        SMALL_LISTS,
        SMALL_DICTS,
    )


def bad_latitudes(*more: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Latitudes out of range, words, null and lists; `more` adds what else a provider's adapter refuses."""
    return st.one_of(
        st.floats(min_value=90, exclude_min=True),
        st.floats(max_value=-90, exclude_max=True),
        WORDS.filter(lambda word: word not in NUMBER_WORDS),
        st.none(),
        SMALL_LISTS,
        *more,
    )
