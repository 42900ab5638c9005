"""Messenger and Instagram webhooks -> normalized events (the adapter's parse)."""

from datetime import UTC, datetime

import pytest

from switchboard.channels.meta_messaging import INSTAGRAM, MESSENGER
from switchboard.errors import MalformedPayload
from switchboard.models import (
    Attachment,
    Channel,
    DeliveryReceipt,
    DeliveryStatus,
    Direction,
    InboundMessage,
    Location,
    MessageEdit,
    ReadWatermark,
    SenderIdentity,
)
from tests.support.drivers.messenger import (
    INSTAGRAM_ACCOUNT_ID,
    PAGE_ID,
    attachment_event,
    customer_event,
    delivery_event,
    echo_event,
    encode,
    entry,
    postback_event,
    read_event,
    seen_event,
    text_event,
    webhook,
)
from tests.support.paths import SHARED_FIXTURES, provider_fixture

RECEIVED_AT = datetime(2025, 6, 8, 21, 5, tzinfo=UTC)
CUSTOMER = "7160000000012345"
SENT = 1749416383000  # 2025-06-08T20:59:43Z, in Meta's milliseconds
SENT_AT = datetime(2025, 6, 8, 20, 59, 43, tzinfo=UTC)
CDN_URL = "https://scontent.xx.fbcdn.net/v/t1.15752-9/501234_n.jpg?_nc_cat=1&oh=00_AfB&oe=6868A1B2"

SAMPLE_EXPECTATIONS = {
    "text.json": [
        InboundMessage(
            channel=Channel.MESSENGER,
            channel_account_id="<PAGE_ID>",
            conversation_id="<PSID>",
            external_id="mid.1457764197618:41d102a3e1ae206a38",
            sender=SenderIdentity(external_id="<PSID>"),
            message_type="quick_reply",
            text="hello, world!",
            payload="<DEVELOPER_DEFINED_PAYLOAD>",
            provider_timestamp=datetime(2016, 3, 23, 0, 25, 52, 478000, tzinfo=UTC),
            received_at=RECEIVED_AT,
        )
    ],
    "attachment.json": [
        InboundMessage(
            channel=Channel.MESSENGER,
            channel_account_id="682498302938465",
            conversation_id="<PSID>",
            external_id="mid.$cAAJdkrCd2ORnva8ErFhjGm0X_Q_c",
            sender=SenderIdentity(external_id="<PSID>"),
            message_type="image",
            attachments=(Attachment(kind="image", url="<ATTACHMENT_URL>"),),
            provider_timestamp=datetime(2018, 2, 12, 23, 46, 35, 308000, tzinfo=UTC),
            received_at=RECEIVED_AT,
        )
    ],
    "delivery.json": [
        DeliveryReceipt(
            channel=Channel.MESSENGER,
            channel_account_id="<PAGE_ID>",
            external_id="mid.1458668856218:ed81099e15d3f4f233",
            recipient_id="<PSID>",
            status=DeliveryStatus.DELIVERED,
            # The delivery carries no timestamp of its own: its watermark is when it was delivered.
            provider_timestamp=datetime(2016, 3, 22, 17, 47, 36, 253000, tzinfo=UTC),
        )
    ],
}


def parse(payload, adapter=MESSENGER) -> list:
    return list(adapter.parse(encode(payload), received_at=RECEIVED_AT))


def one(payload, adapter=MESSENGER):
    (event,) = parse(payload, adapter)
    return event


def customer_message(**fields) -> InboundMessage:
    defaults = dict(
        channel=Channel.MESSENGER,
        channel_account_id=PAGE_ID,
        conversation_id=CUSTOMER,
        sender=SenderIdentity(external_id=CUSTOMER),
        provider_timestamp=SENT_AT,
        received_at=RECEIVED_AT,
    )
    return InboundMessage(**(defaults | fields))


def test_every_messenger_sample_has_an_expectation():
    assert sorted(path.name for path in (SHARED_FIXTURES / "messenger").glob("*.json")) == sorted(SAMPLE_EXPECTATIONS)


@pytest.mark.parametrize("sample", sorted(SAMPLE_EXPECTATIONS))
def test_provider_sample_parses_to_the_expected_events(sample):
    assert (
        list(MESSENGER.parse(provider_fixture("messenger", sample), received_at=RECEIVED_AT))
        == SAMPLE_EXPECTATIONS[sample]
    )


def test_text_message_in_korean():
    event = one(webhook(text_event(mid="m_1", customer=CUSTOMER, text="주문한 신발이 아직 안 왔어요", timestamp=SENT)))

    assert event == customer_message(external_id="m_1", message_type="text", text="주문한 신발이 아직 안 왔어요")
    assert event.dedup_key == "messenger:m_1"


def test_quick_reply_keeps_the_text_the_customer_tapped_and_its_payload():
    payload = webhook(
        text_event(
            mid="m_qr", customer=CUSTOMER, text="배송 조회", timestamp=SENT, quick_reply={"payload": "TRACK_ORDER"}
        )
    )

    assert one(payload) == customer_message(
        external_id="m_qr", message_type="quick_reply", text="배송 조회", payload="TRACK_ORDER"
    )


@pytest.mark.parametrize("kind", ["image", "video", "audio", "file"])
def test_media_attachment_keeps_its_kind_and_cdn_url(kind):
    payload = webhook(
        attachment_event(
            mid=f"m_{kind}",
            customer=CUSTOMER,
            attachments=[{"type": kind, "payload": {"url": CDN_URL}}],
            timestamp=SENT,
        )
    )

    assert one(payload) == customer_message(
        external_id=f"m_{kind}", message_type=kind, attachments=(Attachment(kind=kind, url=CDN_URL),)
    )


def test_several_attachments_in_one_message_are_kept_in_order():
    attachments = [
        {"type": "image", "payload": {"url": CDN_URL + "&n=1"}},
        {"type": "image", "payload": {"url": CDN_URL + "&n=2"}},
    ]

    event = one(webhook(attachment_event(mid="m_album", customer=CUSTOMER, attachments=attachments, timestamp=SENT)))

    assert [a.url for a in event.attachments] == [CDN_URL + "&n=1", CDN_URL + "&n=2"]


def test_sticker_is_an_image_with_its_sticker_id():
    attachment = {"type": "image", "payload": {"url": CDN_URL, "sticker_id": 369239263222822}}

    event = one(
        webhook(
            attachment_event(
                mid="m_like", customer=CUSTOMER, attachments=[attachment], timestamp=SENT, sticker_id=369239263222822
            )
        )
    )

    assert event.attachments == (Attachment(kind="image", provider_media_id="369239263222822", url=CDN_URL),)


def test_location_becomes_a_location():
    attachment = {
        "type": "location",
        "title": "서울시청",
        "url": "https://l.facebook.com/l.php?u=maps",
        "payload": {"coordinates": {"lat": 37.5665, "long": 126.978}},
    }

    event = one(webhook(attachment_event(mid="m_loc", customer=CUSTOMER, attachments=[attachment], timestamp=SENT)))

    assert (event.message_type, event.attachments) == ("location", ())
    assert event.location == Location(latitude=37.5665, longitude=126.978, name="서울시청")


def test_fallback_link_shows_its_title_and_keeps_its_url_as_a_link_never_fetched():
    attachment = {"type": "fallback", "title": "Spring sale", "url": "https://shop.example.com/sale", "payload": None}

    event = one(webhook(attachment_event(mid="m_link", customer=CUSTOMER, attachments=[attachment], timestamp=SENT)))

    assert (event.message_type, event.text) == ("fallback", "Spring sale")
    assert event.attachments == (Attachment(kind="link", url="https://shop.example.com/sale"),)


def test_attachment_type_new_to_us_is_kept_as_unknown():
    attachment = {"type": "hologram", "payload": {"url": CDN_URL}}

    event = one(webhook(attachment_event(mid="m_new", customer=CUSTOMER, attachments=[attachment], timestamp=SENT)))

    assert (event.message_type, event.known_type, event.attachments) == (
        "hologram",
        False,
        (Attachment(kind="hologram", url=CDN_URL),),
    )


def test_reply_names_the_message_it_answers():
    payload = webhook(
        text_event(mid="m_reply", customer=CUSTOMER, text="이거요", timestamp=SENT, reply_to={"mid": "m_earlier"})
    )

    assert one(payload).reply_to_external_id == "m_earlier"


def test_instagram_unsupported_media_is_kept_as_unknown():
    payload = webhook(
        customer_event(CUSTOMER, INSTAGRAM_ACCOUNT_ID, SENT, message={"mid": "aWdfZAG1", "is_unsupported": True}),
        account=INSTAGRAM_ACCOUNT_ID,
        object_="instagram",
    )

    event = one(payload, INSTAGRAM)

    assert (event.channel, event.message_type, event.known_type, event.text) == (
        Channel.INSTAGRAM,
        "unsupported",
        False,
        None,
    )


def test_instagram_story_mention_keeps_its_url():
    attachment = {
        "type": "story_mention",
        "payload": {"url": "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1789"},
    }
    payload = webhook(
        attachment_event(
            mid="aWdfZAG2", customer=CUSTOMER, attachments=[attachment], timestamp=SENT, account=INSTAGRAM_ACCOUNT_ID
        ),
        account=INSTAGRAM_ACCOUNT_ID,
        object_="instagram",
    )

    event = one(payload, INSTAGRAM)

    assert (event.message_type, event.known_type) == ("story_mention", True)
    assert event.attachments[0].url == "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1789"


def test_instagram_unsent_message_adds_nothing():
    payload = webhook(
        customer_event(CUSTOMER, INSTAGRAM_ACCOUNT_ID, SENT, message={"mid": "aWdfZAG3", "is_deleted": True}),
        account=INSTAGRAM_ACCOUNT_ID,
        object_="instagram",
    )

    assert parse(payload, INSTAGRAM) == []


# -- what the page itself sent ------------------------------------------------------------------------


def test_echo_is_an_outbound_message_in_the_customers_conversation():
    # Given the page answered from Meta Business Suite: Meta echoes it with sender and recipient swapped
    payload = webhook(echo_event(mid="m_echo", customer=CUSTOMER, timestamp=SENT, text="오늘 출고됩니다."))
    # When it is parsed
    event = one(payload)
    # Then it belongs to the customer's conversation, as something the business sent them
    assert event == customer_message(
        external_id="m_echo", message_type="text", text="오늘 출고됩니다.", direction=Direction.OUTBOUND
    )
    assert event.conversation_key == f"messenger:{PAGE_ID}:{CUSTOMER}"


def test_echo_of_a_template_keeps_it_as_a_template():
    template = {
        "type": "template",
        "payload": {"template_type": "button", "text": "주문을 확인하시겠어요?", "buttons": []},
    }

    event = one(webhook(echo_event(mid="m_tpl", customer=CUSTOMER, timestamp=SENT, attachments=[template])))

    assert (event.direction, event.message_type, event.attachments) == (
        Direction.OUTBOUND,
        "template",
        (Attachment(kind="template"),),
    )


# -- postbacks ------------------------------------------------------------------------------------------


def test_postback_with_a_mid_uses_it():
    payload = webhook(
        postback_event(customer=CUSTOMER, title="상담원 연결", payload="TALK_TO_AGENT", timestamp=SENT, mid="m_pb")
    )

    assert one(payload) == customer_message(
        external_id="m_pb", message_type="postback", text="상담원 연결", payload="TALK_TO_AGENT"
    )


def test_postback_without_a_mid_gets_an_id_that_survives_redelivery():
    # Given an older-version postback (no mid), delivered twice, and a different tap of the same button
    tap = postback_event(customer=CUSTOMER, title="Get Started", payload="GET_STARTED", timestamp=SENT)
    later_tap = postback_event(customer=CUSTOMER, title="Get Started", payload="GET_STARTED", timestamp=SENT + 60_000)
    # When each is parsed
    first, again, later = one(webhook(tap)), one(webhook(tap)), one(webhook(later_tap))
    # Then a redelivery has the same id, and the other tap its own
    assert first.external_id == again.external_id != later.external_id
    assert first.external_id.startswith("postback_")
    assert (first.message_type, first.text) == ("postback", "Get Started")


def test_postback_without_a_title_shows_its_payload():
    event = one(webhook(customer_event(CUSTOMER, PAGE_ID, SENT, postback={"payload": "USER_DEFINED_PAYLOAD"})))

    assert event.text == "USER_DEFINED_PAYLOAD"


# -- receipts, reads and edits ----------------------------------------------------------------------------


def test_delivery_names_each_message_once():
    payload = webhook(delivery_event(customer=CUSTOMER, mids=["m_a", "m_b", "m_a"], watermark=SENT))

    assert parse(payload) == [
        DeliveryReceipt(
            channel=Channel.MESSENGER,
            channel_account_id=PAGE_ID,
            external_id=mid,
            recipient_id=CUSTOMER,
            status=DeliveryStatus.DELIVERED,
            provider_timestamp=SENT_AT,
        )
        for mid in ("m_a", "m_b")
    ]


def test_delivery_with_only_a_watermark_names_no_message():
    assert parse(webhook(customer_event(CUSTOMER, PAGE_ID, None, delivery={"watermark": SENT}))) == []


def test_read_is_a_watermark_for_the_conversation():
    event = one(webhook(read_event(customer=CUSTOMER, watermark=SENT, timestamp=SENT + 500)))

    assert event == ReadWatermark(
        channel=Channel.MESSENGER, channel_account_id=PAGE_ID, conversation_id=CUSTOMER, read_up_to=SENT_AT
    )


def test_instagram_seen_is_a_read_receipt_for_that_message():
    payload = webhook(
        seen_event(customer=CUSTOMER, mid="aWdfZAG4", timestamp=SENT), account=INSTAGRAM_ACCOUNT_ID, object_="instagram"
    )

    assert one(payload, INSTAGRAM) == DeliveryReceipt(
        channel=Channel.INSTAGRAM,
        channel_account_id=INSTAGRAM_ACCOUNT_ID,
        external_id="aWdfZAG4",
        recipient_id=CUSTOMER,
        status=DeliveryStatus.READ,
        provider_timestamp=SENT_AT,
    )


def test_edit_updates_the_message_it_names():
    event = one(
        webhook(
            customer_event(
                CUSTOMER, PAGE_ID, SENT, message_edit={"mid": "m_1", "text": "주문번호 2025-0608-18", "num_edit": 1}
            )
        )
    )

    assert event == MessageEdit(
        channel=Channel.MESSENGER,
        channel_account_id=PAGE_ID,
        conversation_id=CUSTOMER,
        external_id="m_1",
        text="주문번호 2025-0608-18",
        edited_at=SENT_AT,
    )


@pytest.mark.parametrize(
    "event",
    [
        {"reaction": {"reaction": "love", "emoji": "❤", "action": "react", "mid": "m_1"}},
        {"referral": {"ref": "spring-sale", "source": "SHORTLINK", "type": "OPEN_THREAD"}},
        {"optin": {"type": "notification_messages", "payload": "DEALS", "notification_messages_token": "t"}},
        {"account_linking": {"status": "unlinked"}},
        {"pass_thread_control": {"new_owner_app_id": "123456789", "metadata": "handover"}},
    ],
    ids=["reaction", "referral", "optin", "account-linking", "handover"],
)
def test_events_without_a_customer_message_are_acknowledged_without_events(event):
    assert parse(webhook(customer_event(CUSTOMER, PAGE_ID, SENT, **event))) == []


# -- batches ------------------------------------------------------------------------------------------------


def test_one_post_batches_several_pages_and_events_in_order():
    # Given two pages' entries in one delivery: a message and a read for one, a message and an echo for the other
    second_page, second_customer = "1029384756102938", "7160000000067890"
    payload = {
        "object": "page",
        "entry": [
            entry(
                text_event(mid="m_1", customer=CUSTOMER, text="안녕하세요", timestamp=SENT),
                read_event(customer=CUSTOMER, watermark=SENT, timestamp=SENT + 1),
            ),
            entry(
                text_event(mid="m_2", customer=second_customer, text="Hi", timestamp=SENT, account=second_page),
                echo_event(mid="m_3", customer=second_customer, timestamp=SENT + 2, text="Hello!", account=second_page),
                account=second_page,
            ),
        ],
    }
    # When it is parsed
    events = parse(payload)
    # Then every event is there, each filed under its own page
    assert [(type(e).__name__, e.channel_account_id, getattr(e, "external_id", None)) for e in events] == [
        ("InboundMessage", PAGE_ID, "m_1"),
        ("ReadWatermark", PAGE_ID, None),
        ("InboundMessage", second_page, "m_2"),
        ("InboundMessage", second_page, "m_3"),
    ]
    assert events[3].direction is Direction.OUTBOUND


def test_entry_of_another_subscription_carries_no_events():
    payload = {
        "object": "page",
        "entry": [{"id": PAGE_ID, "time": SENT, "changes": [{"field": "feed", "value": {"item": "status"}}]}],
    }

    assert parse(payload) == []


def test_guest_of_the_chat_plugin_is_identified_by_user_ref():
    event = one(
        webhook(
            {
                "sender": {"user_ref": "guest-8b1f"},
                "recipient": {"id": PAGE_ID},
                "timestamp": SENT,
                "message": {"mid": "m_guest", "text": "hello"},
            }
        )
    )

    assert (event.conversation_id, event.sender.external_id) == ("guest-8b1f", "guest-8b1f")


# -- refused -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "adapter"),
    [
        (webhook(text_event(mid="m_1", customer=CUSTOMER, text="hi", timestamp=SENT), object_="instagram"), MESSENGER),
        (webhook(text_event(mid="m_1", customer=CUSTOMER, text="hi", timestamp=SENT)), INSTAGRAM),
        ({"object": "page"}, MESSENGER),
        (
            webhook(
                {
                    "sender": {"id": CUSTOMER},
                    "recipient": {"id": PAGE_ID},
                    "timestamp": SENT,
                    "message": {"text": "no mid"},
                }
            ),
            MESSENGER,
        ),
        (
            webhook({"sender": {}, "recipient": {"id": PAGE_ID}, "timestamp": SENT, "message": {"mid": "m_1"}}),
            MESSENGER,
        ),
        (
            {
                "object": "page",
                "entry": [
                    {
                        "id": PAGE_ID,
                        "messaging": [
                            {"sender": {"id": CUSTOMER}, "recipient": {"id": PAGE_ID}, "message": {"mid": "m_1"}}
                        ],
                    }
                ],
            },
            MESSENGER,
        ),
    ],
    ids=["instagram-to-messenger", "page-to-instagram", "no-entry", "no-mid", "anonymous-sender", "no-time-at-all"],
)
def test_bodies_not_in_the_documented_shape_are_malformed(payload, adapter):
    with pytest.raises(MalformedPayload):
        parse(payload, adapter)


def test_errors_never_quote_the_customers_words():
    payload = webhook(
        {
            "sender": {"id": CUSTOMER},
            "recipient": {"id": PAGE_ID},
            "timestamp": "비밀번호는 hunter2",
            "message": {"mid": "m_1", "text": "비밀"},
        }
    )

    with pytest.raises(MalformedPayload) as refused:
        parse(payload)

    assert "hunter2" not in refused.value.message and "비밀" not in refused.value.message
    assert "timestamp" in refused.value.message
