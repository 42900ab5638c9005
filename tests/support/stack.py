"""A Switchboard stack in moto, provisioned from template.yaml, whose functions run in-process.

The platform is the local runner's (infra/local): requests are routed by its route table and turned into
events by its event builder, and queues are drained by its event-source mapping (SqsPoller.poll_once, with
Lambda's batch, partial-failure and redelivery rules). What is test-only is thin and lives here: functions
run as threads of this process, under their own template environment, with their exceptions left to the
test (HTTP) or turned into Lambda's error document (queues); a failed record comes back at once instead of
after a second; and at-least-once redelivery can be forced.
"""

from __future__ import annotations

import functools
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from boto3.dynamodb.types import TypeDeserializer

from infra.functions import LambdaContext, load_function
from infra.local.http_gateway import RouteTable, has_scope_for, template_routes
from infra.local.pollers import BatchOutcome, QueueBinding, SqsPoller, failed_message_ids
from infra.local.workers import Invocation, error_document
from infra.provision import REGION, Stack, provision
from infra.template import FunctionSpec, functions, resources_of_type
from switchboard import runtime
from switchboard.models import Contact
from switchboard.queue import SQS_BATCH_LIMIT
from switchboard.store.repositories import Repositories
from tests.support import shared_metrics
from tests.support.drivers import SIGNED, ChannelDriver
from tests.support.lambda_events import AGENT_CLAIMS, HttpResponse, http_api_event, sqs_event, sqs_record

# The local runner's one acceleration of SQS, taken to its limit: a record the function gave back is visible
# again at once, not after the queue's VisibilityTimeout. Receive counts and dead-lettering are unchanged.
_REDELIVER_AT_ONCE = 0


@dataclass(frozen=True)
class QueuedMessage:
    """A message as a webhook put it on the inbound queue: what a redelivery puts back, byte for byte."""

    body: str
    group_id: str
    deduplication_id: str


@dataclass
class DrainReport:
    """What the poller did: writer invocations, records handed over, records the writer gave back
    (reported in batchItemFailures, or all of a batch whose invocation raised), and what it raised."""

    batches: int = 0
    records: int = 0
    failed_records: int = 0
    invocation_errors: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, outcome: BatchOutcome) -> None:
        with self._lock:
            self.batches += 1
            self.records += outcome.received
            self.failed_records += outcome.returned
            if outcome.error is not None:
                self.invocation_errors.append(f"{outcome.error['errorType']}: {outcome.error['errorMessage']}")


@dataclass(frozen=True)
class WriterOutcome:
    """One writer invocation as Lambda's SQS event source sees it."""

    records: int
    failed: frozenset[str]
    error: str | None = None


class _InProcessFunction:
    """A function as the local runner's gateway and pollers invoke it (infra.local.workers.Invoker), run on the
    caller's thread: a raised exception becomes Lambda's error document, as a worker process reports it."""

    def __init__(self, stack: InProcessStack, logical_id: str) -> None:
        self._stack = stack
        self.name = logical_id

    def invoke(self, event: Mapping[str, Any]) -> Invocation:
        try:
            return Invocation(result=self._stack.invoke(self.name, dict(event)))
        except Exception as error:  # noqa: BLE001 (Lambda turns any function error into an error document)
            return Invocation(error=error_document(error))


class _RedeliveringPoller(SqsPoller):
    """SQS delivers at least once: a record its function handled may come back. This mapping returns every record
    once after its first success, so a test sees each one handled twice."""

    def settle(self, messages: list[dict[str, Any]], failed: set[str]) -> tuple[list, list]:
        done, retry = super().settle(messages, failed)
        again = [m for m in done if m["Attributes"]["ApproximateReceiveCount"] == "1"]
        return [m for m in done if m not in again], retry + again


class RequestCounter:
    """Counts the requests one runtime client sends (a botocore event hook; retries count separately)."""

    def __init__(self) -> None:
        self.operations: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, request, event_name: str, **_: Any) -> None:
        with self._lock:
            self.operations.append(event_name.rsplit(".", 1)[-1])


class _FunctionEnvironments:
    """One process hosts every function, so the environment is switched per invocation: a function sees
    exactly its template variables (so a missing one fails here, not after deploy). Invocations of the
    same function may overlap; a different function waits until they are done."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, environments: Mapping[str, Mapping[str, str]]) -> None:
        self._monkeypatch = monkeypatch
        self._environments = environments
        self._all_names = {name for environment in environments.values() for name in environment}
        self._changed = threading.Condition()
        self._active: str | None = None
        self._in_flight = 0

    @contextmanager
    def of(self, logical_id: str) -> Iterator[None]:
        with self._changed:
            self._changed.wait_for(lambda: self._in_flight == 0 or self._active == logical_id)
            if self._active != logical_id:
                environment = self._environments[logical_id]
                for name in self._all_names - environment.keys():
                    self._monkeypatch.delenv(name, raising=False)
                for name, value in environment.items():
                    self._monkeypatch.setenv(name, value)
                self._active = logical_id
            self._in_flight += 1
        try:
            yield
        finally:
            with self._changed:
                self._in_flight -= 1
                self._changed.notify_all()


@functools.cache
def aws_session() -> boto3.Session:
    """One session for the whole test run: each new session parses the service models again, which
    costs more than provisioning the stack. Credentials come from the (fake) environment, never changing."""
    return boto3.Session(region_name=REGION)


_HANDLERS: dict[tuple[str, str], Callable[[dict, Any], Any]] = {}


def _load(spec: FunctionSpec) -> Callable[[dict, Any], Any]:
    # Loaded once per test session: handler modules hold no state of their own (the runtime caches do,
    # and those are reset around every test).
    key = (str(spec.code_dir), spec.handler)
    if key not in _HANDLERS:
        _HANDLERS[key] = load_function(spec)
    return _HANDLERS[key]


class InProcessStack:
    def __init__(self, stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
        self._monkeypatch = monkeypatch
        self.channel_secrets = stack.channel_secrets
        self._stack = stack
        self.functions = {spec.logical_id: spec for spec in functions(stack.template)}
        # The template's API has a JWT authorizer; in process, a request carries the claims it would pass on.
        self._routes = RouteTable(
            template_routes(
                self.functions.values(),
                {logical_id: _InProcessFunction(self, logical_id) for logical_id in self.functions},
                stack.resolver.resolve,
                protected=True,
            )
        )
        self._function_environments = {logical_id: stack.environment_of(logical_id) for logical_id in self.functions}
        self._environments = _FunctionEnvironments(monkeypatch, self._function_environments)
        shared_metrics.install(monkeypatch)
        self.sqs = aws_session().client("sqs")
        self.dynamodb = aws_session().client("dynamodb")

        writer = self._consumer_of("InboundQueue")
        source = writer.queue_sources[0]
        self.writer = writer.logical_id
        self.batch_size = source.batch_size
        self._inbound = QueueBinding.of(source, stack)
        self.queue_url = stack.ref(source.queue_logical_id)
        self.queue_arn = stack.attribute(source.queue_logical_id, "Arn")
        redrive = stack.template["Resources"][source.queue_logical_id]["Properties"]["RedrivePolicy"]
        self.max_receive_count = int(redrive["maxReceiveCount"])
        self.dead_letter_queue_url = stack.ref(redrive["deadLetterTargetArn"]["Fn::GetAtt"][0])
        (table_id,) = resources_of_type(stack.template, "AWS::DynamoDB::Table")
        self.table_name = stack.ref(table_id)

        fetcher = self._consumer_of("MediaQueue")
        self.media_fetcher = fetcher.logical_id
        self.media_batch_size = fetcher.queue_sources[0].batch_size
        self._media = QueueBinding.of(fetcher.queue_sources[0], stack)
        self.media_queue_url = stack.ref("MediaQueue")
        self.media_queue_arn = stack.attribute("MediaQueue", "Arn")
        media_redrive = stack.template["Resources"]["MediaQueue"]["Properties"]["RedrivePolicy"]
        self.media_dead_letter_queue_url = stack.ref(media_redrive["deadLetterTargetArn"]["Fn::GetAtt"][0])
        self.attachments_bucket = stack.ref("AttachmentsBucket")
        self.s3 = aws_session().client("s3")

        intake = self._consumer_of("MailQueue")
        self.email_inbound = intake.logical_id
        self.mail_batch_size = intake.queue_sources[0].batch_size
        self.mail_bucket = stack.ref("MailBucket")
        self._mail = QueueBinding.of(intake.queue_sources[0], stack)
        self.mail_queue_url = stack.ref("MailQueue")
        self.mail_queue_arn = stack.attribute("MailQueue", "Arn")
        mail_redrive = stack.template["Resources"]["MailQueue"]["Properties"]["RedrivePolicy"]
        self.mail_dead_letter_queue_url = stack.ref(mail_redrive["deadLetterTargetArn"]["Fn::GetAtt"][0])

    def environment_of(self, logical_id: str) -> dict[str, str]:
        """The environment template.yaml gives a function, as provisioned here."""
        return dict(self._function_environments[logical_id])

    def configure(self, logical_id: str, **variables: str) -> None:
        """Sets a function's variables as a template parameter would (a deploy with another value); the
        runtime's cached settings are forgotten, as a new container would not have them."""
        self._function_environments[logical_id].update(variables)
        self._environments = _FunctionEnvironments(self._monkeypatch, self._function_environments)
        runtime.reset()

    def _consumer_of(self, queue_logical_id: str) -> FunctionSpec:
        return next(
            spec
            for spec in self.functions.values()
            if any(source.queue_logical_id == queue_logical_id for source in spec.queue_sources)
        )

    @classmethod
    def provision(
        cls,
        monkeypatch: pytest.MonkeyPatch,
        drivers: Sequence[ChannelDriver],
        parameters: Mapping[str, str] | None = None,
    ) -> InProcessStack:
        seed = {driver.name: dict(driver.secrets) for driver in drivers}
        return cls(provision(aws_session(), seed=seed, parameters=dict(parameters or {})), monkeypatch)

    # -- invoking functions ---------------------------------------------------------------------

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        spec = self.functions[logical_id]
        with self._environments.of(logical_id):
            # Imported under the function's environment, as Lambda does on a cold start.
            handler = _load(spec)
            return handler(event, LambdaContext(logical_id, str(uuid.uuid4()), timeout_seconds=spec.timeout))

    def http(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        body: bytes | None = None,
        claims: Mapping[str, str] | None = None,
    ) -> HttpResponse:
        """A request through the local gateway's route table and event builder, with the JWT claims the
        authorizer would pass on for a protected route. A body that is not text arrives base64-encoded."""
        matched = self._routes.match(method, path)
        if matched is None:
            raise LookupError(f"template.yaml has no route {method} {path}")
        route, path_parameters = matched
        if route.authorized and claims is not None and not has_scope_for(route, claims):
            return HttpResponse(403, {"content-type": "application/json"}, '{"message":"Forbidden"}')
        event = http_api_event(
            method=method,
            path=path,
            route_key=route.route_key,
            headers=headers,
            query=query,
            path_parameters=path_parameters,
            body=body,
            claims=claims if route.authorized else None,
            request_id=uuid.uuid4().hex[:16],
        )
        return HttpResponse.of(self.invoke(route.function.name, event))

    def api_get(
        self, path: str, query: Mapping[str, str] | None = None, *, claims: Mapping[str, str] | None = AGENT_CLAIMS
    ) -> HttpResponse:
        return self.http("GET", path, query=query, claims=claims)

    def channel(self, driver: ChannelDriver) -> ChannelHarness:
        return ChannelHarness(self, driver)

    # -- the inbound queue ----------------------------------------------------------------------

    def drain_queue(self, *, workers: int = 1, at_least_once: bool = False) -> DrainReport:
        """Feeds the writer from the inbound queue until nothing is left to receive, through the local event
        source mapping: successful records are deleted, records the writer reports in batchItemFailures (all
        of a batch whose invocation raised) come back until maxReceiveCount dead-letters them.
        `at_least_once` also redelivers every record once after success, as SQS may. `workers` mappings
        poll side by side."""
        poller = self._poller(self._inbound, self.writer, at_least_once=at_least_once)
        report = DrainReport()
        if workers == 1:
            _drain(poller, report)
        else:
            run_together([functools.partial(_drain, poller, report)] * workers)
        return report

    def _poller(self, binding: QueueBinding, logical_id: str, *, at_least_once: bool = False) -> SqsPoller:
        mapping = _RedeliveringPoller if at_least_once else SqsPoller
        return mapping(
            binding, _InProcessFunction(self, logical_id), self.sqs, _REDELIVER_AT_ONCE, threading.Event(), 0
        )

    def write(self, event: dict[str, Any]) -> WriterOutcome:
        """Invokes the writer with an SQS event. Records it reports in batchItemFailures go back to the
        queue; if the invocation raises (Powertools does when every record failed), they all do."""
        return self._consume(self.writer, event)

    def _receive(self, count: int) -> list[dict[str, Any]]:
        return self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=count,
            MessageSystemAttributeNames=["All"],
            WaitTimeSeconds=0,
        ).get("Messages", [])

    def take_queued(self) -> list[QueuedMessage]:
        """Removes everything the webhooks enqueued, in queue order, without running the writer."""
        taken: list[QueuedMessage] = []
        while messages := self._receive(SQS_BATCH_LIMIT):
            for message in messages:
                attributes = message["Attributes"]
                taken.append(
                    QueuedMessage(message["Body"], attributes["MessageGroupId"], attributes["MessageDeduplicationId"])
                )
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return taken

    def enqueue(self, messages: Sequence[QueuedMessage]) -> None:
        """Puts taken messages back, as the webhook sent them (same group and deduplication ids)."""
        for start in range(0, len(messages), SQS_BATCH_LIMIT):
            response = self.sqs.send_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {
                        "Id": str(index),
                        "MessageBody": message.body,
                        "MessageGroupId": message.group_id,
                        "MessageDeduplicationId": message.deduplication_id,
                    }
                    for index, message in enumerate(messages[start : start + SQS_BATCH_LIMIT])
                ],
            )
            assert not response.get("Failed"), response["Failed"]

    def writer_event(self, messages: Sequence[QueuedMessage], *, receive_count: int = 1) -> dict[str, Any]:
        """The SQS event Lambda would hand the writer for these messages (for invoking writers directly)."""
        return sqs_event(
            [
                sqs_record(
                    message_id=str(uuid.uuid4()),
                    receipt_handle=uuid.uuid4().hex,
                    body=message.body,
                    attributes={
                        "ApproximateReceiveCount": str(receive_count),
                        "SentTimestamp": "1749416384000",
                        "SequenceNumber": f"{18876000000000000000 + position:020d}",
                        "MessageGroupId": message.group_id,
                        "SenderId": "AROAZ2RJ4EXAMPLE5N7QK:webhook",
                        "MessageDeduplicationId": message.deduplication_id,
                        "ApproximateFirstReceiveTimestamp": "1749416384040",
                    },
                    queue_arn=self.queue_arn,
                )
                for position, message in enumerate(messages)
            ]
        )

    def queued_count(self) -> int:
        return self._message_count(self.queue_url)

    def queued_in(self, queue_logical_id: str) -> int:
        return self._message_count(self.queue_url_of(queue_logical_id))

    def dead_lettered_count(self) -> int:
        return self._message_count(self.dead_letter_queue_url)

    def _message_count(self, queue_url: str) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])

    # -- the media queue ----------------------------------------------------------------------

    def drain_media_queue(self) -> DrainReport:
        """Feeds the media fetcher from the media queue until nothing is left (see `drain_queue`)."""
        return _drain(self._poller(self._media, self.media_fetcher), DrainReport())

    def fetch_media(self, event: dict[str, Any]) -> WriterOutcome:
        return self._consume(self.media_fetcher, event)

    def drain_outbound_queue(self) -> DrainReport:
        """Feeds the channel sender from the outbound queue until nothing is left (see `drain_queue`). A
        record the sender gives back for a later retry is made visible again at once: a test's clock is its own."""
        sender = self._consumer_of("OutboundQueue")
        return _drain(
            self._poller(QueueBinding.of(sender.queue_sources[0], self._stack), sender.logical_id), DrainReport()
        )

    def sweep_outbox(self) -> dict[str, Any]:
        return self.invoke("OutboxSweepFunction", {"source": "aws.events", "detail-type": "Scheduled Event"})

    def deliver_receipts(self, receipts: Sequence[Any]) -> list[HttpResponse]:
        """Posts fake providers' receipts to our webhooks, as the providers would, and lets the writer take them.
        A receipt for a queue (SES's events, which SNS puts on MailEventsQueue) is sent to it and drained by its
        consumer first; the answers are the webhooks'."""
        answers = []
        queues: dict[str, None] = {}
        for receipt in receipts:
            if receipt.queue is not None:
                self.sqs.send_message(QueueUrl=self.queue_url_of(receipt.queue), MessageBody=receipt.body.decode())
                queues[receipt.queue] = None
                continue
            path = urlsplit(receipt.target).path if receipt.target.startswith("http") else receipt.target
            answers.append(self.http("POST", path, headers=dict(receipt.headers), body=receipt.body))
        for queue_logical_id in queues:
            self._drain_consumer_of(queue_logical_id)
        self.drain_queue()
        return answers

    def drain_mail_events_queue(self) -> DrainReport:
        """Feeds the mail events function from SES's notifications until nothing is left (see `drain_queue`)."""
        return self._drain_consumer_of("MailEventsQueue")

    def drain(self, queue_logical_id: str) -> DrainReport:
        """Feeds a queue's consumer (as the template wires it) until nothing is left (see `drain_queue`)."""
        return self._drain_consumer_of(queue_logical_id)

    def _drain_consumer_of(self, queue_logical_id: str) -> DrainReport:
        consumer = self._consumer_of(queue_logical_id)
        (source,) = [source for source in consumer.queue_sources if source.queue_logical_id == queue_logical_id]
        return _drain(self._poller(QueueBinding.of(source, self._stack), consumer.logical_id), DrainReport())

    def dead_lettered_mail_events(self) -> int:
        redrive = self._stack.template["Resources"]["MailEventsQueue"]["Properties"]["RedrivePolicy"]
        return self._message_count(self.queue_url_of(redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]))

    def queue_url_of(self, queue_logical_id: str) -> str:
        return self._stack.ref(queue_logical_id)

    def drain_mail_queue(self) -> DrainReport:
        """Feeds the email intake from the mail bucket's notifications until nothing is left."""
        return _drain(self._poller(self._mail, self.email_inbound), DrainReport())

    def put_mail(self, raw: bytes, key: str | None = None) -> str:
        """Stores a raw mail as SES's receipt rule does (each delivery its own SES message id)."""
        key = key or f"inbound/ses/{uuid.uuid4().hex}"
        self.s3.put_object(Bucket=self.mail_bucket, Key=key, Body=raw)
        return key

    def mail_keys(self) -> list[str]:
        listed = self.s3.list_objects_v2(Bucket=self.mail_bucket)
        return sorted(item["Key"] for item in listed.get("Contents", []))

    def dead_lettered_mail(self) -> int:
        return self._message_count(self.mail_dead_letter_queue_url)

    def _consume(self, consumer: str, event: dict[str, Any]) -> WriterOutcome:
        """Invokes a queue consumer directly; what goes back to the queue follows Lambda's batch rules."""
        message_ids = [record["messageId"] for record in event["Records"]]
        invocation = _InProcessFunction(self, consumer).invoke(event)
        failed = frozenset(failed_message_ids(invocation, message_ids, report_batch_item_failures=True))
        error = invocation.error
        return WriterOutcome(len(message_ids), failed, error and f"{error['errorType']}: {error['errorMessage']}")

    def queued_media_jobs(self) -> int:
        return self._message_count(self.media_queue_url)

    def dead_lettered_media_jobs(self) -> int:
        return self._message_count(self.media_dead_letter_queue_url)

    def attachment_bytes(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=self.attachments_bucket, Key=key)["Body"].read()

    def attachment_keys(self) -> list[str]:
        listed = self.s3.list_objects_v2(Bucket=self.attachments_bucket)
        return sorted(item["Key"] for item in listed.get("Contents", []))

    # -- the tickets table ----------------------------------------------------------------------

    def repositories(self) -> Repositories:
        """The store on the harness's own client: for Given steps (agent actions) that are not under test."""
        return Repositories.on(self.dynamodb, self.table_name)

    def table_items(self) -> list[dict[str, Any]]:
        """Every item in the table as DynamoDB holds it, in key order: the ground truth a run leaves behind."""
        items: list[dict[str, Any]] = []
        for page in self.dynamodb.get_paginator("scan").paginate(TableName=self.table_name, ConsistentRead=True):
            items.extend(page["Items"])
        return sorted(items, key=lambda item: (item["pk"]["S"], item["sk"]["S"]))

    def contacts(self) -> list[Contact]:
        """Every contact in the table (the key schema is in switchboard/store/__init__.py)."""
        return [
            Contact.model_validate(
                TypeDeserializer().deserialize({"M": {k: v for k, v in item.items() if k not in ("pk", "sk")}})
            )
            for item in self.table_items()
            if item["sk"]["S"] == "CONTACT"
        ]

    def empty_table(self) -> None:
        for item in self.table_items():
            self.dynamodb.delete_item(TableName=self.table_name, Key={"pk": item["pk"], "sk": item["sk"]})

    # -- the read API, for Then steps -----------------------------------------------------------

    def tickets(self, status: str | None = None) -> list[dict[str, Any]]:
        """Every ticket the read API lists, following its cursor to the end."""
        tickets: list[dict[str, Any]] = []
        query = {"limit": "100", **({"status": status} if status else {})}
        while True:
            response = self.api_get("/tickets", query)
            assert response.status == 200, response
            page = response.json()
            tickets.extend(page["tickets"])
            if not page["next_cursor"]:
                return tickets
            query["cursor"] = page["next_cursor"]

    def ticket(self, ticket_id: str) -> dict[str, Any]:
        """The read API's view of one ticket and its whole timeline, {"ticket": ..., "messages": [...]}: the
        ticket's first page, the next pages through their cursor, and a message a page cut read whole."""
        response = self.api_get(f"/tickets/{ticket_id}", {"limit": "100"})
        assert response.status == 200, response
        found = response.json()
        messages, cursor = found["messages"], found.pop("next_cursor")
        while cursor:
            page = self.api_get(f"/tickets/{ticket_id}/messages", {"limit": "100", "cursor": cursor})
            assert page.status == 200, page
            messages += page.json()["messages"]
            cursor = page.json()["next_cursor"]
        found["messages"] = [self._whole(ticket_id, message) for message in messages]
        return found

    def _whole(self, ticket_id: str, listed: dict[str, Any]) -> dict[str, Any]:
        if not listed["text_truncated"]:
            return listed
        response = self.api_get(f"/tickets/{ticket_id}/messages/{listed['message_key']}")
        assert response.status == 200, response
        return response.json()["message"]

    def only_ticket(self) -> dict[str, Any]:
        (listed,) = self.tickets()
        return self.ticket(listed["id"])

    # -- reaching into the functions' runtime wiring --------------------------------------------

    @contextmanager
    def requests_sent(self, service: str) -> Iterator[RequestCounter]:
        """Counts what the functions' shared `service` client sends inside the block."""
        counter = RequestCounter()
        events = runtime._client(service).meta.events
        events.register(f"before-send.{service}", counter)
        try:
            yield counter
        finally:
            events.unregister(f"before-send.{service}", counter)

    def wrap_runtime_client(self, service: str, wrap: Callable[[Any], Any]) -> Any:
        """From now on the functions' `service` client is `wrap(real client)`, which is returned."""
        real_client = runtime._client

        @functools.cache
        def client(name: str):
            return wrap(real_client(name)) if name == service else real_client(name)

        self._monkeypatch.setattr(runtime, "_client", client)
        runtime.reset()
        return runtime._client(service)


class ChannelHarness:
    """One channel's webhook, spoken through its driver."""

    def __init__(self, stack: InProcessStack, driver: ChannelDriver) -> None:
        self.stack = stack
        self.driver = driver

    def deliver(self, body: bytes, *, signature: object = SIGNED) -> HttpResponse:
        """POSTs `body` to the channel's webhook as the provider would (signed unless told otherwise). Mail
        goes on through the mail bucket and the email intake, as its notification would take it; SES, which
        has no webhook, writes the mail into the bucket instead."""
        if not self.driver.has_webhook:
            self.stack.put_mail(body)
            response = HttpResponse(200, {"content-type": "application/json"}, '{"stored": 1}')
        else:
            headers, body = self.driver.request(body, signature)
            response = self.stack.http("POST", self.driver.webhook_path, headers=headers, body=body)
        if self.driver.arrives_in_mail_bucket:
            self.stack.drain_mail_queue()
            assert self.stack.dead_lettered_mail() == 0, "the email intake dead-lettered a mail"
        return response

    def handshake(self, query: Mapping[str, str]) -> HttpResponse:
        return self.stack.http("GET", self.driver.webhook_path, query=query)


def _drain(poller: SqsPoller, report: DrainReport) -> DrainReport:
    while (outcome := poller.poll_once()).received:
        report.add(outcome)
    return report


def run_together(calls: Sequence[Callable[[], Any]]) -> list[Any]:
    """Runs the calls on their own threads, released at the same moment; results in call order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int, call: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results[index] = call()
        except BaseException as error:  # noqa: BLE001 (re-raised on the caller's thread)
            errors.append(error)

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results
