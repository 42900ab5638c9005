"""What travels on the inbound queue: one JSON body per event, grouped per conversation, deduplicated per event."""

from datetime import UTC, datetime

from hypothesis import example, given, settings
from hypothesis import strategies as st

from switchboard import queue
from switchboard.models import Channel, DeliveryReceipt, DeliveryStatus, InboundMessage, SenderIdentity
from tests.support.moto_fidelity import sqs_refuses

SENT = datetime(2025, 6, 8, 20, 59, 43, tzinfo=UTC)


def inbound(text: str | None = "안녕하세요", conversation_id: str = "821012345678", external_id: str = "wamid.1") -> InboundMessage:
    return InboundMessage(
        channel=Channel.WHATSAPP,
        channel_account_id="106540352242922",
        conversation_id=conversation_id,
        external_id=external_id,
        sender=SenderIdentity(external_id=conversation_id, display_name="김민준"),
        message_type="text",
        text=text,
        provider_timestamp=SENT,
        received_at=SENT,
    )


RECEIPT = DeliveryReceipt(
    channel=Channel.WHATSAPP,
    channel_account_id="106540352242922",
    external_id="wamid.out",
    recipient_id="821012345678",
    status=DeliveryStatus.DELIVERED,
    provider_timestamp=SENT,
)


def test_message_and_receipt_survive_the_queue():
    assert queue.decode(queue.encode(inbound())) == inbound()
    assert queue.decode(queue.encode(RECEIPT)) == RECEIPT


def test_a_customers_messages_and_receipts_share_one_message_group():
    assert queue.message_group_id(inbound()) == queue.message_group_id(RECEIPT) == "whatsapp:106540352242922:821012345678"


def test_conversation_keys_sqs_would_refuse_as_group_id_are_hashed():
    # SQS group ids: at most 128 characters, alphanumeric and punctuation only.
    for conversation_id in ("고객 1", "x" * 200):
        group_id = queue.message_group_id(inbound(conversation_id=conversation_id))

        assert group_id.startswith("h:") and len(group_id) <= 128
        assert group_id == queue.message_group_id(inbound(conversation_id=conversation_id))


def test_deduplication_id_is_per_event_and_stable():
    assert queue.deduplication_id(inbound()) == queue.deduplication_id(inbound(text="edited"))
    assert queue.deduplication_id(inbound()) != queue.deduplication_id(inbound(external_id="wamid.2"))
    assert len(queue.deduplication_id(RECEIPT)) <= 128


@settings(max_examples=200, deadline=None)
@example("noncharacters are text too: \uffff \ufffe")
@given(st.text().filter(lambda words: not any(0xD800 <= ord(c) <= 0xDFFF for c in words)))
def test_any_customer_text_encodes_to_a_body_sqs_accepts(words):
    # SQS refuses bodies with characters outside #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF.
    body = queue.encode(inbound(text=words))

    assert sqs_refuses(body) is None
    assert queue.decode(body).text == words
