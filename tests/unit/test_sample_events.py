"""events/*.json, the samples for `sam local invoke -e`: each reaches a function of the template, webhook
bodies are the provider samples signed with the documented sample secret, the writer's batch decodes,
and the files are exactly what events/generate.py writes."""

import importlib
import json
from datetime import UTC, datetime

import pytest

from infra.template import functions, load_template
from switchboard import queue
from switchboard.api.tickets import handle_tickets_api
from switchboard.channels.whatsapp import ADAPTER
from switchboard.config import AccessSettings
from switchboard.http_request import WebhookRequest
from switchboard.media import jobs as media_jobs
from switchboard.models import InboundMessage
from switchboard.store.repositories import Repositories
from tests.support.drivers.whatsapp import SAMPLE_APP_SECRET, SAMPLE_VERIFY_TOKEN
from tests.support.fakes import RecordingDynamoDB
from tests.support.lambda_events import HttpResponse
from tests.support.paths import EVENTS_DIR, SHARED_FIXTURES
from tests.support.webhook_logic import call_whatsapp_webhook

SAMPLE_SECRETS = {"app_secret": SAMPLE_APP_SECRET, "verify_token": SAMPLE_VERIFY_TOKEN}
EVENT_FILES = sorted(EVENTS_DIR.glob("*.json"))
TEMPLATE_FUNCTIONS = {spec.logical_id: spec for spec in functions(load_template())}


def load(name: str) -> dict:
    return json.loads((EVENTS_DIR / name).read_text())


def target_of(event: dict) -> str:
    """The function API Gateway, the SQS event source or CloudFormation would hand this event to."""
    if "ServiceToken" in event:
        # A custom resource request names its function's ARN: <stack>-<logical id>-<suffix>.
        return next(logical_id for logical_id in TEMPLATE_FUNCTIONS if f"-{logical_id}-" in event["ServiceToken"])
    if event.get("detail-type") == "Scheduled Event":
        # EventBridge names a function's schedule rule <stack>-<logical id><event name>-<suffix>.
        (rule,) = event["resources"]
        return next(
            spec.logical_id
            for spec in TEMPLATE_FUNCTIONS.values()
            for schedule in spec.schedules
            if f"-{spec.logical_id}{schedule.name}-" in rule
        )
    if "Records" in event:
        # CloudFormation names a queue <stack>-<logical id>-<suffix>.
        queue_arn = event["Records"][0]["eventSourceARN"]
        return next(
            spec.logical_id
            for spec in TEMPLATE_FUNCTIONS.values()
            for source in spec.queue_sources
            if f"-{source.queue_logical_id}-" in queue_arn
        )
    method, path = event["routeKey"].split(" ", 1)
    return next(
        spec.logical_id
        for spec in TEMPLATE_FUNCTIONS.values()
        for route in spec.routes
        if (route.method, route.path) == (method, path)
    )


def webhook_events() -> list[str]:
    return [
        path.name
        for path in EVENT_FILES
        if path.name.startswith("whatsapp-") and load(path.name)["requestContext"]["http"]["method"] == "POST"
    ]


def test_committed_events_are_what_generate_writes():
    generate = importlib.import_module("events.generate")

    assert {path.name: json.loads(path.read_text()) for path in EVENT_FILES} == generate.build_events()


def test_every_function_has_a_sample_event():
    assert {target_of(load(path.name)) for path in EVENT_FILES} == set(TEMPLATE_FUNCTIONS)


@pytest.mark.parametrize("name", [path.name for path in EVENT_FILES if "routeKey" in load(path.name)])
def test_api_event_is_a_payload_2_0_request_on_a_template_route(name):
    event = load(name)

    spec = TEMPLATE_FUNCTIONS[target_of(event)]
    route = next(r for r in spec.routes if f"{r.method} {r.path}" == event["routeKey"])
    assert event["version"] == "2.0"
    assert event["requestContext"]["routeKey"] == event["routeKey"]
    assert event["rawPath"] == event["requestContext"]["http"]["path"]
    for parameter, value in (event.get("pathParameters") or {}).items():
        assert route.path.replace(f"{{{parameter}}}", value) == event["rawPath"]
    assert ("authorizer" in event["requestContext"]) is route.authorized


@pytest.mark.parametrize("name", webhook_events())
def test_webhook_event_carries_a_provider_sample_signed_with_the_sample_secret(name):
    event = load(name)
    request = WebhookRequest.from_http_api_event(event)
    samples = {path.read_bytes(): path.name for path in (SHARED_FIXTURES / "whatsapp").glob("*.json")}

    assert request.body in samples, "the body must be a provider sample, byte for byte"
    ADAPTER.verify(request, SAMPLE_SECRETS)
    response, sqs = call_whatsapp_webhook(event, secrets=SAMPLE_SECRETS)
    assert response.status == 200
    assert len(sqs.sent) == len(ADAPTER.parse(request.body, received_at=datetime.now(UTC))) == 1


def test_handshake_event_gets_its_challenge_with_the_sample_verify_token():
    response, _ = call_whatsapp_webhook(load("whatsapp-handshake.json"), secrets=SAMPLE_SECRETS)

    assert (response.status, response.body) == (200, "1158201444")


def test_writer_batch_holds_what_the_webhook_enqueues_for_the_samples():
    # Given what the adapter makes of each webhook sample, received when API Gateway stamped the request
    expected = []
    for name in webhook_events():
        event = load(name)
        received_at = datetime.fromtimestamp(event["requestContext"]["timeEpoch"] / 1000, UTC)
        expected.extend(ADAPTER.parse(WebhookRequest.from_http_api_event(event).body, received_at=received_at))
    # When the writer's batch is decoded
    records = load("ticket-writer-batch.json")["Records"]
    decoded = [queue.decode(record["body"]) for record in records]
    # Then it holds those events, with the group and deduplication ids the queue gives them
    assert sorted(decoded, key=lambda e: e.dedup_key) == sorted(expected, key=lambda e: e.dedup_key)
    for record, event in zip(records, decoded, strict=True):
        assert record["attributes"]["MessageGroupId"] == queue.message_group_id(event)
        assert record["attributes"]["MessageDeduplicationId"] == queue.deduplication_id(event)
        assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"].endswith(".fifo")


def test_media_batch_asks_for_the_attachment_of_the_image_sample():
    # Given the image message the writer's batch holds
    (image,) = [
        event
        for event in map(queue.decode, (r["body"] for r in load("ticket-writer-batch.json")["Records"]))
        if isinstance(event, InboundMessage) and event.attachments
    ]
    # When the media fetcher's batch is decoded
    records = load("media-fetcher-batch.json")["Records"]
    (job,) = [media_jobs.decode(record["body"]) for record in records]
    # Then it is the job for that message's one attachment, on the standard media queue
    assert (job.channel, job.message_external_id, job.attachment_index) == (image.channel, image.external_id, 0)
    assert job.attachment == image.attachments[0] and job.attachment.provider_media_id == "1003383421387256"
    assert not records[0]["eventSourceARN"].endswith(".fifo") and "MessageGroupId" not in records[0]["attributes"]


def test_list_event_asks_for_new_tickets_as_a_signed_in_agent():
    database = RecordingDynamoDB()

    response = HttpResponse.of(
        handle_tickets_api(load("tickets-list-new.json"), Repositories.on(database, "tickets"), AccessSettings())
    )

    assert response.status == 200
    assert database.queries[0]["ExpressionAttributeValues"] == {":v": {"S": "STATUS#new"}}
    assert database.queries[0]["Limit"] == 25


def test_get_event_asks_for_the_ticket_the_text_sample_opens():
    database = RecordingDynamoDB()

    response = HttpResponse.of(
        handle_tickets_api(load("tickets-get.json"), Repositories.on(database, "tickets"), AccessSettings())
    )

    assert response.status == 404  # nothing in this table; tests/integration/test_sample_events.py reads it back
    assert database.gets[0]["Key"] == {
        "pk": {"S": "TICKET#" + load("tickets-get.json")["pathParameters"]["ticket_id"]},
        "sk": {"S": "TICKET"},
    }
