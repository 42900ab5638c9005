"""Telegram on the local runner: an update carrying the bot's secret token becomes a ticket agents read
over the API, an edit changes what they read, and a wrong token is refused. The runner seeds the
channel's secret from template Metadata; the tests send the token it seeded."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.e2e.local_stack import LocalStack, Response, eventually
from tests.support.drivers.telegram import encode, message, person, private_chat, update

pytestmark = pytest.mark.e2e


def post(local_stack: LocalStack, body: bytes, token: str | None = None) -> Response:
    secret = local_stack.state["secrets"]["telegram"]["secret_token"]
    headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": token or secret}
    return local_stack.request("POST", "/webhooks/telegram", body, headers)


def ticket_of(local_stack: LocalStack, chat_id: int) -> dict | None:
    return next((t for t in local_stack.tickets() if t["conversation_key"].endswith(f":{chat_id}")), None)


def test_update_becomes_a_ticket_and_an_edit_changes_what_agents_read(local_stack: LocalStack):
    # Given a customer's message in a private chat with the bot
    customer = person(6_000_000_000 + uuid.uuid4().int % 10**9, "민준", "김")
    chat, now = private_chat(customer), int(time.time())
    original = encode(
        update("message", message(message_id=41, sender=customer, chat=chat, date=now, text="주소는 서울시 강남구"))
    )
    edited = encode(
        update(
            "edited_message",
            message(
                message_id=41, sender=customer, chat=chat, date=now, edit_date=now + 5, text="주소는 서울시 서초구"
            ),
        )
    )
    # When Telegram delivers it, then the customer's edit
    delivered = post(local_stack, original)
    ticket = eventually(lambda: ticket_of(local_stack, customer["id"]), timeout=15, what="the Telegram ticket")
    assert post(local_stack, edited).status == 200

    # Then the agent reads the edited text, with what was first written kept
    def edited_message():
        (shown,) = local_stack.as_agent(f"/tickets/{ticket['id']}").json()["messages"]
        return shown if shown["text"] == "주소는 서울시 서초구" else None

    shown = eventually(edited_message, timeout=15, what="the edit")
    assert (delivered.status, delivered.json()) == (200, {"received": 1})
    assert shown["original_text"] == "주소는 서울시 강남구"
    assert ticket["requester"]["display_name"] == "민준 김"


def test_wrong_secret_token_is_refused(local_stack: LocalStack):
    customer = person(6_000_000_000 + uuid.uuid4().int % 10**9, "Mallory")
    body = encode(
        update(
            "message",
            message(message_id=1, sender=customer, chat=private_chat(customer), date=int(time.time()), text="refund"),
        )
    )

    refused = post(local_stack, body, token="guessed-token")

    assert (refused.status, refused.json()["error"]) == (401, "invalid_signature")
    assert ticket_of(local_stack, customer["id"]) is None
