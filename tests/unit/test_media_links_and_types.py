"""What becomes a media job, and the type media is stored with: links a customer shared are recorded, never
fetched; a list of media that feeds jobs is capped to what the provider sends, never poison; a stored type is
an inert media type, whatever the sender or the CDN declared."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import example, given
from hypothesis import strategies as st

from switchboard.channels.kakao import MAX_SECURE_IMAGES, KakaoAdapter
from switchboard.channels.meta_messaging import MESSENGER
from switchboard.media.content_types import MEDIA_TYPES, OPAQUE, sniff, stored_type
from switchboard.media.jobs import MAX_ATTACHMENTS_FETCHED, jobs_for
from switchboard.models import Attachment, Channel, InboundMessage, SenderIdentity
from tests.support.drivers.kakao import encode, skill_payload
from tests.support.drivers.messenger import attachment_event, webhook

RECEIVED_AT = datetime(2025, 6, 8, 12, 0, tzinfo=UTC)
KAKAO = KakaoAdapter("received")

urls = st.sampled_from(
    [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "https://shop.example.com/sale",
        "http://127.0.0.1:6379/",
        "https://talk.kakaocdn.net/dna/a/img.jpg?credential=x",
    ]
)


# -- links are recorded, never fetched -----------------------------------------------------------


@given(urls, st.sampled_from(["fallback", "share"]), st.booleans())
def test_a_link_a_messenger_customer_shares_is_recorded_and_asks_for_no_media(url, kind, in_payload):
    # Given a Meta-signed message whose attachment is a shared link, its URL wherever Meta puts it
    attachment = {
        "type": kind,
        "title": "Spring sale",
        **({"payload": {"url": url}} if in_payload else {"url": url, "payload": None}),
    }
    body = webhook(
        attachment_event(mid="m_link", customer="24012345678901234", attachments=[attachment], timestamp=1749384000000)
    )
    (message,) = MESSENGER.parse(json.dumps(body).encode(), RECEIVED_AT)
    # Then the link is on the message for the agent, and no media job is asked for
    assert message.attachments == (Attachment(kind="link", url=url),)
    assert jobs_for(message) == []


@given(urls, st.sampled_from([None, "link", "webLink", "", "image/svg", 7]))
def test_a_kakao_media_parameter_of_no_media_type_is_a_link_never_fetched(url, kind):
    # Given a skill payload whose params.media names a URL but no media type Kakao sends
    media = {"url": url} if kind is None else {"type": kind, "url": url}
    body = encode(skill_payload(user_id="kakao-user-1", utterance="이거 보세요", params={"media": media}))
    (message,) = KAKAO.parse(body, RECEIVED_AT)
    # Then it is a link on the message and asks for no media job
    assert [attachment.kind for attachment in message.attachments] == ["link"]
    assert jobs_for(message) == []


@given(st.text(min_size=1, max_size=12))
def test_kinds_that_are_not_media_ask_for_no_job(kind):
    # Given an attachment of any kind outside the fetched media kinds (a location, a template, one new to us)
    message = _message(Channel.MESSENGER, Attachment(kind=kind, url="https://scontent.xx.fbcdn.net/v/x.jpg"))
    fetched = kind in {
        "image",
        "video",
        "audio",
        "voice",
        "document",
        "file",
        "sticker",
        "animation",
        "video_note",
        "story_mention",
        "ig_reel",
        "reel",
        "ig_post",
    }
    # Then it becomes a job only when it is one of them
    assert bool(jobs_for(message)) == fetched


@given(st.integers(min_value=8193, max_value=400_000))
def test_a_url_longer_than_any_providers_asks_for_no_job(length):
    # Given a Kakao "photo" whose URL alone could outgrow an SQS message
    url = "https://talk.kakaocdn.net/" + "a" * (length - len("https://talk.kakaocdn.net/"))
    # Then it stays on the message, and no job is made for it
    assert jobs_for(_message(Channel.KAKAO, Attachment(kind="image", url=url))) == []


# -- lists that feed media jobs are capped -------------------------------------------------------


@given(st.integers(min_value=0, max_value=400))
def test_any_number_of_kakao_secure_images_parses_into_valid_jobs(count):
    # Given the secure image plugin naming `count` images (Kakao's picker sends at most 30)
    secure = {
        "secureUrls": "List("
        + ", ".join(f"http://secure.kakaocdn.net/dna/{i}/img.jpg?credential=c{i}" for i in range(count))
        + ")"
    }
    body = encode(
        skill_payload(user_id="kakao-user-1", utterance="사진", action_params={"secureimage": json.dumps(secure)})
    )
    # When the payload is parsed and the writer asks for its media
    (message,) = KAKAO.parse(body, RECEIVED_AT)
    jobs = jobs_for(message)
    # Then every job is valid (none fails validation on redelivery), at most the provider's count are kept,
    # and the message says how many were not
    assert len(jobs) == len(message.attachments) == min(count, MAX_SECURE_IMAGES)
    left_out = count - MAX_SECURE_IMAGES
    assert (f"[{left_out} more images not kept" in (message.text or "")) == (left_out > 0)


@given(st.integers(min_value=0, max_value=MAX_ATTACHMENTS_FETCHED * 3))
def test_a_message_with_any_number_of_attachments_yields_only_valid_jobs(count):
    message = _message(
        Channel.SMS, *(Attachment(kind="image", url=f"https://api.twilio.com/m/{i}") for i in range(count))
    )
    jobs = jobs_for(message)
    assert len(jobs) == min(count, MAX_ATTACHMENTS_FETCHED)
    assert all(job.attachment_index < MAX_ATTACHMENTS_FETCHED for job in jobs)


# -- stored types ---------------------------------------------------------------------------------

ACTIVE_TYPES = [
    "text/html",
    "text/html; charset=utf-8",
    "TEXT/HTML",
    "image/svg+xml",
    "application/xhtml+xml",
    "text/xml",
    "application/xml",
    "application/javascript",
    "text/javascript",
    "application/x-shockwave-flash",
    "multipart/x-mixed-replace; boundary=x",
    "application/pdf+html",
]
MAGIC = {
    b"\xff\xd8\xff\xe0\x00\x10JFIF": "image/jpeg",
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"GIF89a": "image/gif",
    b"RIFF\x00\x00\x00\x00WEBP": "image/webp",
    b"\x00\x00\x00\x18ftypheic": "image/heic",
    b"\x00\x00\x00\x18ftypisom": "video/mp4",
    b"\x00\x00\x00\x14ftypqt  ": "video/quicktime",
    b"%PDF-1.7": "application/pdf",
    b"OggS\x00": "audio/ogg",
    b"ID3\x04": "audio/mpeg",
    b"#!AMR\n": "audio/amr",
}


@given(
    st.sampled_from(ACTIVE_TYPES),
    st.sampled_from([0, 1, 2]),
    st.binary(max_size=64) | st.sampled_from([b"<html><script>", b"<svg onload=x>"]),
)
def test_active_types_are_never_stored_as_served(active, position, first_bytes):
    # Given an active type declared by the provider's API, the CDN, or the webhook, whatever the bytes
    declared = [None, None, None]
    declared[position] = active
    # When the stored type is chosen, Then it is opaque and download-only
    stored = stored_type(tuple(declared), first_bytes)
    assert (stored.content_type, stored.download_only) == (OPAQUE, True)


@given(st.sampled_from(sorted(MEDIA_TYPES)), st.binary(max_size=64))
def test_declared_media_types_are_kept(media_type, first_bytes):
    stored = stored_type((None, f"{media_type}; charset=binary", None), first_bytes)
    assert (stored.content_type, stored.download_only) == (media_type, False)


@given(
    st.sampled_from(sorted(MAGIC.items())),
    st.sampled_from([None, "", "application/octet-stream", "binary/octet-stream"]),
    st.binary(max_size=40),
)
@example((b"ID3\x04", "audio/mpeg"), None, b"ftyp")  # an MP3's ID3 tag is no MP4 box, whatever follows it
def test_a_missing_or_generic_type_is_sniffed_from_the_bytes(magic, generic, rest):
    prefix, expected = magic
    stored = stored_type((generic, generic, None), prefix + rest)
    assert (stored.content_type, stored.download_only) == (expected, False)


@given(st.binary(max_size=64).filter(lambda head: sniff(head) is None))
def test_unrecognised_bytes_without_a_type_are_stored_opaque_and_download_only(first_bytes):
    assert stored_type((None, "application/octet-stream", None), first_bytes) == stored_type(
        (None, None, None), first_bytes
    )
    assert stored_type((None, None, None), first_bytes).download_only


def _message(channel: Channel, *attachments: Attachment) -> InboundMessage:
    return InboundMessage(
        channel=channel,
        channel_account_id="AC0a1b2c3d4e5f60718293a4b5c6d7e8f9" if channel is Channel.SMS else "106540352242922",
        conversation_id="customer-1",
        external_id="m-1",
        sender=SenderIdentity(external_id="customer-1"),
        message_type="image",
        attachments=attachments,
        provider_timestamp=RECEIVED_AT,
        received_at=RECEIVED_AT,
    )
