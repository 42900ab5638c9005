"""The channel chain (notifications/choice.py): the contact's own channel first, then the shop's fallback chain,
each channel once, and only where the contact can be reached. A table of contacts and rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from switchboard.models import Channel, ChannelConsent, ChannelIdentity, Consent, Contact, NotifyChannel
from switchboard.notifications.choice import Route, channel_chain
from switchboard.notifications.models import NotificationRules, Senders

C = NotifyChannel
CREATED = datetime(2026, 1, 5, tzinfo=UTC)
PHONE = "+821012345678"
SENDERS = Senders(
    alimtalk_sender_key="k" * 40,
    sms_from="+15005550006",
    whatsapp_phone_number_id="10987654321",
    email_from="shop@example.com",
    line_channel_id="2000000001",
)
RULES = NotificationRules(senders=SENDERS)  # fallback chain: AlimTalk, SMS, email
WIDE = NotificationRules(senders=SENDERS, fallback_chain=(C.WHATSAPP, C.LINE, C.TELEGRAM, C.ALIMTALK, C.SMS, C.EMAIL))
NO_SENDERS = NotificationRules()


def identity(channel: Channel, account: str, external: str) -> ChannelIdentity:
    return ChannelIdentity(channel=channel, channel_account_id=account, external_id=external)


def contact(
    *identities: ChannelIdentity,
    phone: str | None = None,
    email: str | None = None,
    preferred: NotifyChannel | None = None,
) -> Contact:
    return Contact(
        id="c-1",
        phone_e164=phone,
        email=email,
        identities=identities,
        created_at=CREATED,
        consent=Consent(preferred_channel=preferred),
    )


WA = identity(Channel.WHATSAPP, "10987654321", "821012345678")
WA_OTHER_NUMBER = identity(Channel.WHATSAPP, "555", "821099999999")
LINE_SHOP = identity(Channel.LINE, "2000000001", "U1234")
LINE_OTHER = identity(Channel.LINE, "2000000099", "U9999")
TELEGRAM = identity(Channel.TELEGRAM, "bot-7", "424242")
SMS_ID = identity(Channel.SMS, "+15005550001", PHONE)
MAIL = identity(Channel.EMAIL, "support@shop.example", "min@example.com")
KAKAO = identity(Channel.KAKAO, "bot-1", "kakao-user-1")

ALIMTALK = Route(channel=C.ALIMTALK, account_id="k" * 40, recipient_id=PHONE)
SMS = Route(channel=C.SMS, account_id="+15005550006", recipient_id=PHONE)
EMAIL = Route(channel=C.EMAIL, account_id="shop@example.com", recipient_id="min@example.com")


def route(channel: NotifyChannel, account: str, recipient: str) -> Route:
    return Route(channel=channel, account_id=account, recipient_id=recipient)


@pytest.mark.parametrize(
    ("case", "who", "last_ticket", "rules", "expected"),
    [
        ("phone and email: the fallback chain", contact(phone=PHONE, email="min@example.com"), None, RULES,
         [ALIMTALK, SMS, EMAIL]),
        ("no phone: only email", contact(email="min@example.com"), None, RULES, [EMAIL]),
        ("an email identity stands for the address", contact(MAIL), None, RULES, [EMAIL]),
        ("nothing configured: nothing reachable", contact(phone=PHONE, email="min@example.com"), None, NO_SENDERS,
         []),
        ("nobody to reach", contact(), None, RULES, []),
        # the channel they last wrote on comes first
        ("wrote on LINE", contact(LINE_SHOP, phone=PHONE), (Channel.LINE, "2000000001", "U1234"), RULES,
         [route(C.LINE, "2000000001", "U1234"), ALIMTALK, SMS]),
        ("wrote on WhatsApp", contact(WA, phone=PHONE), (Channel.WHATSAPP, "10987654321", "821012345678"), RULES,
         [route(C.WHATSAPP, "10987654321", "821012345678"), ALIMTALK, SMS]),
        ("wrote by SMS to another of our numbers", contact(SMS_ID, phone=PHONE), (Channel.SMS, "+15005550001", PHONE),
         RULES, [route(C.SMS, "+15005550001", PHONE), ALIMTALK]),
        ("wrote in a LINE group: to the person, not the group", contact(LINE_SHOP),
         (Channel.LINE, "2000000001", "Cgroup77"), RULES, [route(C.LINE, "2000000001", "U1234")]),
        ("wrote by mail: to their address from the mailbox they wrote to", contact(MAIL),
         (Channel.EMAIL, "support@shop.example", "thread-abc"), RULES,
         [route(C.EMAIL, "support@shop.example", "min@example.com")]),
        ("wrote to the KakaoTalk chatbot: AlimTalk reaches them later", contact(KAKAO, phone=PHONE),
         (Channel.KAKAO, "bot-1", "kakao-user-1"), RULES, [ALIMTALK, SMS]),
        ("KakaoTalk without a phone: AlimTalk cannot", contact(KAKAO, email="min@example.com"),
         (Channel.KAKAO, "bot-1", "kakao-user-1"), RULES, [EMAIL]),
        # a configured preference beats the last channel
        ("prefers email", contact(LINE_SHOP, phone=PHONE, email="min@example.com", preferred=C.EMAIL),
         (Channel.LINE, "2000000001", "U1234"), RULES, [EMAIL, ALIMTALK, SMS]),
        ("prefers SMS", contact(phone=PHONE, preferred=C.SMS), None, RULES, [SMS, ALIMTALK]),
        ("prefers a channel they cannot be reached on: the last one instead",
         contact(LINE_SHOP, phone=PHONE, preferred=C.TELEGRAM), (Channel.LINE, "2000000001", "U1234"), RULES,
         [route(C.LINE, "2000000001", "U1234"), ALIMTALK, SMS]),
        # WhatsApp: an identity, else the phone on the shop's number
        ("WhatsApp by phone", contact(phone=PHONE), None, WIDE,
         [route(C.WHATSAPP, "10987654321", "821012345678"), ALIMTALK, SMS]),
        ("WhatsApp identity on the shop's number first", contact(WA_OTHER_NUMBER, WA), None, WIDE,
         [route(C.WHATSAPP, "10987654321", "821012345678")]),
        ("WhatsApp identity on another number", contact(WA_OTHER_NUMBER), None, WIDE,
         [route(C.WHATSAPP, "555", "821099999999")]),
        # LINE and Telegram: an identity on the channel, the shop's configured account first
        ("LINE on the shop's channel first", contact(LINE_OTHER, LINE_SHOP, TELEGRAM), None, WIDE,
         [route(C.LINE, "2000000001", "U1234"), route(C.TELEGRAM, "bot-7", "424242")]),
        ("LINE on another channel", contact(LINE_OTHER), None, WIDE, [route(C.LINE, "2000000099", "U9999")]),
        ("SMS without our number, by their SMS identity", contact(SMS_ID, phone=PHONE), None,
         NotificationRules(senders=Senders(email_from="shop@example.com")), [route(C.SMS, "+15005550001", PHONE)]),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)  # fmt: skip
def test_channel_chain(
    case: str,
    who: Contact,
    last_ticket: tuple[Channel, str, str] | None,
    rules: NotificationRules,
    expected: list[Route],
) -> None:
    # Given the contact, their newest ticket and the shop's rules, When the chain is chosen, Then it is the table's
    assert channel_chain(who, last_ticket, rules) == expected, case


def test_each_channel_appears_once() -> None:
    # Given a contact whose own channel is also in the fallback chain
    chain = channel_chain(
        contact(phone=PHONE, preferred=C.SMS),
        None,
        NotificationRules(senders=SENDERS, fallback_chain=(C.SMS, C.ALIMTALK, C.SMS)),
    )
    assert [r.channel for r in chain] == [C.SMS, C.ALIMTALK]


def test_consent_is_not_judged_here() -> None:
    # Given a contact who opted out of SMS: the chain still lists it, the sender skips it when it sends
    who = contact(phone=PHONE).model_copy(
        update={"consent": Consent(channels={"sms": ChannelConsent(opted_out=True, changed_at=CREATED, by="api")})}
    )
    assert [r.channel for r in channel_chain(who, None, RULES)] == [C.ALIMTALK, C.SMS]
