"""The seam for thank-you messages: a customer message that only thanks us, on a solved ticket, restarts no SLA
clock (Zendesk's advanced SLA settings leave such messages out of next reply time).

Telling a thank-you from a new question is the routing rules' work (intent detection, later). Until a detector is
given, every customer message counts as one that needs an answer: the safe side, since a missed thank-you costs a
needless clock and a missed question costs a customer left waiting.
"""

from __future__ import annotations

from typing import Protocol

from switchboard.models import InboundMessage, Ticket


class ThanksDetector(Protocol):
    def only_thanks(self, message: InboundMessage, ticket: Ticket) -> bool:
        """Whether `message`, arriving on `ticket` as it was before the message, does nothing but thank us."""
        ...


class EveryMessageNeedsAnAnswer:
    """No message counts as only a thank-you."""

    def only_thanks(self, message: InboundMessage, ticket: Ticket) -> bool:
        return False


NO_THANKS_DETECTION = EveryMessageNeedsAnAnswer()
