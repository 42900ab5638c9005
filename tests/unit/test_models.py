"""The normalized models refuse what no channel may produce: naive times, bad phone numbers, empty ids."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from switchboard.models import Channel, DeliveryReceipt, DeliveryStatus, InboundMessage, SenderIdentity

SEOUL = timezone(timedelta(hours=9))
SENT = datetime(2025, 6, 8, 20, 59, 43, tzinfo=UTC)


def inbound(**changes) -> InboundMessage:
    fields = {
        "channel": Channel.WHATSAPP,
        "channel_account_id": "106540352242922",
        "conversation_id": "821012345678",
        "external_id": "wamid.1",
        "sender": SenderIdentity(external_id="821012345678", display_name="김민준", phone_e164="+821012345678"),
        "message_type": "text",
        "text": "안녕하세요",
        "provider_timestamp": SENT,
        "received_at": SENT + timedelta(seconds=1),
    }
    return InboundMessage(**(fields | changes))


@pytest.mark.parametrize("field", ["provider_timestamp", "received_at"])
def test_naive_timestamps_are_refused(field):
    with pytest.raises(ValidationError, match="time zone"):
        inbound(**{field: datetime(2025, 6, 8, 20, 59, 43)})


def test_timestamps_in_other_zones_are_kept_as_utc():
    message = inbound(provider_timestamp=datetime(2025, 6, 9, 5, 59, 43, tzinfo=SEOUL))

    assert message.provider_timestamp == SENT
    assert message.provider_timestamp.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "phone", ["01012345678", "+01012345678", "821012345678", "+12345", "+1234567890123456", "+82 10 1234 5678", ""]
)
def test_phone_numbers_must_be_e164(phone):
    with pytest.raises(ValidationError, match="phone_e164"):
        SenderIdentity(external_id="821012345678", phone_e164=phone)


@pytest.mark.parametrize("phone", ["+821012345678", "+16505551234", "+1234567"])
def test_e164_phone_numbers_are_accepted(phone):
    assert SenderIdentity(external_id="x", phone_e164=phone).phone_e164 == phone


@pytest.mark.parametrize("field", ["channel_account_id", "conversation_id", "external_id", "message_type"])
def test_empty_ids_are_refused(field):
    with pytest.raises(ValidationError, match=field):
        inbound(**{field: ""})


def test_sender_needs_an_id():
    with pytest.raises(ValidationError, match="external_id"):
        SenderIdentity(external_id="")


def test_unknown_fields_are_refused():
    with pytest.raises(ValidationError, match="priority"):
        inbound(priority="urgent")


def test_receipt_status_must_be_one_we_track():
    with pytest.raises(ValidationError, match="status"):
        DeliveryReceipt(
            channel=Channel.WHATSAPP,
            channel_account_id="106540352242922",
            external_id="wamid.out",
            recipient_id="821012345678",
            status="deleted",
            provider_timestamp=SENT,
        )


def test_keys_derive_from_channel_account_and_provider_ids():
    message = inbound()
    receipt = DeliveryReceipt(
        channel=Channel.WHATSAPP,
        channel_account_id="106540352242922",
        external_id="wamid.out",
        recipient_id="821012345678",
        status=DeliveryStatus.READ,
        provider_timestamp=SENT,
    )

    assert message.conversation_key == receipt.conversation_key == "whatsapp:106540352242922:821012345678"
    assert message.dedup_key == "whatsapp:wamid.1"
    assert receipt.dedup_key == "whatsapp:wamid.out:read"
