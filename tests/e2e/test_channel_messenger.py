"""Messenger and Instagram on the local runner: a signed POST from Meta becomes a ticket agents read over
the API, the page's own answers (echoes) join it as the business's messages, and forgeries are refused.
The runner seeds each channel's secret from template Metadata; the tests sign with what it seeded."""

from __future__ import annotations

import time
import uuid

import pytest

from switchboard.channels.meta import sign
from tests.e2e.local_stack import LocalStack, Response, eventually
from tests.support.drivers.messenger import (
    INSTAGRAM_ACCOUNT_ID,
    PAGE_ID,
    delivery_event,
    echo_event,
    encode,
    text_event,
    webhook,
)

pytestmark = pytest.mark.e2e


def _customer() -> str:
    """A page-scoped id no other test uses, so each test finds its own ticket on the shared stack."""
    return "71" + str(uuid.uuid4().int)[:14]


def _now_ms() -> int:
    return int(time.time() * 1000)


def post(local_stack: LocalStack, channel: str, body: bytes, signature: str | None = None) -> Response:
    secret = local_stack.state["secrets"][channel]["app_secret"]
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": signature or sign(body, secret)}
    return local_stack.request("POST", f"/webhooks/{channel}", body, headers)


def messages_of(local_stack: LocalStack, ticket_id: str) -> list[dict]:
    shown = local_stack.as_agent(f"/tickets/{ticket_id}")
    assert shown.status == 200, shown.body
    return shown.json()["messages"]


def test_signed_messenger_text_becomes_a_ticket_agents_read(local_stack: LocalStack):
    # Given a customer's Messenger message, signed with the app secret the runner seeded
    customer, mid = _customer(), f"m_{uuid.uuid4().hex}"
    body = encode(webhook(text_event(mid=mid, customer=customer, text="주문 취소하고 싶어요", timestamp=_now_ms())))
    # When Meta delivers it
    delivered = post(local_stack, "messenger", body)
    # Then it is acknowledged, and an agent sees a Messenger ticket with the customer's words
    assert (delivered.status, delivered.json()) == (200, {"received": 1})
    ticket = local_stack.wait_for_ticket_of(customer)
    assert (ticket["channel"], ticket["channel_account_id"], ticket["subject"]) == (
        "messenger",
        PAGE_ID,
        "주문 취소하고 싶어요",
    )
    assert [(m["external_id"], m["author_kind"]) for m in messages_of(local_stack, ticket["id"])] == [(mid, "customer")]


def test_answer_from_the_page_inbox_joins_the_ticket_and_its_delivery_is_tracked(local_stack: LocalStack):
    # Given a customer's ticket
    customer, question, answer = _customer(), f"m_{uuid.uuid4().hex}", f"m_{uuid.uuid4().hex}"
    post(
        local_stack,
        "messenger",
        encode(webhook(text_event(mid=question, customer=customer, text="배송 언제 되나요?", timestamp=_now_ms()))),
    )
    ticket = local_stack.wait_for_ticket_of(customer)
    # When the page answers from Meta Business Suite, and Meta reports the answer delivered
    echoed = post(
        local_stack,
        "messenger",
        encode(webhook(echo_event(mid=answer, customer=customer, timestamp=_now_ms(), text="내일 도착합니다."))),
    )
    assert echoed.status == 200
    eventually(lambda: len(messages_of(local_stack, ticket["id"])) == 2, timeout=15, what="the echo on the ticket")
    post(
        local_stack, "messenger", encode(webhook(delivery_event(customer=customer, mids=[answer], watermark=_now_ms())))
    )
    # Then the answer is on the ticket as the business's message, and it becomes delivered
    delivered = eventually(
        lambda: next(
            (
                m
                for m in messages_of(local_stack, ticket["id"])
                if m["external_id"] == answer and m["delivery_status"] == "delivered"
            ),
            None,
        ),
        timeout=15,
        what="the delivery receipt",
    )
    assert (delivered["direction"], delivered["author_kind"], delivered["text"]) == (
        "outbound",
        "agent",
        "내일 도착합니다.",
    )


def test_instagram_direct_message_becomes_an_instagram_ticket(local_stack: LocalStack):
    customer, mid = _customer(), f"aWdf{uuid.uuid4().hex}"
    body = encode(
        webhook(
            text_event(
                mid=mid, customer=customer, text="재고 있나요?", timestamp=_now_ms(), account=INSTAGRAM_ACCOUNT_ID
            ),
            account=INSTAGRAM_ACCOUNT_ID,
            object_="instagram",
        )
    )

    assert post(local_stack, "instagram", body).status == 200

    ticket = local_stack.wait_for_ticket_of(customer)
    assert (ticket["channel"], ticket["conversation_key"]) == (
        "instagram",
        f"instagram:{INSTAGRAM_ACCOUNT_ID}:{customer}",
    )


@pytest.mark.parametrize("channel", ["messenger", "instagram"])
def test_forged_signature_is_refused_and_the_handshake_needs_our_token(local_stack: LocalStack, channel: str):
    # Given a delivery signed with someone else's secret, and Meta's subscription check
    customer = _customer()
    body = encode(
        webhook(text_event(mid=f"m_{uuid.uuid4().hex}", customer=customer, text="refund me", timestamp=_now_ms()))
    )
    token = local_stack.state["secrets"][channel]["verify_token"]
    # When each reaches the webhook
    forged = post(local_stack, channel, body, signature="sha256=" + "0" * 64)
    answered = local_stack.request(
        "GET", f"/webhooks/{channel}?hub.mode=subscribe&hub.challenge=8271&hub.verify_token={token}"
    )
    refused = local_stack.request(
        "GET", f"/webhooks/{channel}?hub.mode=subscribe&hub.challenge=8271&hub.verify_token=guess"
    )
    # Then the forgery is refused and only our verify token gets the challenge back
    assert (forged.status, forged.json()["error"]) == (401, "invalid_signature")
    assert (answered.status, answered.body) == (200, b"8271")
    assert refused.status == 403
    assert local_stack.ticket_of_customer(customer) is None
