"""From Telegram's webhook through the queue and the writer to what agents read, with moto in-process."""

import json

import pytest

from tests.support.drivers.telegram import (
    BOT_ID,
    TelegramDriver,
    encode,
    group_chat,
    message,
    person,
    private_chat,
    update,
)
from tests.support.lambda_events import HttpResponse
from tests.support.paths import EVENTS_DIR, provider_fixture

SENT = 1749416383
MINJUN = person(5_000_000_001, "민준", "김")


@pytest.fixture
def telegram(stack):
    return stack.channel(TelegramDriver())


def test_documented_samples_open_one_ticket_with_the_text_and_the_document(stack, telegram):
    # Given Telegram's documented text update, and its document update (same chat, same message_id)
    responses = [telegram.deliver(provider_fixture("telegram", name)) for name in ("text.json", "document.json")]
    report = stack.drain_queue()
    # Then both are acknowledged; the samples share one message id, so the writer files the first once
    assert [(r.status, r.json()) for r in responses] == [(200, {"received": 1})] * 2
    assert report.failed_records == 0
    found = stack.only_ticket()
    assert found["ticket"]["conversation_key"] == f"telegram:{BOT_ID}:1111111"
    assert found["ticket"]["requester"]["display_name"] == "Test Firstname Test Lastname"
    assert [(m["external_id"], m["text"]) for m in found["messages"]] == [(f"{BOT_ID}:1111111:1365", "/start")]


def test_edit_replaces_the_text_agents_read_and_keeps_the_original(stack, telegram):
    # Given a customer's message, then their edit of it, each delivered twice
    chat = private_chat(MINJUN)
    original = encode(
        update("message", message(message_id=41, sender=MINJUN, chat=chat, date=SENT, text="주소는 서울시 강남구"))
    )
    edited = encode(
        update(
            "edited_message",
            message(
                message_id=41, sender=MINJUN, chat=chat, date=SENT, edit_date=SENT + 60, text="주소는 서울시 서초구"
            ),
        )
    )
    for body in (original, original, edited, edited):
        assert telegram.deliver(body).status == 200
    report = stack.drain_queue()
    # Then agents read the new text, with the original kept
    assert report.failed_records == 0
    (shown,) = stack.only_ticket()["messages"]
    assert (shown["text"], shown["original_text"]) == ("주소는 서울시 서초구", "주소는 서울시 강남구")


def test_group_chat_is_one_ticket_and_private_chat_another(stack, telegram):
    group = group_chat(-1001234567890, "주문 문의 그룹")
    telegram.deliver(
        encode(update("message", message(message_id=5, sender=MINJUN, chat=group, date=SENT, text="그룹에서 문의")))
    )
    telegram.deliver(
        encode(
            update(
                "message", message(message_id=5, sender=MINJUN, chat=private_chat(MINJUN), date=SENT, text="개인 문의")
            )
        )
    )
    stack.drain_queue()

    keys = sorted(t["conversation_key"] for t in stack.tickets())
    assert keys == [f"telegram:{BOT_ID}:-1001234567890", f"telegram:{BOT_ID}:5000000001"]
    assert len(stack.contacts()) == 1


def test_updates_of_other_kinds_are_acknowledged_and_nothing_is_queued(stack, telegram):
    response = telegram.deliver(
        encode(
            {"update_id": 812345679, "callback_query": {"id": "4382bfdwdsb323b2d9", "from": MINJUN, "data": "refund"}}
        )
    )

    assert (response.status, response.json()) == (200, {"received": 0})
    assert stack.queued_count() == 0


@pytest.mark.parametrize("name", ["telegram-text.json", "telegram-document.json"])
def test_sample_events_are_accepted_by_the_function(stack, name):
    event = json.loads((EVENTS_DIR / name).read_text())

    response = HttpResponse.of(stack.invoke("TelegramWebhookFunction", event))

    assert (response.status, response.json()) == (200, {"received": 1})
