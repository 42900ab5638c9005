"""Delivering an SLA escalation's notify action (sla/notify.py): the signed webhook POST against the fake providers'
hook receiver (infra/fakes/outbound_hooks.py), the URL rule the admin API shares, and the SNS publish on moto."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import boto3
import pytest
import urllib3
from botocore.exceptions import EndpointConnectionError
from botocore.stub import Stubber
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

from infra.fakes import outbound_hooks
from infra.fakes.outbound_hooks import hooks_base
from infra.fakes.providers import FakeProviders
from switchboard.models import Channel, NoticeState, Priority, SlaMetric, SlaNoticeDelivery
from switchboard.observability import logger
from switchboard.sla.notify import (
    MAX_SUBJECT_CHARS,
    NotifyOutcome,
    SlaNotice,
    SlaNoticeSender,
    SnsNotifier,
    WebhookNotifier,
    notice_body,
    sign,
    sns_subject,
    verify_signature,
    webhook_url_problem,
)

KEY = b"k" * 32 + b"-sla-webhook-signing-key"
SENT_AT = datetime(2026, 12, 3, 9, 1, 5, tzinfo=UTC)
NOTICE = SlaNotice(
    event_id="01JEXAMPLETICKET:first_reply:1:1",
    ticket_id="01JEXAMPLETICKET",
    ticket_number=42,
    policy="Chat, urgent first reply",
    metric="first_reply",
    level=1,
    channel=Channel.TELEGRAM,
    priority=Priority.URGENT,
    due_at=datetime(2026, 12, 3, 9, 1, tzinfo=UTC),
    breached_at=datetime(2026, 12, 3, 9, 1, tzinfo=UTC),
)


@pytest.fixture
def hooks(fake_providers: FakeProviders) -> Iterator[FakeProviders]:
    """The fake providers, their hook receiver taking any request."""
    yield fake_providers
    outbound_hooks.REDIRECTS.clear()


def notifier(fake: FakeProviders, *, key: bytes = KEY, read_timeout: float = 5.0) -> WebhookNotifier:
    return WebhookNotifier(
        urllib3.PoolManager(), lambda: key, local_hooks_base=hooks_base(fake.base_url), read_timeout=read_timeout
    )


def hook_url(fake: FakeProviders, name: str = "sla") -> str:
    return f"{hooks_base(fake.base_url)}{name}"


def checks_signatures(fake: FakeProviders, key: bytes) -> None:
    fake.use_signing_secrets(dataclasses.replace(fake.signing, sla_webhook_signing_key=key.decode()))


# -- the signature ---------------------------------------------------------------------------------------------


def test_a_signature_verifies_for_its_body_and_timestamp_within_five_minutes():
    # Given a body signed as sent at SENT_AT
    body = notice_body(NOTICE)
    timestamp = int(SENT_AT.timestamp())
    signature = sign(KEY, timestamp, body)
    # Then it is Stripe's v1 shape, and a receiver whose clock is up to 5 minutes off takes it
    assert signature.startswith("v1=") and len(signature) == 3 + 64
    assert verify_signature(KEY, signature, str(timestamp), body, SENT_AT)
    assert verify_signature(KEY, signature, timestamp, body, SENT_AT + timedelta(seconds=300))
    assert verify_signature(KEY, signature, timestamp, body, SENT_AT - timedelta(seconds=300))


def test_a_tampered_body_timestamp_or_key_is_refused():
    # Given a signed body
    body = notice_body(NOTICE)
    timestamp = int(SENT_AT.timestamp())
    signature = sign(KEY, timestamp, body)
    # Then another body, another timestamp with the same signature, or another key is refused
    assert not verify_signature(KEY, signature, timestamp, body.replace(b'"level":1', b'"level":2'), SENT_AT)
    assert not verify_signature(KEY, signature, timestamp + 1, body, SENT_AT)
    assert not verify_signature(b"another key, also 32 characters long", signature, timestamp, body, SENT_AT)


def test_a_replayed_request_older_than_five_minutes_is_refused():
    # Given a request captured and replayed 301 seconds later, or stamped from the future
    body = notice_body(NOTICE)
    timestamp = int(SENT_AT.timestamp())
    signature = sign(KEY, timestamp, body)
    # Then it is refused though its signature is right
    assert not verify_signature(KEY, signature, timestamp, body, SENT_AT + timedelta(seconds=301))
    assert not verify_signature(KEY, signature, timestamp, body, SENT_AT - timedelta(seconds=301))


@pytest.mark.parametrize(
    ("header", "timestamp"),
    [
        (None, "1796374860"),
        ("", "1796374860"),
        ("v1=", "1796374860"),
        ("v0=" + "0" * 64, "1796374860"),
        ("v1=zz", None),
        ("v1=" + "0" * 64, "-1796374860"),
        ("v1=" + "0" * 64, "1796374860.5"),
        ("v1=" + "0" * 64, "9" * 40),
        ("v1=키", "1796374860"),
    ],
)
def test_a_malformed_signature_or_timestamp_is_refused_without_an_error(header, timestamp):
    # Given headers no signer of ours wrote
    # Then verification answers False, never raises
    assert verify_signature(KEY, header, timestamp, b"{}", SENT_AT) is False


def test_during_a_key_rotation_either_of_two_signatures_verifies():
    # Given a request signed with the old and the new key, comma-separated
    body = notice_body(NOTICE)
    timestamp = int(SENT_AT.timestamp())
    header = f"{sign(b'old key of thirty-two characters!', timestamp, body)},{sign(KEY, timestamp, body)}"
    # Then a receiver holding only the new key takes it
    assert verify_signature(KEY, header, timestamp, body, SENT_AT)


@settings(max_examples=200, deadline=None)
@given(key=st.binary(min_size=1, max_size=64), body=st.binary(max_size=512), flip=st.integers(min_value=0))
def test_any_signed_body_verifies_and_any_changed_byte_does_not(key, body, flip):
    # Given any key and body, signed at SENT_AT
    timestamp = int(SENT_AT.timestamp())
    signature = sign(key, timestamp, body)
    # Then it verifies, and with any one byte changed it does not
    assert verify_signature(key, signature, timestamp, body, SENT_AT)
    if body:
        index = flip % len(body)
        changed = body[:index] + bytes([body[index] ^ 0x01]) + body[index + 1 :]
        assert not verify_signature(key, signature, timestamp, changed, SENT_AT)


def test_the_body_is_compact_json_of_the_notice_with_its_type_and_utc_times_in_z():
    # Given a notice whose times were given in Seoul time
    seoul = SlaNotice.model_validate(
        {**NOTICE.model_dump(), "due_at": datetime(2026, 12, 3, 18, 1, tzinfo=timezone(timedelta(hours=9)))}
    )
    # When its body is made
    body = notice_body(seoul)
    # Then it is compact JSON, "type" first, with the times in UTC ending in Z
    assert b" " not in body.replace(b"Chat, urgent first reply", b"")
    assert list(json.loads(body))[0] == "type"
    assert json.loads(body) == {
        "type": "sla.breach",
        "event_id": "01JEXAMPLETICKET:first_reply:1:1",
        "ticket_id": "01JEXAMPLETICKET",
        "ticket_number": 42,
        "policy": "Chat, urgent first reply",
        "metric": "first_reply",
        "level": 1,
        "channel": "telegram",
        "priority": "urgent",
        "due_at": "2026-12-03T09:01:00Z",
        "breached_at": "2026-12-03T09:01:00Z",
    }


@pytest.mark.parametrize("event_id", ["", "has space", "키:first_reply:1:1", "x" * 257])
def test_an_event_id_that_cannot_go_out_as_a_header_is_refused(event_id):
    # Given an event id that is empty, too long, or not printable ASCII
    # Then the notice cannot be made of it
    with pytest.raises(ValueError):
        SlaNotice.model_validate({**NOTICE.model_dump(), "event_id": event_id})


# -- the webhook POST, against the fake providers' hook receiver ----------------------------------------------


def test_a_notice_is_posted_signed_and_recorded_in_the_local_outbox_as_webhook(hooks):
    # Given the local hook receiver
    # When a notice is posted to a hook under it
    result = notifier(hooks).post(hook_url(hooks), NOTICE, sent_at=SENT_AT)
    # Then it is delivered, and the outbox shows it as a "webhook" call with its headers and JSON body
    assert result.outcome is NotifyOutcome.DELIVERED and result.state is NoticeState.DELIVERED
    [entry] = hooks.sent()
    assert (entry["provider"], entry["method"], entry["path"], entry["status"]) == (
        "webhook",
        "POST",
        "/__fake__/hooks/sla",
        200,
    )
    assert entry["json"] == json.loads(notice_body(NOTICE))
    [call] = hooks.calls("webhook")
    assert call.body == notice_body(NOTICE)
    assert call.header("Content-Type") == "application/json"
    assert call.header("Idempotency-Key") == call.header("X-Switchboard-Event-Id") == NOTICE.event_id
    assert call.header("X-Switchboard-Timestamp") == str(int(SENT_AT.timestamp()))
    assert verify_signature(
        KEY, call.header("X-Switchboard-Signature"), call.header("X-Switchboard-Timestamp"), call.body, SENT_AT
    )


def test_a_repeated_notice_carries_the_same_event_id_and_body_with_a_fresh_signature(hooks):
    # Given a notice posted once, and again a minute later (a sweep that died before recording the first)
    webhooks = notifier(hooks)
    webhooks.post(hook_url(hooks), NOTICE, sent_at=SENT_AT)
    webhooks.post(hook_url(hooks), NOTICE, sent_at=SENT_AT + timedelta(minutes=1))
    # Then the receiver can dedupe: same event id and body, each signed for its own time
    first, second = hooks.calls("webhook")
    assert first.header("X-Switchboard-Event-Id") == second.header("X-Switchboard-Event-Id")
    assert first.body == second.body
    assert first.header("X-Switchboard-Signature") != second.header("X-Switchboard-Signature")


def test_a_receiver_that_checks_signatures_takes_ours_and_refuses_a_wrong_key_or_a_stale_one(hooks):
    # Given a hook receiver that knows the signing key and checks requests against its own clock
    checks_signatures(hooks, KEY)
    now = datetime.now(UTC)  # the fake judges staleness against the wall clock
    # When notices are posted now with the key, with another key, and stamped ten minutes ago
    right = notifier(hooks).post(hook_url(hooks), NOTICE, sent_at=now)
    wrong_key = notifier(hooks, key=b"not the receiver's key, 32 chars").post(hook_url(hooks), NOTICE, sent_at=now)
    stale = notifier(hooks).post(hook_url(hooks), NOTICE, sent_at=now - timedelta(minutes=10))
    # Then the first is delivered; the others are refused with 401, for good
    assert right.outcome is NotifyOutcome.DELIVERED
    assert (wrong_key.outcome, wrong_key.reason) == (NotifyOutcome.REJECTED, "the webhook refused it (401)")
    assert stale.outcome is NotifyOutcome.REJECTED
    assert [entry["status"] for entry in reversed(hooks.sent())] == [200, 401, 401]


@pytest.mark.parametrize("status", [500, 502, 503, 429, 408])
def test_a_receiver_that_fails_or_throttles_is_worth_another_try(hooks, status):
    # Given a hook that answers 5xx, 429 or 408 once
    hooks.fail("/__fake__/hooks/sla", status=status)
    # When a notice is posted
    result = notifier(hooks).post(hook_url(hooks), NOTICE, sent_at=SENT_AT)
    # Then it is to be tried again later, the notice pending
    assert (result.outcome, result.reason) == (NotifyOutcome.RETRY, f"the webhook answered {status}")
    assert result.state is NoticeState.PENDING


@pytest.mark.parametrize("status", [400, 403, 404, 410, 422])
def test_a_receiver_that_refuses_the_notice_is_never_retried(hooks, status):
    # Given a hook that answers a 4xx other than 408 and 429
    hooks.fail("/__fake__/hooks/sla", status=status)
    # When a notice is posted
    result = notifier(hooks).post(hook_url(hooks), NOTICE, sent_at=SENT_AT)
    # Then it is rejected for good
    assert (result.outcome, result.reason) == (NotifyOutcome.REJECTED, f"the webhook refused it ({status})")
    assert result.state is NoticeState.REJECTED


def test_a_receiver_that_does_not_answer_in_time_is_worth_another_try(hooks):
    # Given a hook that stalls past the read timeout
    hooks.stall("/__fake__/hooks/sla", seconds=0.6)
    # When a notice is posted with a 0.2 s read timeout
    result = notifier(hooks, read_timeout=0.2).post(hook_url(hooks), NOTICE, sent_at=SENT_AT)
    # Then it is tried again later (with the same event id, on which the receiver dedupes)
    assert (result.outcome, result.reason) == (NotifyOutcome.RETRY, "no answer from the webhook within 0.2 s")


def test_a_receiver_that_cannot_be_reached_is_worth_another_try():
    # Given a local hooks base on a port nothing listens on
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}/__fake__/hooks/"
    webhooks = WebhookNotifier(urllib3.PoolManager(), KEY, local_hooks_base=base)
    # When a notice is posted there
    result = webhooks.post(f"{base}sla", NOTICE, sent_at=SENT_AT)
    # Then it is tried again later
    assert (result.outcome, result.reason) == (NotifyOutcome.RETRY, "no connection to the webhook")


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_rejected_and_not_followed(hooks, status):
    # Given a hook that redirects to another hook
    outbound_hooks.REDIRECTS["/__fake__/hooks/sla"] = (status, hook_url(hooks, "elsewhere"))
    # When a notice is posted
    result = notifier(hooks).post(hook_url(hooks), NOTICE, sent_at=SENT_AT)
    # Then it is rejected: the notice goes to the configured URL or nowhere
    assert result.outcome is NotifyOutcome.REJECTED
    assert result.reason == f"the webhook redirected ({status}); it must answer at its configured URL"
    assert hooks.requests_to("/__fake__/hooks/elsewhere") == 0


def test_a_url_the_rule_refuses_is_rejected_without_a_request(hooks):
    # Given a plain-http URL outside the local hooks base
    # When a notice is posted there
    result = notifier(hooks).post("http://hooks.example/sla", NOTICE, sent_at=SENT_AT)
    # Then it is rejected with the rule's reason, and nothing was sent
    assert (result.outcome, result.reason) == (NotifyOutcome.REJECTED, "a webhook URL must use https")
    assert hooks.sent() == []


def test_an_unreadable_signing_key_leaves_the_notice_unsent_and_pending(hooks):
    # Given a signing key that cannot be read (Secrets Manager down)
    def unreadable() -> bytes:
        raise ConnectionError("secretsmanager unreachable")

    webhooks = WebhookNotifier(urllib3.PoolManager(), unreadable, local_hooks_base=hooks_base(hooks.base_url))
    # When a notice is posted
    result = webhooks.post(hook_url(hooks), NOTICE, sent_at=SENT_AT)
    # Then nothing unsigned went out, and the notice is tried again later
    assert (result.outcome, result.reason) == (NotifyOutcome.RETRY, "the webhook signing key could not be read")
    assert hooks.sent() == []


@contextlib.contextmanager
def log_output() -> Iterator[io.StringIO]:
    captured = io.StringIO()
    previous = logger.registered_handler.setStream(captured)
    try:
        yield captured
    finally:
        logger.registered_handler.setStream(previous)


def test_the_log_names_the_host_and_outcome_never_the_query_body_or_key(hooks):
    # Given a hook URL whose query holds the receiver's token
    url = hook_url(hooks, "sla?token=receiver-secret-token")
    with log_output() as captured:
        # When a notice is posted there, and again when the hook fails
        notifier(hooks).post(url, NOTICE, sent_at=SENT_AT)
        hooks.fail("/__fake__/hooks/sla", status=503)
        notifier(hooks).post(url, NOTICE, sent_at=SENT_AT)
    # Then each line names the host and the outcome, and none holds the token, the body or the key
    lines = [json.loads(line) for line in captured.getvalue().splitlines()]
    assert [(line["where"], line["outcome"]) for line in lines] == [("127.0.0.1", "delivered"), ("127.0.0.1", "retry")]
    text = captured.getvalue()
    assert "receiver-secret-token" not in text and KEY.decode() not in text and NOTICE.policy not in text


# -- the URL rule the admin API shares ------------------------------------------------------------------------

LOCAL = "http://127.0.0.1:4010/__fake__/hooks/"


@pytest.mark.parametrize(
    ("url", "local_base", "problem"),
    [
        ("https://hooks.example/sla", "", None),
        ("https://hooks.example:8443/sla?team=ops#x", "", None),
        ("HTTPS://hooks.example/sla", "", None),
        ("https://[2001:db8::1]/sla", "", None),
        ("http://hooks.example/sla", "", "a webhook URL must use https"),
        ("ftp://hooks.example/sla", "", "a webhook URL must use https"),
        ("hooks.example/sla", "", "a webhook URL must use https"),
        ("https://user:pass@hooks.example/sla", "", "a webhook URL must not carry a user name or password"),
        ("https://token@hooks.example/sla", "", "a webhook URL must not carry a user name or password"),
        ("https:///sla", "", "a webhook URL needs a host"),
        ("https://hooks.example:99999/sla", "", "a webhook URL must be a valid URL"),
        ("https://[::1/sla", "", "a webhook URL must be a valid URL"),
        ("https://hooks.example/a b", "", "a webhook URL has no spaces or control characters"),
        ("https://hooks.example/\r\nX-Injected: 1", "", "a webhook URL has no spaces or control characters"),
        ("", "", "a webhook URL is required"),
        ("https://hooks.example/" + "a" * 2026, "", None),
        ("https://hooks.example/" + "a" * 2027, "", "a webhook URL is at most 2048 characters"),
        (f"{LOCAL}sla", LOCAL, None),
        (f"{LOCAL}team/sla?x=1", LOCAL, None),
        (f"{LOCAL}sla", "", "a webhook URL must use https"),
        ("http://127.0.0.1:4010/__fake__/sent", LOCAL, "a webhook URL must use https"),
        ("http://127.0.0.1:40101/__fake__/hooks/sla", LOCAL, "a webhook URL must use https"),
        (f"{LOCAL}../../telegram/bot1/sendMessage", LOCAL, f"a local webhook URL stays under {LOCAL}"),
        (f"{LOCAL}sla", LOCAL.rstrip("/"), "a webhook URL must use https"),
    ],
)
def test_the_webhook_url_rule(url, local_base, problem):
    # Given a URL a policy names, on a deployment with or without local hooks
    # Then the rule accepts it or says what is wrong with it
    assert webhook_url_problem(url, local_base) == problem


# -- SNS, on moto ---------------------------------------------------------------------------------------------


@pytest.fixture
def sns() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("sns", region_name="us-east-1")


def subscribed_queue(sns: Any, topic_arn: str, *, fifo: bool = False) -> str:
    """An SQS queue subscribed to the topic (raw delivery for FIFO, so its ids show on the message)."""
    sqs = boto3.client("sqs", region_name="us-east-1")
    attributes = {"FifoQueue": "true"} if fifo else {}
    queue_url = sqs.create_queue(QueueName="notices.fifo" if fifo else "notices", Attributes=attributes)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true"} if fifo else {},
    )
    return queue_url


def received(queue_url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name="us-east-1")
    return sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
    ).get("Messages", [])


def test_a_notice_published_to_a_standard_topic_carries_the_body_subject_and_event_id(sns):
    # Given a standard topic with a queue subscribed
    topic_arn = sns.create_topic(Name="sla-breaches")["TopicArn"]
    queue_url = subscribed_queue(sns, topic_arn)
    # When a notice is published
    result = SnsNotifier(sns).publish(topic_arn, NOTICE)
    # Then it is delivered with the same JSON body as the webhook's, a short subject and the event id attribute
    assert result.outcome is NotifyOutcome.DELIVERED
    [message] = received(queue_url)
    envelope = json.loads(message["Body"])
    assert envelope["Message"] == notice_body(NOTICE).decode()
    assert envelope["Subject"] == "SLA breach: ticket #42 first_reply level 1"
    assert envelope["MessageAttributes"]["event_id"] == {"Type": "String", "Value": NOTICE.event_id}
    assert envelope["MessageAttributes"]["level"] == {"Type": "Number", "Value": "1"}


def test_a_notice_published_twice_to_a_fifo_topic_is_delivered_once(sns):
    # Given a FIFO topic with a FIFO queue subscribed
    topic_arn = sns.create_topic(Name="sla-breaches.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    queue_url = subscribed_queue(sns, topic_arn, fifo=True)
    # When the same notice is published twice (a sweep died before recording the first)
    topics = SnsNotifier(sns)
    results = [topics.publish(topic_arn, NOTICE), topics.publish(topic_arn, NOTICE)]
    # Then both calls succeed, and the topic delivers it once, grouped by ticket and deduplicated by event id
    assert [result.outcome for result in results] == [NotifyOutcome.DELIVERED] * 2
    [message] = received(queue_url)
    assert message["Body"] == notice_body(NOTICE).decode()
    assert message["Attributes"]["MessageGroupId"] == NOTICE.ticket_id
    assert message["Attributes"]["MessageDeduplicationId"] == NOTICE.event_id


def test_a_notice_to_a_topic_that_does_not_exist_is_rejected(sns):
    # Given no topic by that name
    topic_arn = "arn:aws:sns:us-east-1:123456789012:no-such-topic"
    # When a notice is published there
    result = SnsNotifier(sns).publish(topic_arn, NOTICE)
    # Then it is rejected for good
    assert (result.outcome, result.reason) == (NotifyOutcome.REJECTED, "SNS refused it (NotFound)")


@pytest.mark.parametrize(
    ("code", "status", "outcome"),
    [
        ("Throttled", 429, NotifyOutcome.RETRY),
        ("KMSThrottling", 400, NotifyOutcome.RETRY),
        ("InternalError", 500, NotifyOutcome.RETRY),
        ("ServiceUnavailable", 503, NotifyOutcome.RETRY),
        ("NotFound", 404, NotifyOutcome.REJECTED),
        ("InvalidParameter", 400, NotifyOutcome.REJECTED),
        ("AuthorizationError", 403, NotifyOutcome.REJECTED),
        ("KMSDisabled", 400, NotifyOutcome.REJECTED),
    ],
)
def test_sns_errors_are_retried_when_throttled_or_the_service_fails_and_rejected_otherwise(code, status, outcome):
    # Given SNS answering Publish with an error
    client = boto3.client("sns", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_client_error("publish", service_error_code=code, http_status_code=status)
        # When a notice is published
        result = SnsNotifier(client).publish("arn:aws:sns:us-east-1:123456789012:sla-breaches", NOTICE)
    # Then throttling and 5xx are worth another try; everything else is for good
    assert result.outcome is outcome
    assert code in (result.reason or "")


def test_sns_that_cannot_be_reached_is_worth_another_try():
    # Given an SNS endpoint with no connection
    class Unreachable:
        def publish(self, **request: Any) -> dict[str, Any]:
            raise EndpointConnectionError(endpoint_url="https://sns.us-east-1.amazonaws.com")

    # When a notice is published
    result = SnsNotifier(Unreachable()).publish("arn:aws:sns:us-east-1:123456789012:sla-breaches", NOTICE)
    # Then it is tried again later
    assert (result.outcome, result.reason) == (NotifyOutcome.RETRY, "no answer from SNS (EndpointConnectionError)")


def test_the_subject_is_printable_ascii_under_100_characters():
    # Given a notice whose metric name is long and not ASCII
    notice = NOTICE.model_copy(update={"metric": "첫 응답" + "x" * 60, "ticket_number": 10**12})
    # When its subject is made
    subject = sns_subject(notice)
    # Then SNS takes it: printable ASCII, fewer than 100 characters
    assert subject.startswith("SLA breach: ticket #1000000000000 ? ??xxx")
    assert len(subject) <= MAX_SUBJECT_CHARS < 100
    assert all(" " <= character <= "~" for character in subject)


# -- the enforcer's sender -------------------------------------------------------------------------------------


def delivery(target_kind: str, target: str) -> SlaNoticeDelivery:
    return SlaNoticeDelivery(
        event_id=NOTICE.event_id,
        ticket_id=NOTICE.ticket_id,
        ticket_number=NOTICE.ticket_number,
        policy=NOTICE.policy,
        metric=SlaMetric.FIRST_REPLY,
        activation=1,
        level=1,
        channel=NOTICE.channel,
        priority=NOTICE.priority,
        due_at=NOTICE.due_at,
        breached_at=NOTICE.breached_at,
        action_index=0,
        target_kind=target_kind,  # type: ignore[arg-type]
        target=target,
        next_try_at=SENT_AT,
    )


def test_the_enforcers_sender_posts_a_webhook_notice_signed_when_it_leaves(hooks, sns):
    # Given a sweep that started at SENT_AT and reaches this notice 90 seconds later
    later = SENT_AT + timedelta(seconds=90)
    sender = SlaNoticeSender(notifier(hooks), SnsNotifier(sns), clock=lambda: later)
    # When it sends a webhook notice
    result = sender.send(delivery("webhook", hook_url(hooks)), SENT_AT)
    # Then the notice goes out as the webhook's body, stamped with the time it left
    assert result.state is NoticeState.DELIVERED
    [call] = hooks.calls("webhook")
    assert call.body == notice_body(NOTICE)
    assert call.header("X-Switchboard-Timestamp") == str(int(later.timestamp()))


def test_the_enforcers_sender_publishes_a_topic_notice(sns):
    # Given a standard topic with a queue subscribed
    topic_arn = sns.create_topic(Name="sla-breaches")["TopicArn"]
    queue_url = subscribed_queue(sns, topic_arn)
    webhooks = WebhookNotifier(urllib3.PoolManager(), KEY)
    # When the enforcer's sender sends a notice whose target is the topic
    result = SlaNoticeSender(webhooks, SnsNotifier(sns)).send(delivery("sns", topic_arn), SENT_AT)
    # Then it is published there
    assert result.state is NoticeState.DELIVERED
    [message] = received(queue_url)
    assert json.loads(message["Body"])["Message"] == notice_body(NOTICE).decode()
