"""PATCH /contacts/{contact_id} on moto, at chosen instants: a contact tagged vip has their open tickets re-targeted
to the VIP policy from the moment of the change, their next ticket opens under it, and a closed ticket keeps what
it had. The writer and the agents' writes take the time as a parameter, so nothing reads the wall clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from switchboard.api import contact_changes
from switchboard.api.agent_writes import handle_agent_write
from switchboard.config import AccessSettings
from switchboard.models import Channel, InboundMessage, MetricClock, SenderIdentity, SlaMetric, Ticket
from switchboard.outbound.queue import OutboundQueue
from switchboard.sla.policies import PolicyList
from switchboard.store.repositories import Repositories
from switchboard.tickets.closing import close_due_tickets
from switchboard.tickets.writer import record_inbound
from tests.support.lambda_events import AGENT_CLAIMS, HttpResponse, http_api_event
from tests.support.paths import EVENTS_DIR

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
CUSTOMER = "1001"
VIP_POLICY = {
    "name": "VIP",
    "conditions": {"requester_tags": ["vip"]},
    "targets": {"normal": {"first_reply": {"minutes": 10}}},
}
EVERYONE_POLICY = {"name": "Everyone", "targets": {"normal": {"first_reply": {"minutes": 60}}}}


@pytest.fixture
def store(stack) -> Repositories:
    # The first policy a ticket matches applies: VIP before everyone else.
    repositories = Repositories.on(stack.dynamodb, stack.table_name)
    repositories.sla_rules.save_policies(
        PolicyList.model_validate({"policies": [VIP_POLICY, EVERYONE_POLICY]}).policies,
        seen_version=0,
        actor_id="admin",
        at=T0 - timedelta(days=1),
    )
    return repositories


def customer_writes(store: Repositories, at: datetime, *, chat: str = CUSTOMER) -> Ticket:
    """The customer (Telegram user 1001) writes in a chat: their own (1001) or a group they share with the bot."""
    message = InboundMessage(
        channel=Channel.TELEGRAM,
        channel_account_id="bot-1",
        conversation_id=chat,
        external_id=f"{chat}-{at.timestamp()}",
        sender=SenderIdentity(external_id=CUSTOMER, display_name="김민지"),
        message_type="text",
        text="어디쯤 왔나요?",
        provider_timestamp=at,
        received_at=at,
    )
    record_inbound(message, store, sleep=lambda _: None)
    return ticket_in(store, chat)


def ticket_in(store: Repositories, chat: str = CUSTOMER) -> Ticket:
    ticket_id = store.tickets.current_ticket_id(f"telegram:bot-1:{chat}")
    assert ticket_id is not None
    return now_of(store, ticket_id)


def now_of(store: Repositories, ticket_id: str) -> Ticket:
    found = store.tickets.ticket(ticket_id)
    assert found is not None
    return found.ticket


def agent_writes(stack, store: Repositories, at: datetime, route: str, path: str, body: bytes, **headers: str) -> dict:
    name, value = next(iter(_path_parameter(route, path).items()))
    event = http_api_event(
        method=route.split(" ")[0],
        path=path,
        route_key=route,
        path_parameters={name: value},
        headers={"content-type": "application/json", **headers},
        body=body,
        claims=AGENT_CLAIMS,
        at=at,
    )
    return handle_agent_write(
        event,
        store=store,
        access=AccessSettings(),
        queue=OutboundQueue(stack.sqs, stack.queue_url_of("OutboundQueue")),
        templates=(),
        clock=lambda: at,
    )


def _path_parameter(route: str, path: str) -> dict[str, str]:
    template, actual = route.split(" ")[1].split("/"), path.split("/")
    return {part[1:-1]: value for part, value in zip(template, actual, strict=True) if part.startswith("{")}


def tag_contact(stack, store: Repositories, contact_id: str, at: datetime, tags: list[str]) -> HttpResponse:
    body = json.dumps({"tags": tags}).encode()
    return HttpResponse.of(
        agent_writes(stack, store, at, "PATCH /contacts/{contact_id}", f"/contacts/{contact_id}", body)
    )


def solve(stack, store: Repositories, ticket: Ticket, at: datetime) -> None:
    found = store.tickets.ticket(ticket.id)
    assert found is not None
    response = agent_writes(
        stack,
        store,
        at,
        "PATCH /tickets/{ticket_id}",
        f"/tickets/{ticket.id}",
        b'{"status": "solved"}',
        **{"if-match": f'"{found.version}"'},
    )
    assert response["statusCode"] == 200, response


def first_reply(ticket: Ticket) -> MetricClock:
    assert ticket.sla is not None
    return ticket.sla.metrics[SlaMetric.FIRST_REPLY]


def policy(ticket: Ticket) -> str:
    assert ticket.sla is not None
    return ticket.sla.policy


def version_of(store: Repositories, ticket_id: str) -> int:
    found = store.tickets.ticket(ticket_id)
    assert found is not None
    return found.version


def test_a_vip_contacts_open_ticket_re_targets_from_the_change_and_their_next_ticket_opens_vip(stack, store):
    # Given the customer's first ticket, solved and closed (T0 .. T0+5 days), and their follow-up, open under
    # the everyone policy (first reply in 60 minutes)
    closed = customer_writes(store, T0)
    solve(stack, store, closed, T0 + timedelta(minutes=1))
    close_due_tickets(T0 + timedelta(days=5), days=4, tickets=store.tickets)
    closed_before = store.tickets.ticket(closed.id)
    t1 = T0 + timedelta(days=6)
    follow_up = customer_writes(store, t1)
    assert follow_up.id != closed.id and follow_up.requester.contact_id == closed.requester.contact_id
    assert (policy(follow_up), first_reply(follow_up).due_at) == ("Everyone", t1 + timedelta(minutes=60))
    # When an agent tags the contact vip five minutes in
    tagged = tag_contact(stack, store, follow_up.requester.contact_id, t1 + timedelta(minutes=5), ["vip", "vip"])
    # Then the contact is vip and one ticket took the tags
    assert tagged.status == 200
    assert tagged.json()["contact"]["tags"] == ["vip"]
    assert (tagged.json()["tickets_updated"], tagged.json()["complete"]) == (1, True)
    contact = store.contacts.contact(follow_up.requester.contact_id)
    assert contact is not None and contact.tags == ("vip",)
    # And the open ticket is the VIP policy's from the change: the 5 minutes spent count toward its 10
    follow_up = now_of(store, follow_up.id)
    assert follow_up.requester.tags == ("vip",)
    assert (policy(follow_up), first_reply(follow_up).target_minutes) == ("VIP", 10)
    assert first_reply(follow_up).due_at == t1 + timedelta(minutes=10)
    assert follow_up.sla is not None and follow_up.sla.next_due_at == t1 + timedelta(minutes=10)
    # And the change is audited once, by the agent, at the time of the change
    (audit,) = store.audits.audit_page(follow_up.id, limit=10, cursor=None).audits
    assert (audit.actor_id, audit.at) == (AGENT_CLAIMS["sub"], t1 + timedelta(minutes=5))
    assert [change.model_dump() for change in audit.changes] == [
        {"field": "requester.tags", "before": [], "after": ["vip"]}
    ]
    # And the closed ticket is as it was: same version, same requester tags, same SLA
    assert store.tickets.ticket(closed.id) == closed_before
    # When the same customer writes in a group chat at t1+30 (a new conversation: a new ticket)
    group = customer_writes(store, t1 + timedelta(minutes=30), chat="-100200300")
    # Then it opens with the contact's tags, under the VIP policy
    assert group.requester.contact_id == follow_up.requester.contact_id
    assert (group.requester.tags, policy(group)) == (("vip",), "VIP")
    assert first_reply(group).due_at == t1 + timedelta(minutes=40)


def test_a_target_the_time_spent_already_exceeds_is_breached_at_the_change_never_before(stack, store):
    # Given a ticket under the everyone policy for 20 minutes
    ticket = customer_writes(store, T0)
    # When its contact is tagged vip (a 10-minute first reply)
    tag_contact(stack, store, ticket.requester.contact_id, T0 + timedelta(minutes=20), ["vip"])
    # Then first reply is breached at the change, not back-dated to T0+10
    clock = first_reply(now_of(store, ticket.id))
    assert (clock.status, clock.breached_at) == ("breached", T0 + timedelta(minutes=20))


def test_sending_the_same_tags_again_writes_nothing_more(stack, store):
    # Given a contact tagged vip, with their ticket re-tagged
    ticket = customer_writes(store, T0)
    tag_contact(stack, store, ticket.requester.contact_id, T0 + timedelta(minutes=1), ["vip"])
    version = version_of(store, ticket.id)
    # When the request is sent again (a client's retry)
    again = tag_contact(stack, store, ticket.requester.contact_id, T0 + timedelta(minutes=2), ["vip"])
    # Then it answers the same contact, no ticket was written, and one audit stands
    assert (again.status, again.json()["tickets_updated"], again.json()["complete"]) == (200, 0, True)
    assert version_of(store, ticket.id) == version
    assert len(store.audits.audit_page(ticket.id, limit=10, cursor=None).audits) == 1


def test_clearing_the_tags_returns_the_ticket_to_the_everyone_policy(stack, store):
    # Given a vip contact's ticket under the VIP policy
    ticket = customer_writes(store, T0)
    tag_contact(stack, store, ticket.requester.contact_id, T0 + timedelta(minutes=1), ["vip"])
    # When the tags are cleared
    cleared = tag_contact(stack, store, ticket.requester.contact_id, T0 + timedelta(minutes=2), [])
    # Then the ticket is the everyone policy's again, its first reply due 60 minutes from its opening
    ticket = now_of(store, ticket.id)
    assert (cleared.json()["contact"]["tags"], ticket.requester.tags) == ([], ())
    assert (policy(ticket), first_reply(ticket).due_at) == ("Everyone", T0 + timedelta(minutes=60))


def test_a_customers_message_between_read_and_write_is_kept_and_the_ticket_re_tagged(stack, store, monkeypatch):
    # Given a ticket, and the customer writing again just after the re-tagging reads it (so its write conflicts)
    ticket = customer_writes(store, T0)
    read = store.tickets.ticket
    interleaved: list[str] = []

    def read_then_customer_writes(ticket_id: str):
        found = read(ticket_id)
        if not interleaved:
            interleaved.append(ticket_id)
            customer_writes(store, T0 + timedelta(minutes=3))
        return found

    monkeypatch.setattr(store.tickets, "ticket", read_then_customer_writes)
    # When the contact is tagged vip
    tagged = tag_contact(stack, store, ticket.requester.contact_id, T0 + timedelta(minutes=4), ["vip"])
    # Then the ticket is re-tagged on top of the customer's message, which stays
    ticket = now_of(store, ticket.id)
    assert (tagged.status, tagged.json()["tickets_updated"]) == (200, 1)
    assert interleaved == [ticket.id]
    assert (ticket.requester.tags, ticket.message_count) == (("vip",), 2)


def test_the_newest_tickets_are_re_tagged_within_the_bounds_and_the_answer_says_so(stack, store, monkeypatch):
    # Given bounds of one ticket re-tagged and two read, a page at a time (the route's are 50 and 200)
    monkeypatch.setattr(contact_changes, "MAX_TICKETS_RETAGGED", 1)
    monkeypatch.setattr(contact_changes, "MAX_TICKETS_READ", 2)
    monkeypatch.setattr(contact_changes, "_PAGE_SIZE", 1)
    # And a customer with three open tickets, in three chats, oldest first
    oldest, middle, newest = (
        customer_writes(store, T0 + timedelta(minutes=minute), chat=chat)
        for minute, chat in ((0, CUSTOMER), (1, "-1001"), (2, "-1002"))
    )
    # When the contact is tagged vip
    first = tag_contact(stack, store, newest.requester.contact_id, T0 + timedelta(minutes=5), ["vip"])
    # Then only the newest is re-tagged, and the answer says the request stopped at a bound
    assert (first.json()["tickets_updated"], first.json()["complete"]) == (1, False)
    assert [now_of(store, t.id).requester.tags for t in (oldest, middle, newest)] == [(), (), ("vip",)]
    # When the request is sent again
    second = tag_contact(stack, store, newest.requester.contact_id, T0 + timedelta(minutes=6), ["vip"])
    # Then it goes on with the next one read; the oldest, past what a request reads, keeps its tags
    assert (second.json()["tickets_updated"], second.json()["complete"]) == (1, False)
    assert [now_of(store, t.id).requester.tags for t in (oldest, middle, newest)] == [(), ("vip",), ("vip",)]


def test_an_unknown_contact_is_not_found_and_nothing_is_written(stack, store):
    # When an agent tags a contact nobody has
    response = tag_contact(stack, store, "c_000000000000000000000000", T0, ["vip"])
    # Then it is 404, and no contact item appears
    assert (response.status, response.json()["error"]) == (404, "not_found")
    assert store.contacts.contact("c_000000000000000000000000") is None


def test_a_tag_with_a_space_is_refused_and_the_contact_keeps_its_tags(stack, store):
    # Given a vip contact
    ticket = customer_writes(store, T0)
    tag_contact(stack, store, ticket.requester.contact_id, T0 + timedelta(minutes=1), ["vip"])
    # When an agent sends a tag with a space
    response = tag_contact(stack, store, ticket.requester.contact_id, T0 + timedelta(minutes=2), ["very important"])
    # Then it is 400 saying what to fix, and the contact and the ticket keep vip
    assert (response.status, response.json()["error"]) == (400, "invalid_request")
    assert "without spaces" in response.json()["message"]
    contact = store.contacts.contact(ticket.requester.contact_id)
    assert contact is not None and contact.tags == ("vip",)
    assert now_of(store, ticket.id).requester.tags == ("vip",)


def test_the_sample_event_tags_the_sample_customer_through_the_function(stack):
    # Given the writer processed the sample batch (Sheena's WhatsApp ticket), with no SLA policy
    invoke = stack.invoke
    assert invoke("TicketWriterFunction", _event("ticket-writer-batch.json")) == {"batchItemFailures": []}
    # When the agent's sample tags her vip, through the deployed function and its environment
    response = HttpResponse.of(invoke("TicketChangesFunction", _event("contact-tags.json")))
    # Then she is vip, and her open ticket took the tags
    assert response.status == 200
    assert (response.json()["contact"]["tags"], response.json()["tickets_updated"]) == (["vip"], 1)


def _event(name: str) -> dict:
    return json.loads((EVENTS_DIR / name).read_text())
