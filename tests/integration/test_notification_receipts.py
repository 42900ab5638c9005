"""What comes back after a notification: the provider's receipts move the notification and its copy on the contact's
open ticket forward (never back), and the customer's answer opens a ticket showing the order it answers
(tickets/writer.py record_receipt, tickets/lifecycle.py order_ref_of)."""

from datetime import timedelta

from switchboard.models import DeliveryStatus, utc_now
from tests.integration.test_notification_sending import (
    Shop,
    customer_writes_on_whatsapp,
    graph_sends,
    rules,
    twilio_sends,
)
from tests.support.drivers import Customer
from tests.support.drivers.twilio import TwilioDriver
from tests.support.drivers.whatsapp import WhatsAppDriver
from tests.support.orders import MINJUN

S, M = rules().fallback_chain


def test_whatsapp_receipts_move_the_notification_and_its_ticket_copy_forward_once(stack, fake_providers):
    # Given a customer with an open WhatsApp ticket, and a notification sent to them by WhatsApp, copied on the ticket
    wa_id = customer_writes_on_whatsapp(stack)
    shop = Shop(stack, rules(S, M))
    notification_id = shop.event(customer=MINJUN.model_copy(update={"phone": f"+{wa_id}"}))
    shop.send_all()
    (sent,) = graph_sends(fake_providers)
    wamid = shop.notification(notification_id).provider_message_id
    assert sent["type"] == "template" and wamid
    # When Meta reports it delivered, then read, then (late, out of order) delivered again, and read once more
    whatsapp = stack.channel(WhatsAppDriver())
    at = utc_now()
    for status, minutes in [
        (DeliveryStatus.DELIVERED, 1),
        (DeliveryStatus.READ, 2),
        (DeliveryStatus.DELIVERED, 1),
        (DeliveryStatus.READ, 2),
    ]:
        receipt = whatsapp.driver.receipt(
            Customer(wa_id), message_id=wamid, status=status, at=at + timedelta(minutes=minutes)
        )
        assert whatsapp.deliver(receipt).status == 200
        report = stack.drain_queue()
        assert report.failed_records == 0 and report.invocation_errors == []
    # Then the notification is read
    assert shop.notification(notification_id).delivery_status == "read"
    # And so is its copy on the ticket, each step recorded once, never moving back
    (listed,) = stack.tickets()
    copy = stack.ticket(listed["id"])["messages"][-1]
    assert (copy["author_kind"], copy["delivery_status"]) == ("system", "read")
    assert [(step["status"], step["by"]) for step in copy["delivery_history"]] == [
        ("sent", "sender"),
        ("delivered", "provider"),
        ("read", "provider"),
    ]


def test_a_receipt_for_a_notification_no_ticket_holds_lands_on_the_notification_alone(stack, fake_providers):
    # Given an SMS notification to a customer with no ticket
    shop = Shop(stack, rules(S, M))
    notification_id = shop.event()
    shop.send_all()
    (sms,) = twilio_sends(fake_providers)
    sid = shop.notification(notification_id).provider_message_id
    # When Twilio reports it failed, then (late) delivered
    twilio = stack.channel(TwilioDriver())
    for status in (DeliveryStatus.FAILED, DeliveryStatus.DELIVERED):
        receipt = twilio.driver.receipt(Customer(sms["To"]), message_id=sid or "", status=status, at=utc_now())
        assert twilio.deliver(receipt).status == 200
        assert stack.drain_queue().failed_records == 0
    # Then the notification is failed (final), and no ticket appeared
    assert shop.notification(notification_id).delivery_status == "failed"
    assert stack.tickets() == []


def test_a_customer_answering_a_notification_opens_a_ticket_showing_its_order(stack, fake_providers):
    # Given an SMS notification about order 1042 sent to 김민준 (known to the shop by phone only)
    shop = Shop(stack, rules(S, M))
    notification_id = shop.event()
    shop.send_all()
    assert len(twilio_sends(fake_providers)) == 1
    # When they text back minutes later
    sms = stack.channel(TwilioDriver())
    answer = sms.driver.text_message(
        Customer(MINJUN.phone or ""), message_id=sms.driver.message_id("answer"), text="언제 와요?", sent_at=utc_now()
    )
    assert sms.deliver(answer).status == 200
    assert stack.drain_queue().failed_records == 0
    # Then their message opens a ticket for the same contact, naming the order and the notification it answers
    (listed,) = stack.tickets()
    ticket = stack.ticket(listed["id"])["ticket"]
    notification = shop.notification(notification_id)
    assert ticket["requester"]["contact_id"] == notification.contact_id
    assert ticket["order_ref"] == {
        "order_key": notification.order_key,
        "order_id": "A-1042",
        "order_number": "1042",
        "notification_id": notification_id,
    }


def test_an_open_ticket_without_an_order_keeps_none_when_the_customer_answers(stack, fake_providers):
    # Given a customer's open WhatsApp ticket, then a notification to them
    wa_id = customer_writes_on_whatsapp(stack)
    shop = Shop(stack, rules(S, M))
    shop.event(customer=MINJUN.model_copy(update={"phone": f"+{wa_id}"}))
    shop.send_all()
    # When they answer on the same conversation
    customer_writes_on_whatsapp(stack, "네 확인했어요")
    # Then the message joins that ticket, which keeps no order (its read lists the requester's recent orders)
    (listed,) = stack.tickets()
    found = stack.ticket(listed["id"])
    assert found["ticket"]["order_ref"] is None
    texts = [m["text"] for m in found["messages"]]
    assert len(texts) == 3 and {"배송 언제 와요?", "네 확인했어요"} < set(texts)
