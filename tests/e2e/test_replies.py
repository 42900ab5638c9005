"""Agents' replies on the local runner: reply -> outbox -> channel sender -> fake provider (its local outbox,
GET /__fake__/sent) -> the provider's signed receipt -> our webhook -> delivered; and a mail reply whose
answer threads back into the same ticket."""

from __future__ import annotations

import json
import urllib.request
import uuid
from email import message_from_bytes
from email.policy import default

import pytest

from switchboard.email.sender import ses_message_id_header
from tests.e2e.local_stack import LocalStack, eventually, whatsapp_text
from tests.e2e.test_channel_email import a_customer, a_message_id, mail, put_as_ses, wait_for_messages

pytestmark = pytest.mark.e2e


def fake_sent(local_stack: LocalStack) -> list[dict]:
    with urllib.request.urlopen(
        local_stack.state["fake_providers"]["base_url"] + "/__fake__/sent", timeout=10
    ) as answer:
        return json.loads(answer.read())


def reply(local_stack: LocalStack, ticket_id: str, body: dict):
    headers = {
        "Authorization": f"Bearer {local_stack.dev_token}",
        "Content-Type": "application/json",
        "Idempotency-Key": str(uuid.uuid4()),
    }
    return local_stack.request("POST", f"/tickets/{ticket_id}/replies", json.dumps(body).encode(), headers)


def last_message(local_stack: LocalStack, ticket_id: str) -> dict:
    return local_stack.as_agent(f"/tickets/{ticket_id}").json()["messages"][-1]


def test_a_whatsapp_reply_reaches_the_fake_outbox_once_and_ends_delivered(local_stack: LocalStack):
    # Given a customer's WhatsApp message on the local stack
    customer = "1555" + str(uuid.uuid4().int)[:7]
    local_stack.post_whatsapp(whatsapp_text(f"wamid.e2e-{uuid.uuid4().hex}", customer, "배송 언제 와요?"))
    ticket = local_stack.wait_for_ticket_of(customer)
    # When an agent replies
    text = f"내일 도착합니다 ({uuid.uuid4().hex[:6]})"
    accepted = reply(local_stack, ticket["id"], {"text": text})
    assert accepted.status == 202, accepted.body

    # Then the fake outbox shows one request to the customer with the reply's text
    def sent_to_customer() -> list[dict] | None:
        found = [e for e in fake_sent(local_stack) if (e.get("json") or {}).get("to") == customer]
        return found or None

    (request,) = eventually(sent_to_customer, timeout=30, what="the reply in the fake outbox")
    assert request["provider"] == "graph" and request["method"] == "POST"
    assert request["json"]["text"]["body"] == text
    assert "authorization" not in {name.lower() for name in request["headers"]}
    # And the provider's signed receipts, posted back to our webhook, make it delivered (then read)
    eventually(
        lambda: last_message(local_stack, ticket["id"])["delivery_status"] in ("delivered", "read") or None,
        timeout=30,
        what="the reply's receipts",
    )


def test_a_mail_reply_threads_and_the_customers_answer_joins_the_ticket(local_stack: LocalStack):
    # Given a customer's mail stored by SES
    customer, first = a_customer(), a_message_id()
    put_as_ses(local_stack, mail(customer, first, "사이즈 교환 가능할까요?"))
    opened = wait_for_messages(local_stack, first, 1)
    ticket_id = opened["ticket"]["id"]
    # When an agent replies
    assert reply(local_stack, ticket_id, {"text": "네, 가능합니다."}).status == 202

    # Then the fake outbox shows the MIME SES was given, with the thread's headers
    def sent_mail() -> dict | None:
        for entry in fake_sent(local_stack):
            if entry["provider"] == "ses" and f"<{first}>" in entry.get("mime", ""):
                return entry
        return None

    entry = eventually(sent_mail, timeout=30, what="the mail reply in the fake outbox")
    mime = message_from_bytes(entry["mime"].encode(), policy=default)
    assert mime["In-Reply-To"] == f"<{first}>"
    assert mime["To"].addresses[0].addr_spec == customer.external_id
    assert mime["Subject"].endswith(f"[#{opened['ticket']['number']}]")
    # And SES's Delivery event (the fake publishes it to MailEventsQueue, as SNS would) makes it delivered
    eventually(
        lambda: last_message(local_stack, ticket_id)["delivery_status"] == "delivered" or None,
        timeout=30,
        what="the mail reply recorded as delivered",
    )
    # When the customer answers it (their client names the Message-ID SES gave the mail)
    answer_id = a_message_id()
    ses_message_id = _ses_message_id(local_stack, entry)
    put_as_ses(local_stack, mail(customer, answer_id, "감사합니다", in_reply_to=ses_message_id))
    # Then it joins the same ticket
    joined = wait_for_messages(local_stack, answer_id, 3)
    assert joined["ticket"]["id"] == ticket_id


def _ses_message_id(local_stack: LocalStack, entry: dict) -> str:
    """The Message-ID the customer's client sees: SES's, from the MessageId the fake answered with."""
    answered = entry["answer"]
    return ses_message_id_header(answered["MessageId"], local_stack.state["region"]).strip("<>")
