"""Mailgun's one-time tokens, claimed in the tickets table: a signed request can be replayed within its
time window by anyone who saw it, unless each token is accepted for one request body only."""

from __future__ import annotations

import hashlib

from switchboard.email.providers.base import ReplayToken
from switchboard.store.replay_tokens import ReplayTokenRepository


class ReplayGuard:
    """Claims each one-time token (Mailgun's) for one request body, in the tickets table."""

    def __init__(self, provider: str, store: ReplayTokenRepository) -> None:
        self._provider = provider
        self._store = store

    def __call__(self, token: ReplayToken, body: bytes) -> bool:
        body_sha256 = hashlib.sha256(body).hexdigest()
        return self._store.claim_replay_token(self._provider, token.value, body_sha256, token.expires_at)
