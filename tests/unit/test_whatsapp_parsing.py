"""WhatsApp Cloud API webhooks -> normalized InboundMessage / DeliveryReceipt (the adapter's parse)."""

from datetime import UTC, datetime

import pytest

from switchboard.channels.whatsapp import ADAPTER
from switchboard.errors import MalformedPayload
from switchboard.models import (
    Attachment,
    Channel,
    DeliveryReceipt,
    DeliveryStatus,
    InboundMessage,
    Location,
    SenderIdentity,
)
from tests.support.drivers.whatsapp import (
    DISPLAY_PHONE_NUMBER,
    PHONE_NUMBER_ID,
    WABA_ID,
    contact,
    encode,
    message_item,
    messages_value,
    status_item,
    text_item,
    webhook,
)
from tests.support.paths import SHARED_FIXTURES, provider_fixture

RECEIVED_AT = datetime(2025, 6, 8, 21, 5, tzinfo=UTC)
CUSTOMER = "821012345678"
SENT = 1749416383  # 2025-06-08T20:59:43Z

SAMPLE_EXPECTATIONS = {
    "text.json": [
        InboundMessage(
            channel=Channel.WHATSAPP,
            channel_account_id="106540352242922",
            conversation_id="16505551234",
            external_id="wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
            sender=SenderIdentity(external_id="16505551234", display_name="Sheena Nelson", phone_e164="+16505551234"),
            message_type="text",
            text="Does it come in another color?",
            provider_timestamp=datetime(2025, 6, 8, 20, 59, 43, tzinfo=UTC),
            received_at=RECEIVED_AT,
        )
    ],
    "image.constructed.json": [
        InboundMessage(
            channel=Channel.WHATSAPP,
            channel_account_id="106540352242922",
            conversation_id="16505551234",
            external_id="wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgB=",
            sender=SenderIdentity(external_id="16505551234", display_name="Sheena Nelson", phone_e164="+16505551234"),
            message_type="image",
            text="The box arrived damaged",
            attachments=(
                Attachment(
                    kind="image",
                    provider_media_id="1003383421387256",
                    mime_type="image/jpeg",
                    sha256="8ab0b6f7e9f3a1c2d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b",
                ),
            ),
            provider_timestamp=datetime(2025, 6, 8, 21, 0, 0, tzinfo=UTC),
            received_at=RECEIVED_AT,
        )
    ],
    "status.constructed.json": [
        DeliveryReceipt(
            channel=Channel.WHATSAPP,
            channel_account_id="106540352242922",
            external_id="wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA",
            recipient_id="16505551234",
            status=DeliveryStatus.DELIVERED,
            provider_timestamp=datetime(2025, 6, 8, 21, 1, 40, tzinfo=UTC),
        )
    ],
}


def parse(payload) -> list:
    return list(ADAPTER.parse(encode(payload), received_at=RECEIVED_AT))


MINJUN_CONTACT = (contact(CUSTOMER, "김민준"),)


def one_message(item, contacts=MINJUN_CONTACT) -> InboundMessage:
    (parsed,) = parse(webhook(messages_value([item], contacts=contacts)))
    return parsed


@pytest.mark.parametrize("sample", sorted(path.name for path in (SHARED_FIXTURES / "whatsapp").glob("*.json")))
def test_every_provider_sample_parses_to_its_expected_events(sample):
    assert sample in SAMPLE_EXPECTATIONS, f"{sample} is new: add what it must parse to"

    parsed = ADAPTER.parse(provider_fixture("whatsapp", sample), received_at=RECEIVED_AT)

    assert list(parsed) == SAMPLE_EXPECTATIONS[sample]


def media(kind, **content):
    return {"id": f"{kind}-media-id", "sha256": f"{kind}-sha256", **content}


MESSAGE_TYPES = {
    "text": (
        {"body": "배송이 아직 안 왔어요"},
        {},
        {"text": "배송이 아직 안 왔어요"},
    ),
    "image": (
        media("image", mime_type="image/jpeg", caption="The box arrived damaged"),
        {},
        {
            "text": "The box arrived damaged",
            "attachments": (
                Attachment(
                    kind="image", provider_media_id="image-media-id", mime_type="image/jpeg", sha256="image-sha256"
                ),
            ),
        },
    ),
    "audio": (
        media("audio", mime_type="audio/ogg; codecs=opus", voice=True),
        {},
        {
            "attachments": (
                Attachment(
                    kind="audio",
                    provider_media_id="audio-media-id",
                    mime_type="audio/ogg; codecs=opus",
                    sha256="audio-sha256",
                ),
            )
        },
    ),
    "video": (
        media("video", mime_type="video/mp4", caption="unboxing"),
        {},
        {
            "text": "unboxing",
            "attachments": (
                Attachment(
                    kind="video", provider_media_id="video-media-id", mime_type="video/mp4", sha256="video-sha256"
                ),
            ),
        },
    ),
    "document": (
        media("document", mime_type="application/pdf", filename="invoice-2025-06.pdf", caption="Invoice"),
        {},
        {
            "text": "Invoice",
            "attachments": (
                Attachment(
                    kind="document",
                    provider_media_id="document-media-id",
                    mime_type="application/pdf",
                    sha256="document-sha256",
                    filename="invoice-2025-06.pdf",
                ),
            ),
        },
    ),
    "sticker": (
        media("sticker", mime_type="image/webp", animated=False),
        {},
        {
            "attachments": (
                Attachment(
                    kind="sticker",
                    provider_media_id="sticker-media-id",
                    mime_type="image/webp",
                    sha256="sticker-sha256",
                ),
            )
        },
    ),
    "location": (
        {"latitude": 37.5665, "longitude": 126.978, "name": "서울시청", "address": "서울특별시 중구 세종대로 110"},
        {},
        {
            "text": "서울시청",
            "location": Location(
                latitude=37.5665, longitude=126.978, name="서울시청", address="서울특별시 중구 세종대로 110"
            ),
        },
    ),
    "interactive": (
        {"type": "button_reply", "button_reply": {"id": "refund-yes", "title": "Yes, refund"}},
        {"context": {"from": DISPLAY_PHONE_NUMBER, "id": "wamid.refund-question"}},
        {"text": "Yes, refund", "reply_to_external_id": "wamid.refund-question"},
    ),
    "button": (
        {"payload": "TRACK_ORDER", "text": "Track my order"},
        {"context": {"from": DISPLAY_PHONE_NUMBER, "id": "wamid.shipping-template"}},
        {"text": "Track my order", "reply_to_external_id": "wamid.shipping-template"},
    ),
    "reaction": (
        {"message_id": "wamid.agent-reply", "emoji": "👍"},
        {},
        {"text": "👍", "reply_to_external_id": "wamid.agent-reply"},
    ),
}

NOTHING_ELSE = {"text": None, "attachments": (), "location": None, "reply_to_external_id": None, "known_type": True}


def content_of(message: InboundMessage) -> dict:
    return {name: getattr(message, name) for name in NOTHING_ELSE}


@pytest.mark.parametrize("kind", sorted(MESSAGE_TYPES))
def test_each_message_type_is_normalized(kind):
    content, extra, expected = MESSAGE_TYPES[kind]

    parsed = one_message(
        message_item(kind, wamid=f"wamid.{kind}", sender=CUSTOMER, timestamp=SENT, content=content, **extra)
    )

    assert parsed.message_type == kind
    assert content_of(parsed) == NOTHING_ELSE | expected


def test_interactive_list_reply_keeps_the_chosen_title():
    content = {"type": "list_reply", "list_reply": {"id": "size-m", "title": "Medium", "description": "Fits 95-100"}}

    parsed = one_message(
        message_item("interactive", wamid="wamid.list", sender=CUSTOMER, timestamp=SENT, content=content)
    )

    assert content_of(parsed) == NOTHING_ELSE | {"text": "Medium"}


@pytest.mark.parametrize(
    ("kind", "content", "payload"),
    [
        (
            "interactive",
            {"type": "button_reply", "button_reply": {"id": "refund-yes", "title": "Yes, refund"}},
            "refund-yes",
        ),
        ("interactive", {"type": "list_reply", "list_reply": {"id": "size-m", "title": "Medium"}}, "size-m"),
        ("button", {"payload": "TRACK_ORDER", "text": "배송 조회"}, "TRACK_ORDER"),
        ("text", {"body": "hello"}, None),
    ],
)
def test_a_tapped_reply_keeps_the_id_behind_its_title(kind, content, payload):
    # Given a customer tapping a reply button, list row or template quick-reply button
    parsed = one_message(message_item(kind, wamid="wamid.tap", sender=CUSTOMER, timestamp=SENT, content=content))
    # Then the message carries the button's id for automations, the title stays the text
    assert parsed.payload == payload


def test_shared_contact_cards_become_text():
    cards = [
        {
            "name": {"formatted_name": "Park Ji-woo", "first_name": "Ji-woo", "last_name": "Park"},
            "phones": [{"phone": "+82 10-1234-5678", "type": "CELL", "wa_id": "821012345678"}],
        },
        {"name": {"formatted_name": "Sheena Nelson"}, "phones": []},
    ]

    parsed = one_message(message_item("contacts", wamid="wamid.cards", sender=CUSTOMER, timestamp=SENT, contacts=cards))

    assert parsed.message_type == "contacts"
    assert content_of(parsed) == NOTHING_ELSE | {"text": "Park Ji-woo +82 10-1234-5678\nSheena Nelson"}


@pytest.mark.parametrize(
    ("kind", "extra"),
    [
        ("unsupported", {"errors": [{"code": 131051, "title": "Message type unknown"}]}),
        ("poll", {"poll": {"question": "Which size?", "options": ["S", "M"]}}),
    ],
)
def test_unknown_message_type_is_kept_and_flagged(kind, extra):
    # A type Meta adds tomorrow must reach the agents, never be dropped.
    parsed = one_message(message_item(kind, wamid=f"wamid.{kind}", sender=CUSTOMER, timestamp=SENT, **extra))

    assert (parsed.message_type, parsed.known_type, parsed.external_id) == (kind, False, f"wamid.{kind}")
    assert parsed.text is None


def test_reply_keeps_the_id_of_the_message_it_answers():
    item = text_item(
        wamid="wamid.answer",
        sender=CUSTOMER,
        body="네, 맞아요",
        timestamp=SENT,
        context={"from": DISPLAY_PHONE_NUMBER, "id": "wamid.question"},
    )

    assert one_message(item).reply_to_external_id == "wamid.question"


def test_sender_identity_comes_from_the_contacts_of_the_same_change():
    parsed = one_message(text_item(wamid="wamid.1", sender=CUSTOMER, body="hi", timestamp=SENT))

    assert parsed.sender == SenderIdentity(external_id=CUSTOMER, display_name="김민준", phone_e164="+821012345678")
    assert (parsed.channel_account_id, parsed.conversation_id) == (PHONE_NUMBER_ID, CUSTOMER)
    assert parsed.provider_timestamp == datetime(2025, 6, 8, 20, 59, 43, tzinfo=UTC)
    assert parsed.received_at == RECEIVED_AT


@pytest.mark.parametrize("wa_id", ["0101234567", "123456", "1234567890123456", "US.13491208655302741918"])
def test_sender_without_a_plausible_phone_number_keeps_only_the_id(wa_id):
    parsed = one_message(
        text_item(wamid="wamid.1", sender=wa_id, body="hi", timestamp=SENT), contacts=[contact(wa_id, None)]
    )

    assert parsed.sender == SenderIdentity(external_id=wa_id)


def test_one_post_with_several_entries_changes_and_messages_yields_every_event_in_order():
    # Given one delivery batching two business numbers, two senders, a receipt and a non-message change
    other_number = "209876543210987"
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": WABA_ID,
                "changes": [
                    {
                        "field": "messages",
                        "value": messages_value(
                            [
                                text_item(wamid="wamid.a1", sender="821011111111", body="첫 번째", timestamp=SENT),
                                text_item(wamid="wamid.b1", sender="16505551234", body="second", timestamp=SENT + 1),
                                text_item(wamid="wamid.a2", sender="821011111111", body="세 번째", timestamp=SENT + 2),
                            ],
                            contacts=[contact("821011111111", "이서연"), contact("16505551234", "Sheena Nelson")],
                        ),
                    },
                    {
                        "field": "account_update",
                        "value": {"phone_number": DISPLAY_PHONE_NUMBER, "event": "VERIFIED_ACCOUNT"},
                    },
                ],
            },
            {
                "id": "987654321098765",
                "changes": [
                    {
                        "field": "messages",
                        "value": messages_value(
                            [text_item(wamid="wamid.c1", sender="821022222222", body="other line", timestamp=SENT + 3)],
                            statuses=[
                                status_item(
                                    wamid="wamid.out1", recipient="821022222222", state="read", timestamp=SENT + 4
                                )
                            ],
                            contacts=[contact("821022222222", None)],
                            phone_number_id=other_number,
                        ),
                    }
                ],
            },
        ],
    }
    # When it is parsed
    events = parse(payload)
    # Then every message and receipt comes out, each under its own business number and sender
    assert [
        (event.kind, event.channel_account_id, event.external_id, getattr(event, "text", None)) for event in events
    ] == [
        ("message", PHONE_NUMBER_ID, "wamid.a1", "첫 번째"),
        ("message", PHONE_NUMBER_ID, "wamid.b1", "second"),
        ("message", PHONE_NUMBER_ID, "wamid.a2", "세 번째"),
        ("message", other_number, "wamid.c1", "other line"),
        ("receipt", other_number, "wamid.out1", None),
    ]
    assert [event.sender.display_name for event in events if event.kind == "message"] == [
        "이서연",
        "Sheena Nelson",
        "이서연",
        None,
    ]


@pytest.mark.parametrize("state", ["sent", "delivered", "read"])
def test_status_becomes_a_delivery_receipt(state):
    (receipt,) = parse(
        webhook(
            messages_value(statuses=[status_item(wamid="wamid.out", recipient=CUSTOMER, state=state, timestamp=SENT)])
        )
    )

    assert receipt == DeliveryReceipt(
        channel=Channel.WHATSAPP,
        channel_account_id=PHONE_NUMBER_ID,
        external_id="wamid.out",
        recipient_id=CUSTOMER,
        status=DeliveryStatus(state),
        provider_timestamp=datetime(2025, 6, 8, 20, 59, 43, tzinfo=UTC),
    )


def test_failed_status_keeps_the_error_titles():
    errors = [
        {
            "code": 131047,
            "title": "Re-engagement message",
            "message": "Re-engagement message",
            "error_data": {"details": "24h window closed"},
        }
    ]

    (receipt,) = parse(
        webhook(
            messages_value(
                statuses=[
                    status_item(wamid="wamid.out", recipient=CUSTOMER, state="failed", timestamp=SENT, errors=errors)
                ]
            )
        )
    )

    assert (receipt.status, receipt.errors) == (DeliveryStatus.FAILED, ("Re-engagement message",))


def test_status_we_do_not_track_is_skipped():
    assert (
        parse(
            webhook(
                messages_value(
                    statuses=[status_item(wamid="wamid.out", recipient=CUSTOMER, state="deleted", timestamp=SENT)]
                )
            )
        )
        == []
    )


def test_changes_other_than_messages_carry_no_events():
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {"id": WABA_ID, "changes": [{"field": "message_template_status_update", "value": {"event": "APPROVED"}}]}
        ],
    }

    assert parse(payload) == []


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'{"object": "page", "entry": []}',
        encode({"object": "whatsapp_business_account"}),
        encode(webhook({"messaging_product": "whatsapp", "messages": []})),
        encode(
            webhook(
                messages_value(
                    [
                        message_item(
                            "location",
                            wamid="wamid.l",
                            sender=CUSTOMER,
                            timestamp=SENT,
                            content={"latitude": 91, "longitude": 0},
                        )
                    ]
                )
            )
        ),
        encode(webhook(messages_value([text_item(wamid="wamid.t", sender=CUSTOMER, body="hi", timestamp=-1)]))),
    ],
    ids=[
        "empty",
        "not-json",
        "array",
        "messenger-object",
        "no-entry",
        "no-metadata",
        "latitude-out-of-range",
        "negative-timestamp",
    ],
)
def test_bodies_that_are_not_whatsapp_webhooks_are_malformed(body):
    with pytest.raises(MalformedPayload):
        ADAPTER.parse(body, received_at=RECEIVED_AT)
