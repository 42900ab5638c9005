"""The outbox's guarantee, per channel, under every single fault on the sending path: each AWS call the channel
sender makes failing once (refused, unreachable, or applied with its answer lost), and the provider call failing
once (a 5xx, no answer after it acted, the sender dying after it answered). The documented result: exactly one
accepted send where the provider takes an idempotency key (LINE push), and never a blind duplicate anywhere: a
reply ends `sent` after at most one accepted provider request, or `unknown` after exactly one
(docs/architecture.md, "The outbound path")."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import timedelta

import pytest

from switchboard.email.outgoing import new_message_id
from switchboard.models import utc_now
from tests.support.drivers import DRIVERS, ChannelDriver
from tests.support.drivers.email import MAILBOX
from tests.support.faults import Fault, FaultyClient
from tests.support.lambda_events import AGENT_CLAIMS

# Every channel an agent can answer on; mail once (its four intake paths send alike); KakaoTalk takes no reply.
SENDING = [d for d in DRIVERS if d.name not in ("kakao", "mailgun", "postmark", "sendgrid")]


@pytest.fixture(params=SENDING, ids=lambda driver: driver.name)
def sending(request: pytest.FixtureRequest) -> ChannelDriver:
    return request.param


@pytest.fixture
def quick_sender(monkeypatch: pytest.MonkeyPatch) -> None:
    """A dead sender's lease runs out at once, and a provider's late answer is a timeout after 0.3 s: the test's
    clock is its own (the queue redelivers at once here too)."""
    from switchboard.channels import sending
    from switchboard.email import sender as email_sender

    monkeypatch.setattr("switchboard.outbound.sender.LEASE", timedelta(0))
    original = sending.SendHttp.__init__

    def short(self, connect_timeout: float = 3.0, read_timeout: float = 10.0) -> None:
        original(self, connect_timeout=connect_timeout, read_timeout=0.3)

    monkeypatch.setattr(sending.SendHttp, "__init__", short)
    config = email_sender.ses_client_config
    monkeypatch.setattr(email_sender, "ses_client_config", lambda: config(read_timeout=0.3))
    # Pacing still reads and writes its rate items (calls under test), but a chat's 1 message a second would
    # make this test wait out every reply.
    from switchboard.outbound import pacing

    limits_of = pacing.limits_of

    def thousandfold(request, *args, **kwargs):
        return [
            replace(limit, rate_per_second=limit.rate_per_second * 1000)
            for limit in limits_of(request, *args, **kwargs)
        ]

    monkeypatch.setattr(pacing, "limits_of", thousandfold)


class Conversation:
    """One customer on one channel, and the agent's replies to them."""

    def __init__(self, stack, driver: ChannelDriver, fake_providers) -> None:
        self.stack, self.driver, self.fake = stack, driver, fake_providers
        harness = stack.channel(driver)
        customer = driver.customer(7, "박지훈")
        body = driver.text_message(
            customer,
            message_id=driver.message_id("start"),
            text="문의드립니다",
            sent_at=utc_now() - timedelta(minutes=2),
        )
        assert harness.deliver(body).status < 300
        assert stack.drain_queue().failed_records == 0
        (listed,) = stack.tickets()
        self.ticket_id = listed["id"]
        self.replies = 0

    def reply(self) -> str:
        """Accepts a new reply and returns its text (each reply's text names it, in ASCII so that it reads as
        is in a mail's MIME too)."""
        self.replies += 1
        text = f"Reply number {self.replies} to your question"
        headers = {"content-type": "application/json", "idempotency-key": f"fault-{self.replies}"}
        accepted = self.stack.http(
            "POST",
            f"/tickets/{self.ticket_id}/replies",
            headers=headers,
            body=json.dumps({"text": text}).encode(),
            claims=AGENT_CLAIMS,
        )
        assert accepted.status == 202, accepted.body
        return text

    def send_everything(self) -> None:
        """The sender, redelivered until done, and the sweep (a minute later) for anything left unsettled."""
        self.stack.drain_outbound_queue()
        try:
            self.stack.sweep_outbox()
        except Exception:  # noqa: BLE001 - a failed scheduled run is run again (EventBridge retries it)
            self.stack.sweep_outbox()
        self.stack.drain_outbound_queue()

    def status_of(self, text: str) -> str:
        (message,) = [m for m in self._timeline() if m["text"] == text]
        return message["delivery_status"]

    def accepted_sends_of(self, text: str) -> int:
        """Requests for this reply that the provider took (LINE's 409 for a repeated retry key took nothing new)."""
        return sum(1 for entry in self._requests_for(text) if _took(entry))

    def requests_for(self, text: str) -> int:
        return len(self._requests_for(text))

    def _requests_for(self, text: str) -> list[dict]:
        # A mail quotes the replies before it and encodes its Korean parts: it is known by its Message-ID.
        needle = text
        if self.driver.channel.value == "email":
            (message,) = [m for m in self._timeline() if m["text"] == text]
            needle = new_message_id(message["attempt_id"], MAILBOX.rpartition("@")[2]).strip("<>")
        return [entry for entry in self._answered() if needle in json.dumps(entry, ensure_ascii=False)]

    def _answered(self) -> list[dict]:
        """The fake's log once every request has been answered (a stalled one answers after our timeout)."""
        deadline = time.monotonic() + 5
        while any("status" not in entry for entry in self.fake.sent()) and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.fake.sent()

    def send_path(self) -> str:
        return self.fake.sent()[0]["path"].split("?")[0]

    def _timeline(self) -> list[dict]:
        return self.stack.ticket(self.ticket_id)["messages"]


def _took(entry: dict) -> bool:
    return 200 <= (entry.get("status") or 0) < 300


def test_any_single_failed_aws_call_of_the_sender_never_sends_a_reply_twice(
    stack, sending, fake_providers, quick_sender
):
    # Given a customer on the channel, and the sender's DynamoDB client wrapped so one chosen call fails
    conversation = Conversation(stack, sending, fake_providers)
    dynamodb: FaultyClient = stack.wrap_runtime_client("dynamodb", FaultyClient)
    # And the calls one reply's send makes without faults
    clean = conversation.reply()
    dynamodb.disarm()
    conversation.send_everything()
    calls = list(dynamodb.calls)
    assert conversation.status_of(clean) == "sent" and len(calls) >= 3
    # When each of those calls in turn fails once: not applied (refused; unreachable takes the same path through
    # our code), or, for a write, applied with its answer lost (a read whose answer is lost changed nothing, as a
    # refused one)
    problems = []
    for fault in (Fault.REFUSED, Fault.RESPONSE_LOST):
        for number, operation in enumerate(calls, start=1):
            if fault is Fault.RESPONSE_LOST and operation in ("GetItem", "BatchGetItem", "Query"):
                continue
            text = conversation.reply()
            dynamodb.arm(number, fault)
            conversation.send_everything()
            dynamodb.disarm()
            status, taken = conversation.status_of(text), conversation.accepted_sends_of(text)
            # Then the reply is settled, and never taken twice: sent once, or unknown after one request at most
            if status not in ("sent", "unknown") or taken > 1 or (status == "sent" and taken != 1):
                problems.append(f"call {number} ({operation}) {fault.value}: {status}, taken {taken}x")
    assert problems == []


@pytest.mark.parametrize("fault", ["provider_5xx", "timeout_after_acting", "crash_after_answer"])
def test_a_provider_fault_sends_once_or_leaves_the_reply_unknown_never_twice(
    stack, sending, fake_providers, quick_sender, monkeypatch, fault
):
    # Given a customer on the channel and the provider's send endpoint
    conversation = Conversation(stack, sending, fake_providers)
    for _ in range(2):
        # Two replies first: on LINE the first spends the customer's reply token, and the rest go by push.
        conversation.reply()
        conversation.send_everything()
    path = conversation.send_path()
    # When the next reply's provider call fails once in this way
    if fault == "provider_5xx":
        fake_providers.fail(path, status=503)
    elif fault == "timeout_after_acting":
        fake_providers.stall(path, seconds=1.0)
    else:
        _crash_once_after_the_provider_answers(monkeypatch)
    text = conversation.reply()
    conversation.send_everything()
    # Then a 5xx is retried and sent once; after a timeout or a crash the provider took it once: LINE's push is
    # sent again with its retry key (LINE answers 409, already accepted) and is sent; every other provider has
    # no idempotency key to make a repeat safe, so the reply is unknown, never sent again
    status, taken = conversation.status_of(text), conversation.accepted_sends_of(text)
    if fault == "provider_5xx" or sending.name == "line":
        assert (status, taken) == ("sent", 1)
    else:
        assert (status, taken) == ("unknown", 1)


def test_line_push_after_a_timeout_or_a_crash_is_resent_with_its_retry_key_and_delivered_exactly_once(
    stack, fake_providers, quick_sender, monkeypatch
):
    # Given a LINE customer whose reply token has expired (the reply goes by push, with X-Line-Retry-Key)
    from tests.support.drivers.line import LineDriver

    monkeypatch.setattr("switchboard.outbound.requests.REPLY_TOKEN_MARGIN", timedelta(days=1))
    conversation = Conversation(stack, LineDriver(), fake_providers)
    conversation.reply()
    conversation.send_everything()
    path = conversation.send_path()
    assert path.endswith("/v2/bot/message/push")
    # When one reply's push times out after LINE took it, and another's sender dies after LINE answered
    fake_providers.stall(path, seconds=1.0)
    timed_out = conversation.reply()
    conversation.send_everything()
    _crash_once_after_the_provider_answers(monkeypatch)
    crashed = conversation.reply()
    conversation.send_everything()
    # Then each was pushed again with the same retry key, LINE answered 409 (already accepted), and each
    # reached the customer exactly once and is sent
    for text in (timed_out, crashed):
        assert conversation.status_of(text) == "sent"
        assert conversation.accepted_sends_of(text) == 1
        assert conversation.requests_for(text) == 2
        retry_keys = {
            entry["headers"].get("X-Line-Retry-Key")
            for entry in fake_providers.sent()
            if text in json.dumps(entry, ensure_ascii=False)
        }
        assert len(retry_keys) == 1


def _crash_once_after_the_provider_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sender dies after the provider answered and before it recorded the answer."""
    from switchboard.store import outbox

    original = outbox.OutboxRepository.record_outcome
    state = {"crashed": False}

    def record_outcome(self, *args, **kwargs):
        if not state["crashed"]:
            state["crashed"] = True
            raise RuntimeError("injected: the sender died after the provider answered")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(outbox.OutboxRepository, "record_outcome", record_outcome)
