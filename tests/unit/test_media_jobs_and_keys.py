"""Media jobs (one per attachment with bytes), the attachments bucket's keys, the size limit while streaming,
and the sha256 forms Meta declares."""

from __future__ import annotations

import base64
import hashlib
import io
from datetime import UTC, datetime

import pytest

from switchboard.errors import EnqueueFailed
from switchboard.media import jobs
from switchboard.media.download import MediaTooLarge, MeteredBody
from switchboard.media.jobs import MediaJobQueue
from switchboard.media.providers import sha256_matches
from switchboard.models import Attachment, Channel, InboundMessage, SenderIdentity
from switchboard.store.attachments_bucket import attachment_key
from tests.support.fakes import RecordingSqs

AT = datetime(2025, 6, 8, 21, 0, tzinfo=UTC)


def message(
    channel: Channel, *attachments: Attachment, external_id: str = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRB"
) -> InboundMessage:
    return InboundMessage(
        channel=channel,
        channel_account_id="106540352242922",
        conversation_id="821012345678",
        external_id=external_id,
        sender=SenderIdentity(external_id="821012345678", display_name="김민준"),
        message_type=attachments[0].kind if attachments else "text",
        attachments=attachments,
        provider_timestamp=AT,
        received_at=AT,
    )


# -- jobs -------------------------------------------------------------------------------------------


def test_each_attachment_becomes_one_job_naming_its_message_and_position():
    photo = Attachment(kind="image", provider_media_id="1003383421387256", mime_type="image/jpeg")
    video = Attachment(kind="video", provider_media_id="1003383421387257", mime_type="video/mp4")
    sqs = RecordingSqs()

    MediaJobQueue(sqs, "https://sqs/media").request_attachments(message(Channel.WHATSAPP, photo, video))

    sent = [jobs.decode(entry["MessageBody"]) for entry in sqs.entries]
    assert [(job.attachment_index, job.attachment) for job in sent] == [(0, photo), (1, video)]
    assert {(job.channel, job.channel_account_id, job.message_external_id) for job in sent} == {
        (Channel.WHATSAPP, "106540352242922", "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRB")
    }
    assert all("MessageGroupId" not in entry for entry in sqs.entries), "the media queue is a standard queue"


def test_jobs_are_sent_ten_to_a_batch():
    many = tuple(Attachment(kind="image", url=f"https://scontent.xx.fbcdn.net/{n}.jpg") for n in range(23))
    sqs = RecordingSqs()

    MediaJobQueue(sqs, "https://sqs/media").request_attachments(message(Channel.MESSENGER, *many))

    assert [len(batch["Entries"]) for batch in sqs.batches] == [10, 10, 3]
    assert [jobs.decode(entry["MessageBody"]).attachment_index for entry in sqs.entries] == list(range(23))


def test_a_refused_job_fails_the_request_so_the_writer_is_retried():
    with pytest.raises(EnqueueFailed):
        MediaJobQueue(RecordingSqs(refuse_ids={"0"}), "https://sqs/media").request_attachments(
            message(Channel.WHATSAPP, Attachment(kind="image", provider_media_id="1"))
        )


def test_attachments_without_bytes_ask_for_nothing():
    sqs = RecordingSqs()
    sticker = Attachment(kind="sticker", provider_media_id="446/1988")
    nothing_to_fetch = Attachment(kind="fallback")

    MediaJobQueue(sqs, "https://sqs/media").request_attachments(message(Channel.LINE, sticker, nothing_to_fetch))

    assert sqs.batches == []


def test_a_queued_body_that_is_no_job_is_refused_without_quoting_it():
    with pytest.raises(jobs.UndecodableJob) as raised:
        jobs.decode('{"channel": "whatsapp", "message_external_id": "+821012345678"}')
    assert "821012345678" not in str(raised.value)


# -- keys -------------------------------------------------------------------------------------------


def test_the_key_is_derived_from_the_message_and_the_position_without_naming_the_message():
    key = attachment_key(Channel.WHATSAPP, "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRB", 2)

    digest = hashlib.sha256(b"whatsapp:wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRB").hexdigest()
    assert key == f"attachments/whatsapp/{digest}/2"
    assert attachment_key(Channel.WHATSAPP, "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRB", 2) == key
    assert attachment_key(Channel.MESSENGER, "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRB", 2) != key


@pytest.mark.parametrize(
    ("filename", "suffix"),
    [
        ("김민준_주민등록증.pdf", "/0.pdf"),
        ("../../etc/passwd", "/0"),
        ("배송 사진 (1).JPG", "/0.jpg"),
        ("...", "/0"),
        ("a" * 300 + ".pdf", "/0.pdf"),
        ("archive.tar.gz", "/0.gz"),
        ("no-extension", "/0"),
    ],
)
def test_only_the_file_extension_reaches_the_key_so_names_stay_out_of_the_bucket(filename, suffix):
    # Given a customer's file name (often their own name), When its object key is derived
    key = attachment_key(Channel.TELEGRAM, "1111111:1365", 0, filename)
    # Then the key keeps the extension only, and cannot leave the message's prefix
    assert key.endswith(suffix)
    assert key.count("/") == 3 and ".." not in key
    assert "김민준" not in key and "passwd" not in key


# -- size limit while streaming ---------------------------------------------------------------------


class _ChunkedResponse:
    """A response without Content-Length, read in pieces (what urllib3 hands back for chunked encoding)."""

    def __init__(self, content: bytes) -> None:
        self._body = io.BytesIO(content)

    def read(self, amount: int | None = None) -> bytes:
        return self._body.read(amount if amount is not None else -1)


def test_streaming_stops_as_soon_as_the_media_passes_the_limit():
    body = MeteredBody(_ChunkedResponse(b"x" * 5000), limit=4096)

    assert body.read(4096) == b"x" * 4096
    with pytest.raises(MediaTooLarge):
        body.read(4096)


def test_streaming_counts_and_hashes_what_it_passes_on():
    content = "배송 사진".encode() * 1000
    body = MeteredBody(_ChunkedResponse(content), limit=len(content))

    passed = b"".join(iter(lambda: body.read(1000), b""))

    assert passed == content
    assert (body.size_bytes, body.sha256) == (len(content), hashlib.sha256(content).hexdigest())


# -- declared sha256 --------------------------------------------------------------------------------


def test_meta_sha256_is_compared_in_hex_or_base64():
    digest = hashlib.sha256(b"photo").digest()

    assert sha256_matches(digest.hex(), digest.hex())
    assert sha256_matches(digest.hex().upper(), digest.hex())
    assert sha256_matches(base64.b64encode(digest).decode(), digest.hex())
    assert not sha256_matches(hashlib.sha256(b"other").hexdigest(), digest.hex())
    assert not sha256_matches("not a digest", digest.hex())
