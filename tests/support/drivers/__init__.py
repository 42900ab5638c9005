"""Channel drivers: what a test needs to know to speak one provider's webhook dialect.

The reliability and property suites are written once against `ChannelDriver` and run for every
driver in `DRIVERS`; adding a channel means adding a driver, not copying tests.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from hypothesis import strategies as st

from switchboard.models import Channel, DeliveryStatus


class _Signed:
    def __repr__(self) -> str:
        return "SIGNED"


SIGNED = _Signed()
"""Sign the body the way the provider does, with the channel's sample secrets."""


@dataclass(frozen=True)
class Customer:
    """A customer as a channel knows them."""

    external_id: str
    display_name: str | None = None


class ChannelDriver(ABC):
    channel: Channel
    webhook_path: str
    # The channel's secrets as seeded into the stack's secret (template Metadata.Switchboard.LocalSecrets).
    secrets: Mapping[str, str]
    # The header carrying the provider's proof of origin.
    signature_header: str
    supports_receipts: bool = True
    # Whether a message carries the time the customer sent it (Kakao's and Twilio's do not).
    stamps_messages: bool = True
    # False for SES: it writes into the mail bucket, there is no request to sign or forge.
    has_webhook: bool = True
    # Mail paths: what is delivered lands in the mail bucket, whose notification takes it on to the intake.
    arrives_in_mail_bucket: bool = False
    # Mailgun signs inside the form: `request` puts the proof into the body instead of a header.
    proof_in_body: bool = False
    # JSON and form channels refuse text that is not Unicode; mail decodes it with replacement and flags it.
    text_must_be_unicode: bool = True

    @property
    def name(self) -> str:
        return self.channel.value

    @abstractmethod
    def customer(self, number: int, display_name: str | None = None) -> Customer:
        """A customer id in the channel's own format; the same number gives the same customer."""

    @abstractmethod
    def message_id(self, label: str) -> str:
        """A provider message id in the channel's own format; the same label gives the same id."""

    def external_id(self, customer: Customer, message_id: str) -> str:
        """The id Switchboard files `customer`'s message `message_id` under: the provider's own id, unless
        the provider numbers messages only within a chat (Telegram), where the chat becomes part of it."""
        return message_id

    @abstractmethod
    def text_message(self, customer: Customer, *, message_id: str, text: str, sent_at: datetime) -> bytes:
        """The raw webhook body the provider sends when `customer` writes `text`."""

    @abstractmethod
    def receipt(self, recipient: Customer, *, message_id: str, status: DeliveryStatus, at: datetime) -> bytes:
        """The raw webhook body reporting the delivery status of a message we sent to `recipient`."""

    @abstractmethod
    def headers(self, body: bytes, signature: object = SIGNED) -> dict[str, str]:
        """The request headers the provider sends with `body`.

        `signature` is SIGNED (sign with the sample secrets), None (leave the signature header out) or
        the literal header value to send.
        """

    def request(self, body: bytes, signature: object = SIGNED) -> tuple[dict[str, str], bytes]:
        """The headers and body sent for `body`: the body as is, unless the proof travels inside it."""
        return self.headers(body, signature), body

    def expected_text(self, sent: str) -> str | None:
        """What agents should read of a text as sent (an empty text is no text)."""
        return sent or None

    def text_seen_by_agents(self, message: dict) -> str | None:
        """What agents read of a stored message, as the read API shows it, to compare with what was sent."""
        return message["text"]

    @abstractmethod
    def forged_signatures(self) -> st.SearchStrategy[str | None]:
        """Signature header values (None: no header) that must not pass for a body."""

    @abstractmethod
    def malformed_bodies(self) -> st.SearchStrategy[bytes]:
        """Bodies with the provider's envelope but broken where the adapter relies on them: always refused."""


from tests.support.drivers.email import EMAIL_DRIVERS  # noqa: E402  (they subclass ChannelDriver)
from tests.support.drivers.kakao import KakaoDriver  # noqa: E402  (it subclasses ChannelDriver)
from tests.support.drivers.line import LineDriver  # noqa: E402  (it subclasses ChannelDriver)
from tests.support.drivers.messenger import InstagramDriver, MessengerDriver  # noqa: E402  (they subclass ChannelDriver)
from tests.support.drivers.telegram import TelegramDriver  # noqa: E402  (it subclasses ChannelDriver)
from tests.support.drivers.twilio import TwilioDriver  # noqa: E402  (it subclasses ChannelDriver)
from tests.support.drivers.whatsapp import WhatsAppDriver  # noqa: E402  (it subclasses ChannelDriver)

DRIVERS: list[ChannelDriver] = [
    WhatsAppDriver(),
    MessengerDriver(),
    InstagramDriver(),
    LineDriver(),
    TelegramDriver(),
    KakaoDriver(),
    TwilioDriver(),
    *EMAIL_DRIVERS,
]
WEBHOOK_DRIVERS = [driver for driver in DRIVERS if driver.has_webhook]
