"""A ticket's ETag is its version, which every write to it moves on (RFC 9110 §8.8.3, a strong validator)."""

from __future__ import annotations

import re

_ETAG = re.compile(r'(?:W/)?"([0-9]{1,12})"')


def etag_of(version: int) -> str:
    return f'"{version}"'


def version_named(if_match: str) -> int | None:
    """The version an If-Match names; None for anything that is not one of our ETags (so it never matches)."""
    found = _ETAG.fullmatch(if_match[:64])
    return int(found.group(1)) if found else None
