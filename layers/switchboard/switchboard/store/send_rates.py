"""Send pacing: one item per sending account (or chat) holding when its next send may go, shared by every sender.

| item       | pk                       | sk   | attributes                                    |
|------------|--------------------------|------|-----------------------------------------------|
| send rate  | RATE#<channel>#<account> | RATE | `next_at` (epoch seconds, a float), `expires_at` (TTL) |

The generic cell rate algorithm: a send of cost c at rate r moves `next_at` to max(next_at, now) + c / r, and
may go when that leaves `next_at` at most `burst` seconds ahead of now. Each step is a conditional write on
the value read, so concurrent senders never both take the same slot.
"""

from __future__ import annotations

from decimal import Decimal

from switchboard.store.table import Table, key, key_part

_ATTEMPTS = 5


class SendRates:
    def __init__(self, table: Table) -> None:
        self._table = table

    def reserve(self, bucket: str, *, now: float, cost: float, rate_per_second: float, burst_seconds: float) -> float:
        """Reserves a slot for one send: 0 when it may go now, else how many seconds to wait before asking again
        (nothing is reserved then). `cost` is in the rate's units (a message, or an SMS's segments)."""
        item_key = key(key_part(f"RATE#{bucket}"), "RATE")
        for _ in range(_ATTEMPTS):
            found = self._table.get(item_key)
            seen = found["next_at"] if found else None
            start = max(float(seen["N"]) if seen else 0.0, now)
            if start - now > burst_seconds:
                return start - now - burst_seconds
            after = start + cost / rate_per_second
            values = {":after": {"N": _number(after)}, ":expires": {"N": str(int(after) + 3600)}}
            if seen is None:
                condition = "attribute_not_exists(pk)"
            else:
                condition = "next_at = :seen"
                values[":seen"] = seen
            if (
                self._table.update_if(item_key, "SET next_at = :after, expires_at = :expires", condition, values=values)
                is not None
            ):
                return 0.0
        return 1.0 / rate_per_second  # a crowd took the slots meanwhile: ask again shortly


def _number(value: float) -> str:
    return str(Decimal(repr(round(value, 6))))
