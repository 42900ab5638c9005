"""What a channel adapter is: small Protocols, one per capability, that adapters subclass explicitly so
mypy checks each against them, and that the webhook flow (switchboard/webhooks.py) dispatches on.

- `ChannelAdapter`: verify, then parse into normalized events. Every adapter.
- `AnswersHandshake`: a provider's subscription check on GET (Meta's hub.challenge); without it GET is 405.
- `Acknowledges`: the HTTP answer a provider expects once events are queued (Kakao's SkillResponse,
  Twilio's empty TwiML); without it 200 {"received": n}.

- `Sends`: the outbound half: the channel's window rule, its text limit, and the provider call that
  sends one attempt of a reply (channels/sending.py holds the request, the HTTP and the outcome).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from switchboard.channels.sending import OutboundRequest, SendContext, SendOutcome, WindowVerdict
from switchboard.http_request import WebhookRequest
from switchboard.models import InboundEvent
from switchboard.proof import ChannelSecrets


class ChannelAdapter(Protocol):
    """Provider quirks live behind this: verify first, then parse into normalized events."""

    # The provider webhook this adapter serves: its route is /webhooks/<webhook>, and logs and metrics
    # name it so. One webhook can carry several channels (Twilio's carries SMS and WhatsApp).
    webhook: str
    # The body cap of its route, checked before anything reads the body (docs/channels, README).
    max_body_bytes: int
    # The secret field whose value made the proof, when the payload (not the proof) names the account: the
    # webhook flow then refuses events filed under accounts that secret does not belong to. None when the
    # proof itself names its account (a Telegram bot's secret token, Twilio's AccountSid signing key).
    proof_secret: str | None

    def verify(self, request: WebhookRequest, secrets: ChannelSecrets) -> str | None:
        """Raises InvalidSignature unless the request provably comes from the provider.

        Returns the channel account the proof belongs to when the proof itself identifies it (a
        Telegram bot's secret token), else None (the payload names its account)."""
        ...

    def parse(self, body: bytes, received_at: datetime, account_id: str | None = None) -> Sequence[InboundEvent]:
        """Raises MalformedPayload when the body is not the provider's documented shape."""
        ...


@runtime_checkable
class AnswersHandshake(Protocol):
    def answer_handshake(self, request: WebhookRequest, secrets: ChannelSecrets) -> str:
        """The body of the 200 that proves to the provider we own the URL; InvalidRequest or Forbidden."""
        ...


@runtime_checkable
class Acknowledges(Protocol):
    def acknowledge(self, events: Sequence[InboundEvent]) -> dict[str, Any]:
        """The HTTP response (payload 2.0) the provider expects once `events` are queued."""
        ...


@runtime_checkable
class Sends(Protocol):
    """A provider that can carry an agent's reply to the customer."""

    # The longest text one message may carry, in code points (README, "Replies": over it is a 400 naming it).
    max_text_chars: int

    def refusal(self, request: OutboundRequest) -> str | None:
        """Why this reply cannot go out as one message of the channel (a 400 when the agent submits it: too
        many files, a kind the channel cannot carry, text beside a file where the channel takes one or the
        other), or None."""
        ...

    def resend_is_safe(self, request: OutboundRequest) -> bool:
        """True when repeating this attempt (same attempt id) cannot deliver twice: LINE's push with its
        X-Line-Retry-Key. A timed-out or interrupted attempt is then resent; elsewhere it becomes `unknown`."""
        ...

    def window(
        self, *, last_customer_message_at: datetime | None, now: datetime, human_agent: bool, template: bool
    ) -> WindowVerdict:
        """Whether a reply of this kind may go out now, judged when the agent submits it (409 otherwise)."""
        ...

    def send(self, request: OutboundRequest, secrets: ChannelSecrets, context: SendContext) -> SendOutcome:
        """One provider call for one attempt; never raises for a provider's answer, only for our own faults."""
        ...
