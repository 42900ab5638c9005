"""LINE Messaging API webhooks -> InboundMessage / FollowChange (the adapter's parse)."""

from datetime import UTC, datetime, timedelta

import pytest

from switchboard.channels.line import ADAPTER
from switchboard.errors import MalformedPayload
from switchboard.models import Attachment, Channel, FollowChange, InboundMessage, Location, SenderIdentity
from tests.support.drivers.line import (
    BOT_USER_ID,
    encode,
    follow_event,
    group_source,
    line_user_id,
    message_event,
    room_source,
    text_message,
    user_source,
    webhook,
)
from tests.support.paths import provider_fixture

RECEIVED_AT = datetime(2025, 6, 8, 21, 5, tzinfo=UTC)
SENT_MS = 1749416383123  # 2025-06-08T20:59:43.123Z
SENT = datetime(2025, 6, 8, 20, 59, 43, 123000, tzinfo=UTC)
CUSTOMER = line_user_id("김민준")
GROUP = line_user_id("주문 문의방", "C")
ROOM = line_user_id("단체 대화", "R")


def parse_one(message: dict, source: dict | None = None, **event_options):
    event = message_event(message, source=source or user_source(CUSTOMER), timestamp=SENT_MS, **event_options)
    (parsed,) = ADAPTER.parse(encode(webhook(event)), received_at=RECEIVED_AT)
    return parsed


def test_sdk_sample_text_and_image():
    # Given the LINE SDK's sample: a user's text and an image sent in a multi-person room
    events = ADAPTER.parse(provider_fixture("line", "text-and-image.json"), received_at=RECEIVED_AT)

    sent = datetime(2016, 5, 7, 13, 57, 59, 859000, tzinfo=UTC)
    assert events == [
        InboundMessage(
            channel=Channel.LINE,
            channel_account_id="U123",
            conversation_id="U206d25c2ea6bd87c17655609a1c37cb8",
            external_id="325708",
            sender=SenderIdentity(external_id="U206d25c2ea6bd87c17655609a1c37cb8"),
            message_type="text",
            text="Hello, world",
            reply_token="nHuyWiB7yP5Zw52FIkcQobQuGDXCTA",
            reply_token_expires_at=RECEIVED_AT + timedelta(minutes=1),
            provider_timestamp=sent,
            received_at=RECEIVED_AT,
        ),
        InboundMessage(
            channel=Channel.LINE,
            channel_account_id="U123",
            # A room is one conversation; LINE named no member, so the room itself is the sender.
            conversation_id="Ra8dbf4673c4c812cd491258042226c99",
            external_id="325708",
            sender=SenderIdentity(external_id="Ra8dbf4673c4c812cd491258042226c99"),
            message_type="image",
            # Content the sender's own server hosts (contentProvider "external") is a link, never fetched
            attachments=(Attachment(kind="link", url="https://example.com"),),
            reply_token="nHuyWiB7yP5Zw52FIkcQobQuGDXCTA",
            reply_token_expires_at=RECEIVED_AT + timedelta(minutes=1),
            provider_timestamp=sent,
            received_at=RECEIVED_AT,
        ),
    ]


def test_text_keeps_korean_and_the_millisecond_timestamp():
    parsed = parse_one(text_message("600000000000000001", "안녕하세요 😊 주문번호 2025-0608-17"))

    assert (parsed.text, parsed.provider_timestamp, parsed.conversation_id) == (
        "안녕하세요 😊 주문번호 2025-0608-17",
        SENT,
        CUSTOMER,
    )
    assert parsed.sender == SenderIdentity(external_id=CUSTOMER)


def test_reply_token_is_kept_with_its_one_minute_deadline():
    parsed = parse_one(text_message("600000000000000002", "hi"), token="b60d432864f44d079f6d8efe86cf404b")

    assert parsed.reply_token == "b60d432864f44d079f6d8efe86cf404b"
    assert parsed.reply_token_expires_at == RECEIVED_AT + timedelta(seconds=60)


def test_standby_events_without_a_reply_token_have_no_deadline():
    parsed = parse_one(text_message("600000000000000003", "hi"), token=None)

    assert (parsed.reply_token, parsed.reply_token_expires_at) == (None, None)


def test_quoted_message_becomes_the_reply_reference():
    parsed = parse_one(text_message("600000000000000004", "이거요", quotedMessageId="600000000000000001"))

    assert parsed.reply_to_external_id == "600000000000000001"


def test_group_message_is_the_group_conversation_written_by_its_member():
    parsed = parse_one(text_message("600000000000000005", "배송 언제 되나요?"), source=group_source(GROUP, CUSTOMER))

    assert (parsed.conversation_id, parsed.sender.external_id) == (GROUP, CUSTOMER)


def test_room_message_is_the_room_conversation():
    parsed = parse_one(text_message("600000000000000006", "문의"), source=room_source(ROOM, CUSTOMER))

    assert (parsed.conversation_id, parsed.sender.external_id) == (ROOM, CUSTOMER)


@pytest.mark.parametrize(
    ("message", "attachment"),
    [
        (
            {"id": "7001", "type": "image", "contentProvider": {"type": "line"}},
            Attachment(kind="image", provider_media_id="7001"),
        ),
        (
            {
                "id": "7002",
                "type": "video",
                "duration": 60000,
                "contentProvider": {
                    "type": "external",
                    "originalContentUrl": "https://cdn.example.com/v.mp4",
                    "previewImageUrl": "https://cdn.example.com/v.jpg",
                },
            },
            Attachment(kind="link", url="https://cdn.example.com/v.mp4"),
        ),
        (
            {"id": "7003", "type": "audio", "duration": 60000, "contentProvider": {"type": "line"}},
            Attachment(kind="audio", provider_media_id="7003"),
        ),
        (
            {"id": "7004", "type": "file", "fileName": "영수증.pdf", "fileSize": 2138},
            Attachment(kind="file", provider_media_id="7004", filename="영수증.pdf", size_bytes=2138),
        ),
    ],
    ids=["image", "video", "audio", "file"],
)
def test_media_is_an_attachment_fetched_later_by_message_id(message, attachment):
    parsed = parse_one(message)

    assert (parsed.message_type, parsed.text, parsed.attachments) == (message["type"], None, (attachment,))


def test_sticker_with_keywords():
    sticker = {
        "id": "7005",
        "type": "sticker",
        "packageId": "446",
        "stickerId": "1988",
        "stickerResourceType": "ANIMATION",
        "keywords": ["happy", "smile", "joy"],
    }

    parsed = parse_one(sticker)

    assert (parsed.message_type, parsed.text) == ("sticker", "[sticker] happy, smile, joy")
    assert parsed.attachments == (Attachment(kind="sticker", provider_media_id="446/1988"),)


def test_message_sticker_shows_the_words_typed_on_it():
    sticker = {
        "id": "7006",
        "type": "sticker",
        "packageId": "26162",
        "stickerId": "536822471",
        "stickerResourceType": "MESSAGE",
        "text": "고마워요!",
    }

    assert parse_one(sticker).text == "고마워요!"


def test_location():
    location = {
        "id": "7007",
        "type": "location",
        "title": "서울시청",
        "address": "서울특별시 중구 세종대로 110",
        "latitude": 37.5665,
        "longitude": 126.978,
    }

    parsed = parse_one(location)

    assert parsed.location == Location(
        latitude=37.5665, longitude=126.978, name="서울시청", address="서울특별시 중구 세종대로 110"
    )
    assert parsed.text == "서울시청"


def test_a_message_type_new_to_us_is_kept():
    parsed = parse_one({"id": "7008", "type": "hologram"})

    assert (parsed.message_type, parsed.known_type, parsed.external_id) == ("hologram", False, "7008")


def test_follow_and_unfollow():
    events = ADAPTER.parse(
        encode(
            webhook(
                follow_event("follow", user_id=CUSTOMER, timestamp=SENT_MS, event_id="01H8Z4V0S1F0X8K2E9T4M6Q1AB"),
                follow_event(
                    "unfollow", user_id=CUSTOMER, timestamp=SENT_MS + 1000, event_id="01H8Z4V0S1F0X8K2E9T4M6Q1AC"
                ),
            )
        ),
        received_at=RECEIVED_AT,
    )

    assert events == [
        FollowChange(
            channel=Channel.LINE,
            channel_account_id=BOT_USER_ID,
            conversation_id=CUSTOMER,
            event_id="01H8Z4V0S1F0X8K2E9T4M6Q1AB",
            sender=SenderIdentity(external_id=CUSTOMER),
            following=True,
            occurred_at=SENT,
        ),
        FollowChange(
            channel=Channel.LINE,
            channel_account_id=BOT_USER_ID,
            conversation_id=CUSTOMER,
            event_id="01H8Z4V0S1F0X8K2E9T4M6Q1AC",
            sender=SenderIdentity(external_id=CUSTOMER),
            following=False,
            occurred_at=SENT + timedelta(seconds=1),
        ),
    ]


def test_redelivered_event_has_the_same_dedup_key_as_the_first_delivery():
    # Given a message event, and LINE's redelivery of it (same webhookEventId, isRedelivery true)
    first = message_event(
        text_message("7009", "환불"),
        source=user_source(CUSTOMER),
        timestamp=SENT_MS,
        event_id="01H8Z4V0S1F0X8K2E9T4M6Q1AD",
    )
    again = {**first, "deliveryContext": {"isRedelivery": True}}
    # When both are parsed, a while apart
    (original,) = ADAPTER.parse(encode(webhook(first)), received_at=RECEIVED_AT)
    (redelivered,) = ADAPTER.parse(encode(webhook(again)), received_at=RECEIVED_AT + timedelta(minutes=30))
    # Then the writer sees one message
    assert original.dedup_key == redelivered.dedup_key == "line:7009"


def test_other_event_types_are_acknowledged_without_events():
    others = [
        {
            "type": "join",
            "mode": "active",
            "timestamp": SENT_MS,
            "source": group_source(GROUP, None),
            "webhookEventId": "e1",
            "deliveryContext": {"isRedelivery": False},
            "replyToken": "r",
        },
        {
            "type": "postback",
            "mode": "active",
            "timestamp": SENT_MS,
            "source": user_source(CUSTOMER),
            "webhookEventId": "e2",
            "deliveryContext": {"isRedelivery": False},
            "postback": {"data": "action=buy"},
        },
        {
            "type": "unsend",
            "mode": "active",
            "timestamp": SENT_MS,
            "source": user_source(CUSTOMER),
            "webhookEventId": "e3",
            "deliveryContext": {"isRedelivery": False},
            "unsend": {"messageId": "7009"},
        },
    ]

    assert ADAPTER.parse(encode(webhook(*others)), received_at=RECEIVED_AT) == []


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"[]",
        b'{"events": []}',
        b'{"destination": "U1"}',
        b'{"destination": "U1", "events": [{"type": "message"}]}',
        b'{"destination": "U1", "events": [{"type": "message", "timestamp": 1, "webhookEventId": "e", "source": {"type": "user"}, "message": {"id": "1", "type": "text"}}]}',
        b'{"destination": "U1", "events": [{"type": "follow", "timestamp": 1, "webhookEventId": "e", "source": {"type": "group", "groupId": "C1"}}]}',
    ],
    ids=[
        "empty",
        "array",
        "no destination",
        "no events",
        "bare message",
        "user source without id",
        "follow from a group",
    ],
)
def test_bodies_outside_the_documented_shape_are_malformed(body):
    with pytest.raises(MalformedPayload):
        ADAPTER.parse(body, received_at=RECEIVED_AT)


def test_malformed_message_names_the_field_but_not_the_customer_content():
    body = encode(
        webhook(
            message_event(
                {"id": "", "type": "text", "text": "내 전화번호는 010-1234-5678"},
                source=user_source(CUSTOMER),
                timestamp=SENT_MS,
            )
        )
    )

    with pytest.raises(MalformedPayload) as refused:
        ADAPTER.parse(body, received_at=RECEIVED_AT)
    assert "message.id" in refused.value.message
    assert "010" not in refused.value.message
