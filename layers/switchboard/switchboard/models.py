"""Normalized models shared by every channel, the queue, the writer and the read API.

A provider adapter turns a webhook into `InboundMessage`s and `DeliveryReceipt`s; those travel
on the inbound queue as `InboundEvent`s; the writer turns them into `Contact`s, `Ticket`s and
`TicketMessage`s. Nothing provider-specific survives past the adapter.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator


class Channel(StrEnum):
    WHATSAPP = "whatsapp"
    MESSENGER = "messenger"
    INSTAGRAM = "instagram"
    LINE = "line"
    TELEGRAM = "telegram"
    KAKAO = "kakao"
    SMS = "sms"
    EMAIL = "email"


class TicketStatus(StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    ON_HOLD = "on_hold"
    SOLVED = "solved"
    CLOSED = "closed"


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"
    INTERNAL = "internal"  # an agent's note: on the timeline, never sent, never receipted


class AuthorKind(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"
    BOT = "bot"
    SYSTEM = "system"


class DeliveryStatus(StrEnum):
    QUEUED = "queued"  # accepted from the agent, in the outbox
    # The provider may or may not have it: its answer never came, and it takes no idempotency key. A
    # receipt settles it; the agent may resend it explicitly (docs/architecture.md, "The outbound path").
    UNKNOWN = "unknown"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


class MailHandling(StrEnum):
    """What a received mail is, for the writer: only customer mail may open a ticket or reopen one."""

    CUSTOMER = "customer"
    AUTO_REPLY = "auto_reply"  # out-of-office, vacation and other automatic answers
    BULK = "bulk"  # newsletters, mailing lists
    BOUNCE = "bounce"  # a delivery failure report about mail we sent
    LOOP = "loop"  # our own outgoing mail coming back to us
    QUARANTINED = "quarantined"  # SES found spam or a virus: kept for review, never shown as a ticket


class AttachmentFetchStatus(StrEnum):
    STORED = "stored"
    TOO_LARGE = "too_large"
    FAILED = "failed"
    # The URL, or a redirect, left the channel's allow-list or the public internet: never requested.
    REFUSED = "refused"


# Receipts can arrive out of order (Meta may deliver "read" before "delivered"); a status
# never moves backwards, and "failed" is final.
DELIVERY_STATUS_RANK = {
    DeliveryStatus.QUEUED: 0,
    DeliveryStatus.UNKNOWN: 0,
    DeliveryStatus.SENT: 1,
    DeliveryStatus.DELIVERED: 2,
    DeliveryStatus.READ: 3,
    DeliveryStatus.FAILED: 4,
}


# The longest text each channel's customers can send, in code points (every provider counts characters or
# UTF-16 units, never fewer than code points, so a genuine message is never cut):
# WhatsApp 4,096 (Cloud API, text.body); Messenger 2,000 (Send API, message.text); Instagram 1,000
# (Instagram messaging, text); LINE 5,000 (Messaging API, text message); Telegram 4,096 (Bot API,
# sendMessage); SMS 1,600 (Twilio, message body); Kakao 1,000 (the figure for an utterance; Kakao
# documents none). Email texts are bounded by the intake, which keeps the whole mail in the mail bucket.
TEXT_LIMITS: dict[str, int] = {
    "whatsapp": 4096,
    "messenger": 2000,
    "instagram": 1000,
    "line": 5000,
    "telegram": 4096,
    "sms": 1600,
    "kakao": 1000,
}
# A message's attachments: chat providers send at most 10 (Twilio's NumMedia); the media job numbers
# them below 100, and mail with more keeps the rest in the raw mail.
MAX_ATTACHMENTS = 100
MAX_REFERENCE_CHARS = 1024  # an id we only look up (reply_to_external_id, reply_token): longer is no id of theirs
MAX_NAME_CHARS = 1000  # a place's name or address, an error's description
# Lists on a ticket or contact that grow with its life, each bounded so the item stays far below DynamoDB's
# 400 KB item limit whatever arrives (docs/data-model.md, "Bounded items"); what is full keeps its first.
MAX_TICKET_CC = 100  # addresses (≤ 254 characters each): Zendesk keeps at most 48 CCs on a ticket
MAX_TICKET_TAGS = 50
MAX_TAG_CHARS = 80
MAX_CONTACT_IDENTITIES = 50  # channel identities listed on a contact; more still resolve to it
MAX_CONTACT_FOLLOWS = 50  # identities whose follow state the contact records


def plain_tags(tags: tuple[str, ...]) -> tuple[str, ...]:
    """Tags as an agent or admin gives them, each kept once in order; ValueError for one that is empty, longer than
    MAX_TAG_CHARS or holds a space (Zendesk's tags are single words: a space would make one tag two in its search
    and macros). The one rule for ticket tags, contact tags and the tags SLA policies name."""
    for tag in tags:
        if not tag or len(tag) > MAX_TAG_CHARS or any(character.isspace() for character in tag):
            raise ValueError(f"a tag is 1 to {MAX_TAG_CHARS} characters without spaces")
    return tuple(dict.fromkeys(tags))


def cut_text(value: str | None, limit: int) -> str | None:
    """`value` at most `limit` code points long, never splitting a character."""
    return value[:limit] if value is not None and len(value) > limit else value


def utc_now() -> datetime:
    return datetime.now(UTC)


def sortable_time(moment: datetime) -> str:
    """Fixed-width UTC timestamp, so that string order is time order in sort keys."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def stable_id(prefix: str, *parts: str) -> str:
    """Deterministic id: the same input always yields the same id, which keeps retries idempotent."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return f"{prefix}_{digest[:24]}"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Attachment(_Model):
    """Metadata of a media item; bytes are fetched later by the media job (never in the webhook)."""

    kind: str = Field(min_length=1, description="image, audio, video, document, sticker, file ...")
    provider_media_id: str | None = None
    mime_type: str | None = None
    sha256: str | None = None
    filename: str | None = None
    size_bytes: int | None = Field(default=None, ge=0)
    url: str | None = None
    storage_key: str | None = Field(
        default=None, description="Where the media job stored the bytes (attachments bucket)"
    )
    content_id: str | None = Field(default=None, description="Email: the Content-ID an HTML body's cid: link names")
    inline: bool = Field(default=False, description="Email: shown within the body rather than as a file")
    fetch_status: AttachmentFetchStatus | None = Field(
        default=None, description="Set by the media job; None until it ran"
    )


class Location(_Model):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    name: str | None = None
    address: str | None = None

    @field_validator("name", "address")
    @classmethod
    def _bounded(cls, value: str | None) -> str | None:
        return cut_text(value, MAX_NAME_CHARS)


class EmailDetails(_Model):
    """What only email has: addresses, threading headers and where the raw mail is kept. Bodies longer than
    fit in a table item stay complete in the raw mail; `full_text` is cut to a bound and says so."""

    mailbox: str = Field(min_length=3, max_length=320, description="Our address the mail came to (plus tag removed)")
    from_address: str = Field(min_length=1, max_length=320)
    to: tuple[str, ...] = Field(default=(), max_length=100)
    cc: tuple[str, ...] = Field(default=(), max_length=100)
    participants: tuple[str, ...] = Field(
        default=(), max_length=100, description="Everyone on To/Cc except the sender and our own mailboxes"
    )
    subject: str = Field(default="", max_length=2000)
    message_id: str | None = Field(default=None, max_length=998)
    in_reply_to: tuple[str, ...] = Field(default=(), max_length=20)
    references: tuple[str, ...] = Field(default=(), max_length=20, description="The root first, then the newest ones")
    reply_ticket_id: str | None = Field(
        default=None, description="The ticket named by a verified reply-address token (support+<token>@...)"
    )
    subject_ticket_number: int | None = Field(default=None, ge=1, description="A [#<number>] token in the subject")
    handling: MailHandling = MailHandling.CUSTOMER
    handling_reason: str | None = Field(default=None, max_length=200)
    bounced_message_id: str | None = Field(default=None, max_length=998)
    full_text: str | None = Field(
        default=None, description="The whole body, quotes included, when it differs from the text"
    )
    full_text_truncated: bool = False
    decoding_problems: tuple[str, ...] = Field(default=(), max_length=20)
    parse_limits: tuple[str, ...] = Field(
        default=(),
        max_length=20,
        description="What the intake cut to stay within its limits (mime_parts, header_size, text_length ...; "
        "docs/channels/email.md); the raw mail has it all",
    )
    raw_mail_key: str = Field(min_length=1, max_length=1024, description="The raw MIME in the mail bucket")
    provider: str = Field(min_length=1, max_length=32, description="ses, mailgun, postmark or sendgrid")
    provider_id: str | None = Field(default=None, max_length=512)

    @model_validator(mode="before")
    @classmethod
    def _cut_to_bounds(cls, values: Any) -> Any:
        """A value over its field's max_length is cut to it, never refused: a refused mail fails on every
        retry and ends in the dead-letter queue, and the raw mail keeps the whole value anyway."""
        if not isinstance(values, dict):
            return values
        return {name: _cut_to_max_length(value, cls.model_fields.get(name)) for name, value in values.items()}


def _cut_to_max_length(value: Any, field: Any) -> Any:
    if field is None or not isinstance(value, (str, tuple, list)):
        return value
    bound = next((m.max_length for m in field.metadata if getattr(m, "max_length", None) is not None), None)
    return value[:bound] if bound is not None and len(value) > bound else value


class HeldMail(_Model):
    """A mail that must not become a ticket (quarantined, or an automatic mail that belongs to no ticket):
    kept so an agent can review it, with the raw mail in the mail bucket."""

    external_id: str
    handling: MailHandling
    reason: str | None = None
    mailbox: str
    from_address: str
    subject: str
    raw_mail_key: str
    created_at: datetime
    received_at: datetime
    # Set once an agent releases the mail into the tickets (Zendesk's "recover"); it then leaves the list.
    released_at: datetime | None = None
    released_by: str | None = None


class SenderIdentity(_Model):
    """The customer of a conversation, as the channel knows them: the author of what they send, and the
    recipient of echoes of what the business sent them from elsewhere."""

    external_id: str = Field(min_length=1, max_length=256)
    display_name: str | None = Field(default=None, max_length=256)
    phone_e164: str | None = Field(default=None, pattern=r"^\+[1-9][0-9]{6,14}$")


class _ConversationEvent(_Model):
    """What happened in one customer's conversation with one of our channel accounts."""

    channel: Channel
    channel_account_id: str = Field(min_length=1, max_length=256)
    conversation_id: str = Field(
        min_length=1,
        max_length=256,
        description="The customer's conversation within the account (the sender, or a group).",
    )

    @property
    def conversation_key(self) -> str:
        return f"{self.channel}:{self.channel_account_id}:{self.conversation_id}"


class InboundMessage(_ConversationEvent):
    kind: Literal["message"] = "message"
    external_id: str = Field(min_length=1, max_length=512)
    sender: SenderIdentity
    message_type: str = Field(min_length=1, max_length=64)
    known_type: bool = Field(default=True, description="False when the provider type is new to us; kept, never dropped")
    text: str | None = None
    attachments: tuple[Attachment, ...] = ()
    location: Location | None = None
    reply_to_external_id: str | None = None
    payload: str | None = Field(
        default=None,
        max_length=2000,
        description="The machine value behind a tapped button, quick reply or menu item (its label is the text)",
    )
    direction: Direction = Field(
        default=Direction.INBOUND,
        description="OUTBOUND for echoes of messages the business sent from another tool (Messenger is_echo)",
    )
    reply_token: str | None = Field(default=None, description="LINE: lets an agent reply for free until it expires")
    reply_token_expires_at: datetime | None = None
    email: EmailDetails | None = None
    provider_timestamp: datetime
    received_at: datetime
    truncated: tuple[str, ...] = Field(
        default=(),
        description="What was cut to fit the channel's maxima or the queue: text, attachments, reply_to_external_id ...",
    )

    @model_validator(mode="before")
    @classmethod
    def _within_maxima(cls, values: object) -> object:
        """Cuts what is longer than its channel can send, and says so: a message is never refused for it."""
        if not isinstance(values, dict):
            return values
        values, cut = dict(values), list(values.get("truncated") or ())
        text, limit = values.get("text"), TEXT_LIMITS.get(str(values.get("channel")))
        if isinstance(text, str) and limit is not None and len(text) > limit:
            values["text"], cut = text[:limit], [*cut, "text"]
        attachments = values.get("attachments")
        if isinstance(attachments, (list, tuple)) and len(attachments) > MAX_ATTACHMENTS:
            values["attachments"], cut = tuple(attachments[:MAX_ATTACHMENTS]), [*cut, "attachments"]
        for reference in ("reply_to_external_id", "reply_token"):
            if isinstance(values.get(reference), str) and len(values[reference]) > MAX_REFERENCE_CHARS:
                values[reference], cut = None, [*cut, reference]
        if cut:
            values["truncated"] = tuple(dict.fromkeys(cut))
        return values

    @field_validator("provider_timestamp", "received_at")
    @classmethod
    def _aware_utc(cls, moment: datetime) -> datetime:
        if moment.tzinfo is None:
            raise ValueError("timestamps must carry a time zone")
        return moment.astimezone(UTC)

    @property
    def dedup_key(self) -> str:
        return f"{self.channel}:{self.external_id}"


class DeliveryReceipt(_Model):
    """A provider's report on a message we sent (sent, delivered, read, failed)."""

    kind: Literal["receipt"] = "receipt"
    channel: Channel
    channel_account_id: str = Field(min_length=1, max_length=256)
    external_id: str = Field(min_length=1, max_length=512)
    recipient_id: str = Field(min_length=1, max_length=256)
    status: DeliveryStatus
    errors: tuple[str, ...] = ()
    provider_timestamp: datetime
    attempt_id: str | None = Field(
        default=None,
        max_length=64,
        description="Our send attempt, when the provider echoes it (WhatsApp's biz_opaque_callback_data): settles "
        "a reply whose send answer never came, as its provider id was never indexed",
    )

    @field_validator("errors")
    @classmethod
    def _bounded_errors(cls, errors: tuple[str, ...]) -> tuple[str, ...]:
        # WhatsApp lists the reasons a message failed; the first few, each as long as a sentence, say it.
        return tuple(cut_text(error, MAX_NAME_CHARS) or "" for error in errors[:10])

    @property
    def conversation_key(self) -> str:
        return f"{self.channel}:{self.channel_account_id}:{self.recipient_id}"

    @property
    def dedup_key(self) -> str:
        return f"{self.channel}:{self.external_id}:{self.status}"


class MessageEdit(_ConversationEvent):
    """The customer changed a message they sent (Telegram edited_message): the stored message is updated."""

    kind: Literal["edit"] = "edit"
    external_id: str = Field(min_length=1, max_length=512)
    text: str | None = None
    edited_at: datetime
    truncated: tuple[str, ...] = Field(default=(), description="'text' when the edit was cut to the channel's maximum")

    @model_validator(mode="before")
    @classmethod
    def _within_maxima(cls, values: object) -> object:
        if isinstance(values, dict):
            text, limit = values.get("text"), TEXT_LIMITS.get(str(values.get("channel")))
            if isinstance(text, str) and limit is not None and len(text) > limit:
                values = {**values, "text": text[:limit], "truncated": ("text",)}
        return values

    @property
    def dedup_key(self) -> str:
        return f"{self.channel}:{self.external_id}:edit:{self.edited_at.timestamp():.0f}"


class ReadWatermark(_ConversationEvent):
    """The customer read everything we sent up to a moment (Messenger/Instagram `read.watermark`)."""

    kind: Literal["read"] = "read"
    read_up_to: datetime

    @property
    def dedup_key(self) -> str:
        return f"{self.channel}:{self.conversation_key}:read:{self.read_up_to.timestamp():.3f}"


class FollowChange(_ConversationEvent):
    """The customer followed/added or unfollowed/blocked the business account (LINE follow/unfollow)."""

    kind: Literal["follow"] = "follow"
    event_id: str = Field(min_length=1, max_length=256)
    sender: SenderIdentity
    following: bool
    occurred_at: datetime

    @property
    def dedup_key(self) -> str:
        return f"{self.channel}:{self.channel_account_id}:follow:{self.event_id}"


# What an adapter parses a delivery into, the queue carries and the writer records: one name, one union.
InboundEvent = InboundMessage | DeliveryReceipt | MessageEdit | ReadWatermark | FollowChange
# Reads an event back from the queue by its `kind`.
INBOUND_EVENT: TypeAdapter[InboundEvent] = TypeAdapter(Annotated[InboundEvent, Field(discriminator="kind")])


class ChannelIdentity(_Model):
    channel: Channel
    channel_account_id: str
    external_id: str

    @property
    def key(self) -> str:
        return f"{self.channel}:{self.channel_account_id}:{self.external_id}"


class FollowState(_Model):
    following: bool
    changed_at: datetime


class NotifyChannel(StrEnum):
    """Where a proactive message can go. AlimTalk is KakaoTalk's template message (NHN Cloud's dealer API), the one
    way to reach a KakaoTalk user outside a chatbot conversation; on the timeline it shows as channel `kakao`."""

    ALIMTALK = "alimtalk"
    SMS = "sms"
    WHATSAPP = "whatsapp"
    LINE = "line"
    TELEGRAM = "telegram"
    MESSENGER = "messenger"
    INSTAGRAM = "instagram"
    EMAIL = "email"

    @property
    def timeline_channel(self) -> Channel:
        return Channel.KAKAO if self is NotifyChannel.ALIMTALK else Channel(self.value)


class ChannelConsent(_Model):
    opted_out: bool
    changed_at: datetime
    by: str = Field(max_length=64, description="keyword:<word>, twilio, or api")


class Consent(_Model):
    """A contact's answer to proactive messages. Transactional messages go unless opted out on that channel;
    advertising needs `advertising_at`, and between 21:00 and 08:00 also `night_advertising_at`."""

    channels: dict[str, ChannelConsent] = Field(default_factory=dict, description="By NotifyChannel value")
    advertising_at: datetime | None = None
    night_advertising_at: datetime | None = None
    preferred_channel: NotifyChannel | None = None


class LastNotification(_Model):
    """The contact's latest proactive message: a reply soon after it opens a ticket showing the order it answered."""

    notification_id: str
    order_key: str
    order_id: str
    order_number: str | None = None
    channel: NotifyChannel
    at: datetime


class Contact(_Model):
    id: str
    display_name: str | None = None
    phone_e164: str | None = None
    tags: tuple[str, ...] = Field(
        default=(), max_length=MAX_TICKET_TAGS, description="e.g. vip: SLA policies match them"
    )
    identities: tuple[ChannelIdentity, ...]
    follows: dict[str, FollowState] = Field(
        default_factory=dict, description="Per channel identity key: whether they follow the business account"
    )
    created_at: datetime
    # Known from a shop's orders (proactive/order_events.py), or set by an agent.
    email: str | None = Field(default=None, max_length=320)
    locale: str | None = Field(default=None, max_length=35, description="BCP 47, e.g. ko-KR")
    timezone: str | None = Field(default=None, max_length=64, description="IANA, e.g. Asia/Seoul")
    consent: Consent = Field(default_factory=lambda: Consent())
    last_notification: LastNotification | None = None


class DeliveryEvent(_Model):
    """One step of a reply's delivery, recorded once: queued, sent, delivered, read, failed or unknown."""

    status: DeliveryStatus
    at: datetime
    by: str = Field(description="Who reported it: the outbox (queued, resent), the sender, or the provider's receipt")


class Requester(_Model):
    contact_id: str
    display_name: str | None = None
    tags: tuple[str, ...] = Field(
        default=(),
        max_length=MAX_TICKET_TAGS,
        description="The contact's tags (e.g. vip), for SLA policies: copied when the ticket opens, and by PATCH /contacts",
    )


class SlaMetric(StrEnum):
    """Zendesk's seven SLA metrics (docs/sla.md): what each one measures is in sla/clocks.py."""

    FIRST_REPLY = "first_reply"
    NEXT_REPLY = "next_reply"
    PERIODIC_UPDATE = "periodic_update"
    PAUSABLE_UPDATE = "pausable_update"
    REQUESTER_WAIT = "requester_wait"
    AGENT_WORK = "agent_work"
    RESOLUTION = "resolution"


class MetricStatus(StrEnum):
    ACTIVE = "active"  # the clock runs, the target not reached
    PAUSED = "paused"  # the clock is stopped by the ticket's status; the time spent counts when it runs again
    FULFILLED = "fulfilled"  # what it measures happened (breached_at says whether it was late)
    BREACHED = "breached"  # the clock runs past the target


class SlaView(StrEnum):
    """The agents' SLA views (GET /tickets?sla=...): where a ticket's running clocks stand."""

    BREACHED = "breached"
    WARNING = "warning"
    ACTIVE = "active"


class MetricClock(_Model):
    """One SLA metric of a ticket, as of the ticket's last write (sla/clocks.py)."""

    target_minutes: int = Field(ge=1)
    business_hours: bool
    status: MetricStatus
    activation: int = Field(
        ge=1,
        description="Which run of the metric this is: a restart (a new customer message "
        "after a reply, a reopened ticket) starts a new one, a pause does not",
    )
    started_at: datetime = Field(description="When this activation started")
    spent_seconds: float = Field(
        default=0, ge=0, description="Time counted before running_since (business time for business-hours targets)"
    )
    running_since: datetime | None = Field(default=None, description="While the clock runs: since when")
    due_at: datetime | None = Field(default=None, description="While the clock runs short of the target: the deadline")
    warn_at: datetime | None = None
    warned: bool = Field(default=False, description="The warning is recorded on the ticket's timeline")
    breached_at: datetime | None = Field(
        default=None, description="The deadline it missed, or the change that made it late"
    )
    breach_recorded: bool = Field(default=False, description="The breach is on the timeline and its metrics emitted")
    escalated_level: int = Field(default=0, ge=0, le=4, description="The highest escalation level acted on")
    stopped_at: datetime | None = Field(default=None, description="When it was fulfilled or paused")

    @property
    def running(self) -> bool:
        return self.status in (MetricStatus.ACTIVE, MetricStatus.BREACHED)


class TicketSla(_Model):
    """The SLA policy a ticket is measured by and each of its metrics' clocks (docs/sla.md)."""

    policy: str = Field(description="The name of the policy applied")
    policy_version: int = Field(ge=0, description="The version of the policy list it was applied from")
    metrics: dict[SlaMetric, MetricClock] = Field(default_factory=dict)
    next_due_at: datetime | None = Field(
        default=None,
        description="The earliest of the next warning, breach or escalation: the ticket's place in the timer index",
    )


class NoticeState(StrEnum):
    PENDING = "pending"  # to be sent at next_try_at
    SENDING = "sending"  # claimed by an enforcer; if it dies, the lease runs out and the notice is due again
    DELIVERED = "delivered"
    REJECTED = "rejected"  # the target refused it for good (4xx, no such topic): never retried
    FAILED = "failed"  # still failing after MAX_NOTICE_TRIES


class SlaNoticeDelivery(_Model):
    """One notify action of one escalation level to one target (a webhook or an SNS topic): created once with the
    breach's record, delivered by the enforcer (store/sla_notices.py)."""

    event_id: str = Field(description="Stable per ticket, metric, activation and level: the receiver dedupes on it")
    ticket_id: str
    ticket_number: int
    policy: str
    metric: SlaMetric
    activation: int
    level: int = Field(ge=1, le=4)
    channel: Channel
    priority: Priority
    due_at: datetime
    breached_at: datetime
    action_index: int = Field(ge=0, description="Which action of the level, and which target of it")
    target_kind: Literal["webhook", "sns"]
    target: str = Field(description="The webhook URL or the topic ARN")
    state: NoticeState = NoticeState.PENDING
    tries: int = Field(default=0, ge=0)
    next_try_at: datetime
    last_error: str | None = None


class OrderRef(_Model):
    """The order a ticket answers: the contact's latest notification, when their message opening the ticket came
    within REPLY_TO_NOTIFICATION of it (tickets/lifecycle.py order_ref_of)."""

    order_key: str = Field(description="<source>#<shop>#<order id> (orders/events.py OrderEvent.order_key)")
    order_id: str
    order_number: str | None = None
    notification_id: str


class Ticket(_Model):
    id: str
    number: int = Field(ge=1)
    status: TicketStatus
    priority: Priority = Priority.NORMAL
    channel: Channel
    channel_account_id: str
    conversation_key: str
    subject: str
    requester: Requester
    assignee_id: str | None = None
    group_id: str | None = None
    tags: tuple[str, ...] = Field(
        default=(), description=f"At most {MAX_TICKET_TAGS}, each at most {MAX_TAG_CHARS} characters"
    )
    follow_up_of: str | None = Field(default=None, description="The closed ticket this one follows up")
    cc: tuple[str, ...] = Field(
        default=(),
        description=f"Email: everyone copied on the thread besides the requester and us, the first {MAX_TICKET_CC} of them",
    )
    message_count: int = Field(default=0, ge=0)
    created_at: datetime
    updated_at: datetime
    first_customer_message_at: datetime | None = None
    last_customer_message_at: datetime | None = None
    # What the SLA clocks run on (docs/data-model.md, "Reply times"): a public agent reply answers every
    # customer message before it; an internal note answers nothing.
    first_agent_reply_at: datetime | None = None
    last_agent_reply_at: datetime | None = Field(default=None, description="The latest agent reply, public or a note")
    last_public_agent_reply_at: datetime | None = None
    awaiting_agent_since: datetime | None = Field(
        default=None, description="The oldest customer message no public agent reply has answered yet"
    )
    solved_at: datetime | None = Field(default=None, description="When the ticket last became solved")
    # LINE: the newest customer message's reply token, until a reply uses it (one use only, about a minute).
    reply_token: str | None = None
    reply_token_expires_at: datetime | None = None
    sla: TicketSla | None = Field(
        default=None, description="The SLA policy applied and its metrics; none matched: null"
    )
    order_ref: OrderRef | None = Field(
        default=None, description="The order the customer answered a notification about, when they opened the ticket"
    )

    @field_validator("cc")
    @classmethod
    def _first_copied(cls, cc: tuple[str, ...]) -> tuple[str, ...]:
        # Full: later addresses stay on their own mail's email.cc, not on the ticket (docs/data-model.md).
        return cc[:MAX_TICKET_CC]

    @field_validator("tags")
    @classmethod
    def _bounded_tags(cls, tags: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(tag[:MAX_TAG_CHARS] for tag in tags if tag))[:MAX_TICKET_TAGS]


class TicketMessage(_Model):
    id: str
    ticket_id: str
    channel: Channel
    external_id: str
    direction: Direction
    author_kind: AuthorKind
    public: bool = True
    message_type: str
    known_type: bool = True
    text: str | None = None
    attachments: tuple[Attachment, ...] = ()
    location: Location | None = None
    reply_to_external_id: str | None = None
    sender_name: str | None = None
    author_id: str | None = Field(default=None, description="The agent's token subject, on agents' notes and replies")
    delivery_status: DeliveryStatus | None = None
    delivery_error_code: str | None = Field(default=None, description="The provider's code when sending failed")
    delivery_error: str | None = Field(default=None, description="Why sending failed, for the agent")
    delivery_history: tuple[DeliveryEvent, ...] = Field(
        default=(), description="Each delivery status the reply reached, once, with when and who reported it"
    )
    attempt_id: str | None = Field(default=None, description="A reply's latest send attempt")
    cc: tuple[str, ...] = Field(default=(), description="Email replies: the customer-visible Cc")
    payload: str | None = Field(default=None, description="The value behind a tapped button or quick reply")
    original_text: str | None = Field(default=None, description="The text as first sent, once the author edited it")
    edited_at: datetime | None = None
    reply_token: str | None = None
    reply_token_expires_at: datetime | None = None
    email: EmailDetails | None = None
    truncated: tuple[str, ...] = Field(
        default=(), description="What the intake cut to the channel's maxima (InboundMessage.truncated)"
    )
    sender_not_participant: bool = Field(
        default=False,
        description="Email joined by References/In-Reply-To from someone neither the requester nor copied on the "
        "thread: anyone once copied knows its Message-IDs, so check before trusting it (docs/channels/email.md)",
    )
    created_at: datetime = Field(description="When the author sent it (provider time)")
    received_at: datetime


class FieldChange(_Model):
    """One field of a ticket as it was and as it became (JSON values: a status, a list of tags, null)."""

    field: str
    # None (unassigned) is left out of the stored item, as every empty field is.
    before: str | list[str] | None = None
    after: str | list[str] | None = None


class TicketAudit(_Model):
    """One change to a ticket by an agent, recorded once with the ticket version it made (Zendesk's audits)."""

    ticket_id: str
    ticket_version: int = Field(ge=2, description="The ticket's version after this change; its first version is 1")
    actor_id: str = Field(description="The agent's token subject")
    at: datetime
    changes: tuple[FieldChange, ...] = Field(min_length=1)


class AttemptState(StrEnum):
    QUEUED = "queued"  # in the outbox, waiting for the sender (or for its retry time)
    SENDING = "sending"  # claimed by a sender; if that sender dies, its lease runs out
    SENT = "sent"
    FAILED = "failed"
    UNKNOWN = "unknown"  # the provider may have it; never blindly resent


class AttemptIntent(_Model):
    """What the agent asked to send, as accepted: everything an attempt needs that is not the ticket's state."""

    text: str | None = None
    attachments: tuple[Attachment, ...] = Field(default=(), max_length=10)
    template_name: str | None = None
    template_language: str | None = None
    template_parameters: tuple[str, ...] = ()
    cc: tuple[str, ...] = Field(default=(), max_length=MAX_TICKET_CC)
    human_agent: bool = True
    reply_token: str | None = Field(default=None, description="LINE: the reply token this reply claimed")
    reply_token_expires_at: datetime | None = None
    customer_last_message_at: datetime | None = None


class SendAttempt(_Model):
    """One try at sending one agent reply: the outbox's unit of work (store/outbox.py). A resend is a new
    attempt with its own id, so a provider id from any attempt still finds the message."""

    id: str
    number: int = Field(ge=1)
    message_id: str
    ticket_id: str
    message_key: str = Field(description="The message's place in the ticket's timeline")
    channel: Channel
    channel_account_id: str
    recipient_id: str
    conversation_key: str
    state: AttemptState
    tries: int = Field(default=0, ge=0, description="Provider calls made for this attempt so far")
    intent: AttemptIntent
    created_at: datetime
    due_at: datetime = Field(description="When the sender should (re)try it, while queued")
    lease_until: datetime | None = None
    provider_message_id: str | None = None
    error_code: str | None = None
    error: str | None = None

    def wants_sending(self, now: datetime) -> bool:
        """Queued, or claimed by a sender whose lease ran out (it died during or after its provider call)."""
        if self.state is AttemptState.QUEUED:
            return True
        return self.state is AttemptState.SENDING and self.lease_until is not None and self.lease_until <= now
