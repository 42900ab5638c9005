"""The channel sender: one attempt at a time, claimed, sent through its channel's adapter, settled once.

What each provider outcome becomes (channels/sending.py names them):
- `sent`: the message is `sent`, and the provider's id is indexed so its receipts land;
- `rejected`: `failed`, with the provider's code and reason for the agent;
- `retry` (429, 5xx, no connection): the attempt goes back to the outbox, due after the provider's
  Retry-After or our back-off, and its queue message waits as long, holding its conversation's later replies
  behind it; after MAX_TRIES provider calls it is `failed` ("provider_unavailable");
- `unknown` (no answer after the request went out): `unknown`, never blindly resent, unless the provider
  takes an idempotency key (`Sends.resend_is_safe`), where the same attempt is simply sent again.

A sender that dies between the provider's answer and recording it leaves the attempt `sending` with a lease;
when the queue redelivers, the next claim sees it interrupted: resent where that is safe, else `unknown`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from switchboard.channels.base import Sends
from switchboard.channels.sending import (
    OutboundRequest,
    ProviderTimeout,
    ProviderUnreachable,
    SendContext,
    SendOutcome,
)
from switchboard.email.parsed import normalize_message_id
from switchboard.models import AttemptState, Channel
from switchboard.observability import logger, metrics
from switchboard.outbound.adapters import sending_adapter
from switchboard.outbound.pacing import Pacer
from switchboard.outbound.requests import UnsendableReply
from switchboard.proof import ChannelSecrets
from switchboard.store.repositories import Repositories

# Provider calls per attempt before a provider that keeps answering 429/5xx makes it `failed`.
MAX_TRIES = 8
# Longer than one provider call can take (SendHttp's connect + read timeouts) and than the function's timeout,
# so a live sender's claim never runs out under it.
LEASE = timedelta(seconds=120)
BACKOFF_BASE_SECONDS = 2
BACKOFF_MAX_SECONDS = 300

Result = Literal["sent", "failed", "unknown", "retry", "skipped"]


@dataclass(frozen=True)
class AttemptReport:
    attempt_id: str
    result: Result
    retry_in_seconds: int | None = None


RequestBuilder = Callable[..., OutboundRequest]


class ChannelSender:
    def __init__(
        self,
        store: Repositories,
        context: SendContext,
        secrets_of: Callable[[Channel, str], ChannelSecrets],
        build_request: RequestBuilder,
        adapter_of: Callable[[Channel, str], Sends] = sending_adapter,
        pacer: Pacer | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._pacer = pacer
        self._sleep = sleep
        self._store = store
        self._context = context
        self._secrets_of = secrets_of
        self._build = build_request
        self._adapter_of = adapter_of

    def send(self, attempt_id: str, *, now: datetime) -> AttemptReport:
        seen = self._store.outbox.attempt(attempt_id)
        if seen is None or not seen.wants_sending(now):
            return AttemptReport(attempt_id, "skipped")
        # Everything that can fail before the provider call happens before the claim, so that a claim found
        # interrupted means the sender died during or after that call, never before it.
        adapter = self._adapter_of(seen.channel, seen.channel_account_id)
        try:
            request = self._build(seen, now=now)
        except UnsendableReply as unsendable:
            return self._settle_unsendable(attempt_id, unsendable, now)
        own_message_id = normalize_message_id(request.email.message_id) if request.email is not None else None
        if own_message_id is not None:
            # Our own Message-ID finds the ticket before the mail leaves: the customer's answer threads, and a
            # bounce finds the reply, whatever happens after this line.
            self._store.outbox.index_provider_id(seen, own_message_id)
        # A LINE reply token may have been spent by an earlier try of this attempt: pushing now with a fresh
        # retry key could deliver the reply twice, so such an attempt is never repeated blindly.
        spent_token = seen.intent.reply_token is not None and seen.tries > 0
        safe = adapter.resend_is_safe(request) and not spent_token
        calls = seen.state is AttemptState.QUEUED or safe
        if calls:
            wait = self._paced(request)
            if wait > 0:
                metrics.add_metric(name="ReplySendPaced", unit="Count", value=1)
                return AttemptReport(seen.id, "retry", max(1, int(wait + 0.999)))
        claim = self._store.outbox.claim_attempt(attempt_id, now=now, lease=LEASE)
        if claim is None:
            return AttemptReport(attempt_id, "skipped")
        attempt = claim.attempt
        if claim.interrupted and not safe:
            outcome = SendOutcome.unknown(
                "the sender stopped during the provider call; the provider may have sent it, so it is not resent "
                "blindly: resend it if the customer did not get it"
            )
        else:
            outcome = self._call(adapter, request)
        if outcome.kind == "unknown" and safe:
            outcome = SendOutcome.retry(outcome.reason or "no answer from the provider")
        if outcome.kind == "retry":
            if attempt.tries < MAX_TRIES:
                delay = _delay(outcome, attempt.tries)
                self._store.outbox.retry_later(attempt, outcome, due_at=now + timedelta(seconds=delay))
                logger.info(
                    "reply send deferred", extra={"attempt": attempt.id, "tries": attempt.tries, "delay": delay}
                )
                metrics.add_metric(name="ReplySendRetried", unit="Count", value=1)
                return AttemptReport(attempt.id, "retry", delay)
            outcome = SendOutcome.rejected(
                "provider_unavailable",
                f"the provider did not take it in {attempt.tries} tries: {outcome.reason or 'unavailable'}",
            )
        if not self._store.outbox.record_outcome(attempt, outcome, now=now):
            return AttemptReport(attempt.id, "skipped")
        result: Result = {"sent": "sent", "rejected": "failed", "unknown": "unknown"}[outcome.kind]  # type: ignore[assignment]
        logger.info(
            "reply send settled",
            extra={"attempt": attempt.id, "channel": attempt.channel.value, "result": result, "code": outcome.code},
        )
        metrics.add_metric(name=f"Reply{result.capitalize()}", unit="Count", value=1)
        return AttemptReport(attempt.id, result)

    def _settle_unsendable(self, attempt_id: str, unsendable: UnsendableReply, now: datetime) -> AttemptReport:
        claim = self._store.outbox.claim_attempt(attempt_id, now=now, lease=LEASE)
        if claim is None:
            return AttemptReport(attempt_id, "skipped")
        outcome = SendOutcome.rejected(unsendable.code, unsendable.reason)
        if not self._store.outbox.record_outcome(claim.attempt, outcome, now=now):
            return AttemptReport(attempt_id, "skipped")
        metrics.add_metric(name="ReplyFailed", unit="Count", value=1)
        return AttemptReport(attempt_id, "failed")

    def _paced(self, request: OutboundRequest) -> float:
        """0 once the account's rate has a slot for this send (reserved), else how long it must wait."""
        return 0.0 if self._pacer is None else self._pacer.slot(request, self._sleep)

    def _call(self, adapter: Sends, request: OutboundRequest) -> SendOutcome:
        try:
            return adapter.send(request, self._secrets_of(request.channel, request.channel_account_id), self._context)
        except ProviderUnreachable as error:
            return SendOutcome.retry(str(error))
        except ProviderTimeout as error:
            return SendOutcome.unknown(str(error))


def _delay(outcome: SendOutcome, tries: int) -> int:
    """The provider's Retry-After when it gave one, else exponential back-off (2, 4, 8 ... 300 s)."""
    if outcome.retry_after_seconds is not None:
        return max(1, min(int(outcome.retry_after_seconds + 0.999), BACKOFF_MAX_SECONDS * 4))
    return min(BACKOFF_BASE_SECONDS ** max(1, tries), BACKOFF_MAX_SECONDS)
