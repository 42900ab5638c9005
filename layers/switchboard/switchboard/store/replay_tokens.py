"""Replay tokens: a provider's signed one-time webhook token is accepted with one body only (Mailgun signs
`timestamp + token`; its guide asks receivers to cache tokens and refuse a second use)."""

from __future__ import annotations

from datetime import datetime

from switchboard.store.table import Table, replay_key

# Kept a day past the token's validity, then removed by the table's TTL.
_KEPT_AFTER_EXPIRY_SECONDS = 86400


class ReplayTokenRepository:
    def __init__(self, table: Table) -> None:
        self._table = table

    def claim_replay_token(self, provider: str, token: str, body_sha256: str, expires_at: datetime) -> bool:
        """Claims a provider's one-time webhook token for one body. True when it is new, or already claimed
        for this same body (the provider retrying a delivery we failed to answer); False when another body
        comes with it: a replay."""
        return self._table.put_if(
            {
                **replay_key(provider, token),
                "body_sha256": {"S": body_sha256},
                "expires_at": {"N": str(int(expires_at.timestamp()) + _KEPT_AFTER_EXPIRY_SECONDS)},
            },
            "attribute_not_exists(pk) OR body_sha256 = :body",
            {":body": {"S": body_sha256}},
        )
