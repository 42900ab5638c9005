"""The agents' read API over tickets the writer made: listing, filtering, paging, errors, authorization."""

from datetime import UTC, datetime, timedelta

import pytest

from switchboard.models import TicketStatus
from tests.support.agents import agent_replies
from tests.support.lambda_events import ADMIN_CLAIMS, NO_ROLE_CLAIMS

FIRST_SENT = datetime(2025, 6, 8, 21, 0, tzinfo=UTC)


def customers_write_in(stack, whatsapp, count: int) -> list[str]:
    """`count` customers each send a first message, one after another; returns their subjects in order."""
    driver = whatsapp.driver
    subjects = []
    for number in range(1, count + 1):
        subject = f"Order #{1000 + number} has not arrived"
        body = driver.text_message(
            driver.customer(number, f"Customer {number}"),
            message_id=driver.message_id(f"first-{number}"),
            text=subject,
            sent_at=FIRST_SENT + timedelta(minutes=number),
        )
        assert whatsapp.deliver(body).status == 200
        subjects.append(subject)
    assert stack.drain_queue().failed_records == 0
    return subjects


def test_tickets_are_listed_newest_first(stack, whatsapp):
    # Given three customers wrote in, in turn
    subjects = customers_write_in(stack, whatsapp, 3)
    # When an agent lists tickets
    response = stack.api_get("/tickets")
    # Then the latest comes first, numbered in arrival order
    assert response.status == 200
    listed = response.json()
    assert [(t["number"], t["subject"]) for t in listed["tickets"]] == [
        (3, subjects[2]),
        (2, subjects[1]),
        (1, subjects[0]),
    ]
    assert listed["next_cursor"] is None


def test_status_filter_lists_only_tickets_in_that_status(stack, whatsapp):
    # Given three new tickets, one of which an agent answered and set pending
    customers_write_in(stack, whatsapp, 3)
    second = next(t for t in stack.tickets() if t["number"] == 2)
    agent_replies(
        stack.repositories(),
        second["id"],
        external_id="wamid.reply-2",
        text="Checking with the courier.",
        at=FIRST_SENT + timedelta(hours=1),
        then=TicketStatus.PENDING,
    )
    # When the agent filters by status
    by_status = {
        status: [t["number"] for t in stack.api_get("/tickets", {"status": status}).json()["tickets"]]
        for status in ("new", "pending", "closed")
    }
    # Then each listing holds exactly its tickets, newest first
    assert by_status == {"new": [3, 1], "pending": [2], "closed": []}


@pytest.mark.parametrize("status", [None, "new"])
def test_pages_follow_the_cursor_without_repeats_or_gaps(stack, whatsapp, status):
    # Given seven tickets
    customers_write_in(stack, whatsapp, 7)
    # When an agent pages through them three at a time
    pages, query = [], {"limit": "3", **({"status": status} if status else {})}
    while True:
        response = stack.api_get("/tickets", query)
        assert response.status == 200
        page = response.json()
        pages.append([t["number"] for t in page["tickets"]])
        if not page["next_cursor"]:
            break
        query["cursor"] = page["next_cursor"]
    # Then every ticket appears once, newest first, in pages of at most three
    assert [number for page in pages for number in page] == [7, 6, 5, 4, 3, 2, 1]
    assert all(1 <= len(page) <= 3 for page in pages[:3]) and pages[:3] == [[7, 6, 5], [4, 3, 2], [1]]


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "-1"},
        {"limit": "ten"},
        {"limit": "2.5"},
        {"limit": ""},
        {"limit": "²"},
        {"limit": "9" * 5000},
        {"status": "OPEN"},
        {"status": "deleted"},
        {"status": ""},
        {"cursor": "not-a-cursor"},
    ],
    ids=lambda query: f"{next(iter(query))}={next(iter(query.values()))[:12]!r}",
)
def test_bad_listing_parameters_are_a_400_json_error(stack, query):
    response = stack.api_get("/tickets", query)

    assert response.status == 400
    body = response.json()
    assert body["error"] == "invalid_request"
    assert next(iter(query)) in body["message"]


def test_cursor_from_one_status_listing_is_refused_by_another(stack, whatsapp):
    customers_write_in(stack, whatsapp, 3)
    cursor = stack.api_get("/tickets", {"status": "new", "limit": "1"}).json()["next_cursor"]

    response = stack.api_get("/tickets", {"cursor": cursor})

    assert response.status == 400
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize("ticket_id", ["t_000000000000000000000000", "nothing-here", "x" * 3000])
def test_unknown_ticket_is_a_404(stack, ticket_id):
    response = stack.api_get(f"/tickets/{ticket_id}")

    assert response.status == 404
    assert response.json()["error"] == "not_found"


@pytest.mark.parametrize("path", ["/tickets", "/tickets/t_000000000000000000000000"])
@pytest.mark.parametrize(
    "claims",
    [None, {}, {"iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Sw1tchB0d"}],
    ids=["no-authorizer", "no-claims", "no-subject"],
)
def test_requests_without_an_agents_claims_are_a_401(stack, path, claims):
    # A route deployed without the JWT authorizer must fail closed.
    response = stack.api_get(path, claims=claims)

    assert response.status == 401
    assert response.json()["error"] == "unauthorized"


@pytest.mark.parametrize("path", ["/tickets", "/tickets/t_000000000000000000000000", "/mail/held?reason=quarantined"])
def test_a_valid_token_without_a_role_is_a_403(stack, whatsapp, path):
    # Given a ticket, and a token from the right issuer whose user is in no Switchboard group
    customers_write_in(stack, whatsapp, 1)
    route, _, query = path.partition("?")
    # When it asks for tickets or held mail
    response = stack.api_get(route, dict([query.split("=")]) if query else None, claims=NO_ROLE_CLAIMS)
    # Then it is forbidden with a JSON error, and nothing of a ticket is in the answer
    assert (response.status, response.json()["error"]) == (403, "forbidden")
    assert set(response.json()) == {"error", "message"}


def test_an_admin_reads_tickets_as_an_agent_does(stack, whatsapp):
    subjects = customers_write_in(stack, whatsapp, 2)

    response = stack.api_get("/tickets", claims=ADMIN_CLAIMS)

    assert response.status == 200
    assert [ticket["subject"] for ticket in response.json()["tickets"]] == subjects[::-1]
