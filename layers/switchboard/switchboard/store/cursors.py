"""Listing cursors: a page's last key, handed to the client opaque and checked hard when it comes back.

A cursor is the base64url JSON of the DynamoDB key a Query stopped at (`LastEvaluatedKey`), to be passed
back as `ExclusiveStartKey`. A client can send anything in its place, so before a cursor reaches DynamoDB
it must be exactly one this listing could have returned: the same key names, the listing's own fixed
values (status, ticket), and free values of the right shape within DynamoDB's key limits. Anything else is
a 400: a key past DynamoDB's limits or a string it cannot encode would otherwise be its ValidationException,
a 500.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from switchboard.errors import InvalidRequest

# Our own cursors stay far below this (two keys of a few hundred bytes, base64'd); decoding stops here,
# before base64 or JSON work, so a forged cursor costs nothing however long the query string.
MAX_CURSOR_CHARS = 4096
# DynamoDB's key limits ("Service, account, and table quotas in Amazon DynamoDB", Partition key / Sort key
# length): a partition key value at most 2,048 bytes, a sort key value at most 1,024 bytes, in UTF-8.
MAX_PARTITION_KEY_BYTES = 2048
MAX_SORT_KEY_BYTES = 1024

_NOT_OURS = "cursor is not one this API returned"
_OTHER_LISTING = "cursor does not belong to this listing"


@dataclass(frozen=True)
class FreeKey:
    """A key value the cursor carries: it must start with `prefix` and fit `max_bytes` of UTF-8."""

    prefix: str
    max_bytes: int


@dataclass(frozen=True)
class CursorShape:
    """The keys of one listing's cursor: values fixed by the listing, and values it carries."""

    fixed: Mapping[str, str]
    free: Mapping[str, FreeKey] = field(default_factory=dict)

    def encode(self, key: Mapping[str, Any]) -> str:
        """The cursor for a DynamoDB key (LastEvaluatedKey, or a key we built) of this listing."""
        plain = {name: value["S"] if isinstance(value, Mapping) else value for name, value in key.items()}
        return base64.urlsafe_b64encode(json.dumps(plain, separators=(",", ":")).encode()).decode().rstrip("=")

    def decode(self, cursor: str) -> dict[str, Any]:
        """The ExclusiveStartKey a cursor stands for, or InvalidRequest (a 400, never a 500)."""
        if len(cursor) > MAX_CURSOR_CHARS:
            raise InvalidRequest(_NOT_OURS)
        try:
            plain = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        except (binascii.Error, ValueError, RecursionError) as exc:
            raise InvalidRequest(_NOT_OURS) from exc
        if not isinstance(plain, dict) or set(plain) != set(self.fixed) | set(self.free):
            raise InvalidRequest(_OTHER_LISTING)
        if any(plain[name] != value for name, value in self.fixed.items()):
            raise InvalidRequest(_OTHER_LISTING)
        for name, rule in self.free.items():
            value = plain[name]
            if not isinstance(value, str) or not value.startswith(rule.prefix) or len(value) == len(rule.prefix):
                raise InvalidRequest(_OTHER_LISTING)
            try:
                size = len(value.encode("utf-8"))
            except UnicodeEncodeError as exc:  # a lone surrogate, which JSON's \ud800 lets through
                raise InvalidRequest(_NOT_OURS) from exc
            if size > rule.max_bytes:
                raise InvalidRequest(_NOT_OURS)
        return {name: {"S": value} for name, value in plain.items()}
