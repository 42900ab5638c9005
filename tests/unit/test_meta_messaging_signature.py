"""Messenger and Instagram webhooks: Meta's signature and subscription handshake, through the webhook flow.

Meta's rule (Messenger Platform, "Webhooks > Validate payloads",
https://developers.facebook.com/docs/messenger-platform/webhooks#validate-payloads, and the
verifyRequestSignature of Meta's fbsamples/messenger-platform-samples app.js): every POST carries
`X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>`, and the legacy
`X-Hub-Signature: sha1=<hex HMAC-SHA1(...)>` next to it. The expected digests below were computed with
`openssl dgst -sha256 -hmac sample-app-secret` (and -sha1) over the fixture files, independently of
the code under test.
"""

from collections.abc import Mapping
from datetime import UTC, datetime

import pytest

from switchboard.channels.meta_messaging import INSTAGRAM, MESSENGER, MetaMessagingAdapter
from switchboard.queue import InboundQueue
from switchboard.webhooks import handle_webhook_event
from tests.support.drivers.messenger import (
    INSTAGRAM_ACCOUNT_ID,
    SAMPLE_VERIFY_TOKEN,
    InstagramDriver,
    MessengerDriver,
    encode,
    legacy_signature,
    meta_signature,
    text_event,
    webhook,
)
from tests.support.fakes import RecordingSqs
from tests.support.lambda_events import HttpResponse, http_api_event
from tests.support.paths import provider_fixture

QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/switchboard-dev-InboundQueue.fifo"
TEXT_SAMPLE = provider_fixture("messenger", "text.json")
TEXT_SAMPLE_SHA256 = "sha256=c1e25b35687481814b4c7fb584f1233f26307342242b1a6fbc1805067c87c636"
TEXT_SAMPLE_SHA1 = "sha1=db0fec4509afaab5f2ecec7ce4ddc86f44aadbdb"
MESSENGER_SECRETS = MessengerDriver.secrets
SHA1_ALLOWED = {**MESSENGER_SECRETS, "allow_sha1_signature": True}


def post(body: bytes, headers: Mapping[str, str], path: str = "/webhooks/messenger") -> dict:
    return http_api_event(method="POST", path=path, route_key=f"POST {path}", headers=headers, body=body)


def call(
    event: dict, *, adapter: MetaMessagingAdapter = MESSENGER, secrets: Mapping = MESSENGER_SECRETS
) -> tuple[HttpResponse, RecordingSqs]:
    sqs = RecordingSqs()
    response = handle_webhook_event(event, adapter=adapter, queue=InboundQueue(sqs, QUEUE_URL), secrets=lambda: secrets)
    return HttpResponse.of(response), sqs


def test_the_fixture_digests_are_what_meta_would_send():
    # The independent openssl digests agree with the test helpers that sign everything else.
    assert meta_signature(TEXT_SAMPLE) == TEXT_SAMPLE_SHA256
    assert legacy_signature(TEXT_SAMPLE) == TEXT_SAMPLE_SHA1


def test_valid_sha256_signature_is_accepted_and_the_message_enqueued():
    # Given Meta's text sample with the signature Meta computes with our app secret
    event = post(TEXT_SAMPLE, {"x-hub-signature-256": TEXT_SAMPLE_SHA256, "x-hub-signature": TEXT_SAMPLE_SHA1})
    # When it is delivered
    response, sqs = call(event)
    # Then it is acknowledged and its message is on the queue
    assert (response.status, response.json()) == (200, {"received": 1})
    assert [message.text for message in sqs.sent] == ["hello, world!"]


def test_tampered_body_is_refused():
    tampered = TEXT_SAMPLE.replace(b"hello, world!", b"hello, there!")

    response, sqs = call(post(tampered, {"x-hub-signature-256": TEXT_SAMPLE_SHA256}))

    assert response.status == 401
    assert response.json() == {"error": "invalid_signature", "message": "signature does not match the body"}
    assert sqs.batches == []


def test_signature_made_with_another_apps_secret_is_refused():
    response, sqs = call(post(TEXT_SAMPLE, {"x-hub-signature-256": meta_signature(TEXT_SAMPLE, "another-apps-secret")}))

    assert response.status == 401
    assert sqs.batches == []


def test_missing_signature_is_refused():
    response, sqs = call(post(TEXT_SAMPLE, {"content-type": "application/json"}))

    assert response.status == 401
    assert response.json() == {"error": "invalid_signature", "message": "missing x-hub-signature-256 header"}
    assert sqs.batches == []


def test_sha1_signature_alone_is_refused_unless_the_channel_allows_it():
    # Given a delivery carrying only the legacy SHA-1 signature (a relay that drops the SHA-256 header)
    event = post(TEXT_SAMPLE, {"x-hub-signature": TEXT_SAMPLE_SHA1})
    # When the channel's secret does not opt in, and when it does
    refused, refused_sqs = call(event)
    accepted, accepted_sqs = call(event, secrets=SHA1_ALLOWED)
    # Then only the opted-in channel accepts it
    assert refused.status == 401
    assert refused_sqs.batches == []
    assert accepted.status == 200
    assert [message.external_id for message in accepted_sqs.sent] == ["mid.1457764197618:41d102a3e1ae206a38"]


@pytest.mark.parametrize(
    "legacy",
    [
        legacy_signature(TEXT_SAMPLE, "another-apps-secret"),
        TEXT_SAMPLE_SHA256,
        TEXT_SAMPLE_SHA1.removeprefix("sha1="),
        "",
    ],
    ids=["wrong-secret", "sha256-digest-in-sha1-header", "no-prefix", "empty"],
)
def test_wrong_sha1_signature_is_refused_even_when_allowed(legacy):
    response, sqs = call(post(TEXT_SAMPLE, {"x-hub-signature": legacy}), secrets=SHA1_ALLOWED)

    assert response.status == 401
    assert sqs.batches == []


def test_a_failed_sha256_signature_is_not_rescued_by_a_valid_sha1_one():
    # The stronger signature decides whenever Meta sent it; the weaker one is a fallback for its absence only.
    headers = {"x-hub-signature-256": "sha256=" + "0" * 64, "x-hub-signature": TEXT_SAMPLE_SHA1}

    response, sqs = call(post(TEXT_SAMPLE, headers), secrets=SHA1_ALLOWED)

    assert response.status == 401
    assert sqs.batches == []


@pytest.mark.parametrize("setting", [False, "false", "yes", 1, None])
def test_only_a_true_setting_allows_sha1(setting):
    response, _ = call(
        post(TEXT_SAMPLE, {"x-hub-signature": TEXT_SAMPLE_SHA1}),
        secrets={**MESSENGER_SECRETS, "allow_sha1_signature": setting},
    )

    assert response.status == 401


def test_pages_of_another_app_verify_with_that_apps_secret_under_accounts():
    # Given a second page, connected through another Meta app whose secret is filed under the page id
    secrets = {**MESSENGER_SECRETS, "accounts": {"1029384756102938": {"app_secret": "second-app-secret"}}}
    body = encode(
        webhook(
            text_event(
                mid="m_second",
                customer="7160000000000009",
                text="안녕하세요",
                timestamp=1749416383000,
                account="1029384756102938",
            ),
            account="1029384756102938",
        )
    )
    # When Meta delivers that page's message signed by the second app, and a forgery signed by neither
    accepted, sqs = call(
        post(body, {"x-hub-signature-256": meta_signature(body, "second-app-secret")}), secrets=secrets
    )
    refused, _ = call(post(body, {"x-hub-signature-256": meta_signature(body, "nobodys-secret")}), secrets=secrets)
    # Then the genuine one is filed under its page, and the forgery is refused
    assert accepted.status == 200
    assert [(m.channel_account_id, m.text) for m in sqs.sent] == [("1029384756102938", "안녕하세요")]
    assert refused.status == 401


def test_no_configured_app_secret_fails_closed():
    response, sqs = call(
        post(TEXT_SAMPLE, {"x-hub-signature-256": meta_signature(TEXT_SAMPLE, "")}),
        secrets={"verify_token": SAMPLE_VERIFY_TOKEN},
    )

    assert response.status == 401
    assert sqs.batches == []


def test_instagram_is_signed_the_same_way_and_refuses_messenger_bodies():
    # Given an Instagram message, and a Messenger one, both signed with the app secret
    driver = InstagramDriver()
    body = driver.text_message(
        driver.customer(1),
        message_id=driver.message_id("ig"),
        text="재고 있나요?",
        sent_at=datetime(2025, 6, 8, 21, 0, tzinfo=UTC),
    )
    path = driver.webhook_path
    # When each is posted to the Instagram webhook
    accepted, sqs = call(post(body, driver.headers(body), path), adapter=INSTAGRAM, secrets=driver.secrets)
    refused, _ = call(
        post(TEXT_SAMPLE, {"x-hub-signature-256": TEXT_SAMPLE_SHA256}, path), adapter=INSTAGRAM, secrets=driver.secrets
    )
    # Then the Instagram one is enqueued for the Instagram account, and the page's body is not Instagram's
    assert accepted.status == 200
    assert [(m.channel.value, m.channel_account_id) for m in sqs.sent] == [("instagram", INSTAGRAM_ACCOUNT_ID)]
    assert (refused.status, refused.json()["error"]) == (400, "malformed_payload")


# -- the subscription handshake ---------------------------------------------------------------------

SUBSCRIBE = {"hub.mode": "subscribe", "hub.verify_token": SAMPLE_VERIFY_TOKEN, "hub.challenge": "1158201444"}


def handshake(query: Mapping[str, str], path: str = "/webhooks/messenger") -> dict:
    return http_api_event(method="GET", path=path, route_key=f"GET {path}", query=query)


@pytest.mark.parametrize("adapter", [MESSENGER, INSTAGRAM], ids=lambda adapter: adapter.webhook)
def test_handshake_with_our_verify_token_gets_the_challenge(adapter):
    response, sqs = call(handshake(SUBSCRIBE, f"/webhooks/{adapter.webhook}"), adapter=adapter)

    assert (response.status, response.body) == (200, "1158201444")
    assert sqs.batches == []


@pytest.mark.parametrize(
    ("query", "status"),
    [
        (SUBSCRIBE | {"hub.verify_token": "guessed-token"}, 403),
        ({k: v for k, v in SUBSCRIBE.items() if k != "hub.verify_token"}, 403),
        ({k: v for k, v in SUBSCRIBE.items() if k != "hub.challenge"}, 400),
        (SUBSCRIBE | {"hub.mode": "unsubscribe"}, 400),
    ],
    ids=["wrong-token", "no-token", "no-challenge", "other-mode"],
)
def test_handshake_without_our_verify_token_is_refused(query, status):
    response, _ = call(handshake(query))

    assert response.status == status
