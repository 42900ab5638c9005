"""Every proof of origin, on every channel, meets any characters at all: a wrong proof is a 401, never a 500.

The class: a proof header (or path token, or signed field) holding characters a digest never has (non-ASCII
text, a lone surrogate from a JSON \\udXXX escape in the Lambda event) must reach the one constant-time
comparison, channels.base.same_secret, and be refused there, whatever its prefix.
"""

from datetime import UTC, datetime
from urllib.parse import quote_plus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.channels.kakao import KakaoAdapter
from switchboard.channels.line import ADAPTER as LINE_ADAPTER
from switchboard.channels.meta_messaging import INSTAGRAM, MESSENGER
from switchboard.channels.telegram import ADAPTER as TELEGRAM_ADAPTER
from switchboard.channels.twilio import TwilioAdapter
from switchboard.channels.whatsapp import ADAPTER as WHATSAPP_ADAPTER
from switchboard.email.providers.mailgun import WEBHOOK as MAILGUN
from switchboard.email.providers.postmark import WEBHOOK as POSTMARK
from switchboard.email.providers.sendgrid import WEBHOOK as SENDGRID
from switchboard.errors import InvalidSignature, PayloadTooLarge
from switchboard.http_request import WebhookRequest
from switchboard.proof import same_secret
from switchboard.queue import InboundQueue
from switchboard.webhooks import handle_webhook_event
from tests.support.drivers import DRIVERS, ChannelDriver
from tests.support.drivers.email import MailgunDriver, PostmarkDriver, SendGridDriver
from tests.support.fakes import RecordingSqs
from tests.support.lambda_events import HttpResponse, http_api_event

QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/switchboard-dev-InboundQueue.fifo"
SENT = datetime(2025, 6, 8, 21, 0, tzinfo=UTC)
NOW = datetime.now(UTC)
ANY_TEXT = st.text(max_size=80)  # every code point, lone surrogates included
PREFIXES = st.sampled_from(["", "sha256=", "sha1=", "Basic ", "Bearer ", "List("])
ANY_PROOF = st.tuples(PREFIXES, ANY_TEXT).map("".join)

ADAPTERS = {
    "whatsapp": WHATSAPP_ADAPTER,
    "messenger": MESSENGER,
    "instagram": INSTAGRAM,
    "line": LINE_ADAPTER,
    "telegram": TELEGRAM_ADAPTER,
    "kakao": KakaoAdapter(ack_text="접수되었습니다"),
    "twilio": TwilioAdapter(),
}
CHAT = {driver.name: driver for driver in DRIVERS if driver.name in ADAPTERS}
# Each channel's proof headers; Meta's legacy SHA-1 header is read only where the secret opts in to it.
PROOF_HEADERS = [
    ("whatsapp", "x-hub-signature-256"),
    ("whatsapp", "x-hub-signature"),
    ("messenger", "x-hub-signature-256"),
    ("messenger", "x-hub-signature"),
    ("instagram", "x-hub-signature-256"),
    ("line", "x-line-signature"),
    ("telegram", "x-telegram-bot-api-secret-token"),
    ("kakao", "x-switchboard-token"),
    ("twilio", "x-twilio-signature"),
]


def deliver(
    driver: ChannelDriver, headers: dict, body: bytes, *, secrets=None, query=None, path_parameters=None
) -> tuple[HttpResponse, RecordingSqs]:
    sqs = RecordingSqs()
    event = http_api_event(
        method="POST",
        path=driver.webhook_path,
        route_key=f"POST {driver.webhook_path}",
        headers=headers,
        body=body,
        query=query,
        path_parameters=path_parameters,
    )
    response = handle_webhook_event(
        event,
        adapter=ADAPTERS[driver.name],
        queue=InboundQueue(sqs, QUEUE_URL),
        secrets=lambda: secrets or driver.secrets,
    )
    return HttpResponse.of(response), sqs


def genuine(driver: ChannelDriver) -> tuple[dict, bytes]:
    body = driver.text_message(
        driver.customer(1), message_id=driver.message_id("proof"), text="환불 문의", sent_at=SENT
    )
    return driver.headers(body), body


@settings(max_examples=60, deadline=None)
@given(presented=ANY_PROOF)
def test_same_secret_compares_any_characters(presented):
    # Given any presented proof, When compared with an expected one, Then the answer is a bool, never an error
    assert same_secret("sample-secret", presented) is (presented == "sample-secret")
    assert same_secret(presented, presented) is True


@pytest.mark.parametrize(("channel", "header"), PROOF_HEADERS)
@settings(max_examples=60, deadline=None)
@given(presented=ANY_PROOF)
def test_any_characters_in_a_proof_header_are_refused_as_unauthenticated(channel, header, presented):
    # Given a genuine delivery whose proof header is replaced by any text at all (the SHA-1 header alone,
    # on a channel whose secret accepts it)
    driver = CHAT[channel]
    headers, body = genuine(driver)
    headers = {name: value for name, value in headers.items() if not name.startswith("x-hub-signature")} | {
        header: presented
    }
    secrets = {**driver.secrets, "allow_sha1_signature": True}
    # When it is delivered
    response, sqs = deliver(driver, headers, body, secrets=secrets)
    # Then it is refused as unauthenticated, and nothing is queued
    assert (response.status, response.json()["error"]) == (401, "invalid_signature"), response
    assert sqs.batches == []


@settings(max_examples=60, deadline=None)
@given(presented=ANY_TEXT)
def test_any_characters_in_kakaos_path_token_are_refused(presented):
    # Given a Kakao skill call whose token travels in the URL path, holding any text
    driver = CHAT["kakao"]
    headers, body = genuine(driver)
    headers.pop("x-switchboard-token")
    # When it is delivered, Then it is a 401 with nothing queued
    response, sqs = deliver(driver, headers, body, path_parameters={"token": presented})
    assert response.status == 401, response
    assert sqs.batches == []


@settings(max_examples=60, deadline=None)
@given(presented=ANY_TEXT)
def test_any_characters_in_twilios_body_hash_are_refused(presented):
    # Given a Twilio JSON-body request, whose body is signed through bodySHA256 in the URL, holding any text
    driver = CHAT["twilio"]
    headers, body = genuine(driver)
    # When it is delivered, Then it is a 401 with nothing queued
    response, sqs = deliver(driver, headers, body, query={"bodySHA256": presented})
    assert response.status == 401, response
    assert sqs.batches == []


MAIL_PROOFS = [
    (MailgunDriver(), MAILGUN, "signature-field"),
    (PostmarkDriver(), POSTMARK, "authorization"),
    (SendGridDriver(), SENDGRID, "authorization"),
    (SendGridDriver(), SENDGRID, "x-twilio-email-event-webhook-signature"),
    (SendGridDriver(), SENDGRID, "x-twilio-email-event-webhook-timestamp"),
]


@pytest.mark.parametrize(
    ("driver", "webhook", "proof"), MAIL_PROOFS, ids=lambda value: getattr(value, "provider", str(value))
)
@settings(max_examples=60, deadline=None)
@given(presented=ANY_PROOF)
def test_any_characters_in_a_mail_webhooks_proof_are_refused(driver, webhook, proof, presented):
    # Given a genuine inbound-parse delivery whose proof (a header, or Mailgun's signature field) is any text
    wrapped = driver.wrap(b"From: a@example.com\r\nTo: support@help.example.com\r\nSubject: hi\r\n\r\nhello\r\n")
    headers, body = driver.request(wrapped)
    if proof == "signature-field":
        body = wrapped + b"&signature=" + quote_plus(presented.encode("utf-8", "surrogatepass")).encode()
    else:
        headers = {**headers, proof: presented}
    request = WebhookRequest(method="POST", path=driver.webhook_path, headers=headers, query={}, body=body)
    # When its proof is checked, Then it is refused as unauthenticated: no other error escapes
    with pytest.raises(InvalidSignature):
        webhook.verify(request, driver.secrets, NOW, 300)


@pytest.mark.parametrize("channel", sorted(ADAPTERS))
def test_a_body_over_the_routes_cap_is_refused_before_it_is_read(channel):
    # Given a genuine delivery padded to one byte over its route's cap (the cap each provider stays under)
    driver = CHAT[channel]
    headers, body = genuine(driver)
    cap = ADAPTERS[channel].max_body_bytes
    body = body + b" " * (cap + 1 - len(body))
    # When it is delivered, signed as the provider signs
    response, sqs = deliver(driver, driver.headers(body), body)
    # Then it is refused as too large with a JSON error naming the cap, and nothing is queued
    assert (response.status, response.json()["error"]) == (413, "payload_too_large"), response
    assert str(cap) in response.json()["message"]
    assert sqs.batches == []


@pytest.mark.parametrize("fields", [1001, 30_000])
def test_a_twilio_form_with_more_fields_than_twilio_sends_is_refused_before_it_is_parsed(fields):
    # Given a Twilio form under the size cap that holds more fields than any Twilio webhook (a few dozen)
    driver = CHAT["twilio"]
    body = b"&".join(b"a" for _ in range(fields))
    assert len(body) <= ADAPTERS["twilio"].max_body_bytes
    # When it is delivered with any signature, Then it is a 400 naming the limit, with nothing queued
    response, sqs = deliver(driver, driver.headers(body, signature="forged"), body)
    assert (response.status, response.json()["error"]) == (400, "malformed_payload"), response
    assert "more than 1000 fields" in response.json()["message"]
    assert sqs.batches == []


@pytest.mark.parametrize(
    ("driver", "webhook"),
    [(MailgunDriver(), MAILGUN), (PostmarkDriver(), POSTMARK), (SendGridDriver(), SENDGRID)],
    ids=["mailgun", "postmark", "sendgrid"],
)
def test_a_mail_webhook_body_over_lambdas_payload_limit_is_refused_before_it_is_read(driver, webhook):
    # Given a delivery larger than Lambda's 6 MB request payload (what the local runner could still pass on)
    headers, body = driver.request(
        driver.wrap(b"From: a@example.com\r\nSubject: hi\r\n\r\n" + b"x" * (6 * 1024 * 1024))
    )
    request = WebhookRequest(method="POST", path=driver.webhook_path, headers=headers, query={}, body=body)
    # When its proof is checked, Then it is refused as too large before the form is read
    with pytest.raises(PayloadTooLarge):
        webhook.verify(request, driver.secrets, NOW, 300)
