"""GET /tickets pages with an opaque cursor; a cursor the API did not hand out is a 400, never a 500."""

import base64
import json

import pytest

from switchboard.api.tickets import handle_tickets_api
from switchboard.config import AccessSettings
from switchboard.errors import InvalidRequest
from switchboard.models import TicketStatus
from switchboard.store.tickets_table import TicketStore
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
    store = TicketStore(RecordingDynamoDB({"Items": [], "LastEvaluatedKey": last_evaluated_key}), TABLE)
    return store.list_tickets(status=status, limit=25, cursor=None).next_cursor


def encoded(document) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


def test_cursor_resumes_exactly_after_the_last_ticket_of_the_page():
    # Given a first page that ended at some ticket
    cursor = cursor_after(LAST_ALL)
    # When the next page is asked for with the cursor
    database = RecordingDynamoDB()
    TicketStore(database, TABLE).list_tickets(status=None, limit=25, cursor=cursor)
    # Then the query starts after that very ticket
    assert database.queries[0]["ExclusiveStartKey"] == LAST_ALL


def test_cursor_is_url_safe_and_unpadded():
    cursor = cursor_after(LAST_OPEN, TicketStatus.OPEN)

    assert cursor.replace("-", "").replace("_", "").isalnum()


def test_last_page_has_no_cursor():
    store = TicketStore(RecordingDynamoDB({"Items": []}), TABLE)

    assert store.list_tickets(status=None, limit=25, cursor=None).next_cursor is None


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
}


@pytest.mark.parametrize("cursor", FORGED.values(), ids=FORGED.keys())
def test_cursor_the_api_did_not_hand_out_is_an_invalid_request(cursor):
    database = RecordingDynamoDB()

    with pytest.raises(InvalidRequest, match="cursor"):
        TicketStore(database, TABLE).list_tickets(status=None, limit=25, cursor=cursor)
    assert database.queries == []


def test_cursor_of_one_status_does_not_page_another():
    with pytest.raises(InvalidRequest, match="cursor"):
        TicketStore(RecordingDynamoDB(), TABLE).list_tickets(
            status=TicketStatus.PENDING, limit=25, cursor=cursor_after(LAST_OPEN, TicketStatus.OPEN)
        )


def test_forged_cursor_reaches_the_agent_as_a_400_json_error():
    event = http_api_event(
        method="GET", path="/tickets", route_key="GET /tickets", query={"cursor": FORGED["not-json"]}, claims=AGENT_CLAIMS
    )

    response = HttpResponse.of(handle_tickets_api(event, TicketStore(RecordingDynamoDB(), TABLE), AccessSettings()))

    assert response.status == 400
    assert response.json() == {"error": "invalid_request", "message": "cursor is not one this API returned"}
