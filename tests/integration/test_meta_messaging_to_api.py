"""Messenger and Instagram: from Meta's webhook through the queue and the writer to what agents read,
with moto in-process."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.agents import agent_replies
from tests.support.drivers.messenger import (
    INSTAGRAM_ACCOUNT_ID,
    PAGE_ID,
    InstagramDriver,
    MessengerDriver,
    delivery_event,
    echo_event,
    encode,
    entry,
    millis,
    read_event,
    seen_event,
    text_event,
    webhook,
)
from tests.support.lambda_events import HttpResponse
from tests.support.paths import EVENTS_DIR, provider_fixture

SENT = datetime(2025, 6, 8, 21, 0, tzinfo=UTC)
CUSTOMER = "7160000000012345"


@pytest.fixture
def messenger(stack):
    return stack.channel(MessengerDriver())


@pytest.fixture
def instagram(stack):
    return stack.channel(InstagramDriver())


def timeline(stack) -> list[tuple]:
    return [
        (m["external_id"], m["direction"], m["author_kind"], m["text"], m["delivery_status"])
        for m in stack.only_ticket()["messages"]
    ]


def customer_writes(messenger, mid: str, text: str, at: datetime, customer: str = CUSTOMER) -> None:
    response = messenger.deliver(
        encode(webhook(text_event(mid=mid, customer=customer, text=text, timestamp=millis(at))))
    )
    assert (response.status, response.json()) == (200, {"received": 1})


def test_handshake_is_answered_with_the_verify_token_of_the_channel_secret(messenger, instagram):
    token = messenger.driver.secrets["verify_token"]
    query = {"hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": "1158201444"}

    for channel in (messenger, instagram):
        answered = channel.handshake(query)
        refused = channel.handshake(query | {"hub.verify_token": "guess"})
        assert (answered.status, answered.body) == (200, "1158201444")
        assert refused.status == 403


def test_quick_reply_sample_opens_a_ticket_agents_can_read(stack, messenger):
    # Given Meta's text-message sample (a tapped quick reply)
    response = messenger.deliver(provider_fixture("messenger", "text.json"))
    report = stack.drain_queue()
    # Then it is acknowledged, written once, and readable as a new Messenger ticket
    assert (response.status, report.records, report.failed_records) == (200, 1, 0)
    found = stack.only_ticket()
    ticket = found["ticket"]
    assert (ticket["channel"], ticket["channel_account_id"], ticket["conversation_key"]) == (
        "messenger",
        "<PAGE_ID>",
        "messenger:<PAGE_ID>:<PSID>",
    )
    assert (ticket["subject"], ticket["status"], ticket["requester"]["display_name"]) == ("hello, world!", "new", None)
    (message,) = found["messages"]
    assert (message["message_type"], message["text"], message["author_kind"], message["created_at"]) == (
        "quick_reply",
        "hello, world!",
        "customer",
        "2016-03-23T00:25:52.478000Z",
    )


def test_photo_keeps_its_cdn_url_for_the_media_job(stack, messenger):
    messenger.deliver(provider_fixture("messenger", "attachment.json"))
    stack.drain_queue()

    (message,) = stack.only_ticket()["messages"]
    assert message["message_type"] == "image"
    assert [(a["kind"], a["url"]) for a in message["attachments"]] == [("image", "<ATTACHMENT_URL>")]


def test_reply_sent_from_the_page_inbox_is_an_agent_message_then_delivered_then_read(stack, messenger):
    # Given a customer's message opened a ticket
    customer_writes(messenger, "m_question", "환불 가능할까요?", SENT)
    stack.drain_queue()
    # When the page answers from Meta Business Suite (an echo), and Meta then reports it delivered and read
    echo = echo_event(
        mid="m_answer", customer=CUSTOMER, timestamp=millis(SENT + timedelta(minutes=2)), text="네, 가능합니다."
    )
    assert messenger.deliver(encode(webhook(echo))).status == 200
    stack.drain_queue()
    after_echo = timeline(stack)
    delivered_at = millis(SENT + timedelta(minutes=3))
    messenger.deliver(encode(webhook(delivery_event(customer=CUSTOMER, mids=["m_answer"], watermark=delivered_at))))
    stack.drain_queue()
    after_delivery = timeline(stack)
    messenger.deliver(
        encode(webhook(read_event(customer=CUSTOMER, watermark=delivered_at + 60_000, timestamp=delivered_at + 60_500)))
    )
    stack.drain_queue()
    # Then the answer is on the ticket as the business's, never as the customer's, and its status follows Meta
    assert after_echo == [
        ("m_question", "inbound", "customer", "환불 가능할까요?", None),
        ("m_answer", "outbound", "agent", "네, 가능합니다.", "sent"),
    ]
    assert after_delivery[1][4] == "delivered"
    assert timeline(stack)[1][4] == "read"
    ticket = stack.only_ticket()["ticket"]
    assert (ticket["message_count"], ticket["last_customer_message_at"]) == (2, "2025-06-08T21:00:00Z")


def test_delivery_receipt_updates_the_agents_reply_it_names(stack, messenger):
    # Given an agent replied through Switchboard, as Messenger message m_reply
    customer_writes(messenger, "m_question", "배송 언제 되나요?", SENT)
    stack.drain_queue()
    ticket_id = stack.tickets()[0]["id"]
    agent_replies(
        stack.repositories(), ticket_id, external_id="m_reply", text="오늘 출고됩니다.", at=SENT + timedelta(minutes=5)
    )
    # When Meta echoes the reply back and reports it delivered
    messenger.deliver(
        encode(
            webhook(
                echo_event(
                    mid="m_reply",
                    customer=CUSTOMER,
                    timestamp=millis(SENT + timedelta(minutes=5)),
                    text="오늘 출고됩니다.",
                )
            )
        )
    )
    messenger.deliver(
        encode(
            webhook(delivery_event(customer=CUSTOMER, mids=["m_reply"], watermark=millis(SENT + timedelta(minutes=6))))
        )
    )
    report = stack.drain_queue()
    # Then the echo of our own reply adds nothing, and the reply is marked delivered
    assert report.failed_records == 0
    assert timeline(stack) == [
        ("m_question", "inbound", "customer", "배송 언제 되나요?", None),
        ("m_reply", "outbound", "agent", "오늘 출고됩니다.", "delivered"),
    ]


def test_one_post_for_two_pages_opens_a_ticket_on_each(stack, messenger):
    # Given one delivery batching two pages' customer messages
    second_page = "1029384756102938"
    payload = {
        "object": "page",
        "entry": [
            entry(text_event(mid="m_p1", customer=CUSTOMER, text="첫 번째 페이지", timestamp=millis(SENT))),
            entry(
                text_event(
                    mid="m_p2", customer=CUSTOMER, text="두 번째 페이지", timestamp=millis(SENT), account=second_page
                ),
                account=second_page,
            ),
        ],
    }
    # When it is delivered and written
    response = messenger.deliver(encode(payload))
    stack.drain_queue()
    # Then each page's conversation has its own ticket
    assert response.json() == {"received": 2}
    assert sorted((t["channel_account_id"], t["subject"]) for t in stack.tickets()) == [
        (second_page, "두 번째 페이지"),
        (PAGE_ID, "첫 번째 페이지"),
    ]


def test_instagram_message_and_seen_receipt(stack, instagram):
    # Given an Instagram customer's message and an agent's reply to it
    body = encode(
        webhook(
            text_event(
                mid="aWdfZAG1",
                customer=CUSTOMER,
                text="재고 있나요?",
                timestamp=millis(SENT),
                account=INSTAGRAM_ACCOUNT_ID,
            ),
            account=INSTAGRAM_ACCOUNT_ID,
            object_="instagram",
        )
    )
    assert instagram.deliver(body).status == 200
    stack.drain_queue()
    ticket_id = stack.tickets()[0]["id"]
    agent_replies(
        stack.repositories(), ticket_id, external_id="aWdfZAG2", text="네, 있습니다.", at=SENT + timedelta(minutes=1)
    )
    # When Instagram reports the reply seen
    seen = encode(
        webhook(
            seen_event(customer=CUSTOMER, mid="aWdfZAG2", timestamp=millis(SENT + timedelta(minutes=2))),
            account=INSTAGRAM_ACCOUNT_ID,
            object_="instagram",
        )
    )
    assert instagram.deliver(seen).status == 200
    stack.drain_queue()
    # Then the Instagram ticket shows the reply as read
    assert stack.only_ticket()["ticket"]["conversation_key"] == f"instagram:{INSTAGRAM_ACCOUNT_ID}:{CUSTOMER}"
    assert timeline(stack) == [
        ("aWdfZAG1", "inbound", "customer", "재고 있나요?", None),
        ("aWdfZAG2", "outbound", "agent", "네, 있습니다.", "read"),
    ]


def test_sample_events_run_through_the_handlers_to_one_ticket_per_channel(stack):
    # Given the sample events of both functions, as `sam local invoke -e` would pass them
    def invoke(function: str, name: str) -> HttpResponse:
        return HttpResponse.of(stack.invoke(function, json.loads((EVENTS_DIR / name).read_text())))

    # When each is invoked in order and the writer drains the queue
    for function, channel in (("MessengerWebhookFunction", "messenger"), ("InstagramWebhookFunction", "instagram")):
        assert invoke(function, f"{channel}-handshake.json").body == "1158201444"
        for kind in ("text", "attachment", "echo", "delivery" if channel == "messenger" else "seen"):
            assert invoke(function, f"{channel}-{kind}.json").status == 200, kind
    report = stack.drain_queue()
    # Then each channel has one ticket: the customer's messages and the business's echoed answer
    assert report.failed_records == 0
    tickets = {t["channel"]: stack.ticket(t["id"]) for t in stack.tickets()}
    assert sorted(tickets) == ["instagram", "messenger"]
    assert [(m["message_type"], m["author_kind"], m["delivery_status"]) for m in tickets["instagram"]["messages"]] == [
        ("text", "customer", None),
        ("image", "customer", None),
        ("text", "agent", "read"),
    ]
