"""A long ticket stays readable: its timeline is paged oldest first, every answer stays far below Lambda's
6 MB response limit whatever the messages hold, and a message a page cut is read whole on its own route."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.drivers import Customer
from tests.support.drivers.email import SesDriver, raw_mail

SENT = datetime(2025, 6, 8, 12, 0, tzinfo=UTC)
JIHO = Customer("jiho.park@example.com", "박지호")
MAILS = 90
# Lambda refuses a response payload over 6 MB; a page answers well below it.
WELL_BELOW_6_MB = 1_500_000


def long_korean_mail(number: int) -> bytes:
    """A long answer on top of the whole quoted thread, as a mail client sends it: the intake keeps 8,000
    characters of the answer and 16,000 of the whole body, about 72 KB of UTF-8."""
    answer = f"{number}번째 문의입니다. " + "주문한 상품의 배송 상태를 확인하고 싶습니다. " * 400
    quoted = "\n".join("> 이전 메일의 내용이 여기에 인용되어 있습니다. 확인 부탁드립니다." for _ in range(400))
    text = f"{answer}\n\n2025년 6월 8일 (일) 오후 9:00, 고객센터 <help@support.example.com>님이 작성:\n{quoted}\n"
    return raw_mail(
        JIHO,
        message_id=f"long-{number:03d}@mail.example.com",
        text=text,
        sent_at=SENT + timedelta(minutes=number),
        subject="배송 문의",
        in_reply_to="long-001@mail.example.com" if number > 1 else None,
        thread_headers=number > 1,
    )


def mail_in(stack, mails: list[bytes]) -> str:
    ses = stack.channel(SesDriver())
    for mail in mails:
        assert ses.deliver(mail).status == 200
        assert stack.drain_queue().failed_records == 0
    (ticket,) = stack.tickets()
    return ticket["id"]


def test_a_long_timeline_is_read_page_by_page_oldest_first_each_page_well_below_6_mb(stack):
    # Given a ticket of 90 long Korean mails, whose messages hold about 6.5 MB
    ticket_id = mail_in(stack, [long_korean_mail(number) for number in range(1, MAILS + 1)])
    # When an agent opens it and follows next_cursor to the end, asking for 100 messages a page
    first = stack.api_get(f"/tickets/{ticket_id}", {"limit": "100"})
    pages = [first]
    while pages[-1].json()["next_cursor"]:
        cursor = pages[-1].json()["next_cursor"]
        pages.append(stack.api_get(f"/tickets/{ticket_id}/messages", {"limit": "100", "cursor": cursor}))
    # Then every answer is a 200 well below 6 MB, together more than 6 MB would have been in one
    assert all(page.status == 200 for page in pages)
    assert max(len(page.body) for page in pages) < WELL_BELOW_6_MB
    assert len(pages) > 1 and first.json()["ticket"]["id"] == ticket_id
    # ... and every message is read once, in the order they were sent
    messages = [message for page in pages for message in page.json()["messages"]]
    assert [m["external_id"] for m in messages] == [f"long-{n:03d}@mail.example.com" for n in range(1, MAILS + 1)]


def test_a_page_cuts_long_texts_and_the_message_route_has_them_whole(stack):
    # Given a ticket of two long mails, listed a message a page
    ticket_id = mail_in(stack, [long_korean_mail(1), long_korean_mail(2)])
    (listed,) = stack.api_get(f"/tickets/{ticket_id}/messages", {"limit": "1"}).json()["messages"]
    # When the agent opens the first message on its own route
    whole = stack.api_get(f"/tickets/{ticket_id}/messages/{listed['message_key']}")
    # Then the page held the first 8,000 characters of each long text, marked, and the message route all of it
    assert whole.status == 200
    message = whole.json()["message"]
    assert listed["text_truncated"] is True and message["text_truncated"] is False
    assert len(listed["email"]["full_text"]) == 8000 and len(message["email"]["full_text"]) == 16000
    assert len(listed["text"]) == 8000 and len(message["text"]) == 8000  # 72 KB a message, 6.5 MB in 90
    assert message["email"]["full_text"].startswith(listed["email"]["full_text"])
    assert message["text"].startswith(listed["text"]) and message["external_id"] == listed["external_id"]


def test_a_short_message_is_listed_whole(stack):
    # Given a ticket of one short mail
    ticket_id = mail_in(
        stack,
        [
            raw_mail(
                JIHO, message_id="short@mail.example.com", text="배송 언제 되나요?", sent_at=SENT, thread_headers=False
            )
        ],
    )
    # When its timeline is listed
    (listed,) = stack.api_get(f"/tickets/{ticket_id}/messages").json()["messages"]
    # Then the message is whole, unmarked
    assert (listed["text"], listed["text_truncated"]) == ("배송 언제 되나요?", False)


@pytest.mark.parametrize(
    ("path", "status", "error"),
    [
        ("/tickets/t_000000000000000000000000/messages", 404, "not_found"),
        ("/tickets/{ticket}/messages/2025-06-08T12:00:00.000000Z.99999999", 404, "not_found"),
        ("/tickets/{ticket}/messages/MSG%232025", 400, "invalid_request"),
        ("/tickets/{ticket}/messages/" + "9" * 3000, 400, "invalid_request"),
    ],
    ids=["unknown-ticket", "unknown-message", "not-a-message-key", "huge-key"],
)
def test_unknown_tickets_and_messages_are_json_errors(stack, path, status, error):
    ticket_id = mail_in(stack, [long_korean_mail(1)])

    response = stack.api_get(path.replace("{ticket}", ticket_id))

    assert (response.status, response.json()["error"]) == (status, error)


def test_a_cursor_of_one_ticket_does_not_page_another(stack):
    ticket_id = mail_in(stack, [long_korean_mail(1), long_korean_mail(2), long_korean_mail(3)])
    cursor = stack.api_get(f"/tickets/{ticket_id}/messages", {"limit": "2"}).json()["next_cursor"]

    response = stack.api_get(f"/tickets/{ticket_id[:-1]}0/messages", {"cursor": cursor})

    assert response.status in (400, 404) and response.json()["error"] in ("invalid_request", "not_found")
