"""Twilio messaging webhooks (form fields) -> normalized InboundMessage / DeliveryReceipt (the adapter's parse)."""

from datetime import UTC, datetime

import pytest

from switchboard.channels.twilio import TwilioAdapter
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
from tests.support.drivers.twilio import (
    BUSINESS_NUMBER,
    form,
    inbound_fields,
    inbound_sms_sample,
    media_url,
    message_sid,
    status_fields,
)

RECEIVED_AT = datetime(2025, 6, 8, 21, 5, tzinfo=UTC)
CUSTOMER = "+821098765432"
ADAPTER = TwilioAdapter()


def parse(body: bytes) -> list:
    return list(ADAPTER.parse(body, received_at=RECEIVED_AT))


def test_sample_sms_becomes_one_text_message_from_a_verified_number():
    assert parse(inbound_sms_sample()) == [
        InboundMessage(
            channel=Channel.SMS,
            channel_account_id="+821012345678",
            conversation_id="+821098765432",
            external_id="SM1f0e8b0d3f8a4c2e9b7a6d5c4b3a2910",
            sender=SenderIdentity(external_id="+821098765432", phone_e164="+821098765432"),
            message_type="text",
            text="배송이 언제 오나요?",
            provider_timestamp=RECEIVED_AT,
            received_at=RECEIVED_AT,
        )
    ]


def test_mms_media_become_attachments_with_their_media_sid():
    # Given an MMS with a photo and a PDF
    sid = message_sid("mms")
    photo, pdf = (
        media_url(sid, "ME11111111111111111111111111111111"),
        media_url(sid, "ME22222222222222222222222222222222"),
    )
    body = form(
        inbound_fields(
            message_sid=sid,
            sender=CUSTOMER,
            body="영수증 보냅니다",
            media=[(photo, "image/jpeg"), (pdf, "application/pdf")],
        )
    )
    # When it is parsed
    (message,) = parse(body)
    # Then both media are attachments to fetch later, and the text is kept
    assert message.attachments == (
        Attachment(
            kind="image", provider_media_id="ME11111111111111111111111111111111", mime_type="image/jpeg", url=photo
        ),
        Attachment(
            kind="document",
            provider_media_id="ME22222222222222222222222222222222",
            mime_type="application/pdf",
            url=pdf,
        ),
    )
    assert (message.message_type, message.text) == ("image", "영수증 보냅니다")


def test_whatsapp_through_twilio_is_the_whatsapp_channel_on_the_business_number():
    # Given a WhatsApp message relayed by Twilio: addresses carry a "whatsapp:" prefix, and a profile name
    body = form(
        inbound_fields(
            message_sid=message_sid("wa"),
            sender="whatsapp:+821098765432",
            to="whatsapp:+14155238886",
            body="주문 확인 부탁해요",
            extra=[("ProfileName", "김민준"), ("WaId", "821098765432"), ("MessageType", "text")],
        )
    )
    (message,) = parse(body)

    assert (message.channel, message.channel_account_id, message.conversation_id) == (
        Channel.WHATSAPP,
        "+14155238886",
        "+821098765432",
    )
    assert message.sender == SenderIdentity(
        external_id="+821098765432", display_name="김민준", phone_e164="+821098765432"
    )


def test_whatsapp_location_through_twilio():
    body = form(
        inbound_fields(
            message_sid=message_sid("where"),
            sender="whatsapp:+821098765432",
            to="whatsapp:+14155238886",
            body="",
            extra=[
                ("MessageType", "location"),
                ("Latitude", "37.5665"),
                ("Longitude", "126.978"),
                ("Label", "서울시청"),
            ],
        )
    )
    (message,) = parse(body)

    assert (message.message_type, message.text) == ("location", None)
    assert message.location == Location(latitude=37.5665, longitude=126.978, name="서울시청")


def test_alphanumeric_sender_is_no_verified_phone_number():
    (message,) = parse(form(inbound_fields(message_sid=message_sid("alpha"), sender="SHOPINFO", body="Your code")))

    assert message.sender == SenderIdentity(external_id="SHOPINFO")


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("sent", DeliveryStatus.SENT),
        ("delivered", DeliveryStatus.DELIVERED),
        ("read", DeliveryStatus.READ),
        ("failed", DeliveryStatus.FAILED),
        ("undelivered", DeliveryStatus.FAILED),
    ],
)
def test_status_callback_becomes_a_receipt_for_our_message(status, expected):
    sid = message_sid("agent-reply")
    error = "30003" if status in ("failed", "undelivered") else None

    assert parse(form(status_fields(message_sid=sid, recipient=CUSTOMER, status=status, error_code=error))) == [
        DeliveryReceipt(
            channel=Channel.SMS,
            channel_account_id=BUSINESS_NUMBER,
            external_id=sid,
            recipient_id=CUSTOMER,
            status=expected,
            errors=("Twilio error 30003",) if error else (),
            provider_timestamp=RECEIVED_AT,
        )
    ]


@pytest.mark.parametrize("status", ["queued", "accepted", "sending", "scheduled", "canceled"])
def test_status_callbacks_before_an_outcome_carry_nothing_to_store(status):
    assert parse(form(status_fields(message_sid=message_sid("x"), recipient=CUSTOMER, status=status))) == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param(b"", "MessageSid is missing", id="empty"),
        pytest.param(b'{"MessageSid": "SM1"}', "not a Twilio form body", id="json"),
        pytest.param(
            form([("MessageSid", "SM1"), ("From", CUSTOMER), ("To", BUSINESS_NUMBER)]),
            "AccountSid is missing",
            id="no-account",
        ),
        pytest.param(
            form(inbound_fields(message_sid="SM1", sender=CUSTOMER, body="x")).replace(b"NumMedia=0", b"NumMedia=2"),
            "MediaUrl0",
            id="media-count-without-media",
        ),
        pytest.param(
            form(inbound_fields(message_sid="SM1", sender=CUSTOMER, body="x")).replace(b"NumMedia=0", b"NumMedia=abc"),
            "NumMedia",
            id="media-count-not-a-number",
        ),
        pytest.param(
            form(inbound_fields(message_sid="SM1", sender=CUSTOMER, body="x")).replace(b"Body=x", b"Body=%FF"),
            "UnicodeDecodeError",
            id="not-utf8",
        ),
        pytest.param(
            form(
                inbound_fields(
                    message_sid="SM1", sender=CUSTOMER, body="x", extra=[("Latitude", "north"), ("Longitude", "1")]
                )
            ),
            "Latitude",
            id="bad-location",
        ),
    ],
)
def test_bodies_that_are_not_twilio_webhooks_are_malformed_without_echoing_them(body, reason):
    with pytest.raises(MalformedPayload, match=reason) as refused:
        parse(body)

    assert CUSTOMER not in refused.value.message
