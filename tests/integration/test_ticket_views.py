"""The agents' ticket views (GET /tickets?assignee=me|<id>&group=<id>&status=...) and a customer's page
(GET /contacts/{contact_id}): each view newest first, paged with the listing's cursor, and served by the key of
an index (docs/data-model.md, "Ticket views")."""

from __future__ import annotations

from switchboard.models import Channel
from tests.support.lambda_events import AGENT_CLAIMS
from tests.support.ticket_views import ME, agent_sets, customer_writes

LEE = "8d1f0c3b-2a4e-4f6a-9b8c-7d6e5f4a3b2c"


def view(stack, query: dict[str, str], claims=AGENT_CLAIMS) -> list[str]:
    """Every ticket id of a view, following its cursor a page of two at a time."""
    ids: list[str] = []
    query = {**query, "limit": "2"}
    while True:
        response = stack.api_get("/tickets", query, claims=claims)
        assert response.status == 200, response
        ids += [ticket["id"] for ticket in response.json()["tickets"]]
        if not response.json()["next_cursor"]:
            return ids
        query["cursor"] = response.json()["next_cursor"]


def test_each_view_lists_its_tickets_newest_first_a_page_at_a_time(stack):
    # Given five tickets: mine open in billing, mine pending in billing, mine open in shipping, Lee's open in
    # billing, and one nobody has
    mine_billing_open, mine_billing_pending, mine_shipping_open, lees, nobodys = (
        customer_writes(stack, n) for n in range(1, 6)
    )
    agent_sets(stack, mine_billing_open, assignee_id=ME, group_id="billing", status="open")
    agent_sets(stack, mine_billing_pending, assignee_id=ME, group_id="billing", status="pending")
    agent_sets(stack, mine_shipping_open, assignee_id=ME, group_id="shipping", status="open")
    agent_sets(stack, lees, assignee_id=LEE, group_id="billing", status="open")
    # Then each view holds its tickets, newest first, whatever the page size
    assert view(stack, {"assignee": "me"}) == [mine_shipping_open, mine_billing_pending, mine_billing_open]
    assert view(stack, {"assignee": ME}) == view(stack, {"assignee": "me"})
    assert view(stack, {"assignee": LEE}) == [lees]
    assert view(stack, {"assignee": "me", "status": "open"}) == [mine_shipping_open, mine_billing_open]
    assert view(stack, {"group": "billing"}) == [lees, mine_billing_pending, mine_billing_open]
    assert view(stack, {"group": "billing", "status": "open"}) == [lees, mine_billing_open]
    assert view(stack, {"assignee": "me", "group": "billing"}) == [mine_billing_pending, mine_billing_open]
    assert view(stack, {"assignee": "me", "group": "billing", "status": "pending"}) == [mine_billing_pending]
    assert view(stack, {"status": "new"}) == [nobodys]
    assert view(stack, {"assignee": "someone-else"}) == []
    # And "me" is whoever asks
    assert view(stack, {"assignee": "me"}, claims={**AGENT_CLAIMS, "sub": LEE}) == [lees]


def test_a_reassigned_ticket_moves_from_one_agents_view_to_the_others(stack):
    ticket_id = customer_writes(stack, 1)
    agent_sets(stack, ticket_id, assignee_id=ME, group_id="billing")
    # When it is handed to Lee and taken out of its group
    agent_sets(stack, ticket_id, assignee_id=LEE, group_id=None)
    # Then it is only in Lee's view, and no group's
    assert view(stack, {"assignee": "me"}) == []
    assert view(stack, {"assignee": LEE}) == [ticket_id]
    assert view(stack, {"group": "billing"}) == []


def test_a_view_reads_its_index_by_key_never_the_table(stack):
    # Given many tickets, one of them mine
    for n in range(1, 9):
        customer_writes(stack, n)
    mine = customer_writes(stack, 9)
    agent_sets(stack, mine, assignee_id=ME)
    # When my view is read
    with stack.requests_sent("dynamodb") as sent:
        assert view(stack, {"assignee": "me"}) == [mine]
    # Then it was one Query on my index and one read of my ticket: no Scan
    assert sorted(sent.operations) == ["BatchGetItem", "Query"]


def test_a_view_parameter_that_no_ticket_can_have_is_a_400(stack):
    for query in ({"assignee": "x" * 129}, {"group": ""}, {"status": "archived"}):
        response = stack.api_get("/tickets", query)
        assert (response.status, response.json()["error"]) == (400, "invalid_request"), query


def test_a_contact_shows_every_identity_and_their_tickets_across_channels_newest_first(stack):
    # Given a customer who wrote on WhatsApp, then by SMS from the same verified number (one contact), and
    # another customer
    whatsapp = customer_writes(stack, 1, phone="+821055501234")
    customer_writes(stack, 2)
    sms = customer_writes(stack, 3, channel=Channel.SMS, account="+15550001111", phone="+821055501234")
    contact_id = next(t for t in stack.tickets() if t["id"] == whatsapp)["requester"]["contact_id"]
    # When an agent opens the customer, a ticket a page
    first = stack.api_get(f"/contacts/{contact_id}", {"limit": "1"})
    second = stack.api_get(f"/contacts/{contact_id}", {"limit": "1", "cursor": first.json()["next_cursor"]})
    # Then the contact comes with both identities, and their tickets on both channels, newest first
    assert first.status == second.status == 200
    contact = first.json()["contact"]
    assert contact["id"] == contact_id and contact["phone_e164"] == "+821055501234"
    assert {identity["channel"] for identity in contact["identities"]} == {"whatsapp", "sms"}
    assert [t["id"] for t in first.json()["tickets"] + second.json()["tickets"]] == [sms, whatsapp]
    assert [t["channel"] for t in first.json()["tickets"] + second.json()["tickets"]] == ["sms", "whatsapp"]
    assert second.json()["next_cursor"] is None


def test_an_unknown_contact_is_a_404_and_a_cursor_of_another_contact_a_400(stack):
    # Given a customer with two tickets (WhatsApp, then SMS from the same number) and another customer
    customer_writes(stack, 1, phone="+821055501234")
    customer_writes(stack, 2, channel=Channel.SMS, account="+15550001111", phone="+821055501234")
    other = customer_writes(stack, 3)
    contacts = {t["id"]: t["requester"]["contact_id"] for t in stack.tickets()}
    first = next(contact_id for contact_id in contacts.values() if contact_id != contacts[other])
    cursor = stack.api_get(f"/contacts/{first}", {"limit": "1"}).json()["next_cursor"]
    # Then a contact that does not exist (or could not) is a 404, and the first's cursor pages no other contact
    for contact_id in ("c_ffffffffffffffffffffffff", "c" * 3000):
        response = stack.api_get(f"/contacts/{contact_id}")
        assert (response.status, response.json()["error"]) == (404, "not_found"), contact_id[:20]
    response = stack.api_get(f"/contacts/{contacts[other]}", {"cursor": cursor})
    assert (response.status, response.json()["error"]) == (400, "invalid_request")
