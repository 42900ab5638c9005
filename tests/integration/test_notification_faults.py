"""The notification sender's guarantee under every single fault on its path: each AWS call it makes failing once
(refused, or applied with its answer lost), and the provider call failing once (a 5xx, no answer after it acted, the
sender dying after it answered); and an opt-out racing a send. The documented result (docs/notifications.md, "Exactly
once, and what can repeat"): one message, or `unknown` after exactly one request to a provider that takes no
idempotency key; never two; never a message on a channel after an opt-out from it committed before the send's claim."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import timedelta

import pytest

from switchboard.channels.line import retry_key
from switchboard.models import Channel, InboundMessage, NotifyChannel, SenderIdentity, utc_now
from switchboard.orders.events import OrderCustomer
from switchboard.store.notifications import NotificationRepository
from switchboard.tickets.writer import record_inbound
from tests.integration.test_notification_sending import (
    ALIMTALK_SENDERS,
    Shop,
    customer_writes_on_whatsapp,
    rules,
    twilio_sends,
)
from tests.support.drivers.line import BOT_USER_ID
from tests.support.drivers.twilio import TwilioDriver
from tests.support.faults import Fault, FaultyClient
from tests.support.orders import MINJUN
from tests.support.stack import run_together

S, M = NotifyChannel.SMS, NotifyChannel.EMAIL
LINE_PUSH = "/line-api/v2/bot/message/push"
TWILIO_PATH = "/twilio/2010-04-01/Accounts/{}/Messages.json".format(TwilioDriver.secrets["account_sid"])


@pytest.fixture
def quick_sender(monkeypatch: pytest.MonkeyPatch) -> None:
    """A dead sender's lease runs out at once, a provider's late answer is a timeout after 0.3 s, a retry waits a
    second: the test's clock is its own."""
    from switchboard.channels import sending
    from switchboard.outbound import pacing
    from switchboard.proactive import sender

    monkeypatch.setattr(sender, "LEASE", timedelta(0))
    monkeypatch.setattr(sender, "BACKOFF_BASE_SECONDS", 1)
    original = sending.SendHttp.__init__

    def short(self, connect_timeout: float = 3.0, read_timeout: float = 10.0) -> None:
        original(self, connect_timeout=connect_timeout, read_timeout=0.3)

    monkeypatch.setattr(sending.SendHttp, "__init__", short)
    limits_of = pacing.limits_of

    def thousandfold(request, *args, **kwargs):
        # Pacing still reads and writes its rate items (calls under test), without making the test wait a second
        # between one number's messages.
        return [
            replace(limit, rate_per_second=limit.rate_per_second * 1000)
            for limit in limits_of(request, *args, **kwargs)
        ]

    monkeypatch.setattr(pacing, "limits_of", thousandfold)


class Numbered:
    """Each notification of the run is for its own order, numbered, so that its provider request can be told apart."""

    def __init__(self, shop: Shop, fake_providers, customer: OrderCustomer = MINJUN) -> None:
        self.shop, self.fake, self.customer = shop, fake_providers, customer
        self.count = 0

    def event(self) -> tuple[str, str]:
        self.count += 1
        number = str(1000 + self.count)
        return self.shop.event(order_id=f"F-{number}", customer=self.customer), number

    def requests_for(self, number: str) -> list[dict]:
        """Requests to any provider naming this order: an SMS's text, or a WhatsApp template's parameter."""
        return [
            entry
            for entry in self._answered()
            if f"주문 {number} " in (entry.get("form") or {}).get("Body", "")
            or f'"{number}"' in json.dumps(entry.get("json"), ensure_ascii=False)
        ]

    def taken(self, number: str) -> int:
        """Requests for this order's notification that a provider took."""
        return sum(1 for entry in self.requests_for(number) if 200 <= (entry.get("status") or 0) < 300)

    def _answered(self) -> list[dict]:
        """The fake's log once every request has been answered (a stalled one answers after our timeout)."""
        deadline = time.monotonic() + 5
        while any("status" not in entry for entry in self.fake.sent()) and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.fake.sent()


@pytest.mark.parametrize("customer_wrote", [False, True], ids=["sms", "whatsapp-with-open-ticket"])
def test_any_single_failed_aws_call_of_the_sender_still_sends_the_notification_exactly_once(
    stack, fake_providers, quick_sender, customer_wrote
):
    # Given SMS first in the chain, or a customer who wrote on WhatsApp (their channel first, their ticket open, so
    # the send also reads their tickets and writes a copy on the open one); and the sender's DynamoDB client wrapped
    # so that one chosen call fails
    shop = Shop(stack, rules(S, M))
    customer = MINJUN
    if customer_wrote:
        customer = MINJUN.model_copy(update={"phone": "+" + customer_writes_on_whatsapp(stack)})
    run = Numbered(shop, fake_providers, customer)
    dynamodb: FaultyClient = stack.wrap_runtime_client("dynamodb", FaultyClient)
    # And the calls one notification's send makes without faults
    clean, number = run.event()
    dynamodb.disarm()
    shop.send_all()
    calls = list(dynamodb.calls)
    assert shop.notification(clean).state.value == "sent" and run.taken(number) == 1
    assert {"GetItem", "UpdateItem", "TransactWriteItems"} <= set(calls)
    assert ("BatchGetItem" in calls) is customer_wrote
    # When each of those calls in turn fails once: refused (unreachable takes the same path through our code), or,
    # for a write, applied with its answer lost
    problems = []
    for fault in (Fault.REFUSED, Fault.RESPONSE_LOST):
        for call_number, operation in enumerate(calls, start=1):
            if fault is Fault.RESPONSE_LOST and operation in ("GetItem", "BatchGetItem", "Query"):
                continue
            notification_id, number = run.event()
            dynamodb.arm(call_number, fault)
            shop.send_all()
            dynamodb.disarm()
            state, taken = shop.notification(notification_id).state.value, run.taken(number)
            # Then it is sent, and the provider took it once: nothing the sender reads or writes before the call can
            # make it call twice, and a failed record of the send is written again rather than left unknown
            if (state, taken) != ("sent", 1):
                problems.append(f"call {call_number} ({operation}) {fault.value}: {state}, taken {taken}x")
    assert problems == []
    if customer_wrote:
        # And the open ticket shows each notification once
        (listed,) = stack.tickets()
        copies = [m for m in stack.ticket(listed["id"])["messages"] if m["author_kind"] == "system"]
        assert len(copies) == run.count


def test_a_failed_secret_read_sends_the_notification_once_on_redelivery(stack, fake_providers, quick_sender):
    # Given the sender's Secrets Manager client failing its first call
    shop = Shop(stack, rules(S, M))
    run = Numbered(shop, fake_providers)
    secrets: FaultyClient = stack.wrap_runtime_client("secretsmanager", FaultyClient)
    secrets.arm(1, Fault.UNREACHABLE)
    notification_id, number = run.event()
    # When the sender function runs (and the queue delivers again what it reported failed)
    shop.send_all()
    # Then the claim was handed back before any call, and the notification went once
    assert (shop.notification(notification_id).state.value, run.taken(number)) == ("sent", 1)


@pytest.mark.parametrize("fault", ["provider_5xx", "timeout_after_acting", "crash_after_answer"])
def test_a_provider_fault_sends_once_or_leaves_the_notification_unknown_never_twice(
    stack, fake_providers, quick_sender, monkeypatch, fault
):
    # Given SMS first, and Twilio's send failing once in this way
    shop = Shop(stack, rules(S, M))
    run = Numbered(shop, fake_providers)
    if fault == "provider_5xx":
        fake_providers.fail(TWILIO_PATH, status=503)
    elif fault == "timeout_after_acting":
        fake_providers.stall(TWILIO_PATH, seconds=1.0)
    else:
        _die_once_after_the_provider_answers(monkeypatch)
    notification_id, number = run.event()
    # When the sender function runs until nothing is left
    shop.send_all()
    # Then a 5xx is tried again and sent once; after a timeout or a crash Twilio took it once, and since its Messages
    # API takes no idempotency key the notification is unknown, never sent again, on SMS or on email
    settled = shop.notification(notification_id)
    if fault == "provider_5xx":
        assert (settled.state.value, run.taken(number), len(run.requests_for(number))) == ("sent", 1, 2)
    else:
        assert (settled.state.value, run.taken(number)) == ("unknown", 1)
        assert [entry for entry in fake_providers.sent() if entry["provider"] == "ses"] == []


@pytest.mark.parametrize("fault", ["timeout_after_acting", "crash_after_answer"])
def test_line_push_after_a_timeout_or_a_crash_is_resent_with_its_retry_key_and_delivered_exactly_once(
    stack, fake_providers, quick_sender, monkeypatch, fault
):
    # Given a customer who wrote on LINE (their channel first), and LINE's push failing once in this way
    line_user = "U" + "5" * 32
    record_inbound(
        InboundMessage(
            channel=Channel.LINE,
            channel_account_id=BOT_USER_ID,
            conversation_id=line_user,
            external_id="line-msg-1",
            sender=SenderIdentity(external_id=line_user, display_name="김민준", phone_e164=MINJUN.phone),
            message_type="text",
            text="배송 언제 와요?",
            provider_timestamp=utc_now() - timedelta(minutes=5),
            received_at=utc_now() - timedelta(minutes=5),
        ),
        stack.repositories(),
    )
    shop = Shop(stack, rules(S, M))
    if fault == "timeout_after_acting":
        fake_providers.stall(LINE_PUSH, seconds=1.0)
    else:
        _die_once_after_the_provider_answers(monkeypatch)
    notification_id = shop.event()
    # When the sender function runs until nothing is left
    shop.send_all()
    # Then the push went twice with one X-Line-Retry-Key (derived from the notification id), LINE took the first
    # and answered the repeat 409 (already accepted), and the notification is sent on LINE: exactly once
    pushes = [call for call in fake_providers.calls("line") if call.path == LINE_PUSH]
    assert len(pushes) == 2 and {call.header("X-Line-Retry-Key") for call in pushes} == {retry_key(notification_id)}
    assert [entry["status"] for entry in fake_providers.sent() if entry["provider"] == "line"] == [409, 200]
    settled = shop.notification(notification_id)
    assert (settled.state.value, settled.channel) == ("sent", NotifyChannel.LINE)
    assert twilio_sends(fake_providers) == []


@pytest.mark.parametrize("fault", ["provider_5xx", "timeout_after_acting", "crash_after_answer"])
def test_alimtalk_after_any_provider_fault_is_delivered_exactly_once(
    stack, fake_providers, quick_sender, monkeypatch, fault
):
    # Given AlimTalk first, and NHN Cloud's send failing once in this way
    shop = Shop(stack, rules(NotifyChannel.ALIMTALK, S, M, senders=ALIMTALK_SENDERS))
    path = f"/alimtalk-api/alimtalk/v2.2/appkeys/{fake_providers.credentials.alimtalk_app_key}/messages"
    if fault == "provider_5xx":
        fake_providers.fail(path, status=503)
    elif fault == "timeout_after_acting":
        fake_providers.stall(path, seconds=1.0)
    else:
        _die_once_after_the_provider_answers(monkeypatch)
    notification_id = shop.event()
    # When the sender function runs until nothing is left
    shop.send_all()
    # Then the request went twice with the notification id as its X-NC-API-IDEMPOTENCY-KEY, NHN Cloud sent one
    # message (a 503 sends nothing; a repeat within 10 minutes is refused, -1005), and the notification is sent
    calls = [call for call in fake_providers.calls("alimtalk") if call.path == path]
    assert len(calls) == 2
    assert {call.header("X-NC-API-IDEMPOTENCY-KEY") for call in calls} == {notification_id}
    answers = sorted(
        (entry["status"], ((entry.get("answer") or {}).get("header") or {}).get("resultCode"))
        for entry in fake_providers.sent()
        if entry["provider"] == "alimtalk"
    )
    assert answers == ([(200, 0), (503, None)] if fault == "provider_5xx" else [(200, -1005), (200, 0)])
    settled = shop.notification(notification_id)
    assert (settled.state.value, settled.channel) == ("sent", NotifyChannel.ALIMTALK)
    assert twilio_sends(fake_providers) == []


def test_a_lost_requeue_is_found_by_the_scheduler(stack, fake_providers, quick_sender, monkeypatch):
    # Given Twilio throttling the first request, and the sender's SQS client failing to queue the retry
    from switchboard.proactive import scheduler

    shop = Shop(stack, rules(S, M))
    run = Numbered(shop, fake_providers)
    fake_providers.fail(TWILIO_PATH, status=429, retry_after="1")
    notification_id, number = run.event()
    stack.sqs.purge_queue(QueueUrl=shop.queue_url)
    sqs: FaultyClient = stack.wrap_runtime_client("sqs", FaultyClient)
    sqs.arm(1, Fault.REFUSED)
    # When the sender function is handed it: throttled, and its message for the retry lost
    assert shop.invoke(notification_id) == {"batchItemFailures": []}
    assert shop.notification(notification_id).state.value == "queued" and shop.waiting() == 0
    # And the scheduler runs once it fell due (its minute's margin for the queue taken away here)
    monkeypatch.setattr(scheduler, "LOST_AFTER", timedelta(0))
    time.sleep(1.1)
    stack.invoke("NotificationSchedulerFunction", {"source": "aws.events", "detail-type": "Scheduled Event"})
    shop.send_all()
    # Then it was queued again and sent, once
    assert (shop.notification(notification_id).state.value, run.taken(number)) == ("sent", 1)


# -- an opt-out racing a send ---------------------------------------------------------------------------------


def test_an_opt_out_that_commits_right_after_the_claim_is_honoured(stack, fake_providers, monkeypatch):
    # Given a customer whose opt-out from SMS commits between the sender's claim and its consent read
    shop = Shop(stack, rules(S, M))
    notification_id = shop.event()
    contact_id = shop.notification(notification_id).contact_id
    claim = NotificationRepository.claim

    def claim_then_opt_out(self, *args, **kwargs):
        claimed = claim(self, *args, **kwargs)
        assert shop.stack.repositories().contacts.record_consent(contact_id, S, True, utc_now(), "keyword:STOP")
        return claimed

    monkeypatch.setattr(NotificationRepository, "claim", claim_then_opt_out)
    # When the sender function runs
    shop.send_all()
    # Then SMS is skipped and email carries it
    assert twilio_sends(fake_providers) == []
    sent = shop.notification(notification_id)
    assert [(t.channel, t.outcome, t.code) for t in sent.tries_by_channel] == [
        (S, "skipped", "opted_out"),
        (M, "sent", None),
    ]


def test_an_opt_out_that_commits_after_the_send_was_decided_does_not_stop_that_send(stack, fake_providers, monkeypatch):
    # Given a customer whose opt-out commits while the SMS is on its way (after the sender read their consent)
    from switchboard.channels.twilio import TwilioAdapter

    shop = Shop(stack, rules(S, M))
    notification_id = shop.event()
    contact_id = shop.notification(notification_id).contact_id
    send = TwilioAdapter.send

    def opt_out_then_send(self, *args, **kwargs):
        assert shop.stack.repositories().contacts.record_consent(contact_id, S, True, utc_now(), "keyword:STOP")
        return send(self, *args, **kwargs)

    monkeypatch.setattr(TwilioAdapter, "send", opt_out_then_send)
    # When the sender function runs
    shop.send_all()
    # Then that SMS went (it was decided before the opt-out arrived); the next event's does not
    assert len(twilio_sends(fake_providers)) == 1
    monkeypatch.setattr(TwilioAdapter, "send", send)
    following = shop.event(order_id="A-2000")
    shop.send_all()
    assert len(twilio_sends(fake_providers)) == 1
    assert shop.notification(following).channel is M


def test_opt_outs_racing_sends_never_make_a_message_after_the_opt_out_or_two_messages(stack, fake_providers):
    # Given customers each with a queued notification
    shop = Shop(stack, rules(S, M))
    customers = [
        MINJUN.model_copy(
            update={"id": f"cus_{index}", "phone": f"+8210555{index:05d}", "email": f"c{index}@example.com"}
        )
        for index in range(6)
    ]
    notifications = [shop.event(order_id=f"R-{index}", customer=customer) for index, customer in enumerate(customers)]
    contacts = [shop.notification(notification_id).contact_id for notification_id in notifications]

    def opt_out(index: int):
        return lambda: shop.stack.repositories().contacts.record_consent(
            contacts[index], S, True, utc_now(), "keyword:STOP"
        )

    # When each customer's opt-out from SMS and the sender's send of their notification run at the same moment
    calls = []
    for index, notification_id in enumerate(notifications):
        calls += [opt_out(index), lambda notification_id=notification_id: shop.invoke(notification_id)]
    run_together(calls)
    shop.send_all()
    # Then each notification went once: by SMS when the send was decided first, else by email
    sms_to = [form["To"] for form in twilio_sends(fake_providers)]
    for index, notification_id in enumerate(notifications):
        settled = shop.notification(notification_id)
        assert settled.state.value == "sent"
        assert sms_to.count(customers[index].phone) == (1 if settled.channel is S else 0)
        sms_try = settled.tries_by_channel[0]
        # An SMS is never recorded after an opt-out it saw; a skip names the opt-out
        assert (sms_try.outcome, sms_try.code) in (("sent", None), ("skipped", "opted_out"))
    # And once the opt-outs are committed, no notification goes by SMS to any of them
    before = len(sms_to)
    later = [shop.event(order_id=f"L-{index}", customer=customer) for index, customer in enumerate(customers)]
    shop.send_all()
    assert len(twilio_sends(fake_providers)) == before
    assert {shop.notification(notification_id).channel for notification_id in later} == {M}


def _die_once_after_the_provider_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sender dies after the provider answered and before it recorded the answer: every try of the record in
    that invocation fails, so the claim is left holding its lease."""
    from switchboard.proactive import sender

    original = NotificationRepository.record_sent
    state = {"failures": sender.SETTLE_TRIES}

    def record_sent(self, *args, **kwargs):
        if state["failures"]:
            state["failures"] -= 1
            raise RuntimeError("injected: the sender died after the provider answered")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(NotificationRepository, "record_sent", record_sent)
