"""The inbound FIFO queue between webhooks and the ticket writer."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from pydantic import ValidationError

from switchboard.errors import EnqueueFailed
from switchboard.models import INBOUND_EVENT, InboundEvent, InboundMessage, MessageEdit

SQS_BATCH_LIMIT = 10
_GROUP_ID_SAFE = re.compile(r"^[A-Za-z0-9!-/:-@\[-`{-~]{1,128}$")


def message_group_id(event: InboundEvent) -> str:
    """One group per conversation: SQS FIFO keeps one customer's messages in order, others run in parallel."""
    return group_id_of(event.conversation_key)


def group_id_of(conversation_key: str) -> str:
    """A conversation's FIFO message group id: the key itself when SQS allows it, else its hash."""
    if _GROUP_ID_SAFE.match(conversation_key):
        return conversation_key
    return "h:" + hashlib.sha256(conversation_key.encode()).hexdigest()


def deduplication_id(event: InboundEvent) -> str:
    """Channel + provider id: a redelivery within SQS's 5-minute window is dropped by the queue itself."""
    return hashlib.sha256(event.dedup_key.encode()).hexdigest()


# SQS refuses a body with any character outside #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF.
# JSON already escapes control characters; the noncharacters U+FFFE and U+FFFF would go out raw.
_SQS_REFUSED = re.compile("[\ufffe\uffff]")


# The inbound queue's MaximumMessageSize is SQS's default, 256 KiB (template.yaml says so explicitly); a
# body is kept under three quarters of it, so a batch of bodies is split well before SQS would refuse it.
MAX_QUEUE_MESSAGE_BYTES = 256 * 1024
MAX_BODY_BYTES = 192 * 1024


def encode(event: InboundEvent) -> str:
    """The event as a queue body SQS accepts, never over MAX_BODY_BYTES. The channels' maxima keep every
    message far below it; whatever still is over (mail with long lists, control characters that JSON
    escapes six-fold) is cut, in a fixed order (mail's whole text, its address lists, attachments, the
    text, a payload), and says what was cut in `truncated`: kept, never poison."""
    body = _json(event)
    while len(body.encode("utf-8", "surrogatepass")) > MAX_BODY_BYTES and (smaller := _smaller(event)) is not None:
        event, body = smaller, _json(smaller)
    return body


def _json(event: InboundEvent) -> str:
    return _SQS_REFUSED.sub(lambda found: f"\\u{ord(found.group()):04x}", event.model_dump_json())


def _smaller(event: InboundEvent) -> InboundEvent | None:
    """The event with its largest customer content halved, or None when nothing is left to cut."""
    if isinstance(event, MessageEdit):
        return event.model_copy(update={"text": _half(event.text), "truncated": ("text",)}) if event.text else None
    if not isinstance(event, InboundMessage):
        return None
    mail = event.email
    if mail is not None and mail.full_text:
        return _marked(
            event, "email.full_text", email=mail.model_copy(update={"full_text": None, "full_text_truncated": True})
        )
    if mail is not None and max(len(mail.to), len(mail.cc), len(mail.participants)) > 1:
        lists = {
            name: getattr(mail, name)[: max(1, len(getattr(mail, name)) // 2)] for name in ("to", "cc", "participants")
        }
        return _marked(event, "email.addresses", email=mail.model_copy(update=lists))
    if len(event.attachments) > 1:
        return _marked(event, "attachments", attachments=event.attachments[: len(event.attachments) // 2])
    if event.text and len(event.text) > 1:
        return _marked(event, "text", text=_half(event.text))
    if event.payload or event.location is not None:
        return _marked(event, "payload", payload=None, location=None)
    return None


def _marked(event: InboundMessage, what: str, **update: object) -> InboundMessage:
    return event.model_copy(update={**update, "truncated": tuple(dict.fromkeys([*event.truncated, what]))})


def _half(text: str | None) -> str | None:
    return text[: len(text) // 2] if text else text


class UndecodableEvent(ValueError):
    """A queued body that is not an inbound event. Its text is kept out of the error: it may hold a message."""


def decode(body: str | bytes) -> InboundEvent:
    try:
        return INBOUND_EVENT.validate_json(body)
    except ValidationError as exc:
        # pydantic's message quotes the input (customer text, phone numbers); logs must not.
        fields = sorted({".".join(map(str, error["loc"])) for error in exc.errors()})[:5]
        raise UndecodableEvent(f"queued event does not decode ({exc.error_count()} errors at {fields})") from None


class InboundQueue:
    """Sends a delivery's events to the FIFO queue, in batches of up to ten, several batches at a time.

    SQS FIFO keeps a message group in the order its messages were sent (and, within one
    SendMessageBatch, in entry order), so each conversation's events go to one lane, sent batch after
    batch; lanes run concurrently (boto3 clients are thread-safe). A delivery of 10,000 events is then
    about 1,000/LANES round trips instead of 1,000 (docs/architecture.md, "Large deliveries").
    """

    LANES = 8  # at most boto3's default connection pool (10) per client
    # A delivery this small goes out batch after batch in the order it came: threads would cost more than
    # they save, and the order across conversations stays the provider's.
    SEQUENTIAL_EVENTS = 3 * SQS_BATCH_LIMIT
    RETRIES = 2
    RETRY_PAUSE_SECONDS = 0.05

    def __init__(self, sqs_client, queue_url: str, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self._sqs = sqs_client
        self._url = queue_url
        self._sleep = sleep

    def send(self, events: Sequence[InboundEvent]) -> None:
        """Enqueues every event or raises EnqueueFailed, so the provider redelivers; dedup makes that safe."""
        entries = [_entry(event) for event in events]
        lanes = [entries] if len(entries) <= self.SEQUENTIAL_EVENTS else _lanes(entries, self.LANES)
        if len(lanes) == 1:
            self._send_lane(lanes[0])
            return
        with ThreadPoolExecutor(max_workers=len(lanes), thread_name_prefix="enqueue") as pool:
            for outcome in [pool.submit(self._send_lane, lane) for lane in lanes]:
                outcome.result()

    def _send_lane(self, entries: list[dict[str, str]]) -> None:
        for batch in _batches(entries):
            self._send_batch(batch)

    def _send_batch(self, batch: list[dict[str, str]]) -> None:
        """Sends one batch; entries SQS refuses are sent again (same deduplication id), then given up on."""
        pending = batch
        for attempt in range(self.RETRIES + 1):
            if attempt:
                self._sleep(self.RETRY_PAUSE_SECONDS * attempt)
            entries = [{**entry, "Id": str(index)} for index, entry in enumerate(pending)]
            response = self._sqs.send_message_batch(QueueUrl=self._url, Entries=entries)
            failed = response.get("Failed") or []
            if not failed:
                return
            refused = {failure.get("Id") for failure in failed}
            pending = [entry for index, entry in enumerate(pending) if str(index) in refused]
            # A sender fault (a body SQS will never take) does not improve with another try.
            if any(failure.get("SenderFault") for failure in failed):
                break
        codes = sorted({failure.get("Code", "?") for failure in failed})
        raise EnqueueFailed(f"{len(failed)} events were not enqueued ({', '.join(codes)})")


def _entry(event: InboundEvent) -> dict[str, str]:
    return {
        "MessageBody": encode(event),
        "MessageGroupId": message_group_id(event),
        "MessageDeduplicationId": deduplication_id(event),
    }


def _lanes(entries: list[dict[str, str]], count: int) -> list[list[dict[str, str]]]:
    """Entries split into at most `count` lanes, each message group whole in one lane and in sent order;
    a group goes to the lane with the fewest entries so far."""
    lanes: list[list[dict[str, str]]] = [[] for _ in range(max(1, count))]
    lane_of: dict[str, int] = {}
    for entry in entries:
        group = entry["MessageGroupId"]
        if group not in lane_of:
            lane_of[group] = min(range(len(lanes)), key=lambda index: len(lanes[index]))
        lanes[lane_of[group]].append(entry)
    return [lane for lane in lanes if lane] or [[]]


def _batches(entries: list[dict[str, str]]) -> list[list[dict[str, str]]]:
    """Consecutive entries, at most ten and MAX_QUEUE_MESSAGE_BYTES of bodies per SendMessageBatch."""
    batches: list[list[dict[str, str]]] = []
    size = 0
    for entry in entries:
        body = len(entry["MessageBody"].encode("utf-8", "surrogatepass"))
        if not batches or len(batches[-1]) == SQS_BATCH_LIMIT or size + body > MAX_QUEUE_MESSAGE_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(entry)
        size += body
    return batches
