"""Agents answer customers: POST /tickets/{ticket_id}/replies, and resend a reply that failed or whose fate is
unknown: POST /tickets/{ticket_id}/messages/{message_key}/resend.

A reply is accepted (202) once its message, the ticket's change and its first send attempt are written in one
transaction (store/tickets.py accept_reply); the channel sender sends it from the outbox. The Idempotency-Key,
per agent, makes the POST safe to retry: the same key and body answer 200 with the message already accepted
and nothing is sent again; the same key with another body is 422 (as for notes, api/ticket_notes.py).

What is refused before anything is written: a text over the channel's limit (400, naming it), a reply the
channel's window does not allow now (409 `window_closed`, with what is still allowed and, on WhatsApp, the
approved templates), a channel that cannot carry an agent's free text at all (409 `channel_cannot_push`:
KakaoTalk), a closed ticket (422).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from switchboard.api.agents import Role, caller_of
from switchboard.api.representation import etag_of, json_body, message_json, ticket_json
from switchboard.api.ticket_notes import Busy, IdempotencyKeyReused, idempotency_key_of
from switchboard.api.write_requests import MAX_REPLY_CHARS, ReplyRequest
from switchboard.channels.sending import OutboundRequest, WhatsAppTemplate, WindowVerdict
from switchboard.config import AccessSettings, WhatsAppTemplateConfig
from switchboard.errors import InvalidRequest, NotFound, SwitchboardError
from switchboard.http import error_response, json_response
from switchboard.models import (
    Attachment,
    AttemptIntent,
    Channel,
    DeliveryStatus,
    Direction,
    SendAttempt,
    TicketMessage,
    utc_now,
)
from switchboard.observability import logger, metrics
from switchboard.outbound.adapters import sending_adapter
from switchboard.outbound.queue import OutboundQueue
from switchboard.outbound.requests import outbound_attachment
from switchboard.sla.clocks import track
from switchboard.store.messages import StoredMessage, UnknownMessageKey, timeline_key
from switchboard.store.repositories import Repositories
from switchboard.store.table import AlreadyStored, WriteConflict
from switchboard.tickets.replies import MAX_ATTEMPTS_PER_REPLY, reply_external_id, reply_on, resend_of

_ATTEMPTS = 5
_MAX_BODY_BYTES = 4 * MAX_REPLY_CHARS + 16_384


class WindowClosed(SwitchboardError):
    status_code = 409
    code = "window_closed"

    def __init__(self, verdict: WindowVerdict, templates: Sequence[WhatsAppTemplateConfig]) -> None:
        super().__init__(verdict.reason or "the channel does not allow this reply now")
        self.code = verdict.code or "window_closed"
        self.details = {
            "allowed": list(verdict.allowed),
            **({"templates": [t.model_dump() for t in templates]} if "template" in verdict.allowed else {}),
        }


class NotResendable(SwitchboardError):
    status_code = 409
    code = "not_resendable"


def handle_ticket_reply(
    event: Mapping[str, Any],
    *,
    store: Repositories,
    access: AccessSettings,
    queue: OutboundQueue,
    templates: Sequence[WhatsAppTemplateConfig],
    clock: Callable[[], datetime] = utc_now,
) -> dict[str, Any]:
    try:
        agent = caller_of(event, access).require(Role.AGENT).subject
        ticket_id = (event.get("pathParameters") or {}).get("ticket_id", "")
        key = idempotency_key_of(event, what="reply")
        wanted = json_body(event, ReplyRequest, max_bytes=_MAX_BODY_BYTES, expected='a reply {"text": "..."}')
        for _ in range(_ATTEMPTS):
            current = store.tickets.ticket_record(ticket_id)
            if current is None:
                raise NotFound(f"ticket {ticket_id[:200]!r} does not exist")
            ticket = current.ticket
            replayed = _replayed(store, ticket.channel, ticket_id, agent, key, wanted)
            if replayed is not None:
                return replayed
            now = clock()
            _check_reply(
                ticket.channel, ticket.channel_account_id, ticket.last_customer_message_at, wanted, templates, now
            )
            message, after, attempt, audit = reply_on(
                ticket,
                intent=_intent(wanted),
                status=wanted.status,
                agent_id=agent,
                idempotency_key=key,
                at=now,
                version=current.version + 1,
                timeline_key=timeline_key,
            )
            after = track(ticket, after, at=now, rules=store.sla_rules.current())
            try:
                store.tickets.accept_reply(
                    current=current, ticket_after=after, message=message, attempt=attempt, audit=audit
                )
            except AlreadyStored:
                continue  # another request with this key won: the next round answers with its reply
            except WriteConflict:
                continue
            _enqueue(queue, attempt)
            logger.info("reply accepted", extra={"channel": ticket.channel.value, "version": current.version + 1})
            metrics.add_metric(name="ReplyAccepted", unit="Count", value=1)
            return json_response(
                202,
                {"message": _reply_json(StoredMessage(attempt.message_key, message)), "ticket": ticket_json(after)},
                {"etag": etag_of(current.version + 1)},
            )
        raise Busy("the ticket is changing right now; send the reply again with the same Idempotency-Key")
    except SwitchboardError as error:
        return error_response(error)


def handle_resend(
    event: Mapping[str, Any],
    *,
    store: Repositories,
    access: AccessSettings,
    queue: OutboundQueue,
    templates: Sequence[WhatsAppTemplateConfig],
) -> dict[str, Any]:
    try:
        caller_of(event, access).require(Role.AGENT)
        path = event.get("pathParameters") or {}
        ticket_id, message_key = path.get("ticket_id", ""), path.get("message_key", "")
        current = store.tickets.ticket_record(ticket_id)
        message = _message_or_none(store, ticket_id, message_key) if current is not None else None
        if current is None or message is None:
            raise NotFound("no such message on this ticket")
        if message.direction is not Direction.OUTBOUND or message.attempt_id is None:
            raise NotResendable("only an agent's reply sent from here can be resent")
        if message.delivery_status not in (DeliveryStatus.FAILED, DeliveryStatus.UNKNOWN):
            raise NotResendable(
                f"the reply is {message.delivery_status.value if message.delivery_status else 'not sent'}; only a "
                "failed reply, or one whose delivery is unknown, is resent"
            )
        previous = store.outbox.attempt(message.attempt_id)
        if previous is None:
            raise NotResendable("the reply's send attempt is gone")
        if previous.number >= MAX_ATTEMPTS_PER_REPLY:
            raise NotResendable(
                f"the reply was tried {previous.number} times; write a new reply instead (it gets its own history)"
            )
        now = utc_now()
        ticket = current.ticket
        if previous.intent.template_name is None:
            verdict = sending_adapter(ticket.channel, ticket.channel_account_id).window(
                last_customer_message_at=ticket.last_customer_message_at, now=now, human_agent=True, template=False
            )
            if not verdict.open:
                raise WindowClosed(verdict, _templates_for(templates, ticket.channel_account_id))
        attempt = resend_of(previous, at=now)
        try:
            store.outbox.accept_resend(attempt, previous_attempt_id=previous.id)
        except WriteConflict:
            raise NotResendable("the reply was resent already, or its status changed; read it again") from None
        _enqueue(queue, attempt)
        metrics.add_metric(name="ReplyResent", unit="Count", value=1)
        resent = message.model_copy(
            update={
                "attempt_id": attempt.id,
                "delivery_status": DeliveryStatus.QUEUED,
                "delivery_error": None,
                "delivery_error_code": None,
            }
        )
        return json_response(202, {"message": _reply_json(StoredMessage(message_key, resent))})
    except SwitchboardError as error:
        return error_response(error)


def _check_reply(
    channel: Channel,
    account_id: str,
    last_customer_message_at: datetime | None,
    wanted: ReplyRequest,
    templates: Sequence[WhatsAppTemplateConfig],
    now: datetime,
) -> None:
    adapter = sending_adapter(channel, account_id)
    if wanted.text is not None and len(wanted.text) > adapter.max_text_chars:
        raise InvalidRequest(
            f"the text is {len(wanted.text)} characters; {channel.value} takes at most {adapter.max_text_chars} in "
            "one message: shorten it or send it as two replies"
        )
    if wanted.cc and channel is not Channel.EMAIL:
        raise InvalidRequest("cc is for email replies only")
    if wanted.template is not None:
        if channel is not Channel.WHATSAPP:
            raise InvalidRequest("templates are WhatsApp's; this ticket is on " + channel.value)
        configured = next(
            (
                t
                for t in _templates_for(templates, account_id)
                if t.name == wanted.template.name and t.language == wanted.template.language
            ),
            None,
        )
        if configured is None:
            raise InvalidRequest("no approved template of that name and language is configured for this number")
        if configured.parameters != len(wanted.template.parameters):
            raise InvalidRequest(f"the template takes {configured.parameters} parameters")
    refusal = adapter.refusal(_probe_request(channel, account_id, wanted, now))
    if refusal is not None:
        raise InvalidRequest(refusal)
    verdict = adapter.window(
        last_customer_message_at=last_customer_message_at,
        now=now,
        human_agent=True,
        template=wanted.template is not None,
    )
    if not verdict.open:
        raise WindowClosed(verdict, _templates_for(templates, account_id))


def _probe_request(channel: Channel, account_id: str, wanted: ReplyRequest, now: datetime) -> OutboundRequest:
    """The reply as its channel would be asked to send it, for the channel's own refusal; its URLs are stand-ins
    (the sender presigns real ones), since what a channel refuses is a file's kind, type and count."""
    intent = _intent(wanted)
    return OutboundRequest(
        attempt_id="probe",
        message_id="probe",
        ticket_id="probe",
        channel=channel,
        channel_account_id=account_id,
        recipient_id="probe",
        text=wanted.text,
        attachments=tuple(
            outbound_attachment(a, f"https://attachments.invalid/{a.storage_key}") for a in intent.attachments
        ),
        template=(
            WhatsAppTemplate(
                name=wanted.template.name, language=wanted.template.language, parameters=wanted.template.parameters
            )
            if wanted.template
            else None
        ),
        now=now,
    )


def _templates_for(templates: Sequence[WhatsAppTemplateConfig], account_id: str) -> list[WhatsAppTemplateConfig]:
    return [t for t in templates if t.account in ("*", account_id)]


def _intent(wanted: ReplyRequest) -> AttemptIntent:
    return AttemptIntent(
        text=wanted.text,
        attachments=tuple(
            Attachment(
                kind=_kind_of(reference.mime_type),
                storage_key=reference.storage_key,
                filename=reference.filename,
                mime_type=reference.mime_type,
            )
            for reference in wanted.attachments
        ),
        template_name=wanted.template.name if wanted.template else None,
        template_language=wanted.template.language if wanted.template else None,
        template_parameters=wanted.template.parameters if wanted.template else (),
        cc=wanted.cc,
    )


def _kind_of(mime_type: str | None) -> str:
    major = (mime_type or "").split("/", 1)[0]
    return major if major in ("image", "video", "audio") else "document"


def _replayed(
    store: Repositories, channel: Channel, ticket_id: str, agent: str, key: str, wanted: ReplyRequest
) -> dict[str, Any] | None:
    """The reply this agent's key already wrote: 200 with it for the same request, 422 for another; None if none."""
    ref = store.messages.message_ref(channel.value, reply_external_id(agent, key))
    if ref is None:
        return None
    stored = store.messages.stored_message(ref)
    if stored is None or ref.ticket_id != ticket_id or not _same_request(stored.message, wanted):
        raise IdempotencyKeyReused("this Idempotency-Key already sent another reply; use a new key for a new reply")
    return json_response(200, {"message": _reply_json(stored)})


def _same_request(message: TicketMessage, wanted: ReplyRequest) -> bool:
    return message.text == wanted.text and [a.storage_key for a in message.attachments] == [
        a.storage_key for a in wanted.attachments
    ]


def _message_or_none(store: Repositories, ticket_id: str, message_key: str) -> TicketMessage | None:
    try:
        return store.messages.message(ticket_id, message_key)
    except UnknownMessageKey:
        return None


def _enqueue(queue: OutboundQueue, attempt: SendAttempt) -> None:
    """Queues the attempt for the sender now. Failing here loses nothing: the attempt is in the outbox, and the
    sweep (rate 1 minute) queues every attempt still queued a minute after it became due."""
    try:
        queue.enqueue([attempt])
    except Exception as error:  # noqa: BLE001 - whatever failed, the sweep has it
        logger.warning("reply queued by the sweep instead", extra={"error": type(error).__name__})
        metrics.add_metric(name="ReplyEnqueueDeferred", unit="Count", value=1)


def _reply_json(stored: StoredMessage) -> dict[str, Any]:
    return {**message_json(stored.message), "message_key": stored.key}
