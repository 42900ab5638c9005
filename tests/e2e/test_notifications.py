"""Proactive notifications on the local runner (make run seeds the default rules): a signed Shopify shipment event
becomes one AlimTalk in the fake outbox; its redelivery sends nothing more; a customer who wrote 수신거부 by SMS gets
nothing by SMS; a promised delivery date already past brings one apology. make run's scheduler runs every 5 seconds
(SWITCHBOARD_LOCAL_NOTIFY_SWEEP_SECONDS)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from switchboard.orders import generic
from tests.e2e.local_stack import LocalStack, eventually
from tests.e2e.test_channel_twilio import post as post_sms
from tests.e2e.test_replies import fake_sent
from tests.support.drivers.twilio import form, inbound_fields, message_sid

pytestmark = pytest.mark.e2e


def a_customer() -> tuple[str, str]:
    """A Korean mobile number no other test uses, as E.164 and as NHN Cloud's recipientNo."""
    digits = str(uuid.uuid4().int)[:8]
    return f"+8210{digits}", f"010{digits}"


def shopify(local_stack: LocalStack, body: dict, event_id: str):
    raw = json.dumps(body, ensure_ascii=False).encode()
    secret = local_stack.state["secrets"]["shopify"]["client_secret"]
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Hmac-Sha256": base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode(),
        "X-Shopify-Topic": "fulfillments/update",
        "X-Shopify-Shop-Domain": "e2e-store.myshopify.com",
        "X-Shopify-Event-Id": event_id,
    }
    return local_stack.request("POST", "/webhooks/shopify", raw, headers)


def generic_event(local_stack: LocalStack, document: dict):
    raw = json.dumps(document, ensure_ascii=False).encode()
    stamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "X-Switchboard-Timestamp": str(stamp),
        "X-Switchboard-Signature": generic.sign(raw, local_stack.state["secrets"]["orders"]["signing_key"], stamp),
    }
    return local_stack.request("POST", "/orders/events", raw, headers)


def fulfillment(phone: str, order_id: int, status: str = "in_transit") -> dict:
    return {
        "id": order_id * 10,
        "order_id": order_id,
        "name": f"#{order_id}.1",
        "shipment_status": status,
        "updated_at": datetime.now(UTC).isoformat(),
        "tracking_company": "CJ대한통운",
        "tracking_number": "6543210987",
        "tracking_url": "https://trace.cjlogistics.com/next/tracking.html?wblNo=6543210987",
        "destination": {"first_name": "민준", "last_name": "김", "phone": phone, "country_code": "KR"},
    }


def sends_to(local_stack: LocalStack, recipient: str) -> list[dict]:
    """Every call the fake providers took for this customer: AlimTalk by recipientNo, SMS by To."""
    found = []
    for entry in fake_sent(local_stack):
        body = entry.get("json") or {}
        numbers = [r.get("recipientNo") for r in body.get("recipientList", [])] if isinstance(body, dict) else []
        if recipient in numbers or (entry.get("form") or {}).get("To") == "+82" + recipient[1:]:
            found.append(entry)
    return found


def test_a_signed_shopify_event_becomes_one_alimtalk_and_its_redelivery_nothing_more(local_stack: LocalStack):
    phone, recipient = a_customer()
    order_id = int(str(uuid.uuid4().int)[:12])
    event_id = str(uuid.uuid4())
    # When Shopify posts the shipment's in-transit step
    answer = shopify(local_stack, fulfillment(phone, order_id), event_id)
    # Then it is accepted at once, and one AlimTalk reaches the customer's number
    assert (answer.status, answer.json()) == (202, {"accepted": True})
    sent = eventually(lambda: sends_to(local_stack, recipient) or None, timeout=20, what="the AlimTalk")
    (alimtalk,) = sent
    assert alimtalk["provider"] == "alimtalk"
    assert alimtalk["json"]["templateCode"].startswith("SB_")
    # When Shopify delivers the same event again
    again = eventually(
        lambda: (r := shopify(local_stack, fulfillment(phone, order_id), event_id)).json().get("duplicate") and r,
        timeout=10,
        what="the redelivery answered as a duplicate",
    )
    assert again.status == 200
    # Then nothing more is sent
    time.sleep(3)
    assert len(sends_to(local_stack, recipient)) == 1


def test_a_customer_who_wrote_suisin_geobu_by_sms_gets_nothing_by_sms(local_stack: LocalStack):
    phone, recipient = a_customer()
    # Given the customer wrote 수신거부 by SMS (their newest conversation, so SMS would come first)
    body = form(inbound_fields(message_sid=message_sid(str(uuid.uuid4())), sender=phone, body="수신거부"))
    assert post_sms(local_stack, body).status == 200
    eventually(
        lambda: next((t for t in local_stack.tickets() if t["conversation_key"].endswith(f":{phone}")), None),
        timeout=15,
        what="the SMS ticket",
    )
    time.sleep(1)
    # When the shop's shipment event arrives
    document = {
        "event_id": str(uuid.uuid4()),
        "type": "shipment.out_for_delivery",
        "occurred_at": datetime.now(UTC).isoformat(),
        "order": {"id": f"A-{uuid.uuid4().hex[:8]}", "number": "1042", "customer": {"phone": phone}},
        "shipment": {"id": "S-1", "carrier": "CJ대한통운", "tracking_number": "6543210987"},
    }
    assert generic_event(local_stack, document).status == 202
    # Then the next channel carries it (AlimTalk), and no notification goes by SMS
    eventually(
        lambda: [e for e in sends_to(local_stack, recipient) if e["provider"] == "alimtalk"] or None,
        timeout=20,
        what="the AlimTalk instead of the SMS",
    )
    time.sleep(2)
    notifications_by_sms = [
        e for e in sends_to(local_stack, recipient) if e["provider"] == "twilio" and "1042" in e["form"].get("Body", "")
    ]
    assert notifications_by_sms == []


def test_a_promised_date_already_past_brings_one_apology(local_stack: LocalStack):
    phone, recipient = a_customer()
    document = {
        "event_id": str(uuid.uuid4()),
        "type": "shipment.in_transit",
        "occurred_at": (datetime.now(UTC) - timedelta(days=2)).isoformat(),
        "order": {"id": f"A-{uuid.uuid4().hex[:8]}", "number": "2084", "customer": {"phone": phone}},
        "shipment": {
            "id": "S-1",
            "carrier": "CJ대한통운",
            "tracking_number": "6543210987",
            "promised_delivery_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        },
    }
    assert generic_event(local_stack, document).status == 202

    def apologies() -> list[dict]:
        return [e for e in sends_to(local_stack, recipient) if "DELAY" in e["json"].get("templateCode", "")]

    eventually(lambda: apologies() or None, timeout=30, what="the delay apology")
    time.sleep(12)  # two more scheduler runs
    assert len(apologies()) == 1
