"""The providers' sending rates, kept per sending account so that a burst of replies is paced, never dropped.

| channel | limit we keep | the provider's rule |
|---|---|---|
| WhatsApp Cloud API | 80 messages/s per phone number | "80 messages per second (mps) ... per business phone number" by default (Cloud API, Throughput); error 130429 past it |
| Messenger | 300 messages/s per Page | Send API rate limit for a Page's messages (Messenger Platform, Rate limiting) |
| Instagram | 100 messages/s per account | Instagram messaging's calls per second per professional account (Instagram Platform, Rate limiting); unconfirmed figure, kept conservative |
| Telegram | 1 message/s per chat, 30 messages/s per bot | Bots FAQ: "avoid sending more than one message per second" to a chat, "not ... more than about 30 messages per second" in bulk |
| Twilio (SMS, WhatsApp) | 1 segment/s per long code | Twilio: a US long code sends 1 message segment per second; a longer SMS counts each segment (channels/twilio.py sms_segments) |
| LINE | 2,000 requests/s per channel | Messaging API rate limits: 2,000 requests per second for push |
| Email (SES) | 14 messages/s per account | SES's default sending rate outside the sandbox is account-specific; 14/s is the common starting quota (SES quotas) |
| AlimTalk (NHN Cloud) | `AlimtalkRatePerSecond` per sender key (default 300) | NHN Cloud's AlimTalk guides and error codes publish no per-second limit: the contract's, set as a stack parameter (`Pacer(alimtalk_rate=...)`) |

A send that finds its account's slots taken waits (briefly, in the sender) or goes back to the outbox for the
wait; the wait never counts against the attempt's tries (outbound/sender.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from switchboard.channels.sending import OutboundRequest
from switchboard.channels.twilio import sends_through_twilio, sms_segments
from switchboard.models import Channel
from switchboard.store.send_rates import SendRates

# Sends per second per AlimTalk sender key when the stack sets none (ALIMTALK_RATE_PER_SECOND). Ours, not NHN
# Cloud's, which publishes no figure: a deployment sets what its NHN Cloud contract allows.
DEFAULT_ALIMTALK_RATE_PER_SECOND = 300.0


@dataclass(frozen=True)
class Limit:
    bucket: str
    rate_per_second: float
    cost: float = 1.0


def limits_of(request: OutboundRequest, alimtalk_rate: float = DEFAULT_ALIMTALK_RATE_PER_SECOND) -> list[Limit]:
    account = request.channel_account_id
    if request.alimtalk is not None:
        # One bucket per sender key (the KakaoTalk channel), whichever NHN Cloud app key sends for it.
        return [Limit(f"alimtalk#{request.alimtalk.sender_key}", alimtalk_rate)]
    if sends_through_twilio(request.channel, account):
        segments = sms_segments(request.text or "") if request.channel is Channel.SMS else 1
        return [Limit(f"twilio#{account}", 1.0, float(max(1, segments)))]
    if request.channel is Channel.TELEGRAM:
        return [Limit(f"telegram#{account}", 30.0), Limit(f"telegram#{account}#{request.recipient_id}", 1.0)]
    per_account = {
        Channel.WHATSAPP: 80.0,
        Channel.MESSENGER: 300.0,
        Channel.INSTAGRAM: 100.0,
        Channel.LINE: 2000.0,
        Channel.EMAIL: 14.0,
    }
    rate = per_account.get(request.channel)
    return [Limit(f"{request.channel.value}#{account}", rate)] if rate else []


# A wait for the account's sending rate shorter than this is slept out in the sender; a longer one goes back to the
# queue (a reply's visibility delayed as long, keeping the conversation's order; a notification deferred).
MAX_SLEEP_SECONDS = 1.5


class Pacer:
    """How long a send must wait for its account's rate; 0 when it may go now (its slot is then reserved)."""

    # A second's worth of sends may go at once; beyond that they queue at the rate.
    BURST_SECONDS = 1.0
    # A slot is reserved a few milliseconds before its provider call (the claim comes between), so two calls can
    # land a little closer than their slots: the rates are kept 5 % under the providers' (make bench, 8c, saw
    # two Telegram calls 0.968 s apart at a full 1/s).
    HEADROOM = 0.95

    def __init__(self, rates: SendRates, alimtalk_rate: float = DEFAULT_ALIMTALK_RATE_PER_SECOND) -> None:
        self._rates = rates
        self._alimtalk_rate = alimtalk_rate

    def wait_for(self, request: OutboundRequest, now: float) -> float:
        for limit in limits_of(request, self._alimtalk_rate):
            rate = limit.rate_per_second * self.HEADROOM
            burst = max(self.BURST_SECONDS - limit.cost / rate, 0.0)
            wait = self._rates.reserve(
                limit.bucket, now=now, cost=limit.cost, rate_per_second=rate, burst_seconds=burst
            )
            if wait > 0:
                return wait
        return 0.0

    def slot(self, request: OutboundRequest, sleep: Callable[[float], None]) -> float:
        """0 once a slot is reserved, sleeping out short waits (up to 3 times); else the longer wait left."""
        wait = self.wait_for(request, time.time())
        for _ in range(3):
            if not 0 < wait <= MAX_SLEEP_SECONDS:
                break
            sleep(wait)
            wait = self.wait_for(request, time.time())
        return wait
