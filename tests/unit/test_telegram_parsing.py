"""Telegram Bot API updates -> InboundMessage / MessageEdit (the adapter's parse)."""

from datetime import UTC, datetime

import pytest

from switchboard.channels.telegram import ADAPTER
from switchboard.errors import MalformedPayload
from switchboard.models import Attachment, Channel, InboundMessage, Location, MessageEdit, SenderIdentity
from tests.support.drivers.telegram import BOT_ID, encode, group_chat, message, person, private_chat, update
from tests.support.paths import provider_fixture

RECEIVED_AT = datetime(2025, 6, 8, 21, 5, tzinfo=UTC)
SENT = 1749416383  # 2025-06-08T20:59:43Z
MINJUN = person(5_000_000_001, "민준", "김", "minjun_kim")
GROUP = group_chat(-1001234567890, "주문 문의 그룹")


def parse(payload: dict) -> list:
    return list(ADAPTER.parse(encode(payload), received_at=RECEIVED_AT, account_id=BOT_ID))


def parse_one(chat: dict | None = None, sender: dict = MINJUN, message_id: int = 41, **content) -> InboundMessage:
    (parsed,) = parse(
        update(
            "message",
            message(message_id=message_id, sender=sender, chat=chat or private_chat(sender), date=SENT, **content),
        )
    )
    return parsed


def test_documented_text_sample():
    (parsed,) = ADAPTER.parse(provider_fixture("telegram", "text.json"), received_at=RECEIVED_AT, account_id=BOT_ID)

    assert parsed == InboundMessage(
        channel=Channel.TELEGRAM,
        channel_account_id=BOT_ID,
        conversation_id="1111111",
        external_id=f"{BOT_ID}:1111111:1365",
        sender=SenderIdentity(external_id="1111111", display_name="Test Firstname Test Lastname"),
        message_type="text",
        text="/start",
        provider_timestamp=datetime(2015, 9, 7, 17, 5, 32, tzinfo=UTC),
        received_at=RECEIVED_AT,
    )


def test_documented_document_sample():
    (parsed,) = ADAPTER.parse(provider_fixture("telegram", "document.json"), received_at=RECEIVED_AT, account_id=BOT_ID)

    assert (parsed.message_type, parsed.text) == ("document", None)
    assert parsed.attachments == (
        Attachment(
            kind="document",
            provider_media_id="AwADBAADbXXXXXXXXXXXGBdhD2l6_XX",
            mime_type="application/pdf",
            filename="Testfile.pdf",
            size_bytes=536392,
        ),
    )


def test_korean_text_and_name():
    parsed = parse_one(text="안녕하세요, 환불 문의드립니다 🙏")

    assert parsed.text == "안녕하세요, 환불 문의드립니다 🙏"
    assert parsed.sender == SenderIdentity(external_id="5000000001", display_name="민준 김")


def test_username_stands_in_for_a_missing_name():
    parsed = parse_one(sender={"id": 5_000_000_002, "is_bot": False, "username": "seoyeon_lee"}, text="hi")

    assert parsed.sender.display_name == "seoyeon_lee"


def test_group_message_is_the_group_conversation_written_by_its_member():
    parsed = parse_one(chat=GROUP, text="배송 언제 되나요?")

    assert (parsed.conversation_id, parsed.sender.external_id, parsed.external_id) == (
        "-1001234567890",
        "5000000001",
        f"{BOT_ID}:-1001234567890:41",
    )


def test_anonymous_group_admin_writes_as_the_group():
    anonymous = {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}

    (parsed,) = parse(
        update(
            "message",
            {**message(message_id=7, sender=anonymous, chat=GROUP, date=SENT, text="공지"), "sender_chat": GROUP},
        )
    )

    assert parsed.sender == SenderIdentity(external_id="-1001234567890", display_name="주문 문의 그룹")


def test_reply_refers_to_the_message_in_the_same_chat():
    replied = message(message_id=40, sender=MINJUN, chat=private_chat(MINJUN), date=SENT - 60, text="주문번호요?")

    parsed = parse_one(text="2025-0608-17", reply_to_message=replied)

    assert parsed.reply_to_external_id == f"{BOT_ID}:5000000001:40"


def test_photo_keeps_the_largest_size_and_the_caption():
    sizes = [
        {"file_id": "AgAD-small", "file_unique_id": "s", "width": 90, "height": 67, "file_size": 1201},
        {"file_id": "AgAD-large", "file_unique_id": "l", "width": 1280, "height": 960, "file_size": 98211},
        {"file_id": "AgAD-medium", "file_unique_id": "m", "width": 320, "height": 240, "file_size": 15230},
    ]

    parsed = parse_one(photo=sizes, caption="상자가 찌그러져 왔어요")

    assert (parsed.message_type, parsed.text) == ("photo", "상자가 찌그러져 왔어요")
    assert parsed.attachments == (Attachment(kind="image", provider_media_id="AgAD-large", size_bytes=98211),)


@pytest.mark.parametrize(
    ("kind", "media", "attachment"),
    [
        (
            "voice",
            {
                "file_id": "AwAD-voice",
                "file_unique_id": "v",
                "duration": 3,
                "mime_type": "audio/ogg",
                "file_size": 8000,
            },
            Attachment(kind="voice", provider_media_id="AwAD-voice", mime_type="audio/ogg", size_bytes=8000),
        ),
        (
            "video",
            {
                "file_id": "BAAD-video",
                "file_unique_id": "w",
                "width": 640,
                "height": 360,
                "duration": 12,
                "mime_type": "video/mp4",
                "file_name": "unboxing.mp4",
            },
            Attachment(kind="video", provider_media_id="BAAD-video", mime_type="video/mp4", filename="unboxing.mp4"),
        ),
        (
            "audio",
            {
                "file_id": "CQAD-audio",
                "file_unique_id": "a",
                "duration": 180,
                "mime_type": "audio/mpeg",
                "file_name": "녹음.mp3",
            },
            Attachment(kind="audio", provider_media_id="CQAD-audio", mime_type="audio/mpeg", filename="녹음.mp3"),
        ),
        (
            "document",
            {
                "file_id": "BQAD-doc",
                "file_unique_id": "d",
                "file_name": "영수증.pdf",
                "mime_type": "application/pdf",
                "file_size": 536392,
            },
            Attachment(
                kind="document",
                provider_media_id="BQAD-doc",
                mime_type="application/pdf",
                filename="영수증.pdf",
                size_bytes=536392,
            ),
        ),
    ],
    ids=["voice", "video", "audio", "document"],
)
def test_media_is_an_attachment_fetched_later_by_file_id(kind, media, attachment):
    parsed = parse_one(**{kind: media})

    assert (parsed.message_type, parsed.attachments) == (kind, (attachment,))


def test_animation_is_not_mistaken_for_the_document_telegram_also_sets():
    gif = {
        "file_id": "CgAD-gif",
        "file_unique_id": "g",
        "width": 320,
        "height": 240,
        "duration": 2,
        "mime_type": "video/mp4",
    }

    parsed = parse_one(animation=gif, document=gif)

    assert (parsed.message_type, parsed.attachments[0].kind) == ("animation", "animation")


def test_sticker_shows_its_emoji():
    parsed = parse_one(
        sticker={
            "file_id": "CAAD-sticker",
            "file_unique_id": "k",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": "👍",
        }
    )

    assert (parsed.message_type, parsed.text, parsed.attachments) == (
        "sticker",
        "👍",
        (Attachment(kind="sticker", provider_media_id="CAAD-sticker"),),
    )


def test_location_and_venue():
    point = {"latitude": 37.5665, "longitude": 126.978}

    located = parse_one(location=point)
    venue = parse_one(
        location=point, venue={"location": point, "title": "서울시청", "address": "서울특별시 중구 세종대로 110"}
    )

    assert (located.message_type, located.location) == ("location", Location(latitude=37.5665, longitude=126.978))
    assert (venue.message_type, venue.text) == ("venue", "서울시청")
    assert venue.location == Location(
        latitude=37.5665, longitude=126.978, name="서울시청", address="서울특별시 중구 세종대로 110"
    )


def test_someone_elses_contact_card_is_text_not_the_senders_phone():
    parsed = parse_one(
        contact={"phone_number": "+821098765432", "first_name": "서연", "last_name": "이", "user_id": 5_000_000_002}
    )

    assert (parsed.message_type, parsed.text, parsed.sender.phone_e164) == ("contact", "서연 이 +821098765432", None)


def test_sharing_ones_own_contact_gives_the_sender_a_verified_phone():
    # Telegram's "share my phone number" button sends the account's own number with contact.user_id = sender
    parsed = parse_one(contact={"phone_number": "821012345678", "first_name": "민준", "user_id": 5_000_000_001})

    assert parsed.sender.phone_e164 == "+821012345678"


def test_a_message_kind_new_to_us_is_kept():
    parsed = parse_one(dice={"emoji": "🎲", "value": 4})

    assert (parsed.message_type, parsed.known_type, parsed.text) == ("dice", False, None)


def test_group_housekeeping_messages_are_not_customer_messages():
    joined = message(message_id=9, sender=MINJUN, chat=GROUP, date=SENT, new_chat_members=[MINJUN])

    assert parse(update("message", joined)) == []


def test_edited_message_points_at_the_original():
    edited = message(
        message_id=41,
        sender=MINJUN,
        chat=private_chat(MINJUN),
        date=SENT,
        edit_date=SENT + 30,
        text="환불 말고 교환할게요",
    )

    assert parse(update("edited_message", edited)) == [
        MessageEdit(
            channel=Channel.TELEGRAM,
            channel_account_id=BOT_ID,
            conversation_id="5000000001",
            external_id=f"{BOT_ID}:5000000001:41",
            text="환불 말고 교환할게요",
            edited_at=datetime(2025, 6, 8, 21, 0, 13, tzinfo=UTC),
        )
    ]
    assert parse_one(text="환불할게요").external_id == f"{BOT_ID}:5000000001:41"


def test_edited_caption_is_the_new_text():
    sizes = [{"file_id": "AgAD-only", "file_unique_id": "o", "width": 90, "height": 90}]
    edited = message(
        message_id=42,
        sender=MINJUN,
        chat=private_chat(MINJUN),
        date=SENT,
        edit_date=SENT + 5,
        photo=sizes,
        caption="뒷면 사진이에요",
    )

    (edit,) = parse(update("edited_message", edited))

    assert edit.text == "뒷면 사진이에요"


def test_redelivered_update_has_the_same_dedup_key():
    payload = update(
        "message",
        message(message_id=41, sender=MINJUN, chat=private_chat(MINJUN), date=SENT, text="환불"),
        update_id=812345670,
    )

    (first,) = ADAPTER.parse(encode(payload), received_at=RECEIVED_AT, account_id=BOT_ID)
    (again,) = ADAPTER.parse(encode(payload), received_at=datetime(2025, 6, 8, 22, 0, tzinfo=UTC), account_id=BOT_ID)

    assert first.dedup_key == again.dedup_key == f"telegram:{BOT_ID}:5000000001:41"


def test_same_message_number_at_two_bots_is_two_messages():
    payload = update(
        "message", message(message_id=41, sender=MINJUN, chat=private_chat(MINJUN), date=SENT, text="환불")
    )

    (at_first_bot,) = ADAPTER.parse(encode(payload), received_at=RECEIVED_AT, account_id=BOT_ID)
    (at_second_bot,) = ADAPTER.parse(encode(payload), received_at=RECEIVED_AT, account_id="7098765432")

    assert at_first_bot.dedup_key != at_second_bot.dedup_key


@pytest.mark.parametrize(
    "kind",
    [
        "channel_post",
        "edited_channel_post",
        "callback_query",
        "inline_query",
        "my_chat_member",
        "chat_member",
        "poll",
        "business_connection",
    ],
)
def test_other_update_kinds_are_acknowledged_without_events(kind):
    assert parse({"update_id": 812345671, kind: {"id": "1"}}) == []


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"[]",
        b'{"message": {}}',
        b'{"update_id": "1"}',
        b'{"update_id": 1, "message": {"message_id": 1, "date": 1, "chat": {"type": "private"}}}',
        b'{"update_id": 1, "message": {"message_id": "1", "date": 1, "chat": {"id": 1, "type": "private"}}}',
        b'{"update_id": 1, "message": {"message_id": 1, "date": 1, "chat": {"id": 1, "type": "private"}, "photo": []}}',
        b'{"update_id": 1, "edited_message": {"message_id": 1, "date": 1, "chat": {"id": true, "type": "private"}}}',
    ],
    ids=[
        "empty",
        "array",
        "no update_id",
        "text update_id",
        "chat without id",
        "text message_id",
        "photo without sizes",
        "boolean chat id",
    ],
)
def test_bodies_outside_the_documented_shape_are_malformed(body):
    with pytest.raises(MalformedPayload):
        ADAPTER.parse(body, received_at=RECEIVED_AT, account_id=BOT_ID)


def test_malformed_message_names_the_field_but_not_the_customer_content():
    body = encode(
        update(
            "message",
            {
                **message(
                    message_id=41, sender=MINJUN, chat=private_chat(MINJUN), date=SENT, text="내 번호 010-1234-5678"
                ),
                "date": "어제",
            },
        )
    )

    with pytest.raises(MalformedPayload) as refused:
        ADAPTER.parse(body, received_at=RECEIVED_AT, account_id=BOT_ID)
    assert "date" in refused.value.message
    assert "010" not in refused.value.message and "어제" not in refused.value.message
