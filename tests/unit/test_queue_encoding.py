"""What travels on the inbound queue: one JSON body per event, grouped per conversation, deduplicated per event."""

import threading
import time
from datetime import UTC, datetime

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from switchboard import queue
from switchboard.errors import EnqueueFailed
from switchboard.models import (
    MAX_ATTACHMENTS,
    TEXT_LIMITS,
    Attachment,
    Channel,
    DeliveryReceipt,
    DeliveryStatus,
    EmailDetails,
    InboundMessage,
    Location,
    SenderIdentity,
)
from tests.support.drivers import DRIVERS
from tests.support.fakes import RecordingSqs
from tests.support.moto_fidelity import sqs_refuses
from tests.unit.test_proof_signature import ADAPTERS, QUEUE_URL, deliver

SENT = datetime(2025, 6, 8, 20, 59, 43, tzinfo=UTC)


def inbound(
    text: str | None = "안녕하세요", conversation_id: str = "821012345678", external_id: str = "wamid.1"
) -> InboundMessage:
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
    assert (
        queue.message_group_id(inbound()) == queue.message_group_id(RECEIPT) == "whatsapp:106540352242922:821012345678"
    )


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


# -- size: every event fits the queue, whatever the provider's payload held ---------------------

# Text no provider sends: long, of characters JSON escapes six-fold (controls), four-byte ones, or both.
HUGE_TEXT = st.tuples(st.sampled_from(["\x01", "가", "😀", "a", "\x01가😀\n"]), st.integers(1, 320_000)).map(
    lambda drawn: (drawn[0] * (drawn[1] // len(drawn[0]) + 1))[: drawn[1]]
)
CHAT_DRIVERS = [driver for driver in DRIVERS if driver.name in ADAPTERS]


@pytest.mark.parametrize("driver", CHAT_DRIVERS, ids=lambda driver: driver.name)
@settings(max_examples=25, deadline=None)
@given(words=HUGE_TEXT)
def test_any_text_a_channel_delivers_becomes_a_body_within_the_queues_limit(driver, words):
    # Given a genuine delivery on the channel whose text is as long and as hostile as the route lets in
    body = driver.text_message(driver.customer(1), message_id=driver.message_id("big"), text=words, sent_at=SENT)
    if len(body) > ADAPTERS[driver.name].max_body_bytes:
        return  # refused with a 413 before it is read (test_proof_signature)
    # When it is delivered
    response, sqs = deliver(driver, driver.headers(body), body)
    # Then it is kept, its body within the queue's limit, and its text cut to what the channel can send,
    # with a marker saying so
    assert response.status == 200, response
    (entry,) = sqs.entries
    assert len(entry["MessageBody"].encode()) <= queue.MAX_BODY_BYTES
    (message,) = sqs.sent
    expected = driver.expected_text(words)
    assert expected is None or expected.startswith(message.text or "")
    assert ("text" in message.truncated) == (len(expected or "") > TEXT_LIMITS[message.channel])


LONG = st.text(min_size=0, max_size=3000)


@settings(max_examples=60, deadline=None)
@given(
    text=st.one_of(st.none(), HUGE_TEXT),
    attachments=st.integers(0, 400),
    url=LONG,
    name=LONG,
    addresses=st.integers(0, 100),
    full_text=st.one_of(st.none(), HUGE_TEXT),
    channel=st.sampled_from(list(Channel)),
)
def test_any_inbound_message_encodes_within_the_queues_limit(
    text, attachments, url, name, addresses, full_text, channel
):
    # Given a message with every list and text at, or far past, its bound (mail included)
    email = None
    if channel is Channel.EMAIL:
        mailbox = ("x" * 300) + "@example.com"
        email = EmailDetails(
            mailbox="support@help.example.com",
            from_address=mailbox,
            to=(mailbox,) * addresses,
            cc=(mailbox,) * addresses,
            participants=(mailbox,) * addresses,
            subject=name[:2000],
            full_text=full_text,
            raw_mail_key="mail/raw/1",
            provider="ses",
        )
    message = InboundMessage(
        channel=channel,
        channel_account_id="a" * 256,
        conversation_id="c" * 256,
        external_id="e" * 512,
        sender=SenderIdentity(external_id="s" * 256, display_name="\x01" * 256),
        message_type="text",
        text=text,
        attachments=[Attachment(kind="image", url=url, filename=name, provider_media_id=name[:512])] * attachments,
        location=Location(latitude=0, longitude=0, name=name, address=name),
        reply_to_external_id=name,
        payload=name[:2000],
        email=email,
        provider_timestamp=SENT,
        received_at=SENT,
    )
    # When it is encoded for the queue
    body = queue.encode(message)
    # Then it fits with margin, still decodes, and says what was cut
    assert len(body.encode()) <= queue.MAX_BODY_BYTES
    decoded = queue.decode(body)
    assert len(decoded.attachments) <= MAX_ATTACHMENTS
    assert ("attachments" in decoded.truncated) == (len(decoded.attachments) < attachments)
    assert (decoded.text or "") == (text or "")[: len(decoded.text or "")]


# -- sending: concurrent lanes, each conversation in order, partial failures retried -------------


def events_of(conversations: int, per_conversation: int) -> list[InboundMessage]:
    # Interleaved as a provider batches them: one event of each conversation in turn.
    return [
        inbound(text=f"{turn}", conversation_id=f"8210{number:08d}", external_id=f"wamid.{number}.{turn}")
        for turn in range(per_conversation)
        for number in range(conversations)
    ]


class SlowSqs(RecordingSqs):
    """Records the order SQS would take each entry in, and refuses chosen entries a number of times."""

    def __init__(self, refusals: dict[str, int] | None = None, sender_fault: bool = False) -> None:
        super().__init__()
        self.accepted: list[dict] = []
        self._refusals = dict(refusals or {})
        self._sender_fault = sender_fault
        self._lock = threading.Lock()
        self.threads: set[str] = set()

    def send_message_batch(self, *, QueueUrl, Entries):
        time.sleep(0.002)
        with self._lock:
            self.threads.add(threading.current_thread().name)
            self.batches.append({"QueueUrl": QueueUrl, "Entries": Entries})
            failed = []
            for entry in Entries:
                key = entry["MessageDeduplicationId"]
                if self._refusals.get(key, 0) > 0:
                    self._refusals[key] -= 1
                    failed.append({"Id": entry["Id"], "SenderFault": self._sender_fault, "Code": "InternalError"})
                else:
                    self.accepted.append(entry)
            return {"Successful": [], "Failed": failed}


def test_a_large_delivery_is_sent_on_several_lanes_with_each_conversation_in_order():
    # Given one delivery of 2,000 events from 50 conversations, interleaved
    events = events_of(conversations=50, per_conversation=40)
    sqs = SlowSqs()
    # When it is enqueued
    queue.InboundQueue(sqs, QUEUE_URL).send(events)
    # Then every event is sent once, batches of ten at most, on several threads at a time
    assert sorted(entry["MessageDeduplicationId"] for entry in sqs.accepted) == sorted(
        queue.deduplication_id(e) for e in events
    )
    assert all(len(batch["Entries"]) <= queue.SQS_BATCH_LIMIT for batch in sqs.batches)
    assert len(sqs.threads) > 1
    # And each conversation's events reach SQS in the order the provider sent them
    by_group: dict[str, list[str]] = {}
    for entry in sqs.accepted:
        by_group.setdefault(entry["MessageGroupId"], []).append(queue.decode(entry["MessageBody"]).text)
    assert all(texts == [str(turn) for turn in range(40)] for texts in by_group.values())


def test_entries_sqs_refuses_for_a_moment_are_sent_again():
    # Given SQS refusing two events once (an InternalError on part of a batch)
    events = events_of(conversations=3, per_conversation=5)
    refused = {queue.deduplication_id(events[1]): 1, queue.deduplication_id(events[7]): 1}
    sqs = SlowSqs(refusals=refused)
    # When the delivery is enqueued
    queue.InboundQueue(sqs, QUEUE_URL, sleep=lambda seconds: None).send(events)
    # Then every event is in the queue, the refused ones sent again
    assert sorted(entry["MessageDeduplicationId"] for entry in sqs.accepted) == sorted(
        queue.deduplication_id(e) for e in events
    )


@pytest.mark.parametrize("sender_fault", [False, True])
def test_entries_sqs_keeps_refusing_fail_the_delivery_so_the_provider_redelivers(sender_fault):
    # Given SQS refusing one event every time
    events = events_of(conversations=3, per_conversation=5)
    sqs = SlowSqs(refusals={queue.deduplication_id(events[4]): 99}, sender_fault=sender_fault)
    # When the delivery is enqueued, Then it fails as a 503 (the provider redelivers; dedup ids make that safe)
    with pytest.raises(EnqueueFailed) as refused:
        queue.InboundQueue(sqs, QUEUE_URL, sleep=lambda seconds: None).send(events)
    assert refused.value.status_code == 503
