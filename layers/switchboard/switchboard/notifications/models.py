"""What an admin configures (`NotificationRules`, PUT /admin/notification-rules) and what Switchboard records per
notification (`Notification`, one per order, event type and contact), and the contact's consent (`Consent`)."""

from __future__ import annotations

from datetime import datetime, time
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, model_validator

from switchboard.models import NotifyChannel
from switchboard.orders.events import OrderEventType

MAX_TEMPLATE_CHARS = 2000
MAX_RULES = 32


class Category(StrEnum):
    # Order, payment and delivery facts: not advertising under 정보통신망법 제50조, WhatsApp category `utility`.
    TRANSACTIONAL = "transactional"
    # Needs recorded consent, separate night consent for 21:00-08:00, "(광고)" and an opt-out in Korean messages.
    ADVERTISING = "advertising"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# -- templates: one per locale and channel ------------------------------------------------------------
# Text templates name the event's facts as {order_number}, {customer_name}, {carrier}, {tracking_number},
# {tracking_url}, {promised_date}, {status}, {shop_name} (notifications/templates.py renders them).


class WhatsAppTemplateSpec(_Model):
    name: str = Field(min_length=1, max_length=512, description="An approved template, category utility")
    language: str = Field(min_length=2, max_length=15, description="e.g. ko, en_US, ja")
    parameters: tuple[str, ...] = Field(default=(), max_length=20, description="Body {{1}}.. as text templates")


class AlimTalkTemplateSpec(_Model):
    template_code: str = Field(min_length=1, max_length=20, description="NHN Cloud templateCode (TSC03 approved)")
    variables: dict[str, str] = Field(
        default_factory=dict, description="templateParameter: #{key} -> a text template of the event's facts"
    )
    # 대체발송: what the recipient gets by SMS/LMS when the KakaoTalk message cannot be delivered.
    resend_text: str | None = Field(default=None, max_length=MAX_TEMPLATE_CHARS)
    resend_title: str | None = Field(default=None, max_length=40, description="LMS title")


class EmailTemplateSpec(_Model):
    subject: str = Field(min_length=1, max_length=998)
    body: str = Field(min_length=1, max_length=MAX_TEMPLATE_CHARS * 5)


class ChannelTemplates(_Model):
    """One locale's message on each channel; a channel without one is skipped in the fallback chain."""

    whatsapp: WhatsAppTemplateSpec | None = None
    alimtalk: AlimTalkTemplateSpec | None = None
    sms: str | None = Field(default=None, max_length=MAX_TEMPLATE_CHARS)
    email: EmailTemplateSpec | None = None
    line: str | None = Field(default=None, max_length=MAX_TEMPLATE_CHARS)
    telegram: str | None = Field(default=None, max_length=MAX_TEMPLATE_CHARS)
    messenger: str | None = Field(default=None, max_length=MAX_TEMPLATE_CHARS)
    instagram: str | None = Field(default=None, max_length=MAX_TEMPLATE_CHARS)


class EventRule(_Model):
    event_type: OrderEventType
    enabled: bool = True
    category: Category = Category.TRANSACTIONAL
    # Keyed by locale ("ko", "en", "ja", or a full tag "ko-KR"); the contact's locale, then its language, then
    # NotificationRules.default_locale picks one.
    templates: dict[str, ChannelTemplates] = Field(min_length=1)


# A wall-clock time in the customer's own zone: OpenAPI's "time" format (RFC 3339) would demand an offset, which a
# quiet hour never has, so the schema says what is taken: HH:MM or HH:MM:SS.
LocalTime = Annotated[
    time,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$",
            "description": "A local wall-clock time, HH:MM[:SS], in the customer's time zone",
        }
    ),
]


class QuietHours(_Model):
    """Transactional messages held back overnight in the customer's time zone: deferred to the end, never dropped."""

    enabled: bool = False
    start: LocalTime = time(21, 0)
    end: LocalTime = time(8, 0)


class DelayDetection(_Model):
    """A promised delivery date passed without `shipment.delivered`: one apology, optionally a ticket."""

    enabled: bool = True
    grace_minutes: int = Field(default=0, ge=0, le=7 * 24 * 60)
    open_ticket: bool = Field(default=False, description="Also open a ticket tagged delivery_delayed for the team")
    templates: dict[str, ChannelTemplates] = Field(default_factory=dict)


class Senders(_Model):
    """The shop's own sending accounts per channel: the notification goes out from these."""

    alimtalk_sender_key: str | None = Field(default=None, max_length=40, description="NHN Cloud senderKey")
    alimtalk_resend_number: str | None = Field(default=None, max_length=20, description="대체발송 sender number")
    sms_from: str | None = Field(default=None, max_length=32, description="Twilio number, E.164")
    whatsapp_phone_number_id: str | None = Field(default=None, max_length=64)
    email_from: str | None = Field(default=None, max_length=320)
    line_channel_id: str | None = Field(default=None, max_length=64)
    telegram_bot_id: str | None = Field(default=None, max_length=64)
    messenger_page_id: str | None = Field(default=None, max_length=64)
    instagram_account_id: str | None = Field(default=None, max_length=64)


class NotificationRules(_Model):
    version: int = Field(default=0, ge=0)
    rules: tuple[EventRule, ...] = Field(default=(), max_length=MAX_RULES)
    # Tried in order after the contact's own channel (their configured preference, else the channel they last
    # wrote on); a channel the contact cannot be reached on, or opted out of, is skipped.
    fallback_chain: tuple[NotifyChannel, ...] = (NotifyChannel.ALIMTALK, NotifyChannel.SMS, NotifyChannel.EMAIL)
    default_locale: str = "ko"
    default_timezone: str = "Asia/Seoul"
    quiet_hours: QuietHours = Field(default_factory=QuietHours)
    delay_detection: DelayDetection = Field(default_factory=DelayDetection)
    senders: Senders = Field(default_factory=Senders)
    shop_name: str = Field(default="", max_length=100, description="Shown in messages; (광고) messages must name it")
    # 정보통신망법 제50조: an advertisement names a free way to refuse it (an 080 number for SMS).
    opt_out_instruction: str = Field(default="무료수신거부 080-000-0000", max_length=200)

    @model_validator(mode="after")
    def _one_rule_per_event(self) -> NotificationRules:
        seen = [rule.event_type for rule in self.rules]
        if len(seen) != len(set(seen)):
            raise ValueError("one rule per event_type")
        return self

    def rule_for(self, event_type: OrderEventType) -> EventRule | None:
        return next((rule for rule in self.rules if rule.event_type is event_type and rule.enabled), None)


# -- one notification ---------------------------------------------------------------------------------


class NotificationState(StrEnum):
    QUEUED = "queued"  # due at `due_at` (now, after quiet hours, or after a provider's Retry-After)
    SENDING = "sending"  # claimed by a sender, under a lease
    SENT = "sent"  # a provider took it: `channel` says which
    UNKNOWN = "unknown"  # the provider may have taken it (no answer): never blindly resent
    SKIPPED = "skipped"  # nothing to send on: every channel opted out, unreachable or without a template
    FAILED = "failed"  # every channel refused it for good


class ChannelTry(_Model):
    channel: NotifyChannel
    outcome: str = Field(max_length=16, description="sent | rejected | retry | unknown | skipped")
    code: str | None = Field(default=None, max_length=64)
    reason: str | None = Field(default=None, max_length=1000)
    at: datetime


class Notification(_Model):
    id: str = Field(description="stable_id('ntf', order_key, event_type, contact_id): one per the three")
    order_key: str
    order_id: str
    order_number: str | None = None
    event_type: OrderEventType
    event_id: str
    contact_id: str
    category: Category = Category.TRANSACTIONAL
    state: NotificationState = NotificationState.QUEUED
    due_at: datetime
    created_at: datetime
    tries: int = 0
    lease_until: datetime | None = None
    channel: NotifyChannel | None = Field(default=None, description="The channel that finally carried it")
    channel_account_id: str | None = None
    provider_message_id: str | None = None
    delivery_status: str | None = Field(default=None, description="From receipts: sent, delivered, read, failed")
    tries_by_channel: tuple[ChannelTry, ...] = Field(default=(), max_length=32)
    deferred_reason: str | None = Field(default=None, max_length=64, description="quiet_hours | paced | retry")
    ticket_id: str | None = Field(default=None, description="The open ticket it was also posted on")
    # The facts the templates render, frozen when the event was processed.
    facts: dict[str, str] = Field(default_factory=dict)
