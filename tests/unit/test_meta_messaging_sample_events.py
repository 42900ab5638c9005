"""events/messenger-*.json and events/instagram-*.json, the samples for `sam local invoke -e`: signed with the
documented sample secret, accepted by the webhook flow, and parsed into what their names promise."""

import json
from datetime import UTC, datetime

import pytest

from switchboard.channels.meta_messaging import INSTAGRAM, MESSENGER
from switchboard.http_request import WebhookRequest
from switchboard.models import DeliveryReceipt, DeliveryStatus, Direction, InboundMessage
from switchboard.queue import InboundQueue
from switchboard.webhooks import handle_webhook_event
from tests.support.drivers.messenger import SAMPLE_APP_SECRET, SAMPLE_VERIFY_TOKEN
from tests.support.fakes import RecordingSqs
from tests.support.lambda_events import HttpResponse
from tests.support.paths import EVENTS_DIR, SHARED_FIXTURES

SAMPLE_SECRETS = {"app_secret": SAMPLE_APP_SECRET, "verify_token": SAMPLE_VERIFY_TOKEN}
ADAPTERS = {"messenger": MESSENGER, "instagram": INSTAGRAM}
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/switchboard-dev-InboundQueue.fifo"


def load(name: str) -> dict:
    return json.loads((EVENTS_DIR / name).read_text())


def deliver(name: str) -> tuple[HttpResponse, list]:
    sqs = RecordingSqs()
    adapter = ADAPTERS[name.split("-", 1)[0]]
    response = handle_webhook_event(
        load(name), adapter=adapter, queue=InboundQueue(sqs, QUEUE_URL), secrets=lambda: SAMPLE_SECRETS
    )
    return HttpResponse.of(response), sqs.sent


def describe(event) -> tuple:
    if isinstance(event, InboundMessage):
        return ("message", event.channel.value, event.direction.value, event.message_type)
    assert isinstance(event, DeliveryReceipt)
    return ("receipt", event.channel.value, event.status.value)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("messenger-text.json", ("message", "messenger", "inbound", "quick_reply")),
        ("messenger-attachment.json", ("message", "messenger", "inbound", "image")),
        ("messenger-echo.json", ("message", "messenger", "outbound", "text")),
        ("messenger-delivery.json", ("receipt", "messenger", DeliveryStatus.DELIVERED.value)),
        ("instagram-text.json", ("message", "instagram", "inbound", "text")),
        ("instagram-attachment.json", ("message", "instagram", "inbound", "image")),
        ("instagram-echo.json", ("message", "instagram", "outbound", "text")),
        ("instagram-seen.json", ("receipt", "instagram", DeliveryStatus.READ.value)),
    ],
)
def test_webhook_sample_is_signed_with_the_sample_secret_and_enqueues_what_its_name_says(name, expected):
    response, enqueued = deliver(name)

    assert (response.status, response.json()) == (200, {"received": 1})
    assert [describe(event) for event in enqueued] == [expected]


@pytest.mark.parametrize("name", ["messenger-text.json", "messenger-attachment.json", "messenger-delivery.json"])
def test_messenger_samples_carry_metas_own_examples_byte_for_byte(name):
    body = WebhookRequest.from_http_api_event(load(name)).body

    assert body == (SHARED_FIXTURES / "messenger" / name.removeprefix("messenger-")).read_bytes()


def test_echo_samples_land_in_the_customers_conversation():
    _, (messenger_echo,) = deliver("messenger-echo.json")
    _, (instagram_echo,) = deliver("instagram-echo.json")
    _, (instagram_text,) = deliver("instagram-text.json")

    assert messenger_echo.direction is Direction.OUTBOUND and messenger_echo.conversation_id == "<PSID>"
    assert instagram_echo.conversation_key == instagram_text.conversation_key


@pytest.mark.parametrize("name", ["messenger-handshake.json", "instagram-handshake.json"])
def test_handshake_sample_gets_its_challenge_with_the_sample_verify_token(name):
    response, enqueued = deliver(name)

    assert (response.status, response.body) == (200, "1158201444")
    assert enqueued == []


def test_samples_arrive_after_meta_stamped_them():
    # API Gateway's request time is the moment the sample was received; Meta stamped the event before it.
    for name in ("messenger-text.json", "instagram-text.json", "instagram-seen.json"):
        event = load(name)
        received_at = datetime.fromtimestamp(event["requestContext"]["timeEpoch"] / 1000, UTC)
        adapter = ADAPTERS[name.split("-", 1)[0]]
        (parsed,) = adapter.parse(WebhookRequest.from_http_api_event(event).body, received_at=received_at)
        assert parsed.provider_timestamp <= received_at, name
