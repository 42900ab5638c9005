"""LINE on the local runner: a signed POST from the LINE Platform becomes a ticket agents read over the
API, a redelivery lands once, and forgeries are refused. The runner seeds the channel's secret from
template Metadata; the tests sign with what it seeded."""

from __future__ import annotations

import time
import uuid

import pytest

from switchboard.channels.line import sign
from tests.e2e.local_stack import LocalStack, Response, eventually
from tests.support.drivers.line import encode, message_event, text_message, user_source, webhook

pytestmark = pytest.mark.e2e


def _customer() -> str:
    """A LINE user id no other test uses, so each test finds its own ticket on the shared stack."""
    return "U" + uuid.uuid4().hex


def post(local_stack: LocalStack, body: bytes, signature: str | None = None) -> Response:
    secret = local_stack.state["secrets"]["line"]["channel_secret"]
    headers = {"Content-Type": "application/json", "x-line-signature": signature or sign(body, secret)}
    return local_stack.request("POST", "/webhooks/line", body, headers)


def customer_text(customer: str, text: str, *, redelivery: bool = False) -> tuple[bytes, str]:
    message_id = str(uuid.uuid4().int)[:18]
    event = message_event(
        text_message(message_id, text),
        source=user_source(customer),
        timestamp=int(time.time() * 1000),
        redelivery=redelivery,
    )
    return encode(webhook(event)), message_id


def ticket_of(local_stack: LocalStack, customer: str) -> dict | None:
    return next((t for t in local_stack.tickets() if t["conversation_key"].endswith(f":{customer}")), None)


def test_signed_line_text_becomes_a_ticket_and_its_redelivery_lands_once(local_stack: LocalStack):
    # Given a customer's message, signed with the channel secret the runner seeded
    customer = _customer()
    body, message_id = customer_text(customer, "주문한 신발이 아직 안 왔어요")
    # When LINE delivers it, and later redelivers the same event
    delivered = post(local_stack, body)
    ticket = eventually(lambda: ticket_of(local_stack, customer), timeout=15, what="the LINE ticket")
    redelivered = post(local_stack, body.replace(b'"isRedelivery":false', b'"isRedelivery":true'))
    # Then an agent reads one ticket with the message once, and its reply token
    assert (delivered.status, delivered.json()) == (200, {"received": 1})
    assert redelivered.status == 200
    eventually(lambda: local_stack.queue_depth("InboundQueue") == 0, timeout=15, what="the inbound queue to drain")
    shown = local_stack.as_agent(f"/tickets/{ticket['id']}").json()
    assert ticket["channel"] == "line"
    assert [(m["external_id"], m["text"]) for m in shown["messages"]] == [(message_id, "주문한 신발이 아직 안 왔어요")]
    assert shown["messages"][0]["reply_token"]


def test_forged_line_signature_is_refused(local_stack: LocalStack):
    customer = _customer()
    body, _ = customer_text(customer, "Send me a refund")

    refused = post(local_stack, body, signature=sign(body, "not-the-channel-secret"))

    assert (refused.status, refused.json()["error"]) == (401, "invalid_signature")
    assert ticket_of(local_stack, customer) is None
