"""Which channels a notification tries, in order, for one contact: the channel chain.

1. The contact's own channel: their configured preference (`Consent.preferred_channel`) when they can be reached
   on it, else the channel of their newest ticket (the one they last wrote on), from the account that ticket
   came to, to the contact's own identity there.
2. Then the shop's fallback chain (`NotificationRules.fallback_chain`, e.g. AlimTalk, SMS, email).

Each channel appears once, and only where the contact can be reached:

| channel                        | needs                                                    | account id / recipient id        |
|--------------------------------|----------------------------------------------------------|----------------------------------|
| alimtalk                       | phone_e164, senders.alimtalk_sender_key                  | senderKey / the phone            |
| sms                            | phone_e164 and senders.sms_from, else an sms identity    | our number / the phone           |
| whatsapp                       | a whatsapp identity, else phone_e164 and senders.whatsapp_phone_number_id | phone number id / wa_id (digits) |
| line, telegram, messenger, instagram | an identity on that channel (the one on the shop's configured account first) | its account / its external id |
| email                          | contact.email or an email identity, and senders.email_from | the From address / the address |

A KakaoTalk ticket (the chatbot skill, which can only answer within its own request) leads to AlimTalk, the one
way to reach a KakaoTalk user later. Consent is not checked here: the sender asks `consent.may_send` per route
when it sends, so an opt-out that arrives in between is honoured.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from switchboard.models import Channel, ChannelIdentity, Contact, NotifyChannel
from switchboard.notifications.models import NotificationRules, Senders


class Route(BaseModel):
    """One way to reach the contact: a channel, the account the message goes out from, and whom it goes to."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    channel: NotifyChannel
    account_id: str = Field(min_length=1, max_length=320)
    recipient_id: str = Field(min_length=1, max_length=320)


def channel_chain(
    contact: Contact, last_ticket_channel: tuple[Channel, str, str] | None, rules: NotificationRules
) -> list[Route]:
    """The routes to try for `contact`, in order, each channel once (the module docstring has the rules).
    `last_ticket_channel` is (channel, account id, conversation id) of the contact's newest ticket, if any."""
    chain: list[Route] = []
    preferred = contact.consent.preferred_channel
    own = _route(contact, preferred, rules.senders) if preferred is not None else None
    if own is None and last_ticket_channel is not None:
        own = _ticket_route(contact, last_ticket_channel, rules.senders)
    if own is not None:
        chain.append(own)
    for channel in rules.fallback_chain:
        if any(route.channel is channel for route in chain):
            continue
        route = _route(contact, channel, rules.senders)
        if route is not None:
            chain.append(route)
    return chain


def _ticket_route(contact: Contact, ticket: tuple[Channel, str, str], senders: Senders) -> Route | None:
    """The contact on the account of their newest ticket. The recipient is the contact's own identity there, not
    the ticket's conversation: that may be a LINE or Telegram group (an order's facts are the customer's alone)
    or an email thread."""
    channel, account_id, _conversation_id = ticket
    if channel is Channel.KAKAO:
        return _route(contact, NotifyChannel.ALIMTALK, senders)
    notify_channel = NotifyChannel(channel.value)
    identity = next((i for i in _identities(contact, channel) if i.channel_account_id == account_id), None)
    if identity is None:
        return _route(contact, notify_channel, senders)
    return _both(notify_channel, identity.channel_account_id, identity.external_id)


def _route(contact: Contact, channel: NotifyChannel, senders: Senders) -> Route | None:
    match channel:
        case NotifyChannel.ALIMTALK:
            return _both(channel, senders.alimtalk_sender_key, contact.phone_e164)
        case NotifyChannel.SMS:
            return _both(channel, senders.sms_from, contact.phone_e164) or _identity_route(contact, channel, None)
        case NotifyChannel.WHATSAPP:
            return _identity_route(contact, channel, senders.whatsapp_phone_number_id) or _both(
                channel,
                senders.whatsapp_phone_number_id,
                # The Cloud API's `to` takes the number as its wa_id, digits without the plus.
                contact.phone_e164.lstrip("+") if contact.phone_e164 else None,
            )
        case NotifyChannel.EMAIL:
            address = contact.email or next(
                (identity.external_id for identity in _identities(contact, Channel.EMAIL)), None
            )
            return _both(channel, senders.email_from, address)
        case NotifyChannel.LINE:
            return _identity_route(contact, channel, senders.line_channel_id)
        case NotifyChannel.TELEGRAM:
            return _identity_route(contact, channel, senders.telegram_bot_id)
        case NotifyChannel.MESSENGER:
            return _identity_route(contact, channel, senders.messenger_page_id)
        case NotifyChannel.INSTAGRAM:
            return _identity_route(contact, channel, senders.instagram_account_id)


def _both(channel: NotifyChannel, account_id: str | None, recipient_id: str | None) -> Route | None:
    if not account_id or not recipient_id:
        return None
    return Route(channel=channel, account_id=account_id, recipient_id=recipient_id)


def _identities(contact: Contact, channel: Channel) -> list[ChannelIdentity]:
    return [identity for identity in contact.identities if identity.channel is channel]


def _identity_route(contact: Contact, channel: NotifyChannel, configured_account: str | None) -> Route | None:
    """The contact's identity on `channel`: the one on the shop's configured account first, else the first."""
    identities = _identities(contact, channel.timeline_channel)
    chosen = next((i for i in identities if i.channel_account_id == configured_account), None)
    chosen = chosen or next(iter(identities), None)
    if chosen is None:
        return None
    return _both(channel, chosen.channel_account_id, chosen.external_id)
