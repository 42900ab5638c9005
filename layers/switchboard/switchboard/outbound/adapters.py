"""Which adapter sends on a ticket's channel and account.

Twilio carries SMS and WhatsApp alike, and its WhatsApp accounts are phone numbers ("+1415..."), where a
WhatsApp Cloud API account is a phone number id (digits only): the account id tells which provider holds
the conversation, since replies must go back through the provider the customer wrote through.
"""

from __future__ import annotations

from functools import cache
from importlib import import_module

from switchboard.channels.base import Sends
from switchboard.models import Channel

# Where each channel's adapter lives, imported when a reply on that channel needs it: the agents' write
# function answers PATCH and notes too, and need not load six providers' modules on a cold start.
_ADAPTERS = {
    Channel.WHATSAPP: ("switchboard.channels.whatsapp", "ADAPTER"),
    Channel.MESSENGER: ("switchboard.channels.meta_messaging", "MESSENGER"),
    Channel.INSTAGRAM: ("switchboard.channels.meta_messaging", "INSTAGRAM"),
    Channel.LINE: ("switchboard.channels.line", "ADAPTER"),
    Channel.TELEGRAM: ("switchboard.channels.telegram", "ADAPTER"),
    Channel.KAKAO: ("switchboard.channels.kakao", "ADAPTER"),
}


def sending_adapter(channel: Channel, account_id: str) -> Sends:
    if channel is Channel.EMAIL:
        return _email_sender()
    if channel in (Channel.SMS, Channel.WHATSAPP):
        twilio = import_module("switchboard.channels.twilio")
        if twilio.sends_through_twilio(channel, account_id):
            return twilio.adapter_for(channel)
    module, name = _ADAPTERS[channel]
    adapter: Sends = getattr(import_module(module), name)
    return adapter


@cache
def _email_sender() -> Sends:
    # Without an attachment reader: enough for window and limit checks; the channel sender builds its own
    # with the attachments bucket (runtime.channel_sender).
    from switchboard.email.sender import EmailSender

    return EmailSender()
