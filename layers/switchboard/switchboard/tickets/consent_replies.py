"""Opt-out and opt-in by keyword: a customer whose whole message is STOP, 수신거부, 配信停止 (or START, 재수신 ...)
changes their consent to proactive messages on the channel they wrote on, and gets one confirmation there.

Pure: the writer (tickets/writer.py) reads the contact, and commits the consent change, the confirmation and its
send attempt in the transaction that stores the message itself, so a redelivery records nothing twice (the
message's index entry refuses it) and a crash records nothing by half.

Which proactive channel a conversation channel's keyword speaks for:
- SMS, WhatsApp, LINE, Telegram, Messenger, Instagram and email: the same channel.
- KakaoTalk: AlimTalk. AlimTalk goes out under the business's KakaoTalk channel (its sender key is that channel's
  profile, NHN Cloud AlimTalk v2.2 `senderKey`), the same channel the chatbot answers for, so the customer sees one
  conversation: 수신거부 said to it asks that channel to stop writing, and the chatbot itself never writes first.

Who confirms:
- Twilio SMS: Twilio does, for its own keywords. On long codes it blocks the number itself after STOP, UNSUBSCRIBE,
  END, QUIT, STOPALL, REVOKE, OPTOUT or CANCEL, answers with its own standard reply, and still passes the message to
  the webhook; START, YES and UNSTOP lift the block ("Twilio support for opt-out keywords (SMS STOP filtering)";
  "Customize users' opt-in and opt-out experience with Advanced Opt-Out": "By default, Twilio handles standard
  English-language reply messages"). We record what Twilio did (by "twilio") and send nothing: a reply of ours
  after STOP would be refused with error 21610 anyway. Twilio knows no Korean or Japanese keyword, so 수신거부 on
  SMS is ours to record and to confirm.
- KakaoTalk: nobody through the outbox. A chatbot speaks only in its answer to the customer's request (the
  channel's `window` is always closed: channel_cannot_push); the webhook's acknowledgement is the one place a
  confirmation could be shown (`confirmation_text`).
- Everywhere else: one system reply on the same conversation, through the reply outbox. The customer has just
  written, so a confirmation is inside the channel's customer-service window by construction; the window is still
  asked, and a channel that refuses (Kakao) gets none.

A keyword in a group conversation (a LINE group, a Telegram group) changes nobody's consent: the conversation is
not the one customer's, and the confirmation would go to the whole group.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from switchboard.models import (
    AttemptIntent,
    AttemptState,
    AuthorKind,
    Channel,
    ChannelConsent,
    Contact,
    DeliveryEvent,
    DeliveryStatus,
    Direction,
    InboundMessage,
    NotifyChannel,
    SendAttempt,
    Ticket,
    TicketMessage,
    stable_id,
)
from switchboard.notifications.keywords import (
    MAX_KEYWORD_MESSAGE_CHARS,
    Language,
    confirmation_for,
    keyword_in,
    language_of,
)
from switchboard.outbound.adapters import sending_adapter
from switchboard.tickets import lifecycle
from switchboard.tickets.replies import attempt_id_of, recipient_of

# Twilio's own keywords on long codes (the module docstring): it blocks or unblocks by itself and answers itself.
TWILIO_OPT_OUT = frozenset({"STOP", "UNSUBSCRIBE", "END", "QUIT", "STOPALL", "REVOKE", "OPTOUT", "CANCEL"})
TWILIO_OPT_IN = frozenset({"START", "YES", "UNSTOP"})


@dataclass(frozen=True)
class ConsentChange:
    """What a keyword message asks: `opted_out` on `channel` from `at` (when the customer sent it), recorded `by`
    ("keyword:<word>" or "twilio"); `confirm` when the confirmation is ours to send, in `language`."""

    channel: NotifyChannel
    opted_out: bool
    word: str
    by: str
    at: datetime
    language: Language
    confirm: bool


def notify_channel_of(channel: Channel) -> NotifyChannel:
    """The proactive channel a conversation channel's keyword speaks for (the module docstring)."""
    return NotifyChannel.ALIMTALK if channel is Channel.KAKAO else NotifyChannel(channel.value)


def consent_change_of(message: InboundMessage) -> ConsentChange | None:
    """The consent change a customer's message asks for, or None: not a keyword, not the customer's own
    conversation, or not written by the customer (an echo of the business, an automatic mail)."""
    if lifecycle.is_echo(message) or lifecycle.is_automatic(message) or not _own_conversation(message):
        return None
    channel = notify_channel_of(message.channel)
    if message.channel is Channel.SMS:
        twilio = _twilio_keyword(message.text)
        if twilio is not None:
            opted_out, word = twilio
            return ConsentChange(channel, opted_out, word, "twilio", message.provider_timestamp, "en", confirm=False)
    found = keyword_in(message.text)
    if found is None:
        return None
    action, word = found
    return ConsentChange(
        channel=channel,
        opted_out=action == "opt_out",
        word=word,
        by=f"keyword:{word}",
        at=message.provider_timestamp,
        language=language_of(word),
        confirm=True,
    )


def is_news(contact: Contact, change: ConsentChange) -> bool:
    """Whether the change is later than what the contact's consent on that channel records: a keyword processed
    late (another account of the same channel raced it) never overrides a newer one."""
    recorded = contact.consent.channels.get(change.channel.value)
    return recorded is None or recorded.changed_at < change.at


def with_consent(contact: Contact, change: ConsentChange) -> Contact:
    """A contact about to be created, recording the change (it is written whole, with the first ticket)."""
    channels = {
        **contact.consent.channels,
        change.channel.value: ChannelConsent(opted_out=change.opted_out, changed_at=change.at, by=change.by),
    }
    return contact.model_copy(update={"consent": contact.consent.model_copy(update={"channels": channels})})


def confirmation_text(change: ConsentChange) -> str:
    return confirmation_for(change.word, change.opted_out)


def confirmation_on(
    ticket: Ticket,
    message: InboundMessage,
    change: ConsentChange,
    *,
    sequence: int,
    timeline_key: Callable[[TicketMessage, int], str],
) -> tuple[TicketMessage, SendAttempt] | None:
    """The confirmation of `change` on the ticket the keyword message landed on: a system reply (queued) and its
    first send attempt, due now, its ids derived from the keyword message so a retry rebuilds the same ones. It
    is the ticket's `sequence`-th message, after the keyword. None when it is not ours to send, or the channel
    cannot carry it now (a KakaoTalk chatbot cannot write first)."""
    if not change.confirm:
        return None
    at = max(message.received_at, message.provider_timestamp)
    verdict = sending_adapter(ticket.channel, ticket.channel_account_id).window(
        last_customer_message_at=message.provider_timestamp, now=at, human_agent=False, template=False
    )
    if not verdict.open:
        return None
    external_id = stable_id("consent", message.dedup_key)
    message_id = stable_id("m", ticket.channel.value, external_id)
    attempt_id = attempt_id_of(message_id, 1)
    text = confirmation_text(change)
    confirmation = TicketMessage(
        id=message_id,
        ticket_id=ticket.id,
        channel=ticket.channel,
        external_id=external_id,
        direction=Direction.OUTBOUND,
        author_kind=AuthorKind.SYSTEM,
        public=True,
        message_type="text",
        text=text,
        delivery_status=DeliveryStatus.QUEUED,
        delivery_history=(DeliveryEvent(status=DeliveryStatus.QUEUED, at=at, by="outbox"),),
        attempt_id=attempt_id,
        created_at=at,
        received_at=at,
    )
    attempt = SendAttempt(
        id=attempt_id,
        number=1,
        message_id=message_id,
        ticket_id=ticket.id,
        message_key=timeline_key(confirmation, sequence),
        channel=ticket.channel,
        channel_account_id=ticket.channel_account_id,
        recipient_id=recipient_of(ticket),
        conversation_key=ticket.conversation_key,
        state=AttemptState.QUEUED,
        # Not a person's words: Meta's HUMAN_AGENT tag must not carry it (it is inside the 24 hours anyway).
        intent=AttemptIntent(text=text, human_agent=False, customer_last_message_at=message.provider_timestamp),
        created_at=at,
        due_at=at,
    )
    return confirmation, attempt


def with_confirmation(ticket: Ticket, confirmation: TicketMessage) -> Ticket:
    """The ticket holding the confirmation too. It answers nothing: no agent replied, so no SLA clock moves and
    the customer's message still waits for an agent, as any message does."""
    return ticket.model_copy(
        update={
            "message_count": ticket.message_count + 1,
            "updated_at": max(ticket.updated_at, confirmation.created_at),
        }
    )


# Channels with group conversations, where a 1:1 conversation's id is the sender's own (LINE's userId, Telegram's
# private chat id); on the others every conversation is one customer's (Kakao's is a hash of its user key).
_GROUP_CHANNELS = frozenset({Channel.LINE, Channel.TELEGRAM})


def _own_conversation(message: InboundMessage) -> bool:
    # Mail threads are keyed by the thread, not the sender: the writer finds the sender's own contact.
    if message.email is not None or message.channel not in _GROUP_CHANNELS:
        return True
    return message.conversation_id == message.sender.external_id


def _twilio_keyword(text: str | None) -> tuple[bool, str] | None:
    """Twilio's own keyword a whole SMS is (trimmed, any case), as (opted out, word); None for anything else."""
    if text is None or len(text) > MAX_KEYWORD_MESSAGE_CHARS:
        return None
    word = text.strip().upper()
    if word in TWILIO_OPT_OUT:
        return True, word
    if word in TWILIO_OPT_IN:
        return False, word
    return None
