"""Listings page with an opaque cursor (tickets, held mail, a ticket's messages); a cursor the API did not
hand out is a 400, never a 500, and never reaches DynamoDB: not even one whose keys pass DynamoDB's limits."""

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchboard.api.tickets import handle_tickets_api
from switchboard.config import AccessSettings
from switchboard.errors import InvalidRequest
from switchboard.models import MailHandling, Ticket, TicketStatus
from switchboard.store.repositories import Repositories
from tests.support.fakes import RecordingDynamoDB
from tests.support.lambda_events import AGENT_CLAIMS, HttpResponse, http_api_event

TABLE = "switchboard-dev-TicketsTable"
LAST_ALL = {
    "pk": {"S": "TICKET#t_0123456789abcdef01234567"},
    "sk": {"S": "TICKET"},
    "created_pk": {"S": "TICKETS"},
    "created_sk": {"S": "2025-06-08T21:00:00.000000Z#t_0123456789abcdef01234567"},
}
LAST_OPEN = {
    "pk": {"S": "TICKET#t_0123456789abcdef01234567"},
    "sk": {"S": "TICKET"},
    "status_pk": {"S": "STATUS#open"},
    "created_sk": {"S": "2025-06-08T21:00:00.000000Z#t_0123456789abcdef01234567"},
}


def cursor_after(last_evaluated_key, status=None) -> str:
    store = Repositories.on(RecordingDynamoDB({"Items": [], "LastEvaluatedKey": last_evaluated_key}), TABLE)
    return store.tickets.list_tickets(status=status, limit=25, cursor=None).next_cursor


def encoded(document) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


def test_cursor_resumes_exactly_after_the_last_ticket_of_the_page():
    # Given a first page that ended at some ticket
    cursor = cursor_after(LAST_ALL)
    # When the next page is asked for with the cursor
    database = RecordingDynamoDB()
    Repositories.on(database, TABLE).tickets.list_tickets(status=None, limit=25, cursor=cursor)
    # Then the query starts after that very ticket
    assert database.queries[0]["ExclusiveStartKey"] == LAST_ALL


def test_cursor_is_url_safe_and_unpadded():
    cursor = cursor_after(LAST_OPEN, TicketStatus.OPEN)

    assert cursor.replace("-", "").replace("_", "").isalnum()


def test_last_page_has_no_cursor():
    store = Repositories.on(RecordingDynamoDB({"Items": []}), TABLE)

    assert store.tickets.list_tickets(status=None, limit=25, cursor=None).next_cursor is None


FORGED = {
    "not-base64": "%%%not-base64%%%",
    "not-json": base64.urlsafe_b64encode(b"\x00\xffnot json").decode(),
    "json-list": encoded(["pk", "sk"]),
    "missing-key": encoded({k: v["S"] for k, v in LAST_ALL.items() if k != "created_sk"}),
    "extra-key": encoded({**{k: v["S"] for k, v in LAST_ALL.items()}, "status_pk": "STATUS#open"}),
    "empty-value": encoded({**{k: v["S"] for k, v in LAST_ALL.items()}, "pk": ""}),
    "not-strings": encoded({**{k: v["S"] for k, v in LAST_ALL.items()}, "pk": {"S": "TICKET#x"}}),
    "from-a-status-listing": cursor_after(LAST_OPEN, TicketStatus.OPEN),
    "another-partition": encoded({**{k: v["S"] for k, v in LAST_ALL.items()}, "created_pk": "CONTACTS"}),
    "not-a-ticket": encoded({**{k: v["S"] for k, v in LAST_ALL.items()}, "sk": "MSG#2025"}),
    "non-ascii": "커서",
    # Valid base64 of valid JSON, about as long as a URL allows, but nested rather than keyed.
    "deeply-nested": base64.urlsafe_b64encode(b"[" * 1500 + b"]" * 1500).decode().rstrip("="),
    # Well-formed, of this listing, but past DynamoDB's key limits (2,048-byte partition key, 1,024-byte
    # sort key) or not encodable as UTF-8: DynamoDB would answer a ValidationException, a 500.
    "partition-key-too-long": encoded({**{k: v["S"] for k, v in LAST_ALL.items()}, "pk": "TICKET#" + "가" * 700}),
    "sort-key-too-long": encoded({**{k: v["S"] for k, v in LAST_ALL.items()}, "created_sk": "2025" + "x" * 1100}),
    "lone-surrogate": encoded({**{k: v["S"] for k, v in LAST_ALL.items()}, "pk": "TICKET#\ud800"}),
    "ascii-partition-key-too-long": encoded({**{k: v["S"] for k, v in LAST_ALL.items()}, "pk": "TICKET#" + "x" * 2042}),
    "longer-than-any-we-hand-out": encoded({**{k: v["S"] for k, v in LAST_ALL.items()}, "padding": "x" * 4000}),
    "not-a-ticket-key": encoded({**{k: v["S"] for k, v in LAST_ALL.items()}, "pk": "CONTACT#c_1"}),
}


@pytest.mark.parametrize("cursor", FORGED.values(), ids=FORGED.keys())
def test_cursor_the_api_did_not_hand_out_is_an_invalid_request(cursor):
    database = RecordingDynamoDB()

    with pytest.raises(InvalidRequest, match="cursor"):
        Repositories.on(database, TABLE).tickets.list_tickets(status=None, limit=25, cursor=cursor)
    assert database.queries == []


def test_cursor_of_one_status_does_not_page_another():
    with pytest.raises(InvalidRequest, match="cursor"):
        Repositories.on(RecordingDynamoDB(), TABLE).tickets.list_tickets(
            status=TicketStatus.PENDING, limit=25, cursor=cursor_after(LAST_OPEN, TicketStatus.OPEN)
        )


def test_forged_cursor_reaches_the_agent_as_a_400_json_error():
    event = http_api_event(
        method="GET",
        path="/tickets",
        route_key="GET /tickets",
        query={"cursor": FORGED["not-json"]},
        claims=AGENT_CLAIMS,
    )

    response = HttpResponse.of(handle_tickets_api(event, Repositories.on(RecordingDynamoDB(), TABLE), AccessSettings()))

    assert response.status == 400
    assert response.json() == {"error": "invalid_request", "message": "cursor is not one this API returned"}


LISTINGS = {
    "tickets": lambda store, cursor: store.tickets.list_tickets(status=None, limit=25, cursor=cursor),
    "tickets-by-status": lambda store, cursor: store.tickets.list_tickets(
        status=TicketStatus.OPEN, limit=25, cursor=cursor
    ),
    "held-mail": lambda store, cursor: store.held_mail.list_held_mail(
        handling=MailHandling.QUARANTINED, limit=25, cursor=cursor
    ),
    "messages": lambda store, cursor: store.messages.message_page(
        "t_0123456789abcdef01234567", limit=25, cursor=cursor
    ),
}
KEY_NAMES = ["pk", "sk", "created_pk", "status_pk", "created_sk"]
KEY_VALUES = st.one_of(
    st.text(max_size=3000),
    st.sampled_from(["TICKET#", "MSG#", "HELD#", "STATUS#open", "TICKETS", "TICKET", "HELD#quarantined"]).flatmap(
        lambda prefix: st.text(max_size=1500).map(lambda rest: prefix + rest)
    ),
    st.integers(),
    st.none(),
    st.lists(st.text(max_size=5), max_size=3),
)


@pytest.mark.parametrize("listing", LISTINGS.values(), ids=LISTINGS.keys())
@given(forged=st.dictionaries(st.sampled_from(KEY_NAMES), KEY_VALUES, max_size=5))
def test_any_forged_cursor_is_refused_before_dynamodb_or_names_keys_within_its_limits(listing, forged):
    # Given a cursor of any key names and values, in our encoding
    database = RecordingDynamoDB()
    # When a listing is asked to start there
    try:
        listing(Repositories.on(database, TABLE), encoded(forged).replace("=", ""))
    except InvalidRequest:
        # Then either it is refused as a 400 before any query
        assert database.queries == []
        return
    # ... or the key it starts from is within every DynamoDB key limit
    (query,) = database.queries
    start = query["ExclusiveStartKey"]
    assert len(start["pk"]["S"].encode("utf-8")) <= 2048
    assert all(len(value["S"].encode("utf-8")) <= 1024 for name, value in start.items() if name != "pk")


@pytest.mark.parametrize("listing", LISTINGS.values(), ids=LISTINGS.keys())
@given(cursor=st.text(max_size=6000))
def test_any_text_as_a_cursor_is_a_400_or_a_key_of_the_listing(listing, cursor):
    database = RecordingDynamoDB()
    try:
        listing(Repositories.on(database, TABLE), cursor)
    except InvalidRequest:
        assert database.queries == []


def test_a_message_cursor_resumes_after_its_message_and_only_in_its_ticket():
    # Given a page of one ticket's messages that ended at a message
    last = {"pk": {"S": "TICKET#t_0123456789abcdef01234567"}, "sk": {"S": "MSG#2025-06-08T21:00:00.000000Z#00000007"}}
    store = Repositories.on(RecordingDynamoDB({"Items": [], "LastEvaluatedKey": last}), TABLE)
    cursor = store.messages.message_page("t_0123456789abcdef01234567", limit=25, cursor=None).next_cursor
    # When the next page is asked for, of that ticket and of another
    database = RecordingDynamoDB()
    Repositories.on(database, TABLE).messages.message_page("t_0123456789abcdef01234567", limit=25, cursor=cursor)
    # Then it resumes after that message, and another ticket refuses the cursor
    assert database.queries[0]["ExclusiveStartKey"] == last
    assert store.messages.message_cursor("t_0123456789abcdef01234567", "2025-06-08T21:00:00.000000Z.00000007") == cursor
    with pytest.raises(InvalidRequest, match="cursor"):
        Repositories.on(RecordingDynamoDB(), TABLE).messages.message_page(
            "t_ffffffffffffffffffffffff", limit=25, cursor=cursor
        )


def test_a_cursor_made_after_a_ticket_is_the_one_dynamodb_hands_back_after_it():
    # Given the ticket LAST_ALL and LAST_OPEN name, as a page of the listing carried it
    ticket = Ticket.model_validate(
        {
            "id": "t_0123456789abcdef01234567",
            "number": 7,
            "status": "open",
            "channel": "line",
            "channel_account_id": "U1",
            "conversation_key": "line:U1:U2",
            "subject": "배송",
            "requester": {"contact_id": "c_1"},
            "message_count": 1,
            "created_at": "2025-06-08T21:00:00Z",
            "updated_at": "2025-06-08T21:00:00Z",
        }
    )
    store = Repositories.on(RecordingDynamoDB(), TABLE)
    # Then the cursor made after it, for all tickets and for its status, is DynamoDB's own
    assert store.tickets.ticket_cursor(ticket, None) == cursor_after(LAST_ALL)
    assert store.tickets.ticket_cursor(ticket, TicketStatus.OPEN) == cursor_after(LAST_OPEN, TicketStatus.OPEN)
