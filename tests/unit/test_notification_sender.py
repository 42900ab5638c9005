"""The notification sender's decisions, one notification at a time at chosen instants: which route of the chain carries
it, what consent, quiet hours, advertising rules and pacing do to it, and what each provider outcome becomes.

The store is moto's table (notifications made by the order processor from shop events, the contact's consent and
tickets as the real code writes them); the providers are scripted adapters, since these tables need a provider to
answer exactly so. tests/integration/test_notification_sending.py sends through the fake providers over HTTP."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from switchboard.channels.base import Sends
from switchboard.channels.sending import (
    OutboundRequest,
    ProviderTimeout,
    SendContext,
    SendEndpoints,
    SendHttp,
    SendOutcome,
    WindowVerdict,
)
from switchboard.models import (
    Channel,
    FieldChange,
    InboundMessage,
    NotifyChannel,
    SenderIdentity,
    TicketAudit,
    TicketStatus,
)
from switchboard.notifications.models import (
    AlimTalkTemplateSpec,
    Category,
    ChannelTemplates,
    DelayDetection,
    EmailTemplateSpec,
    EventRule,
    Notification,
    NotificationRules,
    NotificationState,
    QuietHours,
    Senders,
)
from switchboard.notifications.queue import NotificationQueue
from switchboard.outbound.pacing import Pacer
from switchboard.proactive.order_events import process
from switchboard.proactive.scheduler import run_scheduler
from switchboard.proactive.sender import (
    LEASE,
    MAX_CALLS,
    RESEND_WINDOW,
    NotificationSender,
    send_notification_batch,
)
from switchboard.store.repositories import Repositories
from switchboard.tickets.writer import record_inbound
from tests.support.orders import MINJUN, PROMISED, T0, Clock, E, QueueProbe, shop_event

A, S, M = NotifyChannel.ALIMTALK, NotifyChannel.SMS, NotifyChannel.EMAIL
SENDER_KEY = "a" * 40
SMS_FROM = "+15005550006"
MAILBOX = "orders@minjun-shop.example"
NIGHT = datetime(2026, 12, 3, 13, 0, tzinfo=UTC)  # 22:00 in Seoul


def templates(**channels: Any) -> dict[str, ChannelTemplates]:
    every = {
        "alimtalk": AlimTalkTemplateSpec(
            template_code="SB_IN_TRANSIT_KO",
            variables={"주문번호": "{order_number}", "택배사": "{carrier}"},
            resend_text="[{shop_name}] {order_number} 배송 중",
        ),
        "sms": "[{shop_name}] 주문 {order_number} {status}: {carrier} {tracking_number}",
        "email": EmailTemplateSpec(subject="주문 {order_number} {status}", body="{customer_name}님, {status}입니다."),
    }
    every.update(channels)
    return {"ko": ChannelTemplates(**{name: spec for name, spec in every.items() if spec is not None})}


def make_rules(
    *,
    category: Category = Category.TRANSACTIONAL,
    quiet: QuietHours | None = None,
    delay: DelayDetection | None = None,
    **channels: Any,
) -> NotificationRules:
    return NotificationRules(
        version=1,
        rules=tuple(
            EventRule(event_type=event_type, category=category, templates=templates(**channels))
            for event_type in (E.SHIPMENT_CREATED, E.SHIPMENT_IN_TRANSIT, E.SHIPMENT_DELAYED)
        ),
        fallback_chain=(A, S, M),
        senders=Senders(alimtalk_sender_key=SENDER_KEY, sms_from=SMS_FROM, email_from=MAILBOX),
        shop_name="민준상회",
        quiet_hours=quiet or QuietHours(),
        delay_detection=delay or DelayDetection(enabled=False),
    )


RULES = make_rules()


class ScriptedProvider(Sends):
    """A provider that answers each call with the next scripted answer (an outcome, or an exception it raises), then
    `sent`; it records every request it was handed."""

    max_text_chars = 10_000

    def __init__(self, channel: NotifyChannel, *, safe: bool = False) -> None:
        self.channel = channel
        self.safe = safe
        self.answers: list[SendOutcome | Exception] = []
        self.requests: list[OutboundRequest] = []
        self._lock = threading.Lock()

    def refusal(self, request: OutboundRequest) -> str | None:
        return None

    def resend_is_safe(self, request: OutboundRequest) -> bool:
        return self.safe

    def window(
        self, *, last_customer_message_at: datetime | None, now: datetime, human_agent: bool, template: bool
    ) -> WindowVerdict:
        return WindowVerdict.opened()

    def send(self, request: OutboundRequest, secrets: Any, context: SendContext) -> SendOutcome:
        with self._lock:
            self.requests.append(request)
            answer = self.answers.pop(0) if self.answers else None
        if isinstance(answer, Exception):
            raise answer
        return answer or SendOutcome.sent(f"{self.channel.value}-{len(self.requests)}")


class Providers:
    def __init__(self) -> None:
        # AlimTalk takes an idempotency key (X-NC-API-IDEMPOTENCY-KEY); SMS and email do not.
        self.by_channel = {channel: ScriptedProvider(channel, safe=channel is A) for channel in NotifyChannel}

    def __getitem__(self, channel: NotifyChannel) -> ScriptedProvider:
        return self.by_channel[channel]

    def adapter_of(self, channel: NotifyChannel, account_id: str) -> Sends:
        return self.by_channel[channel]

    def calls(self) -> list[NotifyChannel]:
        return [p.channel for p in self.by_channel.values() for _ in p.requests]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(stack, clock) -> Repositories:
    return Repositories.on(stack.dynamodb, stack.table_name, clock=clock)


@pytest.fixture
def providers() -> Providers:
    return Providers()


class Harness:
    def __init__(self, store: Repositories, clock: Clock, providers: Providers) -> None:
        self.store, self.clock, self.providers = store, clock, providers
        self.rules = RULES
        self.pacer: Pacer | None = None
        self.slept: list[float] = []

    def sender(self) -> NotificationSender:
        return NotificationSender(
            self.store,
            SendContext(http=SendHttp(), endpoints=SendEndpoints("http://127.0.0.1:9", "", "", "")),
            secrets_of=lambda channel, account: {},
            adapter_of=self.providers.adapter_of,
            pacer=self.pacer,
            sleep=self.slept.append,
            rules_of=lambda: self.rules,
        )

    def notify(self, event_type=E.SHIPMENT_IN_TRANSIT, *, order_id: str = "A-1042", customer=MINJUN, at=T0) -> str:
        """The notification the order processor makes of a shop event (queued, due at `at`)."""
        self.clock.now = at
        event = shop_event(event_type, order_id=order_id, customer=customer, at=at)
        processed = process(event, store=self.store, rules_of=lambda: self.rules, queue=None, now=at)
        assert processed.notification_id is not None, processed
        return processed.notification_id

    def send(self, notification_id: str, at: datetime = T0):
        self.clock.now = at
        return self.sender().send(notification_id, now=at)

    def notification(self, notification_id: str) -> Notification:
        found = self.store.notifications.notification(notification_id)
        assert found is not None
        return found

    def tries(self, notification_id: str) -> list[tuple[str, str, str | None]]:
        return [(t.channel.value, t.outcome, t.code) for t in self.notification(notification_id).tries_by_channel]

    def opt_out(self, notification_id: str, channel: NotifyChannel, at: datetime = T0 - timedelta(hours=1)) -> None:
        contact_id = self.notification(notification_id).contact_id
        assert self.store.contacts.record_consent(contact_id, channel, True, at, "keyword:STOP")


@pytest.fixture
def harness(store, clock, providers) -> Harness:
    return Harness(store, clock, providers)


def rejected(code: str = "1001") -> SendOutcome:
    return SendOutcome.rejected(code, "refused for good")


# -- the chain: the first route that takes it carries it ------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "state", "channel", "tries"),
    [
        ({}, "sent", A, [("alimtalk", "sent", None)]),
        ({A: [rejected()]}, "sent", S, [("alimtalk", "rejected", "1001"), ("sms", "sent", None)]),
        (
            {A: [rejected()], S: [rejected("21610")]},
            "sent",
            M,
            [("alimtalk", "rejected", "1001"), ("sms", "rejected", "21610"), ("email", "sent", None)],
        ),
        (
            {A: [rejected()], S: [rejected("21610")], M: [rejected("MessageRejected")]},
            "failed",
            None,
            [("alimtalk", "rejected", "1001"), ("sms", "rejected", "21610"), ("email", "rejected", "MessageRejected")],
        ),
    ],
    ids=["first", "second", "third", "none"],
)
def test_a_permanent_refusal_moves_to_the_next_channel_and_the_carrier_is_recorded(
    harness, providers, answers, state, channel, tries
):
    # Given a queued notification, and providers answering so
    notification_id = harness.notify()
    for on, script in answers.items():
        providers[on].answers.extend(script)
    # When the sender sends it
    report = harness.send(notification_id)
    # Then it ends on the first channel that took it, with every try recorded in order
    settled = harness.notification(notification_id)
    assert (report.result, settled.state.value, settled.channel) == (state, state, channel)
    assert harness.tries(notification_id) == tries
    if channel is not None:
        assert settled.provider_message_id == f"{channel.value}-1"
    # And each provider was called at most once
    assert len(providers.calls()) == len(set(providers.calls())) == len(tries)


@pytest.mark.parametrize(
    ("opted_out", "rules", "customer", "state", "channel", "tries"),
    [
        ((A,), RULES, MINJUN, "sent", S, [("alimtalk", "skipped", "opted_out"), ("sms", "sent", None)]),
        (
            (A, S, M),
            RULES,
            MINJUN,
            "skipped",
            None,
            [("alimtalk", "skipped", "opted_out"), ("sms", "skipped", "opted_out"), ("email", "skipped", "opted_out")],
        ),
        (
            (),
            make_rules(alimtalk=None),
            MINJUN,
            "sent",
            S,
            [("alimtalk", "skipped", "no_template"), ("sms", "sent", None)],
        ),
        ((), RULES, MINJUN.model_copy(update={"phone": None}), "sent", M, [("email", "sent", None)]),
        ((M,), RULES, MINJUN.model_copy(update={"phone": None}), "skipped", None, [("email", "skipped", "opted_out")]),
    ],
    ids=["opted-out-first", "opted-out-everywhere", "no-template", "no-phone", "no-phone-opted-out"],
)
def test_opted_out_unreachable_and_templateless_channels_are_skipped(
    harness, providers, opted_out, rules, customer, state, channel, tries
):
    # Given the rules, a customer reachable as given, and the opt-outs they sent before the send
    harness.rules = rules
    notification_id = harness.notify(customer=customer)
    for on in opted_out:
        harness.opt_out(notification_id, on)
    # When the sender sends it
    report = harness.send(notification_id)
    # Then skipped channels are never called, and nothing left to try is `skipped`, not `failed`
    assert (report.result, report.channel) == (state, channel)
    assert harness.tries(notification_id) == tries
    assert providers.calls() == ([channel] if channel else [])


def test_a_notification_already_settled_or_held_by_a_live_sender_is_left_alone(harness, providers):
    # Given a notification sent once, and another claimed by a live sender
    sent = harness.notify()
    assert harness.send(sent).result == "sent"
    held = harness.notify(order_id="A-2000")
    assert harness.store.notifications.claim(held, now=T0, lease=LEASE) is not None
    # When the queue delivers each again
    again = [harness.send(notification_id, T0 + timedelta(seconds=30)) for notification_id in (sent, held)]
    # Then nothing is sent
    assert [report.result for report in again] == ["idle", "idle"]
    assert providers.calls() == [A]


def test_twenty_deliveries_of_one_notification_at_once_make_one_provider_call(harness, providers):
    # Given a queued notification
    notification_id = harness.notify()
    barrier = threading.Barrier(20)
    reports = []

    def deliver() -> None:
        sender = harness.sender()
        barrier.wait()
        reports.append(sender.send(notification_id, now=T0))

    # When twenty senders receive it at the same moment
    threads = [threading.Thread(target=deliver) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then one claimed it and called the provider once; the others had nothing to do
    assert sorted(report.result for report in reports) == ["idle"] * 19 + ["sent"]
    assert providers.calls() == [A]


# -- provider outcomes: retry, unknown, and the idempotency key -------------------------------------------------


def test_a_429_is_retried_on_the_same_channel_after_retry_after_without_counting_as_a_refusal(harness, providers):
    # Given SMS first, answering 429 with Retry-After once
    harness.rules = make_rules(alimtalk=None)
    notification_id = harness.notify()
    providers[S].answers.append(SendOutcome.retry("throttled", retry_after_seconds=30, code="429"))
    # When the sender sends it
    report = harness.send(notification_id)
    # Then it is queued again, due after the Retry-After, and nothing is sent elsewhere meanwhile
    queued = harness.notification(notification_id)
    assert (report.result, report.reason, report.retry_in_seconds) == ("deferred", "retry", 30)
    assert (queued.state, queued.due_at, queued.deferred_reason) == (
        NotificationState.QUEUED,
        T0 + timedelta(seconds=30),
        "retry",
    )
    # And before then nothing happens; at its due time it is sent on the same channel
    assert harness.send(notification_id, T0 + timedelta(seconds=10)).result == "idle"
    assert harness.send(notification_id, T0 + timedelta(seconds=30)).result == "sent"
    assert providers.calls() == [S, S]
    assert harness.tries(notification_id) == [("alimtalk", "skipped", "no_template"), ("sms", "sent", None)]


def test_a_provider_that_keeps_failing_is_given_up_after_max_calls_and_the_next_channel_carries_it(harness, providers):
    # Given AlimTalk answering 503 to every call
    notification_id = harness.notify()
    providers[A].answers.extend([SendOutcome.retry("unavailable", code="503")] * MAX_CALLS)
    # When the sender sends it each time it falls due
    at, results = T0, []
    for _ in range(MAX_CALLS):
        report = harness.send(notification_id, at)
        results.append(report.result)
        at += timedelta(seconds=report.retry_in_seconds or 0)
    # Then it backed off (2, 4, 8 ... s) MAX_CALLS - 1 times, and the last call made AlimTalk a refusal and SMS
    # carried it; the record keeps one line per channel
    assert results == ["deferred"] * (MAX_CALLS - 1) + ["sent"]
    assert providers.calls() == [A] * MAX_CALLS + [S]
    assert harness.tries(notification_id) == [("alimtalk", "rejected", "provider_unavailable"), ("sms", "sent", None)]


def test_no_answer_from_a_provider_without_an_idempotency_key_is_unknown_and_never_resent(harness, providers):
    # Given SMS first, timing out after the request left
    harness.rules = make_rules(alimtalk=None)
    notification_id = harness.notify()
    providers[S].answers.append(ProviderTimeout("no answer from the provider (ReadTimeoutError)"))
    # When the sender sends it, and the queue delivers it again later
    report = harness.send(notification_id)
    again = harness.send(notification_id, T0 + timedelta(minutes=5))
    # Then it is unknown after one call: SMS may have it, and neither SMS nor email is tried again
    assert (report.result, report.channel, again.result) == ("unknown", S, "idle")
    assert harness.notification(notification_id).state is NotificationState.UNKNOWN
    assert providers.calls() == [S]


def test_no_answer_where_the_idempotency_key_holds_is_resent_with_the_same_key_and_sent(harness, providers):
    # Given AlimTalk (X-NC-API-IDEMPOTENCY-KEY) timing out once
    notification_id = harness.notify()
    providers[A].answers.append(ProviderTimeout("no answer from the provider (ReadTimeoutError)"))
    # When the sender sends it, then again when it falls due
    first = harness.send(notification_id)
    second = harness.send(notification_id, T0 + timedelta(seconds=first.retry_in_seconds or 0))
    # Then the same request went twice (the same key, the notification id), and it is sent on AlimTalk
    assert (first.result, second.result, second.channel) == ("deferred", "sent", A)
    assert [r.attempt_id for r in providers[A].requests] == [notification_id, notification_id]
    assert providers.calls() == [A, A]


def test_a_resend_after_the_idempotency_key_expired_is_not_made(harness, providers):
    # Given AlimTalk timing out, and the notification coming due again only after the key's window
    notification_id = harness.notify()
    providers[A].answers.append(ProviderTimeout("no answer"))
    assert harness.send(notification_id).result == "deferred"
    # When it is sent after the window
    report = harness.send(notification_id, T0 + RESEND_WINDOW + timedelta(seconds=1))
    # Then it is unknown: a repeat now would be a second message, and no other channel is tried
    assert (report.result, providers.calls()) == ("unknown", [A])


@pytest.mark.parametrize(("first", "expected_calls", "result"), [(S, [S], "unknown"), (A, [A, A], "sent")])
def test_a_claim_whose_sender_died_during_the_call_is_resent_only_where_the_key_makes_it_safe(
    harness, providers, first, expected_calls, result
):
    # Given a sender that dies while the provider has the request (its claim is left holding a lease)
    if first is S:
        harness.rules = make_rules(alimtalk=None)
    notification_id = harness.notify()
    providers[first].answers.append(SystemError("the sender's process died during the call"))
    with pytest.raises(SystemError):
        harness.send(notification_id)
    assert harness.notification(notification_id).state is NotificationState.SENDING
    # When the lease runs out and the queue delivers it again
    report = harness.send(notification_id, T0 + LEASE + timedelta(seconds=1))
    # Then SMS, which takes no idempotency key, is not called again (unknown); AlimTalk is resent with its key
    assert (report.result, providers.calls()) == (result, expected_calls)
    assert harness.notification(notification_id).state.value == result


def test_an_interrupted_claim_deferred_by_a_retry_keeps_its_doubt(harness, providers):
    # Given a sender that died during AlimTalk's call, and AlimTalk then answering 503 to the resend, then refusing
    notification_id = harness.notify()
    providers[A].answers.extend([SystemError("died"), SendOutcome.retry("unavailable", code="503"), rejected()])
    with pytest.raises(SystemError):
        harness.send(notification_id)
    at = T0 + LEASE + timedelta(seconds=1)
    deferred = harness.send(notification_id, at)
    # When it comes due again and AlimTalk refuses it for good
    report = harness.send(notification_id, at + timedelta(seconds=deferred.retry_in_seconds or 0))
    # Then SMS is not called blindly: the dead sender may have got as far as SMS, so it ends unknown
    assert (deferred.result, report.result) == ("deferred", "unknown")
    assert providers.calls() == [A, A, A]
    assert ("alimtalk", "unknown", "interrupted") in harness.tries(notification_id)


# -- consent, quiet hours and advertising ------------------------------------------------------------------------


def test_quiet_hours_defer_a_transactional_notification_to_their_end_in_the_customers_time_zone(harness, providers):
    # Given quiet hours 21:00-08:00 and a notification due at 22:00 in Seoul
    harness.rules = make_rules(quiet=QuietHours(enabled=True))
    notification_id = harness.notify(at=NIGHT)
    # When the sender sends it
    report = harness.send(notification_id, NIGHT)
    # Then nothing is sent; it is queued until 08:00 Seoul (23:00 UTC), left to the scheduler, and then sent
    morning = datetime(2026, 12, 3, 23, 0, tzinfo=UTC)
    assert (report.result, report.reason, report.retry_in_seconds) == ("deferred", "quiet_hours", 10 * 3600)
    assert harness.notification(notification_id).due_at == morning
    assert providers.calls() == []
    assert harness.send(notification_id, morning).result == "sent"


def test_without_quiet_hours_a_transactional_notification_goes_at_night(harness, providers):
    notification_id = harness.notify(at=NIGHT)
    assert harness.send(notification_id, NIGHT).result == "sent"


@pytest.mark.parametrize(
    ("consent", "at", "result", "detail"),
    [
        ({}, T0, "skipped", [("alimtalk", "skipped", "opted_out"), ("sms", "skipped", "no_advertising_consent")]),
        ({"advertising": True}, NIGHT, "deferred", "night_advertising"),
        ({"advertising": True, "night_advertising": True}, NIGHT, "sent", None),
        ({"advertising": True}, T0, "sent", None),
    ],
    ids=["no-consent", "night", "night-consent", "day"],
)
def test_advertising_needs_consent_and_night_consent(harness, providers, consent, at, result, detail):
    # Given an advertising rule, a customer opted out of AlimTalk, without email, and their consent as given
    harness.rules = make_rules(category=Category.ADVERTISING, email=None)
    notification_id = harness.notify(at=at, customer=MINJUN.model_copy(update={"email": None}))
    harness.opt_out(notification_id, A)
    contact_id = harness.notification(notification_id).contact_id
    harness.store.contacts.set_consent(
        contact_id,
        advertising=consent.get("advertising"),
        night_advertising=consent.get("night_advertising"),
        preferred_channel=None,
        clear_preferred=False,
        at=T0 - timedelta(days=1),
    )
    # When the sender sends it
    report = harness.send(notification_id, at)
    # Then
    assert report.result == result
    if result == "skipped":
        assert harness.tries(notification_id) == detail
    if result == "deferred":
        assert report.reason == detail
        assert harness.notification(notification_id).due_at == datetime(2026, 12, 3, 23, 0, tzinfo=UTC)
    if result == "sent":
        # A Korean advertisement names the shop after "(광고)" first and the free opt-out last (제50조 제4항)
        (request,) = providers[S].requests
        assert request.text is not None
        assert request.text.startswith("(광고) 민준상회\n") and request.text.endswith("무료수신거부 080-000-0000")


def test_an_advertisement_never_goes_by_alimtalk(harness, providers):
    # Given an advertising rule and a customer who consented to advertising
    harness.rules = make_rules(category=Category.ADVERTISING)
    notification_id = harness.notify()
    contact_id = harness.notification(notification_id).contact_id
    harness.store.contacts.set_consent(
        contact_id, advertising=True, night_advertising=None, preferred_channel=None, clear_preferred=False, at=T0
    )
    # When the sender sends it
    report = harness.send(notification_id)
    # Then AlimTalk (informational messages only) is skipped and SMS carries it
    assert (report.result, report.channel) == ("sent", S)
    assert harness.tries(notification_id)[0] == ("alimtalk", "skipped", "alimtalk_informational_only")


def test_an_opt_out_committed_before_the_claim_is_honoured(harness, providers, monkeypatch):
    # Given a notification, and an opt-out from AlimTalk that commits right after the sender claims it (between
    # the claim and the consent read)
    notification_id = harness.notify()
    claim = harness.store.notifications.claim

    def claim_then_opt_out(*args, **kwargs):
        claimed = claim(*args, **kwargs)
        harness.opt_out(notification_id, A, at=T0)
        return claimed

    monkeypatch.setattr(harness.store.notifications, "claim", claim_then_opt_out)
    # When the sender sends it
    report = harness.send(notification_id)
    # Then AlimTalk is skipped: consent is read after the claim
    assert (report.result, report.channel, providers.calls()) == ("sent", S, [S])


# -- pacing ---------------------------------------------------------------------------------------------------


def test_a_long_wait_for_the_sending_rate_goes_back_to_the_queue_without_counting_a_call(harness, providers, store):
    # Given SMS first through one Twilio number (1 segment a second), whose next three seconds are taken
    harness.rules = make_rules(alimtalk=None)
    harness.pacer = Pacer(store.send_rates)
    notification_id = harness.notify()
    probe = OutboundRequest(
        attempt_id="x",
        message_id="x",
        ticket_id="x",
        channel=Channel.SMS,
        channel_account_id=SMS_FROM,
        recipient_id="+821000000000",
        text="x",
        now=T0,
    )
    for _ in range(3):
        harness.pacer.wait_for(probe, time.time())
    # When the sender sends it
    report = harness.send(notification_id)
    # Then it is queued again for the wait (paced), nothing was called, and no try is counted
    assert (report.result, report.reason) == ("deferred", "paced")
    assert 1 <= (report.retry_in_seconds or 0) <= 4
    assert providers.calls() == []
    assert harness.tries(notification_id) == [("alimtalk", "skipped", "no_template")]
    assert harness.notification(notification_id).deferred_reason == "paced"


# -- our own faults -------------------------------------------------------------------------------------------


def test_a_fault_of_ours_after_the_claim_and_before_any_call_gives_the_claim_back(harness, providers, monkeypatch):
    # Given the contact read failing once, after the claim
    notification_id = harness.notify()
    contact = harness.store.contacts.contact
    failures = [ConnectionError("DynamoDB unreachable (injected)")]

    def failing_once(contact_id):
        if failures:
            raise failures.pop()
        return contact(contact_id)

    monkeypatch.setattr(harness.store.contacts, "contact", failing_once)
    # When the sender sends it, and the queue delivers it again at once
    with pytest.raises(ConnectionError):
        harness.send(notification_id)
    given_back = harness.notification(notification_id)
    report = harness.send(notification_id, T0 + timedelta(seconds=1))
    # Then the claim was handed back (queued, due now) and the redelivery sent it, once
    assert (given_back.state, given_back.due_at) == (NotificationState.QUEUED, T0)
    assert (report.result, providers.calls()) == ("sent", [A])


def test_a_failed_record_of_a_send_is_written_again_rather_than_left_unknown(harness, providers, monkeypatch):
    # Given the record of the send failing once after the provider took it
    notification_id = harness.notify()
    record_sent = harness.store.notifications.record_sent
    failures = [ConnectionError("DynamoDB unreachable (injected)")]

    def failing_once(*args, **kwargs):
        if failures:
            raise failures.pop()
        return record_sent(*args, **kwargs)

    monkeypatch.setattr(harness.store.notifications, "record_sent", failing_once)
    # When the sender sends it
    report = harness.send(notification_id)
    # Then the record is written on the second try: sent, once
    assert (report.result, harness.notification(notification_id).state) == ("sent", NotificationState.SENT)
    assert providers.calls() == [A]


# -- what the send carries, and where it shows ----------------------------------------------------------------


def test_each_channel_gets_its_own_request_keyed_by_the_notification(harness, providers):
    # Given AlimTalk and SMS refusing, so that every channel of the chain is called
    harness.rules = harness.rules.model_copy(
        update={"senders": harness.rules.senders.model_copy(update={"alimtalk_resend_number": "0212345678"})}
    )
    notification_id = harness.notify()
    providers[A].answers.append(rejected())
    providers[S].answers.append(rejected())
    # When the sender sends it
    harness.send(notification_id)
    (alimtalk,), (sms,), (mail,) = providers[A].requests, providers[S].requests, providers[M].requests
    # Then every request carries the notification id as its attempt (the idempotency key where one is taken)
    assert {r.attempt_id for r in (alimtalk, sms, mail)} == {notification_id}
    assert all(not r.human_agent for r in (alimtalk, sms, mail))
    # AlimTalk: the sender key, the approved template's code and variables, and 대체발송 from the registered number
    assert (alimtalk.channel, alimtalk.channel_account_id, alimtalk.recipient_id) == (
        Channel.KAKAO,
        SENDER_KEY,
        "+821012345678",
    )
    assert alimtalk.alimtalk is not None
    assert alimtalk.alimtalk.template_code == "SB_IN_TRANSIT_KO"
    assert alimtalk.alimtalk.template_parameter == {"주문번호": "1042", "택배사": "CJ대한통운"}
    assert (alimtalk.alimtalk.resend, alimtalk.alimtalk.resend_send_no) == (True, "0212345678")
    assert alimtalk.alimtalk.resend_content == "[민준상회] 1042 배송 중"
    # SMS: from the shop's number, the rendered text
    assert (sms.channel, sms.channel_account_id, sms.text) == (
        Channel.SMS,
        SMS_FROM,
        "[민준상회] 주문 1042 배송 중: CJ대한통운 6543210987",
    )
    # Email: from the shop's mailbox, replies to it, and our own Message-ID (the intake knows it as ours)
    assert mail.email is not None
    assert (mail.email.mailbox, mail.email.to, mail.email.reply_to) == (MAILBOX, ("min@example.com",), MAILBOX)
    assert mail.email.subject == "주문 1042 배송 중"
    assert mail.email.message_id.startswith("<sb.") and mail.email.message_id.endswith("@minjun-shop.example>")
    assert mail.text == "김민준님, 배송 중입니다."


def test_a_sent_notification_is_indexed_by_its_provider_id_and_posted_on_the_open_ticket(harness, providers, store):
    # Given a customer who wrote on Telegram (their ticket is open), and a notification for them
    message = InboundMessage(
        channel=Channel.TELEGRAM,
        channel_account_id="bot-1",
        conversation_id="5001",
        external_id="tg-1",
        sender=SenderIdentity(external_id="5001", display_name="김민준", phone_e164="+821012345678"),
        message_type="text",
        text="배송 언제 오나요?",
        provider_timestamp=T0 - timedelta(hours=1),
        received_at=T0 - timedelta(hours=1),
    )
    harness.clock.now = T0 - timedelta(hours=1)
    record_inbound(message, store, sleep=lambda _: None)
    (ticket,) = store.tickets.list_tickets(status=None, limit=10, cursor=None).tickets
    notification_id = harness.notify()
    # When it is sent (AlimTalk first: the rules have no Telegram template)
    report = harness.send(notification_id)
    # Then the provider's id finds it (receipts land on it), and the ticket shows it as a system message, sent
    assert (report.result, report.channel) == ("sent", A)
    target = store.messages.delivery_target(Channel.KAKAO.value, "alimtalk-1")
    assert target is not None and target.notification_id == notification_id
    sent = harness.notification(notification_id)
    assert sent.ticket_id == ticket.id
    copy = store.messages.latest_messages(ticket.id, limit=1)[0]
    assert (copy.author_kind.value, copy.direction.value, copy.delivery_status) == ("system", "outbound", "sent")
    assert copy.channel is Channel.KAKAO and copy.text is not None
    assert copy.text.startswith("Order 1042 · shipment.in_transit · alimtalk\n")
    # And the contact's latest notification names the order, for a reply that follows it
    contact = store.contacts.contact(sent.contact_id)
    assert contact is not None and contact.last_notification is not None
    assert (contact.last_notification.order_id, contact.last_notification.channel) == ("A-1042", A)


def test_a_solved_ticket_gets_no_copy(harness, providers, store):
    message = InboundMessage(
        channel=Channel.TELEGRAM,
        channel_account_id="bot-1",
        conversation_id="5001",
        external_id="tg-1",
        sender=SenderIdentity(external_id="5001", phone_e164="+821012345678"),
        message_type="text",
        text="감사합니다",
        provider_timestamp=T0 - timedelta(hours=1),
        received_at=T0 - timedelta(hours=1),
    )
    harness.clock.now = T0 - timedelta(hours=1)
    record_inbound(message, store, sleep=lambda _: None)
    (listed,) = store.tickets.list_tickets(status=None, limit=10, cursor=None).tickets
    current = store.tickets.ticket(listed.id)
    assert current is not None
    solved = current.ticket.model_copy(update={"status": TicketStatus.SOLVED, "solved_at": T0})
    store.tickets.change_ticket(
        current=current,
        ticket_after=solved,
        audit=TicketAudit(
            ticket_id=listed.id,
            ticket_version=current.version + 1,
            actor_id="agent",
            at=T0,
            changes=(FieldChange(field="status", before="new", after="solved"),),
        ),
    )
    notification_id = harness.notify()
    assert harness.send(notification_id).result == "sent"
    assert harness.notification(notification_id).ticket_id is None


def test_the_delay_apology_is_written_with_the_delay_detection_templates(harness, providers, store, stack):
    # Given delay detection with its own SMS apology, and a shipment promised for a date that passes undelivered
    harness.rules = make_rules(
        alimtalk=None,
        delay=DelayDetection(
            templates={"ko": ChannelTemplates(sms="늦어져 죄송합니다: {order_number} ({shipment_status})")}
        ),
    )
    harness.clock.now = T0
    event = shop_event(E.SHIPMENT_CREATED, promised=PROMISED)
    process(event, store=store, rules_of=lambda: harness.rules, queue=None, now=T0)
    probe = QueueProbe(stack.sqs)
    at = PROMISED + timedelta(minutes=1)
    harness.clock.now = at
    run_scheduler(at, store=store, queue=probe.queue, rules=lambda: harness.rules)
    (apology,) = [i for i in probe.taken() if harness.notification(i).event_type is E.SHIPMENT_DELAYED]
    # When the sender sends it
    assert harness.send(apology, at).result == "sent"
    # Then its text is the delay detection's, not the shipment.delayed rule's
    sms = [r for r in providers[S].requests if r.attempt_id == apology]
    assert [r.text for r in sms] == ["늦어져 죄송합니다: 1042 (상품 출고)"]


# -- the SQS batch -------------------------------------------------------------------------------------------


class RecordingQueue(NotificationQueue):
    def __init__(self) -> None:
        self.sent: list[tuple[list[str], int]] = []

    def send(self, ids: list[str], delay_seconds: int = 0) -> None:
        self.sent.append((list(ids), delay_seconds))


def sqs_event(*bodies: str) -> dict[str, Any]:
    return {"Records": [{"messageId": f"m-{index}", "body": body} for index, body in enumerate(bodies)]}


def test_the_batch_queues_short_waits_again_leaves_long_ones_to_the_scheduler_and_reports_only_errors(
    harness, providers, monkeypatch
):
    # Given quiet hours 21:00-08:00, and at 22:00 in Seoul (08:00 in New York): a New York customer's notification
    # SMS will throttle for 20 s, a Seoul customer's caught by quiet hours, one whose read fails, and a message that
    # names no notification
    harness.rules = make_rules(alimtalk=None, quiet=QuietHours(enabled=True))
    new_york = MINJUN.model_copy(
        update={"id": "cus_88", "phone": "+12125550100", "email": None, "timezone": "America/New_York"}
    )
    throttled = harness.notify(customer=new_york, at=NIGHT)
    quiet = harness.notify(order_id="A-2000", at=NIGHT)
    broken = harness.notify(order_id="A-3000", at=NIGHT)
    providers[S].answers.append(SendOutcome.retry("throttled", retry_after_seconds=20, code="429"))
    sender = harness.sender()
    send = sender.send

    def failing_for_broken(notification_id, *, now):
        if notification_id == broken:
            raise ConnectionError("DynamoDB unreachable (injected)")
        return send(notification_id, now=now)

    monkeypatch.setattr(sender, "send", failing_for_broken)
    queue = RecordingQueue()
    body = '{{"notification_id": "{}"}}'
    # When the batch runs
    answer = send_notification_batch(
        sqs_event(body.format(throttled), body.format(quiet), body.format(broken), "not json"),
        sender=sender,
        queue=queue,
        now=lambda: NIGHT,
    )
    # Then only the failed one is reported; the throttled one is queued again with its delay; the quiet one (ten
    # hours) is left to the scheduler; the stray message is dropped
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-2"}]}
    assert queue.sent == [([throttled], 20)]
    assert harness.notification(quiet).deferred_reason == "quiet_hours"
