"""The agents' API as an OpenAPI 3.1 document, served at GET /openapi.json (and by the local runner's /docs).

The document is generated from our own pydantic models (the ones the handlers validate requests with and
dump answers from) by the route table below: one entry per agent route, with its role, parameters, body and
every answer it gives. tests/unit/test_openapi.py checks that the table and template.yaml name the same
agent routes, and tests/e2e/test_openapi_contract.py has schemathesis check the running local stack against
the document, so a handler and its description cannot drift apart unnoticed.

Why not Powertools' Event Handler (APIGatewayHttpResolver with enable_validation=True), which generates such
a document from its routes: cold imports timed as bench/cold_start.py times them (a fresh interpreter each,
median of 10, bytecode cached, on the 2-core development machine; Powertools 3.37.0, pydantic 2.13), with
`python -X importtime` for the parts:

    aws_lambda_powertools.event_handler + APIGatewayHttpResolver(enable_validation=True), alone   219 ms
      (the lead measured 186 ms; its openapi_validation middleware alone imports in 106 ms)
    functions/whatsapp_webhook/app.py, a whole webhook function                                   293 ms
    the same + the resolver                                                                       375 ms (+81)
    functions/tickets_api/app.py                                                                  513 ms
    the same + the resolver                                                                       554 ms (+41)

Alone the resolver costs about what a whole webhook function does; on top of a function that already loads
pydantic and Powertools' logger it still adds 40-80 ms to every agent route's cold start, and then validates
each request a second time. The functions keep their routing by routeKey; this module costs nothing until
GET /openapi.json asks for it (tickets.py imports it there): importing it and building the document takes
about 75 ms on top of tickets_api's own imports, once per container, for that route only.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import GenerateJsonSchema, models_json_schema
from pydantic_core import core_schema

from switchboard.api.agents import Role
from switchboard.api.contact_requests import MAX_TICKETS_READ, MAX_TICKETS_RETAGGED, ContactTags, TaggedContact
from switchboard.api.notification_requests import TEMPLATE_FACTS, NotificationRulesAnswer
from switchboard.api.order_views import REQUESTER_ORDERS, NotificationPage, OrderPage, OrderView
from switchboard.api.representation import DEFAULT_PAGE_SIZE, LISTING_TEXT_CHARS, MAX_PAGE_SIZE
from switchboard.api.sla_requests import (
    SCHEDULE_ID_PATTERN,
    DryRunAnswer,
    DryRunRequest,
    PolicyListAnswer,
    ScheduleList,
)
from switchboard.api.write_requests import NoteRequest, ReleaseRequest, ReplyRequest
from switchboard.config import WhatsAppTemplateConfig
from switchboard.http import json_response
from switchboard.models import (
    Contact,
    HeldMail,
    MailHandling,
    SlaMetric,
    SlaView,
    Ticket,
    TicketAudit,
    TicketMessage,
    TicketStatus,
)
from switchboard.sla.policies import PolicyList
from switchboard.sla.schedules import Schedule, ScheduleRules
from switchboard.tickets.changes import TicketChange
from switchboard.tickets.notes import MAX_IDEMPOTENCY_KEY_CHARS

OPENAPI_PATH = "/openapi.json"
_REF = "#/components/schemas/{model}"


# -- The answers' envelopes, as the handlers build them --------------------------------------------------------


class ListedMessage(TicketMessage):
    """A message as the timeline shows it: with the key that fetches it whole."""

    message_key: str = Field(description="GET /tickets/{ticket_id}/messages/{message_key} returns the message whole")
    text_truncated: bool = Field(
        description=f"In a page, text, original_text and email.full_text are cut at {LISTING_TEXT_CHARS} characters"
    )


class WrittenMessage(TicketMessage):
    """A message an agent just wrote (a note), with its timeline key."""

    message_key: str


class TicketPage(BaseModel):
    tickets: list[Ticket]
    next_cursor: str | None = Field(description="Pass back as `cursor` for the next page; null on the last one")


class TicketWithTimeline(BaseModel):
    ticket: Ticket
    messages: list[ListedMessage] = Field(description="The first page of the timeline, oldest first")
    next_cursor: str | None
    sla_elapsed_seconds: dict[SlaMetric, float] = Field(
        default_factory=dict,
        description="Per SLA metric, the time it has run so far as of this read: business time for a "
        "business-hours target (the ticket's sla holds it only as of the ticket's last change)",
    )
    requester_orders: list[OrderView] = Field(
        default_factory=list,
        description=f"The requester's {REQUESTER_ORDERS} newest orders from the shops, newest first, with their "
        "shipments' carrier, tracking and promised date: nobody has to ask the customer for the order number",
    )


class MessagePage(BaseModel):
    messages: list[ListedMessage]
    next_cursor: str | None


class OneMessage(BaseModel):
    message: ListedMessage


class AuditPage(BaseModel):
    audits: list[TicketAudit]
    next_cursor: str | None


class ChangedTicket(BaseModel):
    ticket: Ticket
    audit: TicketAudit | None = Field(description="null when the change changed nothing (and nothing was written)")


class WrittenAnswer(BaseModel):
    message: WrittenMessage


class AcceptedReply(BaseModel):
    message: WrittenMessage = Field(
        description="The reply, delivery_status queued: the sender sends it from the outbox"
    )
    ticket: Ticket = Field(description="The ticket after the reply (its status, its reply times)")


class HeldMailPage(BaseModel):
    held: list[HeldMail]
    next_cursor: str | None


class ReleasedMail(BaseModel):
    held: HeldMail


class ContactWithTickets(BaseModel):
    contact: Contact
    tickets: list[Ticket] = Field(description="The contact's tickets on every channel, newest first")
    next_cursor: str | None


class Error(BaseModel):
    """Every error the functions answer: a code to branch on and a sentence saying what to fix."""

    model_config = ConfigDict(extra="allow")

    error: str = Field(description="invalid_request, unauthorized, forbidden, not_found, ... (see each answer)")
    message: str


class GatewayError(BaseModel):
    """API Gateway's own answers, before any function runs: 401 Unauthorized (no valid token), 403 Forbidden
    (none of the route's scopes), 404 Not Found (no such route), 413, 429 Too Many Requests."""

    message: str


class StaleTicket(Error):
    """412: the ticket as it now is; read its ETag header, look, and send the change again."""

    ticket: Ticket


class ReplyRefused(Error):
    """409: the channel cannot take this reply now (window_closed, channel_cannot_push): what can."""

    allowed: list[str] = Field(description='What this ticket\'s channel can still send, e.g. ["template"]')
    # Present only when a template is what is allowed (WhatsApp outside its 24-hour window).
    templates: list[WhatsAppTemplateConfig] | None = Field(
        default=None,
        exclude_if=lambda templates: templates is None,
        description="WhatsApp: the number's approved templates, one of which the reply may send instead",
    )


class RuleProblem(BaseModel):
    loc: list[str | int] = Field(description="Where in the body: its keys and list indexes ([]: the body as a whole)")
    msg: str = Field(description="What is wrong there")


class RulesRefused(Error):
    """400 for SLA rules: every problem found in the body, each at its place, not only the first."""

    errors: list[RuleProblem] = Field(description="Every problem, at most 100 (`message` counts them all)")


class StaleRules(Error):
    """412: the rules (or the schedule) are at another version than If-Match (or the body's version) named."""

    version: int = Field(description="The current version: read what it holds, then send the change again")


# -- The routes -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    name: str
    where: Literal["path", "query", "header"]
    schema: Mapping[str, Any]
    description: str
    required: bool = False


@dataclass(frozen=True)
class Answer:
    description: str
    body: type[BaseModel] | tuple[type[BaseModel], ...] | None = None
    etag: bool = False
    etag_description: str = 'The ticket\'s version, e.g. "3": send it as If-Match'


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    operation_id: str
    summary: str
    role: Role | None
    answers: Mapping[int, Answer]
    params: tuple[Param, ...] = ()
    body: type[BaseModel] | None = None
    example: Mapping[str, Any] | None = None
    description: str = ""
    tags: tuple[str, ...] = field(default=("tickets",))

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"


def _path(name: str, description: str) -> Param:
    return Param(name, "path", {"type": "string", "minLength": 1}, description, required=True)


TICKET_ID = _path("ticket_id", "The ticket's id, e.g. t_bc6d80b2bc9e8110f657c83a")
LIMIT = Param(
    "limit",
    "query",
    {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": DEFAULT_PAGE_SIZE},
    "Items per page",
)
CURSOR = Param("cursor", "query", {"type": "string"}, "The `next_cursor` the previous page of this listing gave")
IDEMPOTENCY_KEY = Param(
    "Idempotency-Key",
    "header",
    {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_IDEMPOTENCY_KEY_CHARS,
        "pattern": "^[\\x21-\\x7e]([\\x20-\\x7e]*[\\x21-\\x7e])?$",
    },
    "A new UUID per request, kept per agent: a retry with the same key and body answers 200 with what the first "
    "wrote, and writes nothing more; the same key with another body is 422 idempotency_key_reused",
    required=True,
)
IF_MATCH = Param(
    "If-Match",
    "header",
    {"type": "string"},
    'The ETag that reading the ticket gave, e.g. "3" (RFC 9110 §13.1.1); without it the answer is 428',
    required=True,
)

_INVALID = Answer("invalid_request: a parameter or the body is not what this route takes (`message` says which)", Error)
_UNAUTHORIZED = Answer(
    'No valid bearer token: API Gateway answers {"message": "Unauthorized"}; a function reached without JWT '
    "claims answers unauthorized",
    (Error, GatewayError),
)
_FORBIDDEN = Answer(
    'forbidden: the token carries no role for this route (API Gateway\'s {"message": "Forbidden"} when roles '
    "are OAuth scopes)",
    (Error, GatewayError),
)
_NOT_FOUND = Answer(
    'not_found: no such ticket (or no such route: API Gateway\'s {"message": "Not Found"})', (Error, GatewayError)
)
_GUARDED = {401: _UNAUTHORIZED, 403: _FORBIDDEN}


def _guarded(answers: Mapping[int, Answer], *, not_found: Answer | None = _NOT_FOUND) -> dict[int, Answer]:
    """The answers of an agent route: its own, the authorizer's and the role check's, and 404 where it has one."""
    return {**answers, **_GUARDED, **({404: not_found} if not_found else {})}


SCHEDULE_ID = Param(
    "schedule_id",
    "path",
    {"type": "string", "pattern": SCHEDULE_ID_PATTERN},
    "The schedule's id, chosen by the admin, e.g. seoul-office",
    required=True,
)
RULES_IF_MATCH = Param(
    "If-Match",
    "header",
    {"type": "string"},
    'Save only on top of this version, e.g. 3 or "3" (RFC 9110 §13.1.1); without it the save is made on the '
    "version just read, so another admin's save in between is never overwritten unseen",
)
_RULES_INVALID = Answer(
    "invalid_request: the body is not JSON of this route's shape, or `errors` lists every problem in it",
    (RulesRefused, Error),
)
_RULES_BUSY = Answer("conflict: other admins saved the rules twice while this save was tried; send it again", Error)
_NO_SUCH_ROUTE = Answer('No such route: API Gateway\'s {"message": "Not Found"}', GatewayError)
_SLA_TAGS = ("sla",)
_NOTIFICATION_TAGS = ("notifications",)
CONTACT_ID = _path("contact_id", "The contact's id, e.g. c_983063683f19fd77111918fd")
_NO_SUCH_CONTACT = Answer("not_found: no such contact", (Error, GatewayError))
_RULES_ETAG = 'The rules\' version, e.g. "3": send it as If-Match'

ROUTES: tuple[Route, ...] = (
    Route(
        "GET",
        "/tickets",
        "listTickets",
        "Tickets, newest first",
        Role.AGENT,
        _guarded({200: Answer("A page of tickets", TicketPage), 400: _INVALID}, not_found=None),
        params=(
            Param("status", "query", {"enum": [s.value for s in TicketStatus]}, "Only tickets in this status"),
            Param(
                "assignee",
                "query",
                {"type": "string", "minLength": 1},
                "Only tickets assigned to this agent (`me` for the caller)",
            ),
            Param("group", "query", {"type": "string", "minLength": 1}, "Only tickets of this group"),
            Param(
                "sla",
                "query",
                {"enum": [v.value for v in SlaView]},
                "An SLA view instead, what is due first first: breached (by the oldest breach), warning or active "
                "(by the next deadline); not combined with status, assignee or group",
            ),
            Param("sort", "query", {"enum": ["due"]}, "With sla: due, the only order of an SLA view"),
            LIMIT,
            CURSOR,
        ),
    ),
    Route(
        "GET",
        "/tickets/{ticket_id}",
        "getTicket",
        "The ticket and the first page of its timeline, oldest first",
        Role.AGENT,
        _guarded(
            {200: Answer("The ticket; its ETag header is its version", TicketWithTimeline, etag=True), 400: _INVALID}
        ),
        params=(TICKET_ID, LIMIT),
    ),
    Route(
        "PATCH",
        "/tickets/{ticket_id}",
        "changeTicket",
        "Change the ticket's status, priority, assignee, group or tags",
        Role.AGENT,
        _guarded(
            {
                200: Answer(
                    "The ticket as changed, with the audit of the change and the new ETag", ChangedTicket, etag=True
                ),
                400: _INVALID,
                412: Answer(
                    "precondition_failed: the ticket changed since that ETag; `ticket` is as it now is, ETag its version",
                    StaleTicket,
                    etag=True,
                ),
                422: Answer(
                    "invalid_change: a status this ticket may not take, a null status, priority or tags, a closed ticket",
                    Error,
                ),
                428: Answer("precondition_required: If-Match is missing", Error),
            }
        ),
        params=(TICKET_ID, IF_MATCH),
        body=TicketChange,
        example={"status": "pending", "priority": "high", "tags": ["exchange"]},
        description="A field left out stays as it is; `assignee_id` or `group_id` given as null unassigns. "
        "Agents set open, pending, on_hold and solved; nothing returns to new and a closed ticket takes no change.",
    ),
    Route(
        "GET",
        "/tickets/{ticket_id}/messages",
        "listTicketMessages",
        "The ticket's timeline, oldest first, a page at a time",
        Role.AGENT,
        _guarded({200: Answer("A page of messages", MessagePage), 400: _INVALID}),
        params=(TICKET_ID, LIMIT, CURSOR),
    ),
    Route(
        "GET",
        "/tickets/{ticket_id}/messages/{message_key}",
        "getTicketMessage",
        "One message, whole",
        Role.AGENT,
        _guarded(
            {
                200: Answer("The message, no text cut", OneMessage),
                400: Answer("invalid_request: the message_key is not one a page of this ticket gave", Error),
            }
        ),
        params=(TICKET_ID, _path("message_key", "The `message_key` a page of this ticket's timeline gave")),
    ),
    Route(
        "GET",
        "/tickets/{ticket_id}/audits",
        "listTicketAudits",
        "The changes agents made to the ticket, oldest first",
        Role.AGENT,
        _guarded({200: Answer("A page of audits", AuditPage), 400: _INVALID}),
        params=(TICKET_ID, LIMIT, CURSOR),
    ),
    Route(
        "POST",
        "/tickets/{ticket_id}/notes",
        "addTicketNote",
        "Add an internal note: on the timeline for the team, never sent to the customer",
        Role.AGENT,
        _guarded(
            {
                201: Answer("The note, with the ticket's new ETag", WrittenAnswer, etag=True),
                200: Answer(
                    "A retry: the note this Idempotency-Key already added; nothing more was written", WrittenAnswer
                ),
                400: _INVALID,
                409: Answer("conflict: the ticket kept changing; send the note again with the same key", Error),
                422: Answer(
                    "idempotency_key_reused: this key already added another note (other text, or another ticket)", Error
                ),
            }
        ),
        params=(TICKET_ID, IDEMPOTENCY_KEY),
        body=NoteRequest,
        example={"text": "Called the customer: the exchange is approved."},
    ),
    Route(
        "POST",
        "/tickets/{ticket_id}/replies",
        "replyToTicket",
        "Reply to the customer on the channel and account they wrote from",
        Role.AGENT,
        _guarded(
            {
                202: Answer("Accepted: written to the outbox, sent exactly once from there", AcceptedReply, etag=True),
                200: Answer(
                    "A retry: the reply this Idempotency-Key already accepted; nothing is sent again", WrittenAnswer
                ),
                400: Answer(
                    "invalid_request: the body, a text over the channel's limit (named), cc off email, an unknown template",
                    Error,
                ),
                409: Answer(
                    "window_closed: the channel's window does not allow this reply now (`allowed` says what does, "
                    "`templates` lists WhatsApp's approved ones); channel_cannot_push: the channel cannot carry an "
                    "agent's free text (KakaoTalk); conflict: the ticket kept changing, send again with the same key",
                    (ReplyRefused, Error),
                ),
                422: Answer(
                    "invalid_change: a closed ticket; idempotency_key_reused: this key already sent another reply",
                    Error,
                ),
            }
        ),
        params=(TICKET_ID, IDEMPOTENCY_KEY),
        body=ReplyRequest,
        example={"text": "Yes, it comes in blue and green too.", "status": "pending"},
        description="A text, attachments from the attachments bucket, or (WhatsApp) an approved template; `status` "
        "sets the ticket's status with it (Zendesk's submit as), else a new ticket becomes open.",
    ),
    Route(
        "POST",
        "/tickets/{ticket_id}/messages/{message_key}/resend",
        "resendReply",
        "Send a failed reply, or one whose delivery is unknown, again: a new attempt",
        Role.AGENT,
        _guarded(
            {
                202: Answer("Queued again", WrittenAnswer),
                409: Answer(
                    "not_resendable: not an agent's reply, or neither failed nor unknown; window_closed: the "
                    "channel's window has closed since",
                    (ReplyRefused, Error),
                ),
            },
            not_found=Answer("not_found: no such message on this ticket", (Error, GatewayError)),
        ),
        params=(TICKET_ID, _path("message_key", "The reply's `message_key`, as its page gave it")),
    ),
    Route(
        "GET",
        "/mail/held",
        "listHeldMail",
        "Mail kept out of tickets, of one kind, newest first (Zendesk's suspended tickets)",
        Role.AGENT,
        _guarded({200: Answer("A page of held mail", HeldMailPage), 400: _INVALID}, not_found=None),
        params=(
            Param(
                "reason",
                "query",
                {"enum": [h.value for h in MailHandling if h is not MailHandling.CUSTOMER]},
                "Which kind of held mail",
                required=True,
            ),
            LIMIT,
            CURSOR,
        ),
        tags=("held mail",),
    ),
    Route(
        "POST",
        "/mail/held/release",
        "releaseHeldMail",
        "Release a held mail into the tickets as a customer mail (admin)",
        Role.ADMIN,
        _guarded(
            {202: Answer("Released: the mail goes through the intake again", ReleasedMail), 400: _INVALID},
            not_found=Answer(
                "not_found: no held mail with that external_id, or its raw mail is past MailRetentionDays",
                (Error, GatewayError),
            ),
        ),
        body=ReleaseRequest,
        example={"external_id": "0102018f1a2b3c4d-5e6f@email.amazonses.com"},
        tags=("held mail",),
    ),
    Route(
        "GET",
        "/contacts/{contact_id}",
        "getContact",
        "A customer with every channel identity, and their tickets on every channel, newest first",
        Role.AGENT,
        _guarded(
            {200: Answer("The contact and a page of their tickets", ContactWithTickets), 400: _INVALID},
            not_found=Answer("not_found: no such contact", (Error, GatewayError)),
        ),
        params=(_path("contact_id", "The contact's id, e.g. c_983063683f19fd77111918fd"), LIMIT, CURSOR),
        tags=("contacts",),
    ),
    Route(
        "GET",
        "/contacts/{contact_id}/orders",
        "listContactOrders",
        "A customer's orders from the shops, newest first, with their shipments",
        Role.AGENT,
        _guarded({200: Answer("A page of orders", OrderPage), 400: _INVALID}, not_found=_NO_SUCH_CONTACT),
        params=(CONTACT_ID, LIMIT, CURSOR),
        description="Orders reach a contact by the shop's customer id, verified phone (E.164) or email "
        "(proactive/order_events.py), from Shopify, the signed generic endpoint or EventBridge. Newest first by when "
        "placed (when first seen for an order without placed_at).",
        tags=("contacts",),
    ),
    Route(
        "GET",
        "/contacts/{contact_id}/notifications",
        "listContactNotifications",
        "The proactive messages about a customer's orders, newest first, with each channel tried",
        Role.AGENT,
        _guarded({200: Answer("A page of notifications", NotificationPage), 400: _INVALID}, not_found=_NO_SUCH_CONTACT),
        params=(CONTACT_ID, LIMIT, CURSOR),
        description="One per order, event type and contact. `channel` is the one that finally carried it, `tries` "
        "every channel tried in the fallback chain and what came of it, `delivery_status` the provider's receipts.",
        tags=("contacts",),
    ),
    Route(
        "PATCH",
        "/contacts/{contact_id}",
        "setContactTags",
        "Set a customer's tags (e.g. vip, which SLA policies match) and re-tag their open tickets, or record their "
        "consent to proactive messages",
        Role.AGENT,
        _guarded(
            {
                200: Answer("The contact as changed, and how many of their tickets took the tags", TaggedContact),
                400: _INVALID,
                409: Answer(
                    "conflict: the tags are set, but a ticket of the contact kept changing; send the same request "
                    "again",
                    Error,
                ),
            },
            not_found=Answer("not_found: no such contact", (Error, GatewayError)),
        ),
        params=(_path("contact_id", "The contact's id, e.g. c_983063683f19fd77111918fd"),),
        body=ContactTags,
        example={"tags": ["vip"], "consent": {"advertising": True, "preferred_channel": "alimtalk"}},
        description="`tags`, `consent` or both; a part left out stays as it is. The tags replace the contact's (an empty list clears them), with a ticket's tag rules. Every "
        "ticket of the contact that is not closed takes them as `requester.tags`, each as a ticket change does: "
        "its SLA policy is chosen again and its targets re-targeted from this moment (never back-dated), and an "
        "audit records `requester.tags`; a closed ticket keeps its tags. Bounded: the contact's "
        f"{MAX_TICKETS_READ} newest tickets are read and at most {MAX_TICKETS_RETAGGED} re-tagged, so an older "
        "open ticket may keep the tags it had (`complete` is then false). The request is safe to repeat: it "
        "writes only what still differs. `consent` records the customer's answers: advertising consent (and "
        "night consent, 21:00-08:00 in their time zone, which 정보통신망법 제50조 asks for apart), each stamped "
        "with the time of the request, and the channel notifications try first (null clears it). It is recorded "
        "before the tickets are re-tagged, so a 409 has recorded it.",
        tags=("contacts",),
    ),
    Route(
        "GET",
        "/admin/schedules",
        "listSchedules",
        "Every business-hours schedule (admin)",
        Role.ADMIN,
        _guarded({200: Answer("The schedules, by id", ScheduleList)}, not_found=_NO_SUCH_ROUTE),
        tags=_SLA_TAGS,
    ),
    Route(
        "GET",
        "/admin/schedules/{schedule_id}",
        "getSchedule",
        "A business-hours schedule (admin)",
        Role.ADMIN,
        _guarded(
            {200: Answer("The schedule as saved, its holidays expanded", Schedule)},
            not_found=Answer("not_found: no schedule with that id", (Error, GatewayError)),
        ),
        params=(SCHEDULE_ID,),
        tags=_SLA_TAGS,
    ),
    Route(
        "PUT",
        "/admin/schedules/{schedule_id}",
        "putSchedule",
        "Define or replace a business-hours schedule (admin)",
        Role.ADMIN,
        _guarded(
            {
                200: Answer("The schedule saved: its version is the previous one's + 1 (1 when new)", Schedule),
                400: _RULES_INVALID,
                409: _RULES_BUSY,
                412: Answer(
                    "precondition_failed: the schedule is at another version than If-Match named (0: not defined yet)",
                    StaleRules,
                ),
            },
            not_found=_NO_SUCH_ROUTE,
        ),
        params=(SCHEDULE_ID, RULES_IF_MATCH),
        body=ScheduleRules,
        description="An IANA time zone, weekly intervals (several a day, crossing midnight allowed), holidays, and "
        "optionally a country's public holidays from the `holidays` package (Korea's lunar and substitute "
        "holidays among them). Policies that name the schedule measure business time by it from their tickets' "
        "next change. If-Match names the schedule's version; 0 saves only a schedule not defined yet.",
        tags=_SLA_TAGS,
    ),
    Route(
        "GET",
        "/admin/sla-policies",
        "getSlaPolicies",
        "The ordered SLA policy list and its version (admin)",
        Role.ADMIN,
        _guarded(
            {200: Answer("The policies as saved (version 0: never set)", PolicyListAnswer)}, not_found=_NO_SUCH_ROUTE
        ),
        tags=_SLA_TAGS,
    ),
    Route(
        "PUT",
        "/admin/sla-policies",
        "putSlaPolicies",
        "Replace the ordered SLA policy list (admin)",
        Role.ADMIN,
        _guarded(
            {
                200: Answer("The policies saved, with the rules' new version", PolicyListAnswer),
                400: _RULES_INVALID,
                409: _RULES_BUSY,
                412: Answer("precondition_failed: the rules are at another version than If-Match named", StaleRules),
            },
            not_found=_NO_SUCH_ROUTE,
        ),
        params=(RULES_IF_MATCH,),
        body=PolicyList,
        example={
            "policies": [
                {
                    "name": "Chat, urgent first reply",
                    "conditions": {"channel": ["telegram", "whatsapp"], "priority": ["urgent", "high", "normal"]},
                    "schedule_id": None,
                    "targets": {
                        "normal": {
                            "first_reply": {"minutes": 1, "business_hours": False},
                            "next_reply": {"minutes": 30, "business_hours": False},
                        }
                    },
                    "warn_before": {"percent": 50},
                    "escalations": [
                        {
                            "level": 1,
                            "after_minutes": 0,
                            "actions": [
                                {"type": "notify", "webhook_url": "https://hooks.example/sla"},
                                {"type": "add_tags", "tags": ["sla_breached"]},
                            ],
                        }
                    ],
                }
            ]
        },
        description="The first policy whose conditions a ticket meets (and that has targets for its priority) "
        "applies. A policy's schedule_id must name a schedule defined; a notify webhook must be public HTTPS. "
        "Tickets take the new list on their next change.",
        tags=_SLA_TAGS,
    ),
    Route(
        "POST",
        "/admin/sla-policies/dry-run",
        "dryRunSlaPolicies",
        "Which policy and targets would apply to a ticket now, and when each metric would breach (admin)",
        Role.ADMIN,
        _guarded(
            {
                200: Answer("The policy that would apply (null: none) and each metric's clock", DryRunAnswer),
                400: _RULES_INVALID,
            },
            not_found=Answer("not_found: no ticket with that ticket_id", (Error, GatewayError)),
        ),
        body=DryRunRequest,
        example={"ticket_id": "t_bc6d80b2bc9e8110f657c83a"},
        description="Under the current list, or under `policies` (an unsaved list, validated as PUT would): the "
        "policy applied as if new to the ticket, measured at the time of the request. Nothing is saved.",
        tags=_SLA_TAGS,
    ),
    Route(
        "GET",
        "/admin/notification-rules",
        "getNotificationRules",
        "The notification rules and their version (admin)",
        Role.ADMIN,
        _guarded(
            {
                200: Answer(
                    "The rules as saved (version 0: never saved, and nothing notifies)",
                    NotificationRulesAnswer,
                    etag=True,
                    etag_description=_RULES_ETAG,
                )
            },
            not_found=_NO_SUCH_ROUTE,
        ),
        tags=_NOTIFICATION_TAGS,
    ),
    Route(
        "PUT",
        "/admin/notification-rules",
        "putNotificationRules",
        "Replace the notification rules (admin)",
        Role.ADMIN,
        _guarded(
            {
                200: Answer(
                    "The rules saved, with their new version",
                    NotificationRulesAnswer,
                    etag=True,
                    etag_description=_RULES_ETAG,
                ),
                400: _RULES_INVALID,
                409: _RULES_BUSY,
                412: Answer(
                    "precondition_failed: the rules are at another version than If-Match (or the body's version) named",
                    StaleRules,
                    etag=True,
                    etag_description=_RULES_ETAG,
                ),
            },
            not_found=_NO_SUCH_ROUTE,
        ),
        params=(RULES_IF_MATCH,),
        body=NotificationRulesAnswer,
        example={
            "rules": [
                {
                    "event_type": "shipment.in_transit",
                    "templates": {
                        "ko": {
                            "alimtalk": {
                                "template_code": "SHIP_TRANSIT",
                                "variables": {"주문번호": "{order_number}", "택배사": "{carrier}"},
                                "resend_text": "[{shop_name}] 주문 {order_number} 배송이 시작되었습니다: {tracking_url}",
                            },
                            "sms": "[{shop_name}] 주문 {order_number} 배송 중: {carrier} {tracking_number}",
                        },
                        "en": {"sms": "{shop_name}: order {order_number} is on its way: {tracking_url}"},
                    },
                }
            ],
            "fallback_chain": ["alimtalk", "sms", "email"],
            "default_locale": "ko",
            "default_timezone": "Asia/Seoul",
            "delay_detection": {"enabled": True, "open_ticket": True},
            "senders": {"sms_from": "+15005550006"},
            "shop_name": "Example Shop",
        },
        description="The whole rule set, replacing the previous one: which event types notify (one rule each), a "
        "template per locale and channel, the fallback chain tried after the customer's own channel (each "
        "channel once), quiet hours, delay detection and the shop's senders. Templates name the event's facts as "
        f"{{name}}: {', '.join('{' + name + '}' for name in sorted(TEMPLATE_FACTS))}. An advertising rule needs "
        "shop_name and opt_out_instruction, and never uses AlimTalk (informational messages only). What GET "
        "answered may be sent back edited: its `version` is then the precondition (as If-Match), and "
        "`updated_at` is ignored. Every problem in a refused body is listed, each at its place.",
        tags=_NOTIFICATION_TAGS,
    ),
)


# -- The document ------------------------------------------------------------------------------------------------


class _AnswerSchema(GenerateJsonSchema):
    """model_dump(mode="json") writes every field, defaults included, so an answer's schema requires them all
    (what pydantic's json_schema_serialization_defaults_required does, without touching the models' config)."""

    def field_is_required(
        self,
        field: core_schema.ModelField | core_schema.DataclassField | core_schema.TypedDictField,
        total: bool,
    ) -> bool:
        if self.mode == "serialization":
            return field.get("serialization_exclude_if") is None
        return super().field_is_required(field, total)


def _bodies(answer: Answer) -> tuple[type[BaseModel], ...]:
    if answer.body is None:
        return ()
    return answer.body if isinstance(answer.body, tuple) else (answer.body,)


@functools.cache
def _paths_and_schemas() -> tuple[dict[str, Any], dict[str, Any]]:
    requests = {route.body for route in ROUTES if route.body is not None}
    answers = {model for route in ROUTES for answer in route.answers.values() for model in _bodies(answer)}
    keys, top = models_json_schema(
        [(model, "validation") for model in sorted(requests, key=lambda m: m.__name__)]
        + [(model, "serialization") for model in sorted(answers, key=lambda m: m.__name__)],
        ref_template=_REF,
        schema_generator=_AnswerSchema,
    )

    def ref(model: type[BaseModel], mode: Literal["validation", "serialization"]) -> dict[str, Any]:
        return dict(keys[(model, mode)])

    paths: dict[str, Any] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, ref)
    paths[OPENAPI_PATH] = {
        "get": {
            "operationId": "getOpenApiDocument",
            "summary": "This document",
            "tags": ["meta"],
            "security": [],
            "responses": {
                "200": {
                    "description": "The OpenAPI document",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    }
    return paths, top.get("$defs", {})


def _operation(route: Route, ref: Any) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "tags": list(route.tags),
        "security": [{"bearerAuth": []}],
    }
    if route.role is not None:
        operation["x-switchboard-role"] = route.role.value
        role_note = "admin" if route.role is Role.ADMIN else "agent (an admin is an agent too)"
        operation["description"] = (route.description + "\n\n" if route.description else "") + f"Role: {role_note}."
    if route.params:
        operation["parameters"] = [
            {
                "name": param.name,
                "in": param.where,
                "required": param.required,
                "description": param.description,
                "schema": dict(param.schema),
            }
            for param in route.params
        ]
    if route.body is not None:
        content: dict[str, Any] = {"schema": ref(route.body, "validation")}
        if route.example is not None:
            content["example"] = dict(route.example)
        operation["requestBody"] = {"required": True, "content": {"application/json": content}}
    operation["responses"] = {str(status): _response(answer, ref) for status, answer in sorted(route.answers.items())}
    return operation


def _response(answer: Answer, ref: Any) -> dict[str, Any]:
    response: dict[str, Any] = {"description": answer.description}
    bodies = [ref(model, "serialization") for model in _bodies(answer)]
    if bodies:
        schema = bodies[0] if len(bodies) == 1 else {"anyOf": bodies}
        response["content"] = {"application/json": {"schema": schema}}
    if answer.etag:
        response["headers"] = {"ETag": {"description": answer.etag_description, "schema": {"type": "string"}}}
    return response


def openapi_document(server_url: str | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the agents' API; `server_url` is where it is served (the API's origin)."""
    paths, schemas = _paths_and_schemas()
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "Switchboard agent API",
            "version": "1",
            "description": "Tickets, their timelines, replies, notes and held mail, for agents. Every route but this "
            "document needs `Authorization: Bearer <JWT>` from the configured issuer and a role (`agent` or "
            "`admin`) read from the token's roles claim (Cognito groups by default, or OAuth scopes). Errors are "
            'JSON {"error": "<code>", "message": "<what to fix>"}.',
        },
        "tags": [
            {"name": "tickets"},
            {"name": "contacts"},
            {"name": "held mail"},
            {"name": "sla"},
            {"name": "notifications"},
            {"name": "meta"},
        ],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "A token of the configured issuer (Cognito in AWS; `make run` prints dev tokens) "
                    "whose roles claim names agent or admin: a valid token without a role is answered 403",
                }
            },
        },
    }
    if server_url:
        document["servers"] = [{"url": server_url}]
    return document


def openapi_response(event: Mapping[str, Any]) -> dict[str, Any]:
    """GET /openapi.json: public, like most APIs' specifications: it describes routes and shapes, never data,
    and Swagger UI must read it before anyone has typed a token."""
    context = event.get("requestContext") or {}
    headers = event.get("headers") or {}
    domain = context.get("domainName")
    proto = headers.get("x-forwarded-proto") or "https"
    server_url = f"{proto}://{domain}" if isinstance(domain, str) and domain and proto in ("http", "https") else None
    return json_response(200, openapi_document(server_url), {"cache-control": "public, max-age=300"})
