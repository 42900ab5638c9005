"""The notification sender (NotificationSenderFunction): each notification claimed by one sender, sent on the first
channel of the contact's chain that may carry it, and settled once.

    read the notification: queued and due, or claimed by a sender whose lease ran out -> else nothing to do
    read the rules and the contact's newest tickets (the channel they last wrote on, their open ticket)
    claim it (queued -> sending, tries + 1, a 120 s lease; conditional: one sender at a time)
    read the contact, consistently, AFTER the claim: consent is judged as it stands when the send is decided
    for each route of notifications/choice.py's chain not finished yet:
        opted out, no advertising consent, no template -> a `skipped` try, the next route
        quiet hours or the advertising night -> queued again, due at their end (`quiet_hours`, `night_advertising`)
        the account's sending rate -> a short wait slept, a longer one queued again (`paced`, no try counted)
        the provider call -> sent: settled `sent` in ONE transaction (with the provider id's index entry, the
                                contact's last_notification and the copy on their open ticket)
                             rejected: a `rejected` try, the next route
                             retry (429, 5xx, no connection): queued again after Retry-After or back-off, on the same
                                route; after MAX_CALLS calls that route is `rejected` (provider_unavailable)
                             unknown (no answer after the request left): `unknown`, never blindly resent, except where
                                the provider takes an idempotency key (`Sends.resend_is_safe`: AlimTalk's
                                X-NC-API-IDEMPOTENCY-KEY, LINE's X-Line-Retry-Key, both the notification id) and the
                                first call is recent enough for the key to still be honoured (RESEND_WINDOW)
    no route left -> `failed` when a provider refused it somewhere, else `skipped`

Exactly once. The claim is a conditional write that counts a try, and every settling write is conditional on that
count, so two deliveries of one queue message (or twenty) make one provider call, and a sender whose lease was taken
over cannot settle. A claim found interrupted (its sender died holding it) may already have reached a provider, on
any route of the chain: its notification is resent only through a route with an idempotency key, and otherwise ends
`unknown`; the doubt is written down (a try with code `interrupted`) whenever it is queued again, so it survives.
Our own faults before a provider call (a DynamoDB error after the claim) give the claim back at once, since nothing
can have left; after one, the lease runs out and the claim is found interrupted.

Opt-outs. The contact is read after the claim, with a strongly consistent read: an opt-out committed before the
claim is always seen, and the route is skipped. One that commits after that read was not there when the send was
decided, and the send goes (the customer gets one confirmation of the opt-out either way, tickets/consent_replies.py).

Logs name the notification, the channel and the outcome code; never a phone number, an address or a text.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from pydantic import ValidationError

from switchboard.channels.base import Sends
from switchboard.channels.sending import (
    AlimTalkMessage,
    OutboundEmail,
    OutboundRequest,
    ProviderTimeout,
    ProviderUnreachable,
    SendContext,
    SendOutcome,
    WhatsAppTemplate,
)
from switchboard.email.outgoing import new_message_id
from switchboard.models import (
    AuthorKind,
    Contact,
    DeliveryEvent,
    DeliveryStatus,
    Direction,
    NotifyChannel,
    Ticket,
    TicketMessage,
    TicketStatus,
    cut_text,
    stable_id,
    utc_now,
)
from switchboard.notifications.choice import Route, channel_chain
from switchboard.notifications.consent import Verdict, advertising_text, may_send, quiet_until
from switchboard.notifications.models import (
    Category,
    ChannelTemplates,
    ChannelTry,
    Notification,
    NotificationRules,
    NotificationState,
)
from switchboard.notifications.queue import MAX_DELAY_SECONDS, NotificationQueue, notification_id_of_body
from switchboard.notifications.templates import Rendered, RenderedAlimTalk, pick_locale, render_for
from switchboard.observability import logger, metrics
from switchboard.outbound.pacing import Pacer
from switchboard.proactive.scheduler import DELAY_TEMPLATES, TEMPLATES_FACT
from switchboard.proof import ChannelSecrets
from switchboard.store.notifications import CLAIM_EARLY, Claim
from switchboard.store.repositories import Repositories

# Provider calls on one route before a provider that keeps answering 429/5xx (or nothing, where a repeat is safe)
# makes that route `rejected` (provider_unavailable), as for agents' replies (outbound/sender.py).
MAX_CALLS = 8
# Longer than one provider call can take (SendHttp's connect + read timeouts) and than the function's timeout, so a
# live sender's claim never runs out under it.
LEASE = timedelta(seconds=120)
BACKOFF_BASE_SECONDS = 2
BACKOFF_MAX_SECONDS = 300
RETRY_AFTER_MAX_SECONDS = 1200
# A call whose answer never came is repeated with the same idempotency key only this soon after it. NHN Cloud fails a
# request "made with the same key for 10 minutes" (AlimTalk API guide, X-NC-API-IDEMPOTENCY-KEY; error -1005), so
# past 10 minutes a repeat would be a second message; LINE honours X-Line-Retry-Key for longer ("Retrying an API
# request"), and the shorter bound, less a minute for clocks and the call itself, serves both.
RESEND_WINDOW = timedelta(minutes=9)
# The contact's newest tickets read for the channel they last wrote on and their open ticket (ByRequester).
TICKETS_READ = 5
# Writes that settle or give back a claim are tried this often on our own faults (throttling, a lost answer) before
# the lease is left to run out: a sent notification's record is worth a second try.
SETTLE_TRIES = 3
# Tries whose code says a provider may hold the notification without our knowing.
INTERRUPTED = "interrupted"
NO_ANSWER = "no_answer"
_FINAL_OUTCOMES = ("sent", "rejected", "skipped")
# Twilio's error for a number that opted out of ours (www.twilio.com/docs/api/errors/21610).
TWILIO_UNSUBSCRIBED = "21610"
_UNCERTAIN_OUTCOMES = ("retry", "unknown")
_TIMELINE_TEXT_CHARS = 4000
# 정보통신망법 제50조 제4항 and its decree (시행령 제61조, 별표 6): an advertising mail's subject starts with "(광고)".
_AD_SUBJECT_PREFIX = "(광고) "

Result = Literal["sent", "failed", "skipped", "unknown", "deferred", "idle"]


@dataclass(frozen=True)
class NotificationReport:
    """What one `send` did. `idle`: nothing for this sender (not due, settled, or held by a live sender).
    `deferred`: queued again, due in `retry_in_seconds` (`reason` says why)."""

    notification_id: str
    result: Result
    channel: NotifyChannel | None = None
    reason: str | None = None
    retry_in_seconds: int | None = None


@dataclass
class _Run:
    """One claim's send: the notification as claimed, its tries as they grow, and whether a provider may hold it."""

    notification: Notification
    now: datetime
    tries: list[ChannelTry]
    # A provider may hold this notification from this claim or an interrupted one: the claim is never handed back
    # as if nothing had happened (only settled, or deferred with the doubt written down).
    exposed: bool
    # When the interrupted claim taken over here was made (its provider call came after): set until the doubt is
    # written down as a try.
    interruption_at: datetime | None = None
    first_channel: NotifyChannel | None = None
    open_ticket: Ticket | None = None

    @property
    def tainted(self) -> bool:
        """An earlier sender died holding the notification: any route may have carried it."""
        return self.interruption_at is not None or any(t.code == INTERRUPTED for t in self.tries)

    def finished(self, channel: NotifyChannel) -> bool:
        return any(t.channel is channel and t.outcome in _FINAL_OUTCOMES for t in self.tries)

    def calls_on(self, channel: NotifyChannel) -> int:
        """Provider calls made on the route so far, by earlier claims (their tries) and this one."""
        return sum(1 for t in self.tries if t.channel is channel and t.outcome in _UNCERTAIN_OUTCOMES)

    def doubt_since(self, channel: NotifyChannel) -> datetime | None:
        """Since when a call on this route may have reached the provider without our knowing, if one may have."""
        times = [t.at for t in self.tries if t.channel is channel and t.outcome == "unknown"]
        times += [t.at for t in self.tries if t.code == INTERRUPTED]
        if self.interruption_at is not None:
            times.append(self.interruption_at)
        return min(times) if times else None

    def add(self, attempt: ChannelTry) -> None:
        self.tries.append(attempt)

    def finish(self, attempt: ChannelTry) -> None:
        """A route's final try replaces its calls' tries (so the record stays bounded whatever the retries), except
        a doubt about an interrupted claim, which must outlive the route."""
        self.tries = [t for t in self.tries if t.channel is not attempt.channel or t.code == INTERRUPTED]
        self.tries.append(attempt)

    def note_interruption(self, channel: NotifyChannel) -> None:
        """Writes the doubt down before the notification is queued again: the next claim is not interrupted itself."""
        if self.interruption_at is not None and not any(t.code == INTERRUPTED for t in self.tries):
            self.tries.append(
                ChannelTry(
                    channel=channel,
                    outcome="unknown",
                    code=INTERRUPTED,
                    reason="a sender stopped while holding the notification: a provider may have it",
                    at=self.interruption_at,
                )
            )
        self.interruption_at = None


@dataclass(frozen=True)
class _Context:
    rules: NotificationRules
    contact: Contact
    templates: ChannelTemplates
    facts: Mapping[str, str]
    locale: str
    timezone: str


class NotificationSender:
    def __init__(
        self,
        store: Repositories,
        context: SendContext,
        secrets_of: Callable[[NotifyChannel, str], ChannelSecrets],
        adapter_of: Callable[[NotifyChannel, str], Sends],
        pacer: Pacer | None = None,
        sleep: Callable[[float], None] = time.sleep,
        *,
        rules_of: Callable[[], NotificationRules],
        status_callback_url: str | None = None,
    ) -> None:
        self._store = store
        self._context = context
        self._secrets_of = secrets_of
        self._adapter_of = adapter_of
        self._pacer = pacer
        self._sleep = sleep
        self._rules_of = rules_of
        self._status_callback = status_callback_url or None

    def send(self, notification_id: str, *, now: datetime) -> NotificationReport:
        seen = self._store.notifications.notification(notification_id)
        if seen is None or not wants_sending(seen, now):
            return NotificationReport(notification_id, "idle")
        # What can fail before the claim is read before it: a failure here hands nothing back.
        rules = self._rules_of()
        tickets = self._store.tickets.tickets_requested_by(seen.contact_id, limit=TICKETS_READ, cursor=None).tickets
        claim = self._claim(seen, now)
        if claim is None:
            return NotificationReport(notification_id, "idle")
        held = claim.notification
        run = _Run(
            notification=held,
            now=now,
            tries=list(held.tries_by_channel),
            exposed=claim.interrupted,
            interruption_at=_claimed_at(seen) if claim.interrupted else None,
            open_ticket=next((t for t in tickets if t.status not in (TicketStatus.SOLVED, TicketStatus.CLOSED)), None),
        )
        try:
            return self._send_claimed(run, rules, tickets[0] if tickets else None)
        except Exception:
            if not run.exposed:
                self._give_back(run)
            raise

    # -- the claim --------------------------------------------------------------------------------------

    def _claim(self, seen: Notification, now: datetime) -> Claim | None:
        try:
            return self._store.notifications.claim(seen.id, now=now, lease=LEASE)
        except Exception:
            taken = self._claim_applied_anyway(seen, now)
            if taken is None:
                raise
            return taken

    def _claim_applied_anyway(self, seen: Notification, now: datetime) -> Claim | None:
        """A claim whose answer was lost may still have been applied: it is ours when the notification holds exactly
        our lease and one try more than we read (any other claim meanwhile would have failed ours)."""
        try:
            current = self._store.notifications.notification(seen.id)
        except Exception:  # noqa: BLE001 - the claim's own error is the one to raise
            return None
        if (
            current is not None
            and current.state is NotificationState.SENDING
            and current.tries == seen.tries + 1
            and current.lease_until == now + LEASE
        ):
            return Claim(current, interrupted=seen.state is NotificationState.SENDING)
        return None

    def _give_back(self, run: _Run) -> None:
        """Our own fault before any provider call: the notification is queued again, due now, with the tries so far."""
        try:
            self._store.notifications.defer(
                run.notification, due_at=run.now, reason="retry", tries_by_channel=tuple(run.tries)
            )
        except Exception:  # noqa: BLE001 - the lease runs out instead, and the scheduler finds it then
            logger.warning(
                "a claimed notification could not be given back", extra={"notification": run.notification.id}
            )

    # -- choosing and walking the chain -------------------------------------------------------------------

    def _send_claimed(self, run: _Run, rules: NotificationRules, newest: Ticket | None) -> NotificationReport:
        notification = run.notification
        contact = self._store.contacts.contact(notification.contact_id)
        if contact is None:
            return self._final(run, _nothing_to_send_on(run), code="no_contact")
        templates = _templates_for(notification, rules, contact)
        if templates is None:
            return self._final(run, _nothing_to_send_on(run), code="no_template")
        last_written = (newest.channel, newest.channel_account_id, _conversation_of(newest)) if newest else None
        chain = channel_chain(contact, last_written, rules)
        if not chain:
            return self._final(run, _nothing_to_send_on(run), code="unreachable")
        run.first_channel = chain[0].channel
        context = _Context(
            rules=rules,
            contact=contact,
            templates=templates,
            facts={name: value for name, value in notification.facts.items() if name != TEMPLATES_FACT},
            locale=contact.locale or rules.default_locale,
            timezone=contact.timezone or rules.default_timezone,
        )
        for route in chain:
            if run.finished(route.channel):
                continue
            report = self._try_route(run, route, context)
            if report is not None:
                return report
        refused = any(t.outcome == "rejected" for t in run.tries)
        return self._final(run, NotificationState.FAILED if refused else NotificationState.SKIPPED)

    def _try_route(self, run: _Run, route: Route, context: _Context) -> NotificationReport | None:
        """One route: a report when the notification is settled or queued again, None to go on to the next route."""
        notification, now, channel = run.notification, run.now, route.channel
        doubt = run.doubt_since(channel)
        verdict = may_send(context.contact.consent, channel, notification.category, at=now, timezone=context.timezone)
        if not verdict.allowed and verdict.code != "night_advertising":
            return self._pass_over(run, channel, verdict.code or "not_allowed", doubt)
        rendered = render_for(context.templates, channel, dict(context.facts))
        if rendered is None:
            return self._pass_over(run, channel, "no_template", doubt)
        if notification.category is Category.ADVERTISING and channel is NotifyChannel.ALIMTALK:
            # AlimTalk carries informational messages only; Kakao rejects templates with promotion in review.
            return self._pass_over(run, channel, "alimtalk_informational_only", doubt)
        try:
            request = self._request(run, route, rendered, context)
        except ValidationError:
            return self._pass_over(run, channel, "unsendable", doubt)
        adapter = self._adapter_of(channel, route.account_id)
        safe = adapter.resend_is_safe(request)
        if doubt is not None and not (safe and now - doubt < RESEND_WINDOW):
            reason = (
                "a provider may have it and cannot take it again without sending twice"
                if not safe
                else "a provider may have it, and its idempotency key has expired"
            )
            code = INTERRUPTED if run.tainted else NO_ANSWER
            attempt = ChannelTry(channel=channel, outcome="unknown", code=code, reason=reason, at=now)
            return self._final(run, NotificationState.UNKNOWN, attempt=attempt)
        hold = _hold_until(verdict, context, now, notification.category)
        if hold is not None:
            until, reason = hold
            return self._defer(run, channel, until, reason)
        secrets = self._secrets_of(channel, route.account_id)
        wait = self._paced(request)
        if wait > 0:
            return self._defer(run, channel, now + timedelta(seconds=wait), "paced")
        # From here a provider may have it: a fault of ours no longer hands the claim back as if nothing was sent.
        run.exposed = True
        outcome = self._call(adapter, request, secrets)
        return self._settle_call(run, route, rendered, request, outcome, safe=safe, doubt=doubt)

    def _pass_over(
        self, run: _Run, channel: NotifyChannel, code: str, doubt: datetime | None
    ) -> NotificationReport | None:
        """A route the notification cannot take now: skipped, unless a provider may already have it there."""
        if doubt is not None:
            attempt = ChannelTry(
                channel=channel,
                outcome="unknown",
                code=INTERRUPTED if run.tainted else NO_ANSWER,
                reason=f"a provider may have it, and it cannot be repeated ({code})",
                at=run.now,
            )
            return self._final(run, NotificationState.UNKNOWN, attempt=attempt)
        run.finish(ChannelTry(channel=channel, outcome="skipped", code=code[:64], at=run.now))
        return None

    def _settle_call(
        self,
        run: _Run,
        route: Route,
        rendered: Rendered,
        request: OutboundRequest,
        outcome: SendOutcome,
        *,
        safe: bool,
        doubt: datetime | None,
    ) -> NotificationReport | None:
        now, channel = run.now, route.channel
        calls = run.calls_on(channel) + 1
        if outcome.kind == "unknown" and safe and (doubt is None or now - doubt < RESEND_WINDOW):
            # The same request (the same idempotency key) can be repeated: no answer is a retry here, remembered as
            # a doubt so that the repeat stays within the key's window.
            run.add(ChannelTry(channel=channel, outcome="unknown", code=NO_ANSWER, reason=outcome.reason, at=now))
            if calls < MAX_CALLS:
                return self._defer(run, channel, now + timedelta(seconds=_delay(outcome, calls)), "retry")
            return self._final(run, NotificationState.UNKNOWN)
        if outcome.kind == "retry":
            if calls < MAX_CALLS:
                run.add(ChannelTry(channel=channel, outcome="retry", code=outcome.code, reason=outcome.reason, at=now))
                run.exposed = run.tainted or doubt is not None
                return self._defer(run, channel, now + timedelta(seconds=_delay(outcome, calls)), "retry")
            if doubt is not None:
                return self._final(run, NotificationState.UNKNOWN)
            outcome = SendOutcome.rejected(
                "provider_unavailable", f"the provider did not take it in {calls} calls: {outcome.reason or ''}"
            )
        if outcome.kind == "sent":
            return self._record_sent(run, route, rendered, request, outcome, calls)
        if outcome.kind == "rejected":
            run.finish(
                ChannelTry(channel=channel, outcome="rejected", code=outcome.code, reason=outcome.reason, at=now)
            )
            run.exposed = run.tainted
            if channel is NotifyChannel.SMS and outcome.code == TWILIO_UNSUBSCRIBED:
                # Twilio refuses a number that texted STOP to ours (error 21610, "Attempt to send to unsubscribed
                # recipient") and blocks it by itself: the contact's consent records what Twilio already enforces.
                self._store.contacts.record_consent(
                    run.notification.contact_id, NotifyChannel.SMS, True, at=now, by="twilio"
                )
            logger.info(
                "notification refused on a channel",
                extra={"notification": run.notification.id, "channel": channel.value, "code": outcome.code},
            )
            return None
        attempt = ChannelTry(
            channel=channel, outcome="unknown", code=outcome.code or NO_ANSWER, reason=outcome.reason, at=now
        )
        return self._final(run, NotificationState.UNKNOWN, attempt=attempt)

    # -- the provider request ---------------------------------------------------------------------------

    def _request(self, run: _Run, route: Route, rendered: Rendered, context: _Context) -> OutboundRequest:
        notification, channel = run.notification, route.channel
        advertising = notification.category is Category.ADVERTISING
        text: str | None = rendered.text
        template = alimtalk = email = None
        if rendered.whatsapp is not None:
            spec = rendered.whatsapp
            template = WhatsAppTemplate(name=spec.name, language=spec.language, parameters=spec.parameters)
            text = None
        elif rendered.alimtalk is not None:
            alimtalk = _alimtalk_message(rendered.alimtalk, route, context.rules)
            text = None
        elif rendered.email is not None:
            subject, text = rendered.email.subject, rendered.email.body
            if advertising and context.locale.lower().startswith("ko"):
                subject = _AD_SUBJECT_PREFIX + subject
            mailbox = route.account_id  # the rules' senders.email_from (notifications/choice.py)
            email = OutboundEmail(
                mailbox=mailbox,
                to=(route.recipient_id,),
                # The shop's own mailbox: a customer's answer reaches the team as a ticket.
                reply_to=mailbox,
                subject=subject,
                message_id=new_message_id(notification.id, mailbox.rpartition("@")[2].strip(" >")),
            )
        if advertising and text is not None:
            text = advertising_text(
                text,
                locale=context.locale,
                shop_name=context.rules.shop_name,
                opt_out_instruction=context.rules.opt_out_instruction,
            )
        return OutboundRequest(
            # The notification id is the idempotency key where a provider takes one (AlimTalk's
            # X-NC-API-IDEMPOTENCY-KEY, LINE's X-Line-Retry-Key): every call for it is the same request.
            attempt_id=notification.id,
            message_id=notification.id,
            ticket_id=run.open_ticket.id if run.open_ticket is not None else notification.id,
            channel=channel.timeline_channel,
            channel_account_id=route.account_id,
            recipient_id=route.recipient_id,
            text=text,
            template=template,
            alimtalk=alimtalk,
            email=email,
            human_agent=False,
            status_callback_url=self._status_callback,
            now=run.now,
        )

    def _paced(self, request: OutboundRequest) -> float:
        """0 once the account's rate has a slot for this send (reserved), else how long it must wait."""
        return 0.0 if self._pacer is None else self._pacer.slot(request, self._sleep)

    def _call(self, adapter: Sends, request: OutboundRequest, secrets: ChannelSecrets) -> SendOutcome:
        try:
            return adapter.send(request, secrets, self._context)
        except ProviderUnreachable as error:
            return SendOutcome.retry(str(error))
        except ProviderTimeout as error:
            return SendOutcome.unknown(str(error))

    # -- settling ---------------------------------------------------------------------------------------

    def _record_sent(
        self,
        run: _Run,
        route: Route,
        rendered: Rendered,
        request: OutboundRequest,
        outcome: SendOutcome,
        calls: int,
    ) -> NotificationReport:
        notification, now, channel = run.notification, run.now, route.channel
        run.finish(
            ChannelTry(channel=channel, outcome="sent", reason=f"taken on call {calls}" if calls > 1 else None, at=now)
        )
        ticket = run.open_ticket
        copy = _ticket_copy(notification, ticket, route, _what_was_read(rendered, request), now) if ticket else None
        recorded = self._persist(
            lambda: self._store.notifications.record_sent(
                notification,
                channel=channel,
                account_id=route.account_id,
                # A provider that names no message (none of ours today) still gets an index entry to find it by.
                provider_message_id=outcome.provider_message_id or notification.id,
                tries_by_channel=tuple(run.tries),
                now=now,
                ticket_message=copy,
                ticket_id=ticket.id if ticket is not None else None,
            )
        )
        if not recorded and not self._is_sent(notification.id):
            # The lease ran out under a slow provider and another sender took it over: the provider has it, and
            # that sender's interrupted claim decides what is recorded.
            return NotificationReport(notification.id, "idle", channel)
        logger.info("notification sent", extra={"notification": notification.id, "channel": channel.value})
        with single_metric(name="NotificationsSent", unit=MetricUnit.Count, value=1) as metric:
            metric.add_dimension(name="channel", value=channel.value)
        if run.first_channel is not None and channel is not run.first_channel:
            metrics.add_metric(name="NotificationFallbacks", unit=MetricUnit.Count, value=1)
        return NotificationReport(notification.id, "sent", channel)

    def _final(
        self,
        run: _Run,
        state: NotificationState,
        *,
        attempt: ChannelTry | None = None,
        code: str | None = None,
    ) -> NotificationReport:
        notification = run.notification
        if attempt is not None:
            run.finish(attempt)
        recorded = self._persist(
            lambda: self._store.notifications.record_final(
                notification, state=state, tries_by_channel=tuple(run.tries), now=run.now
            )
        )
        if not recorded:
            return NotificationReport(notification.id, "idle")
        code = code or (attempt.code if attempt is not None else None)
        result: Result = {"failed": "failed", "skipped": "skipped", "unknown": "unknown"}[state.value]  # type: ignore[assignment]
        logger.info(
            "notification settled",
            extra={
                "notification": notification.id,
                "result": result,
                "code": code,
                "channel": attempt.channel.value if attempt is not None else None,
            },
        )
        metrics.add_metric(name=f"Notifications{result.capitalize()}", unit=MetricUnit.Count, value=1)
        return NotificationReport(notification.id, result, attempt.channel if attempt else None, code)

    def _defer(self, run: _Run, channel: NotifyChannel, due_at: datetime, reason: str) -> NotificationReport:
        notification = run.notification
        run.note_interruption(channel)
        deferred = self._persist(
            lambda: self._store.notifications.defer(
                notification, due_at=due_at, reason=reason, tries_by_channel=tuple(run.tries)
            )
        )
        if not deferred and not self._is_queued_for(notification.id, due_at):
            return NotificationReport(notification.id, "idle")
        wait = max(1, math.ceil((due_at - run.now).total_seconds()))
        logger.info(
            "notification deferred",
            extra={"notification": notification.id, "channel": channel.value, "reason": reason, "seconds": wait},
        )
        with single_metric(name="NotificationsDeferred", unit=MetricUnit.Count, value=1) as metric:
            metric.add_dimension(name="reason", value=reason)
        return NotificationReport(notification.id, "deferred", channel, reason, wait)

    def _persist(self, write: Callable[[], bool]) -> bool:
        """A settling write, tried again on our own faults: a second try after an applied write whose answer was
        lost finds the claim gone and answers False, which the callers read as the state they then find."""
        for attempt in range(SETTLE_TRIES):
            try:
                return write()
            except Exception:
                if attempt == SETTLE_TRIES - 1:
                    raise
                logger.warning("a settling write failed; trying again", exc_info=True)
                self._sleep(0.05 * 2**attempt)
        return False

    def _is_queued_for(self, notification_id: str, due_at: datetime) -> bool:
        """Whether a deferral whose answer was lost was applied: the notification is queued for exactly then."""
        current = self._store.notifications.notification(notification_id)
        return current is not None and current.state is NotificationState.QUEUED and current.due_at == due_at

    def _is_sent(self, notification_id: str) -> bool:
        current = self._store.notifications.notification(notification_id)
        return current is not None and current.state is NotificationState.SENT


def send_notification_batch(
    event: Mapping[str, Any],
    *,
    sender: NotificationSender,
    queue: NotificationQueue,
    now: Callable[[], datetime] = utc_now,
) -> dict[str, Any]:
    """NotificationQueue's batch (SQS standard, ReportBatchItemFailures): each record names one notification. Only
    our own unexpected errors are reported (SQS delivers those again); a notification queued again for less than
    SQS's 15-minute delay is sent back to the queue with that delay, a longer wait is the scheduler's (ByNotifyDue)."""
    failures: list[dict[str, str]] = []
    later: dict[int, list[str]] = {}
    for record in event.get("Records") or []:
        try:
            notification_id = notification_id_of_body(record["body"])
        except (KeyError, TypeError, ValueError):
            # Not ours (written by hand into the queue): dropping it loses nothing, the table has every notification.
            logger.error("notification queue message names no notification; dropped")
            continue
        try:
            report = sender.send(notification_id, now=now())
        except Exception:  # noqa: BLE001 - whatever failed, the queue delivers it again (and the scheduler has it)
            logger.exception("sending a notification failed", extra={"notification": notification_id})
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        if report.result == "deferred" and report.retry_in_seconds is not None:
            if report.retry_in_seconds <= MAX_DELAY_SECONDS:
                later.setdefault(report.retry_in_seconds, []).append(notification_id)
    for delay, ids in later.items():
        try:
            queue.send(ids, delay_seconds=delay)
        except Exception:  # noqa: BLE001 - they are due in ByNotifyDue: the scheduler queues them
            logger.exception(
                "deferred notifications were not queued again; the scheduler will", extra={"count": len(ids)}
            )
    return {"batchItemFailures": failures}


def wants_sending(notification: Notification, now: datetime) -> bool:
    """Queued and due (a moment's clock difference allowed), or claimed by a sender whose lease ran out."""
    if notification.state is NotificationState.QUEUED:
        return notification.due_at <= now + CLAIM_EARLY
    return (
        notification.state is NotificationState.SENDING
        and notification.lease_until is not None
        and notification.lease_until <= now
    )


def _nothing_to_send_on(run: _Run) -> NotificationState:
    """Settled without a route to try: skipped, unless an earlier sender died holding it (a provider may have it)."""
    return NotificationState.UNKNOWN if run.tainted else NotificationState.SKIPPED


def _claimed_at(seen: Notification) -> datetime:
    """When the interrupted claim was made: its lease began then, and its provider call came after."""
    return (seen.lease_until or seen.due_at) - LEASE


def _templates_for(notification: Notification, rules: NotificationRules, contact: Contact) -> ChannelTemplates | None:
    """The templates in the contact's locale: the delay detection's own for the scheduler's apology (its facts say
    so), else the rule of the notification's event type as the admin has it now (None once it was turned off)."""
    if notification.facts.get(TEMPLATES_FACT) == DELAY_TEMPLATES:
        source = rules.delay_detection.templates
    else:
        rule = rules.rule_for(notification.event_type)
        source = rule.templates if rule is not None else {}
    return pick_locale(source, contact.locale, rules.default_locale) if source else None


def _hold_until(verdict: Verdict, context: _Context, now: datetime, category: Category) -> tuple[datetime, str] | None:
    """When the message may go if not now: the end of the admin's quiet hours, and for advertising without night
    consent the end of the legal night (정보통신망법 제50조 제3항); whichever ends later."""
    holds: list[tuple[datetime, str]] = []
    quiet = quiet_until(context.rules.quiet_hours, now, context.timezone)
    if quiet is not None:
        holds.append((quiet, "quiet_hours"))
    if category is Category.ADVERTISING and verdict.code == "night_advertising" and verdict.resume_at is not None:
        holds.append((verdict.resume_at, "night_advertising"))
    return max(holds, key=lambda hold: hold[0]) if holds else None


def _alimtalk_message(rendered: RenderedAlimTalk, route: Route, rules: NotificationRules) -> AlimTalkMessage:
    """NHN Cloud's request for one recipient: the approved template and its variables, and 대체발송 (the SMS/LMS NHN
    Cloud sends when KakaoTalk cannot deliver) when the shop registered a sending number and the template has a text."""
    resend_number = rules.senders.alimtalk_resend_number
    resend = bool(resend_number and rendered.resend_text)
    return AlimTalkMessage(
        sender_key=route.account_id,
        template_code=rendered.template_code,
        template_parameter=dict(rendered.parameters),
        resend=resend,
        resend_title=rendered.resend_title if resend else None,
        resend_content=rendered.resend_text if resend else None,
        resend_send_no=resend_number if resend else None,
    )


def _delay(outcome: SendOutcome, calls: int) -> int:
    """The provider's Retry-After when it gave one, else exponential back-off (2, 4, 8 ... 300 s)."""
    if outcome.retry_after_seconds is not None:
        return max(1, min(math.ceil(outcome.retry_after_seconds), RETRY_AFTER_MAX_SECONDS))
    return min(BACKOFF_BASE_SECONDS ** max(1, calls), BACKOFF_MAX_SECONDS)


def _conversation_of(ticket: Ticket) -> str:
    return ticket.conversation_key.split(":", 2)[-1]


def _what_was_read(rendered: Rendered, request: OutboundRequest) -> str:
    """The message as the customer reads it: the text sent (advertising marks included), else the template's summary."""
    if request.email is not None:
        return f"{request.email.subject}\n\n{request.text or ''}"
    return request.text or rendered.text


def _ticket_copy(notification: Notification, ticket: Ticket, route: Route, text: str, now: datetime) -> TicketMessage:
    """The notification on the contact's open ticket: a system message, sent, naming the order it is about."""
    channel = route.channel.timeline_channel
    external_id = f"notification:{notification.id}"
    order = notification.order_number or notification.order_id
    heading = f"Order {order} · {notification.event_type.value} · {route.channel.value}"
    return TicketMessage(
        id=stable_id("m", channel.value, external_id),
        ticket_id=ticket.id,
        channel=channel,
        external_id=external_id,
        direction=Direction.OUTBOUND,
        author_kind=AuthorKind.SYSTEM,
        public=True,
        message_type="notification",
        text=cut_text(f"{heading}\n{text}", _TIMELINE_TEXT_CHARS),
        delivery_status=DeliveryStatus.SENT,
        delivery_history=(DeliveryEvent(status=DeliveryStatus.SENT, at=now, by="sender"),),
        attempt_id=notification.id,
        created_at=now,
        received_at=now,
    )
