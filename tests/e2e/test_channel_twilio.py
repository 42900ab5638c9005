"""Twilio on the local runner: an SMS signed over the URL the client called (http://127.0.0.1:<port>/...)
is answered with empty TwiML and becomes a ticket agents read over the API, with the customer's verified
number; a forged or missing signature is refused. The runner seeds the channel's secret from template
Metadata; the tests sign with the auth token it seeded."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.local_stack import LocalStack, Response, eventually
from tests.support.drivers.twilio import form, inbound_fields, media_url, message_sid, twilio_signature

pytestmark = pytest.mark.e2e

EMPTY_TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response/>'


def post(local_stack: LocalStack, body: bytes, signature: str | None = None) -> Response:
    url = local_stack.api_url + "/webhooks/twilio"
    auth_token = local_stack.state["secrets"]["twilio"]["auth_token"]
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": signature or twilio_signature(url, body, auth_token),
    }
    return local_stack.request("POST", "/webhooks/twilio", body, headers)


def a_customer() -> str:
    """A Korean mobile number no other test uses."""
    return "+8210" + str(uuid.uuid4().int)[:8]


def ticket_of(local_stack: LocalStack, number: str) -> dict | None:
    return next((t for t in local_stack.tickets() if t["conversation_key"].endswith(f":{number}")), None)


def test_signed_sms_is_answered_with_empty_twiml_and_becomes_a_ticket(local_stack: LocalStack):
    # Given an MMS from a customer: words and a photo
    customer, sid = a_customer(), message_sid(str(uuid.uuid4()))
    photo = media_url(sid, "ME0a1b2c3d4e5f60718293a4b5c6d7e8f9")
    body = form(
        inbound_fields(message_sid=sid, sender=customer, body="상품이 파손되어 왔어요", media=[(photo, "image/jpeg")])
    )
    # When Twilio posts it, signed over the URL it called
    answered = post(local_stack, body)
    # Then Twilio gets empty TwiML, and an agent sees the message, its photo and the verified number
    assert (answered.status, answered.headers["content-type"], answered.body) == (200, "text/xml", EMPTY_TWIML)
    ticket = eventually(lambda: ticket_of(local_stack, customer), timeout=15, what="the SMS ticket")
    (shown,) = local_stack.as_agent(f"/tickets/{ticket['id']}").json()["messages"]
    assert ticket["channel"] == "sms"
    assert (shown["external_id"], shown["text"]) == (sid, "상품이 파손되어 왔어요")
    assert [a["url"] for a in shown["attachments"]] == [photo]


@pytest.mark.parametrize("forgery", ["", "bm90IGEgc2lnbmF0dXJl", "over-another-url"])
def test_forged_signature_is_refused(local_stack: LocalStack, forgery):
    body = form(inbound_fields(message_sid=message_sid(str(uuid.uuid4())), sender=a_customer(), body="hello"))
    if forgery == "over-another-url":
        forgery = twilio_signature(
            "https://attacker.example/webhooks/twilio", body, local_stack.state["secrets"]["twilio"]["auth_token"]
        )
    headers = {"Content-Type": "application/x-www-form-urlencoded"} | (
        {"X-Twilio-Signature": forgery} if forgery else {}
    )

    refused = local_stack.request("POST", "/webhooks/twilio", body, headers)

    assert refused.status == 401
    assert refused.json()["error"] == "invalid_signature"
