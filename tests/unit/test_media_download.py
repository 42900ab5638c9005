"""Downloads from provider media APIs: Retry-After is honoured, 429/5xx are retried with back-off and then
left to the queue, stalls time out, credentials never follow a redirect, and errors never quote a URL.

Against the fake providers server (infra/fakes/providers.py), no AWS involved.
"""

from __future__ import annotations

import time

import pytest

from infra.fakes.providers import FakeProviders
from switchboard.media.download import DownloadPolicy, MediaGone, MediaTooLarge, ProviderHttp, ProviderUnavailable
from switchboard.media.egress import MediaOrigins, RefusedDestination
from switchboard.media.providers import ProviderEndpoints, locate
from switchboard.models import Attachment, Channel

PHOTO = b"\xff\xd8\xff\xe0" + "사진".encode() * 100
FAST = DownloadPolicy(attempts=3, backoff_factor=0.01, max_retry_after_seconds=2)


@pytest.fixture(scope="module")
def server():
    fake = FakeProviders().start()
    yield fake
    fake.stop()


@pytest.fixture
def providers(server: FakeProviders) -> FakeProviders:
    server.reset()
    return server


def endpoints(fake: FakeProviders) -> ProviderEndpoints:
    parameters = fake.template_parameters()
    return ProviderEndpoints(
        graph_api=parameters["GraphApiBaseUrl"],
        line_data_api=parameters["LineDataApiBaseUrl"],
        telegram_api=parameters["TelegramApiBaseUrl"],
        twilio_api=parameters["TwilioApiBaseUrl"],
    )


def allowed(fake: FakeProviders) -> MediaOrigins:
    """The fake's exact origins, as the local runner allows them (and nothing else on 127.0.0.1)."""
    return MediaOrigins.parse([fake.base_url, fake.other_host_url])


def download(http: ProviderHttp, url: str, headers: dict[str, str] | None = None, *, origins: MediaOrigins) -> bytes:
    response = http.open(url, headers, origins=origins)
    try:
        return response.read()
    finally:
        response.release_conn()


def test_429_with_retry_after_is_waited_out_then_the_media_is_served(providers):
    # Given a CDN that answers 429 "Retry-After: 1" once
    url = providers.add_cdn_media("photo.jpg", PHOTO, "image/jpeg")
    providers.fail("/cdn/photo.jpg", status=429, retry_after="1")
    started = time.monotonic()
    # When the media is downloaded
    body = download(ProviderHttp(FAST), url, origins=allowed(providers))
    # Then the second request, a second later, got it
    assert body == PHOTO
    assert time.monotonic() - started >= 1
    assert providers.requests_to("/cdn/photo.jpg") == 2


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
def test_retriable_answers_are_retried_until_the_attempts_run_out_then_left_to_the_queue(providers, status):
    # Given a CDN failing every time
    url = providers.add_cdn_media("photo.jpg", PHOTO, "image/jpeg")
    providers.fail("/cdn/photo.jpg", status=status, times=100)
    # When the media is downloaded, Then the invocation gives up after the policy's attempts
    with pytest.raises(ProviderUnavailable, match=str(status)):
        download(ProviderHttp(FAST), url, origins=allowed(providers))
    assert providers.requests_to("/cdn/photo.jpg") == FAST.attempts


def test_5xx_then_success_within_the_attempts_serves_the_media(providers):
    url = providers.add_cdn_media("photo.jpg", PHOTO, "image/jpeg")
    providers.fail("/cdn/photo.jpg", status=502, times=2)

    assert download(ProviderHttp(FAST), url, origins=allowed(providers)) == PHOTO
    assert providers.requests_to("/cdn/photo.jpg") == 3


def test_retry_after_longer_than_an_invocation_may_wait_is_left_to_the_queue_at_once(providers):
    url = providers.add_cdn_media("photo.jpg", PHOTO, "image/jpeg")
    providers.fail("/cdn/photo.jpg", status=429, retry_after="3600")
    started = time.monotonic()

    with pytest.raises(ProviderUnavailable, match="Retry-After"):
        download(ProviderHttp(FAST), url, origins=allowed(providers))
    assert time.monotonic() - started < 1
    assert providers.requests_to("/cdn/photo.jpg") == 1


def test_a_stalled_provider_times_out_instead_of_holding_the_invocation(providers):
    url = providers.add_cdn_media("photo.jpg", PHOTO, "image/jpeg")
    providers.stall("/cdn/photo.jpg", seconds=1.5, times=5)
    policy = DownloadPolicy(attempts=1, read_timeout_seconds=0.3)

    with pytest.raises(ProviderUnavailable, match="unreachable"):
        download(ProviderHttp(policy), url, origins=allowed(providers))


@pytest.mark.parametrize("status", [404, 410])
def test_media_the_provider_does_not_have_is_gone_without_retries(providers, status):
    url = providers.add_cdn_media("photo.jpg", PHOTO, "image/jpeg")
    providers.fail("/cdn/photo.jpg", status=status)

    with pytest.raises(MediaGone):
        download(ProviderHttp(FAST), url, origins=allowed(providers))
    assert providers.requests_to("/cdn/photo.jpg") == 1


def test_twilio_credentials_open_the_media_url_but_do_not_follow_its_redirect(providers):
    # Given Twilio media, behind basic auth and a 307 to a signed URL that refuses a second authorization
    url = providers.add_twilio_media(
        "MM0a1b2c3d4e5f60718293a4b5c6d7e8f9", "ME1a2b3c4d5e6f708192a3b4c5d6e7f8a9", PHOTO, "image/jpeg"
    )
    credentials = {
        "account_sid": providers.credentials.twilio_account_sid,
        "auth_token": providers.credentials.twilio_auth_token,
    }
    attachment = Attachment(kind="image", url=url)
    http = ProviderHttp(FAST)
    # When it is located and downloaded
    source = locate(
        Channel.SMS,
        credentials["account_sid"],
        attachment,
        endpoints=endpoints(providers),
        secrets_of=lambda _: credentials,
        http=http,
        origins=allowed(providers),
    )
    # Then the bytes arrive (the redirect target would have refused them with an Authorization header)
    assert download(http, source.url, source.headers, origins=allowed(providers)) == PHOTO


def test_twilio_credentials_are_never_sent_to_a_url_outside_twilio(providers):
    # Given an SMS attachment whose URL is not under Twilio's API
    url = providers.add_cdn_media("elsewhere.jpg", PHOTO, "image/jpeg")
    credentials = {"account_sid": "AC1", "auth_token": "secret"}
    # When it is located, Then no credentials are attached
    source = locate(
        Channel.SMS,
        "AC1",
        Attachment(kind="image", url=url),
        endpoints=endpoints(providers),
        secrets_of=lambda _: credentials,
        http=ProviderHttp(FAST),
        origins=allowed(providers),
    )
    assert source.headers == {}


def test_telegram_errors_never_quote_the_bot_token(providers):
    # Given Telegram's getFile failing every time
    token = providers.credentials.telegram_bot_token
    providers.fail(f"/telegram/bot{token}/getFile", status=502, times=100)
    # When a file is located
    with pytest.raises(ProviderUnavailable) as raised:
        locate(
            Channel.TELEGRAM,
            "7012345678",
            Attachment(kind="document", provider_media_id="BQACAgQAAxkBAAIBZ2Zz"),
            endpoints=endpoints(providers),
            secrets_of=lambda _: {"bot_token": token},
            http=ProviderHttp(FAST),
            origins=allowed(providers),
        )
    # Then the error, which ends up in logs, does not carry the token
    assert token not in str(raised.value) and token.split(":")[1] not in repr(raised.value)


def test_telegram_files_over_the_bot_api_limit_are_too_large(providers):
    # Given a file over the 20 MB the Bot API hands to bots ("Bad Request: file is too big")
    token = providers.credentials.telegram_bot_token
    providers.add_telegram_file("BQACAgQAAxkBAAIBZ2Zz", b"\x00" * (20 * 1024 * 1024 + 1), "video/mp4")
    # When it is located, Then it is too large, without a download
    with pytest.raises(MediaTooLarge):
        locate(
            Channel.TELEGRAM,
            "7012345678",
            Attachment(kind="video", provider_media_id="BQACAgQAAxkBAAIBZ2Zz"),
            endpoints=endpoints(providers),
            secrets_of=lambda _: {"bot_token": token},
            http=ProviderHttp(FAST),
            origins=allowed(providers),
        )


def test_an_unknown_telegram_file_id_is_gone(providers):
    token = providers.credentials.telegram_bot_token

    with pytest.raises(MediaGone):
        locate(
            Channel.TELEGRAM,
            "7012345678",
            Attachment(kind="video", provider_media_id="nope"),
            endpoints=endpoints(providers),
            secrets_of=lambda _: {"bot_token": token},
            http=ProviderHttp(FAST),
            origins=allowed(providers),
        )


def test_missing_credentials_leave_the_job_to_a_redrive(providers):
    with pytest.raises(ProviderUnavailable, match="access_token"):
        locate(
            Channel.WHATSAPP,
            "106540352242922",
            Attachment(kind="image", provider_media_id="1"),
            endpoints=endpoints(providers),
            secrets_of=lambda _: {},
            http=ProviderHttp(FAST),
            origins=allowed(providers),
        )


def test_the_connection_goes_to_the_address_that_was_checked_with_the_name_as_host(providers):
    # Given an allow-listed origin whose name no DNS knows, and a resolver answering the fake's address once
    port = int(providers.base_url.rsplit(":", 1)[1])
    looked_up: list[str] = []

    def resolve(host: str, port_: int) -> list[str]:
        looked_up.append(host)
        return ["127.0.0.1"]

    url = providers.add_cdn_media("photo.jpg", PHOTO, "image/jpeg").replace("127.0.0.1", "media.switchboard.test")
    # When the media is downloaded
    body = download(
        ProviderHttp(FAST, resolve=resolve), url, origins=MediaOrigins.parse(f"http://media.switchboard.test:{port}")
    )
    # Then it arrived over a connection to the checked address (the name itself resolves nowhere), looked up once
    assert body == PHOTO
    assert looked_up == ["media.switchboard.test"]


@pytest.mark.parametrize(
    "answer", [["10.0.0.7"], ["157.240.22.35", "169.254.169.254"], ["::ffff:127.0.0.1"], ["64:ff9b::a9fe:a9fe"]]
)
def test_an_allowed_name_resolving_inside_the_network_is_never_connected_to(answer):
    # Given an allow-listed CDN name whose DNS answers an internal address (rebinding)
    http = ProviderHttp(FAST, resolve=lambda host, port: answer)
    # When its media is opened, Then it is refused before any connection
    with pytest.raises(RefusedDestination, match="outside the public internet"):
        http.open("https://scontent.xx.fbcdn.net/v/t1/photo.jpg", origins=MediaOrigins.parse("*.fbcdn.net"))


def test_redirects_past_the_policy_bound_are_refused(providers):
    # Given a CDN path redirecting to itself
    url = providers.add_cdn_redirect("loop.jpg", "/cdn/loop.jpg")
    # When it is downloaded, Then the fetcher gives up after the bounded number of hops
    with pytest.raises(RefusedDestination, match="redirects more than"):
        download(ProviderHttp(FAST), url, origins=allowed(providers))
    assert providers.requests_to("/cdn/loop.jpg") == FAST.max_redirects + 1


def test_twilio_media_is_opened_with_an_api_key_when_the_secret_holds_one(providers):
    # Given Twilio media and a download secret holding an API key (not the auth token that signs webhooks)
    url = providers.add_twilio_media(
        "MM0a1b2c3d4e5f60718293a4b5c6d7e8f9", "ME1a2b3c4d5e6f708192a3b4c5d6e7f8a9", PHOTO, "image/jpeg"
    )
    account = providers.credentials.twilio_account_sid
    secret = {
        "account_sid": account,
        "api_key_sid": providers.credentials.twilio_api_key_sid,
        "api_key_secret": providers.credentials.twilio_api_key_secret,
    }
    http = ProviderHttp(FAST)
    # When it is located and downloaded
    source = locate(
        Channel.SMS,
        account,
        Attachment(kind="image", url=url),
        endpoints=endpoints(providers),
        secrets_of=lambda _: secret,
        http=http,
        origins=allowed(providers),
    )
    # Then the API key opened it
    assert download(http, source.url, source.headers, origins=allowed(providers)) == PHOTO
