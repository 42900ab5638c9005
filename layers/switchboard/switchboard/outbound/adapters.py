"""Which adapter sends on a ticket's channel and account.

Twilio carries SMS and WhatsApp alike, and its WhatsApp accounts are phone numbers ("+1415..."), where a
WhatsApp Cloud API account is a phone number id (digits only): the account id tells which provider holds
the conversation, since replies must go back through the provider the customer wrote through.
"""

from __future__ import annotations

from functools import cache

from switchboard.channels import kakao, line, meta_messaging, telegram, twilio, whatsapp
from switchboard.channels.base import Sends
from switchboard.models import Channel


def sending_adapter(channel: Channel, account_id: str) -> Sends:
    if channel is Channel.EMAIL:
        return _email_sender()
    if twilio.sends_through_twilio(channel, account_id):
        return twilio.adapter_for(channel)
    adapters: dict[Channel, Sends] = {
        Channel.WHATSAPP: whatsapp.ADAPTER,
        Channel.MESSENGER: meta_messaging.MESSENGER,
        Channel.INSTAGRAM: meta_messaging.INSTAGRAM,
        Channel.LINE: line.ADAPTER,
        Channel.TELEGRAM: telegram.ADAPTER,
        Channel.KAKAO: kakao.ADAPTER,
    }
    return adapters[channel]


@cache
def _email_sender() -> Sends:
    # Without an attachment reader: enough for window and limit checks; the channel sender builds its own
    # with the attachments bucket (runtime.channel_sender).
    from switchboard.email.sender import EmailSender

    return EmailSender()
