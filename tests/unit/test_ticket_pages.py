"""A page of the agents' API stays within its byte budget whatever its items hold, and its cursor resumes
right after the last item it carried, so a page cut short loses nothing."""

from datetime import UTC, datetime, timedelta

from boto3.dynamodb.types import TypeSerializer
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.api.tickets import LISTING_TEXT_CHARS, PAGE_BUDGET_BYTES, handle_tickets_api
from switchboard.config import AccessSettings
from switchboard.models import AuthorKind, Channel, Direction, TicketMessage, sortable_time
from switchboard.store.repositories import Repositories
from tests.support.fakes import RecordingDynamoDB
from tests.support.lambda_events import AGENT_CLAIMS, HttpResponse, http_api_event

TICKET_ID = "t_0123456789abcdef01234567"
SENT = datetime(2025, 6, 8, 12, 0, tzinfo=UTC)
_serializer = TypeSerializer()


def message_item(number: int, text: str) -> dict:
    message = TicketMessage(
        id=f"m_{number:024d}",
        ticket_id=TICKET_ID,
        channel=Channel.LINE,
        external_id=f"line-{number}",
        direction=Direction.INBOUND,
        author_kind=AuthorKind.CUSTOMER,
        message_type="text",
        text=text,
        original_text=text,
        created_at=SENT + timedelta(seconds=number),
        received_at=SENT + timedelta(seconds=number),
    )
    document = {
        name: _serializer.serialize(value) for name, value in message.model_dump(mode="json", exclude_none=True).items()
    }
    return {
        "pk": {"S": f"TICKET#{TICKET_ID}"},
        "sk": {"S": f"MSG#{sortable_time(message.created_at)}#{number:08d}"},
        **document,
    }


def messages_request(cursor=None) -> dict:
    return http_api_event(
        method="GET",
        path=f"/tickets/{TICKET_ID}/messages",
        route_key="GET /tickets/{ticket_id}/messages",
        path_parameters={"ticket_id": TICKET_ID},
        query={"limit": "100", **({"cursor": cursor} if cursor else {})},
        claims=AGENT_CLAIMS,
    )


class TimelineTable(RecordingDynamoDB):
    """A table holding one ticket whose timeline DynamoDB hands back as `items` (one Query's worth)."""

    def __init__(self, items: list[dict]) -> None:
        super().__init__({"Items": items})

    def get_item(self, **request):
        self.gets.append(request)
        return {
            "Item": {
                "pk": {"S": f"TICKET#{TICKET_ID}"},
                "sk": {"S": "TICKET"},
                "version": {"N": "3"},
                **TICKET_ATTRIBUTES,
            }
        }


TICKET_ATTRIBUTES = {
    name: _serializer.serialize(value)
    for name, value in {
        "id": TICKET_ID,
        "number": 1,
        "status": "open",
        "channel": "line",
        "channel_account_id": "U1",
        "conversation_key": "line:U1:U2",
        "subject": "배송",
        "requester": {"contact_id": "c_1", "display_name": None},
        "message_count": 1,
        "created_at": "2025-06-08T12:00:00Z",
        "updated_at": "2025-06-08T12:00:00Z",
    }.items()
}


@settings(max_examples=25, deadline=None)
@given(
    count=st.integers(min_value=1, max_value=40),
    # Control characters are the worst case: JSON spells each in six bytes.
    unit=st.sampled_from(["가", "\x01", "a", '"', "😀"]),
)
def test_a_page_of_huge_messages_stays_within_budget_and_its_cursor_resumes_after_its_last_item(count, unit):
    # Given a timeline of messages whose texts are each far longer than a page shows
    items = [message_item(number, unit * (LISTING_TEXT_CHARS * 3)) for number in range(1, count + 1)]
    table = TimelineTable(items)
    # When an agent reads a page of up to 100
    response = HttpResponse.of(
        handle_tickets_api(messages_request(), Repositories.on(table, "tickets"), AccessSettings())
    )
    # Then the page is within the budget (one item over it at most), texts cut and marked
    page = response.json()
    listed = page["messages"]
    assert response.status == 200 and 1 <= len(listed) <= count
    assert len(response.body) <= PAGE_BUDGET_BYTES + len(response.body) // len(listed)
    assert all(m["text_truncated"] and len(m["text"]) == LISTING_TEXT_CHARS for m in listed)
    # ... and when it stopped early its cursor resumes right after the last message it carried
    if len(listed) < count:
        handle_tickets_api(messages_request(page["next_cursor"]), Repositories.on(table, "tickets"), AccessSettings())
        assert table.queries[-1]["ExclusiveStartKey"] == {
            "pk": items[len(listed) - 1]["pk"],
            "sk": items[len(listed) - 1]["sk"],
        }
    else:
        assert page["next_cursor"] is None
