"""What the writer makes of a keyword message (tickets/consent_replies.py), and of a reply to a notification
(tickets/lifecycle.py order_ref_of): pure decisions, before anything is written."""

from datetime import UTC, datetime, timedelta

import pytest

from switchboard.models import (
    AuthorKind,
    Channel,
    ChannelConsent,
    Consent,
    Contact,
    DeliveryStatus,
    Direction,
    InboundMessage,
    LastNotification,
    NotifyChannel,
    SenderIdentity,
)
from switchboard.store.messages import timeline_key
from switchboard.tickets import consent_replies, lifecycle

SENT = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
# Where each channel's customer writes from, and the account they write to (ids as each provider gives them).
ACCOUNTS = {
    Channel.WHATSAPP: ("106540352242922", "821012345678"),
    Channel.SMS: ("+821099990000", "+821012345678"),
    Channel.LINE: ("1650000000", "U4af4980629"),
    Channel.TELEGRAM: ("7000000001", "555000111"),
    Channel.MESSENGER: ("104000000000001", "7000000000000001"),
    Channel.INSTAGRAM: ("17840000000000001", "9000000000000001"),
    Channel.KAKAO: ("bot-1", "kakao-user-1"),
}


def inbound(
    text: str | None,
    *,
    channel: Channel = Channel.WHATSAPP,
    conversation: str | None = None,
    direction: Direction = Direction.INBOUND,
    received: datetime = SENT + timedelta(seconds=2),
) -> InboundMessage:
    account, customer = ACCOUNTS[channel]
    return InboundMessage(
        channel=channel,
        channel_account_id=account,
        conversation_id=conversation or customer,
        external_id=f"{channel.value}-message-1",
        sender=SenderIdentity(external_id=customer),
        message_type="text",
        text=text,
        direction=direction,
        provider_timestamp=SENT,
        received_at=received,
    )


def contact(**fields) -> Contact:
    return Contact(id="c_1", identities=(), created_at=SENT - timedelta(days=30), **fields)


@pytest.mark.parametrize(
    ("channel", "notify_channel"),
    [
        (Channel.WHATSAPP, NotifyChannel.WHATSAPP),
        (Channel.LINE, NotifyChannel.LINE),
        (Channel.TELEGRAM, NotifyChannel.TELEGRAM),
        (Channel.MESSENGER, NotifyChannel.MESSENGER),
        (Channel.INSTAGRAM, NotifyChannel.INSTAGRAM),
        (Channel.SMS, NotifyChannel.SMS),
        # A KakaoTalk chatbot's 수신거부 stops AlimTalk, sent under the same KakaoTalk channel.
        (Channel.KAKAO, NotifyChannel.ALIMTALK),
    ],
)
def test_a_keyword_opts_out_of_the_proactive_channel_the_customer_wrote_on(channel, notify_channel):
    # Given a customer's message that is only 수신거부
    # When the writer reads it
    change = consent_replies.consent_change_of(inbound(" 수신거부 ", channel=channel))
    # Then it opts them out on that channel, as of when they sent it, recorded as the keyword
    assert change is not None
    assert (change.channel, change.opted_out, change.at, change.by) == (notify_channel, True, SENT, "keyword:수신거부")


@pytest.mark.parametrize("text", ["STOP", "stop", " Stop ", "UNSUBSCRIBE", "cancel", "QUIT", "END"])
def test_twilios_own_sms_keywords_are_recorded_as_twilios_and_not_confirmed_by_us(text):
    # Given an SMS that is one of Twilio's own opt-out keywords (Twilio blocks and answers by itself)
    change = consent_replies.consent_change_of(inbound(text, channel=Channel.SMS))
    # Then the opt-out is recorded as Twilio's, and no confirmation of ours goes out
    assert change is not None
    assert (change.channel, change.opted_out, change.by, change.confirm) == (NotifyChannel.SMS, True, "twilio", False)


@pytest.mark.parametrize("text", ["START", "unstop", "YES"])
def test_twilios_own_sms_opt_in_keywords_follow_twilio(text):
    change = consent_replies.consent_change_of(inbound(text, channel=Channel.SMS))
    assert change is not None
    assert (change.opted_out, change.by, change.confirm) == (False, "twilio", False)


def test_a_korean_keyword_on_sms_is_ours_to_confirm_as_twilio_knows_only_english_ones():
    change = consent_replies.consent_change_of(inbound("수신거부", channel=Channel.SMS))
    assert change is not None
    assert (change.by, change.confirm, change.language) == ("keyword:수신거부", True, "ko")


def test_yes_is_a_keyword_on_twilio_sms_only():
    # "yes" answers an agent on every other channel
    assert consent_replies.consent_change_of(inbound("YES", channel=Channel.WHATSAPP)) is None


@pytest.mark.parametrize(
    "message",
    [
        inbound("stop sending me these"),  # a sentence for an agent
        inbound("주문 취소하고 수신거부 해주세요"),
        inbound(None),  # a photo
        inbound("STOP", direction=Direction.OUTBOUND),  # the business wrote it from another tool
        inbound("STOP", channel=Channel.LINE, conversation="C-group-1"),  # said in a group, not by its one customer
        inbound("STOP " * 40),
    ],
    ids=["sentence", "korean-sentence", "no-text", "echo", "group", "long"],
)
def test_only_a_customers_whole_message_in_their_own_conversation_is_a_keyword(message):
    assert consent_replies.consent_change_of(message) is None


@pytest.mark.parametrize(
    ("text", "opted_out", "expected"),
    [
        ("수신거부", True, "수신거부가 처리되었습니다. 다시 받으시려면 '재수신'을 보내 주세요."),
        ("STOP", True, "You have been unsubscribed from notifications. Reply START to subscribe again."),
        ("配信停止", True, "配信を停止しました。再開するには「START」と送信してください。"),
        ("재수신", False, "알림 수신이 다시 시작되었습니다. 받지 않으시려면 '수신거부'를 보내 주세요."),
        ("START", False, "You are subscribed to notifications again. Reply STOP to unsubscribe."),
    ],
)
def test_the_confirmation_speaks_the_keywords_language(text, opted_out, expected):
    change = consent_replies.consent_change_of(inbound(text))
    assert change is not None and change.opted_out is opted_out
    assert consent_replies.confirmation_text(change) == expected


def test_the_confirmation_is_a_queued_system_reply_after_the_keyword_on_the_same_conversation():
    # Given a WhatsApp STOP that opened a ticket
    message = inbound("STOP")
    ticket = lifecycle.opened_ticket(message, number=1, contact_id="c_1", follows_up=None)
    change = consent_replies.consent_change_of(message)
    assert change is not None
    # When its confirmation is built as the ticket's second message
    built = consent_replies.confirmation_on(ticket, message, change, sequence=2, timeline_key=timeline_key)
    # Then it is one system text reply, queued, with its first attempt to the same customer, due now
    assert built is not None
    reply, attempt = built
    assert (reply.author_kind, reply.direction, reply.delivery_status) == (
        AuthorKind.SYSTEM,
        Direction.OUTBOUND,
        DeliveryStatus.QUEUED,
    )
    assert reply.text == attempt.intent.text == consent_replies.confirmation_text(change)
    assert (attempt.recipient_id, attempt.conversation_key) == ("821012345678", message.conversation_key)
    assert attempt.due_at == message.received_at and attempt.message_key == timeline_key(reply, 2)
    # Not a person's words: Meta's HUMAN_AGENT tag must not carry it
    assert attempt.intent.human_agent is False
    # And building it again (a retry) gives the same ids: the transaction's conditions find the first
    again = consent_replies.confirmation_on(ticket, message, change, sequence=2, timeline_key=timeline_key)
    assert again == built


def test_a_kakao_chatbot_gets_no_confirmation_through_the_outbox_as_it_cannot_write_first():
    message = inbound("수신거부", channel=Channel.KAKAO)
    ticket = lifecycle.opened_ticket(message, number=1, contact_id="c_1", follows_up=None)
    change = consent_replies.consent_change_of(message)
    assert change is not None and change.channel is NotifyChannel.ALIMTALK
    assert consent_replies.confirmation_on(ticket, message, change, sequence=2, timeline_key=timeline_key) is None


def test_a_keyword_older_than_the_recorded_change_is_no_news():
    change = consent_replies.consent_change_of(inbound("STOP"))
    assert change is not None
    newer = Consent(channels={"whatsapp": ChannelConsent(opted_out=False, changed_at=SENT, by="keyword:START")})
    older = Consent(
        channels={"whatsapp": ChannelConsent(opted_out=False, changed_at=SENT - timedelta(1), by="keyword:START")}
    )
    assert consent_replies.is_news(contact(), change)
    assert consent_replies.is_news(contact(consent=older), change)
    assert not consent_replies.is_news(contact(consent=newer), change)


def test_a_new_contact_is_created_recording_its_first_keyword():
    change = consent_replies.consent_change_of(inbound("配信停止"))
    assert change is not None
    created = consent_replies.with_consent(contact(), change)
    assert created.consent.channels == {
        "whatsapp": ChannelConsent(opted_out=True, changed_at=SENT, by="keyword:配信停止")
    }


def notified(at: datetime) -> Contact:
    return contact(
        last_notification=LastNotification(
            notification_id="ntf_1",
            order_key="shopify#acme.myshopify.com#1042",
            order_id="1042",
            order_number="#1042",
            channel=NotifyChannel.ALIMTALK,
            at=at,
        )
    )


@pytest.mark.parametrize(
    ("notified_before", "answers"),
    [(timedelta(minutes=5), True), (timedelta(days=7), True), (timedelta(days=7, seconds=3), False)],
)
def test_a_message_within_seven_days_of_a_notification_answers_its_order(notified_before, answers):
    message = inbound("언제 도착하나요?")
    ref = lifecycle.order_ref_of(notified(message.received_at - notified_before), message)
    if not answers:
        assert ref is None
        return
    assert ref is not None
    assert (ref.order_key, ref.order_id, ref.order_number, ref.notification_id) == (
        "shopify#acme.myshopify.com#1042",
        "1042",
        "#1042",
        "ntf_1",
    )


def test_no_order_for_a_contact_never_notified_or_an_echo():
    assert lifecycle.order_ref_of(contact(), inbound("hi")) is None
    assert lifecycle.order_ref_of(None, inbound("hi")) is None
    echo = inbound("안녕하세요", direction=Direction.OUTBOUND)
    assert lifecycle.order_ref_of(notified(echo.received_at - timedelta(minutes=1)), echo) is None
