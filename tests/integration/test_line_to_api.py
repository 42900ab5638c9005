"""From LINE's webhook through the queue and the writer to what agents read, with moto in-process."""

import json

import pytest

from tests.support.drivers.line import (
    BOT_USER_ID,
    LineDriver,
    encode,
    follow_event,
    group_source,
    line_user_id,
    message_event,
    text_message,
    user_source,
    webhook,
)
from tests.support.lambda_events import HttpResponse
from tests.support.paths import EVENTS_DIR, provider_fixture

SENT_MS = 1749416383000
CUSTOMER = line_user_id("김민준")


@pytest.fixture
def line(stack):
    return stack.channel(LineDriver())


def test_sdk_sample_opens_a_ticket_for_the_user_and_one_for_the_room(stack, line):
    # Given LINE's SDK sample: a user's text and a photo posted in a multi-person room
    response = line.deliver(provider_fixture("line", "text-and-image.json"))
    report = stack.drain_queue()
    # Then both are acknowledged; the sample reuses one message id for both events, so the writer files it once
    assert (response.status, response.json()) == (200, {"received": 2})
    assert report.failed_records == 0
    (ticket,) = stack.tickets()
    found = stack.ticket(ticket["id"])
    assert found["ticket"]["conversation_key"] == "line:U123:U206d25c2ea6bd87c17655609a1c37cb8"
    (message,) = found["messages"]
    assert (message["text"], message["reply_token"]) == ("Hello, world", "nHuyWiB7yP5Zw52FIkcQobQuGDXCTA")
    assert message["reply_token_expires_at"] is not None


def test_group_chat_is_one_ticket_with_each_member_as_author(stack, line):
    # Given two members of a LINE group writing to the business account
    group = line_user_id("주문 문의방", "C")
    seoyeon = line_user_id("이서연")
    for number, (member, words) in enumerate([(CUSTOMER, "배송 언제 되나요?"), (seoyeon, "저도 궁금해요")]):
        event = message_event(
            text_message(f"60000000000000010{number}", words),
            source=group_source(group, member),
            timestamp=SENT_MS + number * 1000,
        )
        assert line.deliver(encode(webhook(event))).status == 200
    stack.drain_queue()
    # Then agents see one ticket for the group, holding both messages in order
    found = stack.only_ticket()
    assert found["ticket"]["conversation_key"] == f"line:{BOT_USER_ID}:{group}"
    assert [m["text"] for m in found["messages"]] == ["배송 언제 되나요?", "저도 궁금해요"]


def test_redelivery_lands_once(stack, line, queue_dedup_window_lapsed):
    # Given a message event LINE delivered, and the same event redelivered later
    first = message_event(
        text_message("600000000000000201", "환불 가능할까요?"), source=user_source(CUSTOMER), timestamp=SENT_MS
    )
    again = {**first, "deliveryContext": {"isRedelivery": True}}
    line.deliver(encode(webhook(first)))
    stack.drain_queue()
    line.deliver(encode(webhook(again)))
    stack.drain_queue()
    # Then the ticket holds the message once
    assert [m["external_id"] for m in stack.only_ticket()["messages"]] == ["600000000000000201"]


def test_follow_then_unfollow_is_recorded_on_the_contact(stack, line):
    # Given a customer who wrote, then blocked the account (unfollow), with the unfollow redelivered
    line.deliver(
        encode(
            webhook(
                message_event(
                    text_message("600000000000000301", "문의"), source=user_source(CUSTOMER), timestamp=SENT_MS
                )
            )
        )
    )
    unfollow = encode(
        webhook(
            follow_event(
                "unfollow", user_id=CUSTOMER, timestamp=SENT_MS + 60_000, event_id="01H8Z4V0S1F0X8K2E9T4M6Q1ZZ"
            )
        )
    )
    line.deliver(unfollow)
    line.deliver(unfollow)
    report = stack.drain_queue()
    # Then the contact no longer follows the account
    assert report.failed_records == 0
    (contact,) = stack.contacts()
    assert contact.follows[f"line:{BOT_USER_ID}:{CUSTOMER}"].following is False


def test_sample_event_is_accepted_by_the_function(stack):
    event = json.loads((EVENTS_DIR / "line-text-and-image.json").read_text())

    response = HttpResponse.of(stack.invoke("LineWebhookFunction", event))

    assert (response.status, response.json()) == (200, {"received": 2})
