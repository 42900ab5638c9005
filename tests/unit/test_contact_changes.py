"""PATCH /contacts/{contact_id}: which bodies set a contact's tags (a ticket's tag rules), what re-tagging one ticket
writes, and the refusals answered before the table is touched. On moto, with tickets: tests/integration/
test_contact_tags.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from switchboard.api.contact_changes import handle_contact_change, requester_retagged, takes_requester_tags
from switchboard.api.contact_requests import ContactTags
from switchboard.config import AccessSettings
from switchboard.models import MAX_TAG_CHARS, MAX_TICKET_TAGS, Channel, Requester, Ticket, TicketStatus
from switchboard.tickets.changes import TicketChange
from tests.support.lambda_events import AGENT_CLAIMS, NO_ROLE_CLAIMS, http_api_event

AT = datetime(2026, 12, 3, 9, 5, tzinfo=UTC)
CONTACT_ID = "c_983063683f19fd77111918fd"


class UntouchedStore:
    """A store that fails the test if the handler reaches for it: these requests are refused before any read."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the handler read store.{name} for a request it should refuse first")


def ticket(status: TicketStatus = TicketStatus.OPEN, requester_tags: tuple[str, ...] = ()) -> Ticket:
    return Ticket(
        id="t_0123456789abcdef01234567",
        number=7,
        status=status,
        channel=Channel.TELEGRAM,
        channel_account_id="bot-1",
        conversation_key="telegram:bot-1:1001",
        subject="어디쯤 왔나요?",
        requester=Requester(contact_id=CONTACT_ID, display_name="김민지", tags=requester_tags),
        created_at=datetime(2026, 12, 3, 9, 0, tzinfo=UTC),
        updated_at=datetime(2026, 12, 3, 9, 0, tzinfo=UTC),
    )


def patch(body: bytes, *, contact_id: str = CONTACT_ID, claims: dict[str, str] | None = AGENT_CLAIMS) -> dict:
    event = http_api_event(
        method="PATCH",
        path=f"/contacts/{CONTACT_ID}",
        route_key="PATCH /contacts/{contact_id}",
        path_parameters={"contact_id": CONTACT_ID},
        headers={"content-type": "application/json"},
        body=body,
        claims=claims,
    )
    event["pathParameters"] = {"contact_id": contact_id}
    return handle_contact_change(event, store=UntouchedStore(), access=AccessSettings(), clock=lambda: AT)


def test_tags_are_kept_in_order_once_each():
    # Given an agent's tags with a repeat, Korean and at the length limit
    longest = "v" * MAX_TAG_CHARS
    # When they are read as the body
    body = ContactTags.model_validate({"tags": ["vip", "단골", "vip", longest]})
    # Then each is kept once, in the order given
    assert body.tags == ("vip", "단골", longest)


def test_an_empty_list_clears_the_tags():
    assert ContactTags.model_validate({"tags": []}).tags == ()


@pytest.mark.parametrize(
    "body",
    [
        {"tags": ["v ip"]},
        {"tags": ["vip\t"]},
        {"tags": [""]},
        {"tags": ["v" * (MAX_TAG_CHARS + 1)]},
        {"tags": [f"t{n}" for n in range(MAX_TICKET_TAGS + 1)]},
        {"tags": None},
        {"tags": "vip"},
        {"tags": [7]},
        {},
        {"tags": ["vip"], "display_name": "VIP"},
    ],
    ids=["space", "tab", "empty", "too-long", "too-many", "null", "not-a-list", "not-text", "missing", "extra-field"],
)
def test_a_body_outside_the_tag_rules_is_refused(body):
    with pytest.raises(ValidationError):
        ContactTags.model_validate(body)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=MAX_TAG_CHARS + 2), max_size=MAX_TICKET_TAGS + 2))
def test_a_contact_takes_exactly_the_tags_a_ticket_takes(tags):
    # Given any list of tags, When it is sent as a contact's tags and as a ticket's
    try:
        as_ticket: tuple[str, ...] | None = TicketChange.model_validate({"tags": tags}).tags
    except ValidationError:
        as_ticket = None
    try:
        as_contact: tuple[str, ...] | None = ContactTags.model_validate({"tags": tags}).tags
    except ValidationError:
        as_contact = None
    # Then both accept it or both refuse it, and keep the same tags: they become the tickets' requester tags
    assert as_contact == as_ticket


def test_re_tagging_a_ticket_changes_its_requester_tags_with_an_audit():
    # Given an open ticket whose requester had no tags
    before = ticket(requester_tags=())
    # When the agent's contact change re-tags it as version 4
    after, audit = requester_retagged(before, ("vip",), actor_id="agent-1", at=AT, version=4)
    # Then the requester carries the tags, the ticket the time of the change, and nothing else moved
    assert (after.requester.tags, after.requester.contact_id, after.updated_at) == (("vip",), CONTACT_ID, AT)
    assert after.model_copy(update={"requester": before.requester, "updated_at": before.updated_at}) == before
    # And the audit records the one field, before and after, by the agent, for that version
    assert (audit.ticket_id, audit.ticket_version, audit.actor_id, audit.at) == (before.id, 4, "agent-1", AT)
    assert [change.model_dump() for change in audit.changes] == [
        {"field": "requester.tags", "before": [], "after": ["vip"]}
    ]


@pytest.mark.parametrize(
    ("status", "requester_tags", "takes"),
    [
        (TicketStatus.NEW, (), True),
        (TicketStatus.PENDING, ("gold",), True),
        (TicketStatus.SOLVED, (), True),
        (TicketStatus.OPEN, ("vip",), False),
        (TicketStatus.CLOSED, (), False),
    ],
)
def test_only_tickets_not_closed_whose_requester_tags_differ_are_re_tagged(status, requester_tags, takes):
    assert takes_requester_tags(ticket(status, requester_tags), ("vip",)) is takes


@pytest.mark.parametrize(
    ("body", "claims", "status", "error"),
    [
        (b'{"tags": ["v ip"]}', AGENT_CLAIMS, 400, "invalid_request"),
        (b'{"tags": ["vip"], "note": "x"}', AGENT_CLAIMS, 400, "invalid_request"),
        (b"not json", AGENT_CLAIMS, 400, "invalid_request"),
        (b'{"tags": ["vip"]}', NO_ROLE_CLAIMS, 403, "forbidden"),
        (b'{"tags": ["vip"]}', None, 401, "unauthorized"),
    ],
    ids=["space-in-tag", "extra-field", "not-json", "no-role", "no-token"],
)
def test_a_refused_request_reads_and_writes_nothing(body, claims, status, error):
    # When an agent (or not) sends it, Then it is answered with the error, the store untouched
    response = patch(body, claims=claims)
    assert (response["statusCode"], json.loads(response["body"])["error"]) == (status, error)


@pytest.mark.parametrize("contact_id", ["", "c" * 129, "c_\ud800", "c_\x00"], ids=["empty", "long", "surrogate", "nul"])
def test_an_id_no_contact_can_have_is_not_found_without_a_read(contact_id):
    # A key DynamoDB refuses (too long, not UTF-8) would be a 500: such an id is simply no contact
    response = patch(b'{"tags": ["vip"]}', contact_id=contact_id)
    assert (response["statusCode"], json.loads(response["body"])["error"]) == (404, "not_found")
