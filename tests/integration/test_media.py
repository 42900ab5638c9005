"""Attachments: webhook -> writer -> media job -> media fetcher -> attachments bucket, recorded on the message.

The providers' media APIs are the fake in infra/fakes/providers.py, speaking each provider's request and
response shapes; AWS is moto in-process. A message's media is never fetched in the webhook path.
"""

from __future__ import annotations

import functools
import hashlib
import json
from datetime import UTC, datetime

import pytest

from infra.fakes.providers import FakeProviders
from switchboard import runtime
from switchboard.media.download import DownloadPolicy, ProviderHttp
from switchboard.media.jobs import MediaJobQueue
from switchboard.models import Attachment, Channel, InboundMessage, SenderIdentity
from switchboard.tickets.writer import record_event
from tests.support.drivers.kakao import KakaoDriver, skill_payload
from tests.support.drivers.kakao import encode as kakao_encode
from tests.support.drivers.messenger import MessengerDriver, attachment_event
from tests.support.drivers.messenger import webhook as messenger_webhook
from tests.support.drivers.whatsapp import (
    contact,
    encode,
    message_item,
    messages_value,
    wamid,
    webhook,
)
from tests.support.stack import InProcessStack

# Bytes that start like a JPEG; what matters is that they arrive unchanged.
PHOTO = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 64 + "파손된 상자".encode()
MEDIA_ID = "1003383421387256"
CUSTOMER = "821012345678"
MAX_BYTES = 26214400  # template.yaml's MediaMaxBytes default


def whatsapp_image(message_id: str, media_id: str = MEDIA_ID, *, sha256: str | None = None) -> bytes:
    """Meta's image message webhook: `image: {caption, mime_type, sha256, id}`."""
    image = {"caption": "상자가 파손되어 도착했어요", "mime_type": "image/jpeg", "id": media_id}
    if sha256 is not None:
        image["sha256"] = sha256
    item = message_item("image", wamid=message_id, sender=CUSTOMER, timestamp=1749416400, content=image)
    return encode(webhook(messages_value([item], contacts=[contact(CUSTOMER, "김민준")])))


def only_attachment(stack: InProcessStack) -> dict:
    (message,) = stack.only_ticket()["messages"]
    (attachment,) = message["attachments"]
    return attachment


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> DownloadPolicy:
    """The fetcher gives up after two tries without backing off, so a failing provider reaches the DLQ in a blink."""
    policy = DownloadPolicy(attempts=2, backoff_factor=0, max_retry_after_seconds=1)
    monkeypatch.setattr(runtime, "_provider_http", functools.cache(lambda: ProviderHttp(policy)))
    runtime.reset()
    return policy


def test_whatsapp_image_is_stored_with_its_sha256_and_recorded_on_the_message(stack, whatsapp, fake_providers):
    # Given the Graph API holds the customer's photo
    media = fake_providers.add_whatsapp_media(MEDIA_ID, PHOTO, "image/jpeg")
    # When the image message arrives and the queues are worked off
    assert whatsapp.deliver(whatsapp_image(wamid("photo"), sha256=media.sha256)).status == 200
    assert fake_providers.request_counts() == {}, "the webhook must not download"
    stack.drain_queue()
    report = stack.drain_media_queue()
    # Then the photo is in the attachments bucket, byte for byte
    attachment = only_attachment(stack)
    assert report.failed_records == 0
    assert hashlib.sha256(stack.attachment_bytes(attachment["storage_key"])).hexdigest() == media.sha256
    # And the message records where it is, its size, type and sha256, as the read API shows it
    assert attachment == {
        "kind": "image",
        "provider_media_id": MEDIA_ID,
        "mime_type": "image/jpeg",
        "sha256": media.sha256,
        "filename": None,
        "size_bytes": len(PHOTO),
        "url": None,
        "storage_key": attachment["storage_key"],
        "content_id": None,
        "inline": False,
        "fetch_status": "stored",
    }
    # And the key is derived from the message without naming it
    assert (
        attachment["storage_key"].startswith("attachments/whatsapp/")
        and wamid("photo") not in attachment["storage_key"]
    )
    assert stack.attachment_keys() == [attachment["storage_key"]]
    # And the Graph API saw one metadata request and one download, both with the access token
    assert fake_providers.requests_to(FakeProviders.graph_metadata_path(MEDIA_ID)) == 1
    assert fake_providers.requests_to(FakeProviders.graph_download_path()) == 1


def test_redelivered_image_message_does_not_fetch_its_media_again(
    stack, whatsapp, fake_providers, queue_dedup_window_lapsed
):
    # Given an image message whose photo is already stored
    fake_providers.add_whatsapp_media(MEDIA_ID, PHOTO, "image/jpeg")
    whatsapp.deliver(whatsapp_image(wamid("photo")))
    stack.drain_queue()
    stack.drain_media_queue()
    stored = only_attachment(stack)
    # When Meta redelivers the webhook days later (the writer asks for its media again)
    whatsapp.deliver(whatsapp_image(wamid("photo")))
    stack.drain_queue()
    report = stack.drain_media_queue()
    # Then the repeated job is done without a request to the provider, and the record is unchanged
    assert report.records == 1 and report.failed_records == 0
    assert fake_providers.requests_to(FakeProviders.graph_metadata_path(MEDIA_ID)) == 1
    assert fake_providers.requests_to(FakeProviders.graph_download_path()) == 1
    assert only_attachment(stack) == stored


def test_media_over_the_size_limit_is_recorded_too_large_and_not_retried(stack, whatsapp, fake_providers):
    # Given the Graph API declares a video one byte over the configured maximum
    fake_providers.add_whatsapp_media(MEDIA_ID, b"\x00" * (MAX_BYTES + 1), "video/mp4")
    # When the message arrives and the media queue is worked off
    whatsapp.deliver(whatsapp_image(wamid("huge")))
    stack.drain_queue()
    report = stack.drain_media_queue()
    # Then nothing is downloaded or stored, the message says why, and the job is not retried
    attachment = only_attachment(stack)
    assert (attachment["fetch_status"], attachment["size_bytes"], attachment["storage_key"]) == (
        "too_large",
        MAX_BYTES + 1,
        None,
    )
    assert fake_providers.requests_to(FakeProviders.graph_download_path()) == 0
    assert stack.attachment_keys() == []
    assert (report.failed_records, stack.queued_media_jobs(), stack.dead_lettered_media_jobs()) == (0, 0, 0)


def test_media_streaming_past_the_size_limit_is_recorded_too_large_leaving_no_object(stack, fake_providers):
    # Given a Messenger attachment on a CDN that declares no size (chunked) and is one byte over the maximum
    url = fake_providers.add_cdn_media("v/t42/big.mp4", b"\x00" * (MAX_BYTES + 1), "video/mp4", chunked=True)
    message = _message(Channel.MESSENGER, "106540352242922", "m_big", Attachment(kind="video", url=url))
    # When the writer records it and the media queue is worked off
    record_event(message, stack.repositories(), media=MediaJobQueue(stack.sqs, stack.media_queue_url))
    report = stack.drain_media_queue()
    # Then the upload was aborted part-way: no object, no unfinished multipart upload, and no retry
    (stored,) = stack.ticket(stack.tickets()[0]["id"])["messages"][0]["attachments"]
    assert (stored["fetch_status"], stored["storage_key"]) == ("too_large", None)
    assert stack.attachment_keys() == []
    assert not stack.s3.list_multipart_uploads(Bucket=stack.attachments_bucket).get("Uploads")
    assert (report.failed_records, stack.queued_media_jobs(), stack.dead_lettered_media_jobs()) == (0, 0, 0)


def test_media_the_provider_no_longer_has_is_recorded_failed_and_not_retried(stack, whatsapp, fake_providers):
    # Given the Graph API no longer knows the media id (Meta keeps received media for a limited time)
    # When the message arrives and the media queue is worked off
    whatsapp.deliver(whatsapp_image(wamid("expired")))
    stack.drain_queue()
    report = stack.drain_media_queue()
    # Then the message records the failure and the job is done
    assert only_attachment(stack)["fetch_status"] == "failed"
    assert (report.failed_records, stack.queued_media_jobs(), stack.dead_lettered_media_jobs()) == (0, 0, 0)


def test_provider_failing_every_time_sends_the_job_to_the_dead_letter_queue(
    stack, whatsapp, fake_providers, quick_retries
):
    # Given the Graph API answers 503 to everything
    fake_providers.add_whatsapp_media(MEDIA_ID, PHOTO, "image/jpeg")
    fake_providers.fail(FakeProviders.graph_metadata_path(MEDIA_ID), status=503, times=1000)
    # When the message arrives and the media queue is worked off
    whatsapp.deliver(whatsapp_image(wamid("unlucky")))
    stack.drain_queue()
    report = stack.drain_media_queue()
    # Then each of the queue's five receives tried twice, and the job waits in the dead-letter queue for a redrive
    assert report.records == report.failed_records == 5
    assert fake_providers.requests_to(FakeProviders.graph_metadata_path(MEDIA_ID)) == 5 * quick_retries.attempts
    assert (stack.queued_media_jobs(), stack.dead_lettered_media_jobs()) == (0, 1)
    assert only_attachment(stack)["fetch_status"] is None


def test_provider_recovering_within_the_retries_serves_the_media(stack, whatsapp, fake_providers):
    # Given the download answers 429 once, asking to wait a second, then serves the photo
    media = fake_providers.add_whatsapp_media(MEDIA_ID, PHOTO, "image/jpeg")
    fake_providers.fail(FakeProviders.graph_download_path(), status=429, retry_after="1")
    # When the message arrives and the media queue is worked off
    whatsapp.deliver(whatsapp_image(wamid("busy")))
    stack.drain_queue()
    report = stack.drain_media_queue()
    # Then one invocation waited it out and stored the photo
    assert (report.records, report.failed_records) == (1, 0)
    assert only_attachment(stack)["sha256"] == media.sha256
    assert fake_providers.requests_to(FakeProviders.graph_download_path()) == 2


def test_download_not_matching_the_sha256_meta_declared_is_not_recorded(stack, whatsapp, fake_providers, quick_retries):
    # Given the webhook declares a sha256 the served bytes do not have
    fake_providers.add_whatsapp_media(MEDIA_ID, PHOTO, "image/jpeg")
    whatsapp.deliver(whatsapp_image(wamid("tampered"), sha256=hashlib.sha256(b"another photo").hexdigest()))
    stack.drain_queue()
    # When the media queue is worked off
    stack.drain_media_queue()
    # Then the message never records the mismatching bytes as its media
    assert only_attachment(stack)["fetch_status"] is None
    assert stack.dead_lettered_media_jobs() == 1


# -- every provider's media API ------------------------------------------------------------------


def _message(channel: Channel, account: str, external_id: str, attachment: Attachment) -> InboundMessage:
    at = datetime(2025, 6, 8, 21, 0, tzinfo=UTC)
    return InboundMessage(
        channel=channel,
        channel_account_id=account,
        conversation_id="customer-1",
        external_id=external_id,
        sender=SenderIdentity(external_id="customer-1", display_name="이서연"),
        message_type=attachment.kind,
        attachments=(attachment,),
        provider_timestamp=at,
        received_at=at,
    )


def _line_content(fake: FakeProviders) -> tuple[InboundMessage, str]:
    fake.add_line_content("468789577898262530", PHOTO, "image/jpeg")
    attachment = Attachment(kind="image", provider_media_id="468789577898262530")
    return _message(
        Channel.LINE, "U4af4980629", "468789577898262530", attachment
    ), "/line-data/v2/bot/message/468789577898262530/content"


def _telegram(fake: FakeProviders) -> tuple[InboundMessage, str]:
    fake.add_telegram_file("BQACAgQAAxkBAAIBZ2Zz", PHOTO, "application/pdf", file_path="documents/file_7.pdf")
    attachment = Attachment(
        kind="document", provider_media_id="BQACAgQAAxkBAAIBZ2Zz", filename="견적서.pdf", mime_type="application/pdf"
    )
    token = fake.credentials.telegram_bot_token
    return _message(
        Channel.TELEGRAM, "7012345678", "1111111:1365", attachment
    ), f"/telegram/file/bot{token}/documents/file_7.pdf"


def _twilio_mms(fake: FakeProviders) -> tuple[InboundMessage, str]:
    url = fake.add_twilio_media(
        "MM0a1b2c3d4e5f60718293a4b5c6d7e8f9", "ME1a2b3c4d5e6f708192a3b4c5d6e7f8a9", PHOTO, "image/jpeg"
    )
    attachment = Attachment(
        kind="image", provider_media_id="ME1a2b3c4d5e6f708192a3b4c5d6e7f8a9", mime_type="image/jpeg", url=url
    )
    account = fake.credentials.twilio_account_sid
    return _message(Channel.SMS, account, "MM0a1b2c3d4e5f60718293a4b5c6d7e8f9", attachment), "/twilio-cdn/" + url.split(
        "/Accounts/"
    )[1].replace("/Messages/", "%2F").replace("/Media/", "%2F")


def _messenger_cdn(fake: FakeProviders) -> tuple[InboundMessage, str]:
    url = fake.add_cdn_media("v/t1.15752-9/photo.jpg", PHOTO, "image/jpeg")
    return _message(
        Channel.MESSENGER, "106540352242922", "m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM", Attachment(kind="image", url=url)
    ), "/cdn/v/t1.15752-9/photo.jpg"


def _kakao_cdn(fake: FakeProviders) -> tuple[InboundMessage, str]:
    url = fake.add_cdn_media("talkp/wl/kakao-photo.jpg", PHOTO, "image/jpeg")
    return _message(
        Channel.KAKAO, "5f9b2c3d", "kakao-utterance-1", Attachment(kind="image", url=url)
    ), "/cdn/talkp/wl/kakao-photo.jpg"


@pytest.mark.parametrize(
    "arrange", [_line_content, _telegram, _twilio_mms, _messenger_cdn, _kakao_cdn], ids=lambda f: f.__name__.strip("_")
)
def test_every_provider_media_api_is_spoken(stack, fake_providers, arrange):
    # Given a stored message whose attachment the provider holds
    message, download_path = arrange(fake_providers)
    store = stack.repositories()
    # When the writer records it (asking for its media) and the media queue is worked off
    record_event(message, store, media=MediaJobQueue(stack.sqs, stack.media_queue_url))
    report = stack.drain_media_queue()
    # Then the bytes were downloaded the provider's way and stored unchanged
    (stored,) = stack.ticket(stack.tickets()[0]["id"])["messages"][0]["attachments"]
    assert report.failed_records == 0, report
    assert stored["fetch_status"] == "stored"
    assert stack.attachment_bytes(stored["storage_key"]) == PHOTO
    assert (stored["sha256"], stored["size_bytes"]) == (hashlib.sha256(PHOTO).hexdigest(), len(PHOTO))
    assert fake_providers.requests_to(download_path) == 1
    if message.attachments[0].filename:
        assert stored["storage_key"].endswith("/0.pdf")


def test_a_line_sticker_asks_for_no_media(stack, fake_providers):
    # Given a LINE sticker (package and sticker id; LINE's content API has no bytes for it)
    sticker = Attachment(kind="sticker", provider_media_id="446/1988")
    # When the writer records it
    record_event(
        _message(Channel.LINE, "U4af4980629", "468789577898262599", sticker),
        stack.repositories(),
        media=MediaJobQueue(stack.sqs, stack.media_queue_url),
    )
    # Then no media job is queued
    assert stack.queued_media_jobs() == 0


# -- where the fetcher may go ---------------------------------------------------------------------

INTERNAL = [
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "https://127.0.0.1:9/",
    "http://10.0.0.8/admin",
]


def _kakao_photo(url: str) -> bytes:
    """A skill payload (Kakao's proof is a static token) whose params.media names `url` as a photo."""
    return kakao_encode(
        skill_payload(user_id="kakao-user-7", utterance=url, params={"media": {"type": "image", "url": url}})
    )


def _recorded(stack: InProcessStack) -> dict:
    stack.drain_queue()
    report = stack.drain_media_queue()
    assert report.failed_records == 0, report
    return only_attachment(stack)


@pytest.mark.parametrize("url", INTERNAL)
def test_a_kakao_photo_url_at_an_internal_address_is_refused_without_a_request(stack, fake_providers, url):
    # Given a skill payload whose photo URL points inside the network
    assert stack.channel(KakaoDriver()).deliver(_kakao_photo(url)).status == 200
    # When the queues are worked off
    attachment = _recorded(stack)
    # Then the attachment is recorded refused, its URL kept for the agent, nothing stored, and no retry
    assert (attachment["fetch_status"], attachment["url"], attachment["storage_key"]) == ("refused", url, None)
    assert stack.attachment_keys() == []
    assert (stack.queued_media_jobs(), stack.dead_lettered_media_jobs()) == (0, 0)


@pytest.mark.parametrize(
    "location", [*INTERNAL, "http://localhost:{port}/cdn/photo.jpg", "https://evil.example/photo.jpg"]
)
def test_an_allowed_cdn_redirecting_outside_the_allow_list_is_refused(stack, fake_providers, location):
    # Given the allow-listed CDN (the fake's exact origin) answering 302 to an internal or foreign location
    fake_providers.add_cdn_media("photo.jpg", PHOTO, "image/jpeg")
    url = fake_providers.add_cdn_redirect(
        "talkp/redirect.jpg", location.format(port=fake_providers.base_url.rsplit(":", 1)[1])
    )
    # When a Kakao photo names the CDN URL and the queues are worked off
    stack.channel(KakaoDriver()).deliver(_kakao_photo(url))
    attachment = _recorded(stack)
    # Then the redirect was not followed: refused, nothing stored, the CDN asked once
    assert (attachment["fetch_status"], attachment["storage_key"]) == ("refused", None)
    assert fake_providers.requests_to("/cdn/talkp/redirect.jpg") == 1
    assert fake_providers.requests_to("/cdn/photo.jpg") == 0
    assert stack.attachment_keys() == []


def test_a_redirect_within_the_allow_list_is_followed_and_checked_again(stack, fake_providers):
    # Given the CDN redirecting to another of its own paths (same allowed origin)
    fake_providers.add_cdn_media("photo.jpg", PHOTO, "image/jpeg")
    url = fake_providers.add_cdn_redirect("talkp/moved.jpg", f"{fake_providers.base_url}/cdn/photo.jpg", status=301)
    # When the photo is fetched
    stack.channel(KakaoDriver()).deliver(_kakao_photo(url))
    attachment = _recorded(stack)
    # Then the bytes at the redirect's target are stored
    assert attachment["fetch_status"] == "stored"
    assert stack.attachment_bytes(attachment["storage_key"]) == PHOTO


def test_http_on_an_origin_not_named_exactly_is_refused(stack, fake_providers):
    # Given a Messenger attachment on the fake's server under another name (http://localhost:<port>):
    # the local allow-list names http://127.0.0.1:<port> exactly, and nothing else is ever http
    url = fake_providers.add_cdn_media("v/t1/photo.jpg", PHOTO, "image/jpeg").replace(
        fake_providers.base_url, fake_providers.other_host_url
    )
    message = _message(Channel.MESSENGER, "106540352242922", "m_http", Attachment(kind="image", url=url))
    # When the writer records it and the media queue is worked off
    record_event(message, stack.repositories(), media=MediaJobQueue(stack.sqs, stack.media_queue_url))
    stack.drain_media_queue()
    # Then nothing was requested or stored
    (stored,) = stack.ticket(stack.tickets()[0]["id"])["messages"][0]["attachments"]
    assert stored["fetch_status"] == "refused"
    assert fake_providers.requests_to("/cdn/v/t1/photo.jpg") == 0


def test_a_link_a_messenger_customer_shares_is_recorded_and_never_fetched(stack, fake_providers):
    # Given a Meta-signed message carrying a `fallback` link to the instance metadata service
    link = "http://169.254.169.254/latest/meta-data/"
    body = messenger_webhook(
        attachment_event(
            mid="m_fallback",
            customer="24012345678901234",
            attachments=[{"type": "fallback", "title": "look", "url": link, "payload": None}],
            timestamp=1749384000000,
        )
    )
    # When it is delivered and the queues are worked off
    assert stack.channel(MessengerDriver()).deliver(json.dumps(body).encode()).status == 200
    stack.drain_queue()
    # Then the message shows the link, and no media job was even asked for
    assert only_attachment(stack)["kind"] == "link" and only_attachment(stack)["url"] == link
    assert (stack.queued_media_jobs(), stack.dead_lettered_media_jobs()) == (0, 0)
    assert fake_providers.request_counts() == {}


@pytest.mark.parametrize("served", ["text/html; charset=utf-8", "image/svg+xml", "application/octet-stream"])
def test_media_served_with_an_active_or_unknown_type_is_stored_download_only(stack, fake_providers, served):
    # Given a CDN serving a page as a Kakao "photo" (bytes that are no media format)
    url = fake_providers.add_cdn_media("talkp/page.jpg", b"<html><script>alert(1)</script></html>", served)
    # When it is fetched
    stack.channel(KakaoDriver()).deliver(_kakao_photo(url))
    attachment = _recorded(stack)
    # Then the bytes are kept, but never served as that type: opaque, and saved rather than displayed
    head = stack.s3.head_object(Bucket=stack.attachments_bucket, Key=attachment["storage_key"])
    assert (head["ContentType"], head.get("ContentDisposition")) == ("application/octet-stream", "attachment")
    assert attachment["mime_type"] == "application/octet-stream"


def test_media_served_without_a_useful_type_is_stored_as_what_its_bytes_are(stack, fake_providers):
    # Given a CDN serving a JPEG as application/octet-stream
    url = fake_providers.add_cdn_media("talkp/photo.bin", PHOTO, "application/octet-stream")
    # When it is fetched
    stack.channel(KakaoDriver()).deliver(_kakao_photo(url))
    attachment = _recorded(stack)
    # Then it is stored as image/jpeg, sniffed from its first bytes
    head = stack.s3.head_object(Bucket=stack.attachments_bucket, Key=attachment["storage_key"])
    assert (head["ContentType"], head.get("ContentDisposition"), attachment["mime_type"]) == (
        "image/jpeg",
        None,
        "image/jpeg",
    )


def test_more_kakao_secure_images_than_kakao_sends_are_capped_not_dead_lettered(stack, fake_providers):
    # Given a secure image plugin list of 150 URLs (Kakao's picker sends at most 30)
    fake_providers.add_cdn_media("talkp/secure.jpg", PHOTO, "image/jpeg")
    url = f"{fake_providers.base_url}/cdn/talkp/secure.jpg"
    secure = {"secureUrls": "List(" + ", ".join(f"{url}?n={i}" for i in range(150)) + ")"}
    body = kakao_encode(
        skill_payload(user_id="kakao-user-8", utterance="사진", action_params={"secureimage": json.dumps(secure)})
    )
    # When it is delivered and the queues are worked off
    stack.channel(KakaoDriver()).deliver(body)
    stack.drain_queue()
    report = stack.drain_media_queue()
    # Then 30 are stored, the message says 120 were not kept, and nothing waits or is dead-lettered
    (message,) = stack.only_ticket()["messages"]
    assert [a["fetch_status"] for a in message["attachments"]] == ["stored"] * 30
    assert "[120 more images not kept" in message["text"]
    assert (report.failed_records, stack.queued_media_jobs(), stack.dead_lettered_media_jobs()) == (0, 0, 0)
