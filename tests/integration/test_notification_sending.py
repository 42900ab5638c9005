"""Notifications sent through NotificationSenderFunction, on moto, to the fake providers on 127.0.0.1: a shop event's
notification leaves once on the contact's channel (or the next of the chain), its receipts land on it, and it shows on
the contact's open ticket."""

from __future__ import annotations

import time
from datetime import timedelta
from email import policy
from email.parser import BytesParser
from typing import Any

import pytest

from switchboard.models import DeliveryStatus, NotifyChannel, utc_now
from switchboard.notifications.models import (
    AlimTalkTemplateSpec,
    ChannelTemplates,
    EmailTemplateSpec,
    EventRule,
    Notification,
    NotificationRules,
    Senders,
    WhatsAppTemplateSpec,
)
from switchboard.notifications.queue import NotificationQueue, notification_body
from switchboard.orders.events import OrderCustomer
from switchboard.proactive.order_events import process
from tests.support.drivers import Customer
from tests.support.drivers.twilio import TwilioDriver
from tests.support.drivers.whatsapp import WhatsAppDriver
from tests.support.orders import MINJUN, E, shop_event
from tests.support.stack import run_together

A, S, W, M = NotifyChannel.ALIMTALK, NotifyChannel.SMS, NotifyChannel.WHATSAPP, NotifyChannel.EMAIL
SMS_FROM = "+15005550006"
MAILBOX = "orders@minjun-shop.example"
SENDER_FUNCTION = "NotificationSenderFunction"

SMS_TEXT = "[{shop_name}] {customer_name}님, 주문 {order_number} {status}: {carrier} {tracking_number}"


SENDER_KEY = "k" * 40
ALIMTALK_SENDERS = Senders(
    alimtalk_sender_key=SENDER_KEY, alimtalk_resend_number="0212345678", sms_from=SMS_FROM, email_from=MAILBOX
)


def rules(*chain: NotifyChannel, senders: Senders | None = None) -> NotificationRules:
    """Every shipment event notifies, in Korean, on SMS, WhatsApp (an approved utility template) and email."""
    templates = {
        "ko": ChannelTemplates(
            sms=SMS_TEXT,
            line=SMS_TEXT,
            whatsapp=WhatsAppTemplateSpec(
                name="shipment_update", language="ko", parameters=("{customer_name}", "{order_number}", "{status}")
            ),
            email=EmailTemplateSpec(subject="[{shop_name}] 주문 {order_number} {status}", body=SMS_TEXT),
            alimtalk=AlimTalkTemplateSpec(
                template_code="SB_IN_TRANSIT_KO",
                variables={"고객명": "{customer_name}", "주문번호": "{order_number}"},
                resend_text=SMS_TEXT,
            ),
        )
    }
    return NotificationRules(
        rules=tuple(EventRule(event_type=t, templates=templates) for t in E if t.is_shipment),
        fallback_chain=chain or (S, M),
        senders=senders or Senders(sms_from=SMS_FROM, email_from=MAILBOX),
        shop_name="민준상회",
    )


class Shop:
    """The stack's notification rules, the shop events the order processor turns into notifications, and the
    sender function draining NotificationQueue as Lambda's event source would."""

    def __init__(self, stack, the_rules: NotificationRules) -> None:
        self.stack = stack
        self.rules = the_rules
        stack.repositories().notification_rules.save(the_rules, 0, actor_id="admin", at=utc_now())
        self.queue_url = stack.queue_url_of("NotificationQueue")
        self.queue = NotificationQueue(stack.sqs, self.queue_url)

    def event(self, event_type=E.SHIPMENT_IN_TRANSIT, *, order_id: str = "A-1042", customer: OrderCustomer = MINJUN):
        """A shop event processed (its notification created and queued); the notification's id."""
        event = shop_event(event_type, order_id=order_id, customer=customer, at=utc_now())
        processed = process(
            event, store=self.stack.repositories(), rules_of=lambda: self.rules, queue=self.queue, now=utc_now()
        )
        assert processed.notification_id is not None, processed
        return processed.notification_id

    def send_all(self, patience: float = 10.0) -> None:
        """Runs the sender function until the queue is empty, waiting out messages queued again with a delay."""
        deadline = time.monotonic() + patience
        while True:
            self.stack.drain("NotificationQueue")
            if not self.waiting() or time.monotonic() > deadline:
                return
            time.sleep(0.2)

    def waiting(self) -> int:
        attributes = self.stack.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["All"])["Attributes"]
        return sum(
            int(attributes[name])
            for name in (
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            )
        )

    def invoke(self, *notification_ids: str) -> dict[str, Any]:
        """The sender function invoked with one SQS record per id (as a redelivery or a duplicate would bring)."""
        event = {
            "Records": [
                {"messageId": f"m-{index}", "receiptHandle": f"r-{index}", "body": notification_body(notification_id)}
                for index, notification_id in enumerate(notification_ids)
            ]
        }
        return self.stack.invoke(SENDER_FUNCTION, event)

    def notification(self, notification_id: str) -> Notification:
        found = self.stack.repositories().notifications.notification(notification_id)
        assert found is not None
        return found


def alimtalk_sends(fake_providers) -> list[Any]:
    return [call for call in fake_providers.calls("alimtalk") if call.path.endswith("/messages")]


def twilio_sends(fake_providers) -> list[dict[str, str]]:
    return [call.form_dict() for call in fake_providers.calls("twilio") if call.path.endswith("/Messages.json")]


def graph_sends(fake_providers) -> list[dict[str, Any]]:
    return [call.json() for call in fake_providers.calls("graph") if call.path.endswith("/messages")]


def customer_writes_on_whatsapp(stack, text: str = "배송 언제 와요?") -> str:
    """The customer's WhatsApp message: their contact gets a WhatsApp identity and an open ticket."""
    whatsapp = stack.channel(WhatsAppDriver())
    driver = whatsapp.driver
    customer = driver.customer(1, "김민준")
    body = driver.text_message(
        customer, message_id=driver.message_id(text[:8]), text=text, sent_at=utc_now() - timedelta(minutes=5)
    )
    assert whatsapp.deliver(body).status == 200
    assert stack.drain_queue().failed_records == 0
    return customer.external_id


def test_a_shop_event_reaches_the_customer_once_by_sms_and_its_receipts_land_on_the_notification(stack, fake_providers):
    # Given SMS first in the chain, and a shop's in_transit event for 김민준
    shop = Shop(stack, rules(S, M))
    notification_id = shop.event()
    # When the sender function runs
    shop.send_all()
    # Then Twilio got one SMS from the shop's number, to the customer, with the rendered text
    (sms,) = twilio_sends(fake_providers)
    assert (sms["From"], sms["To"]) == (SMS_FROM, MINJUN.phone)
    assert sms["Body"] == "[민준상회] 김민준님, 주문 1042 배송 중: CJ대한통운 6543210987"
    sent = shop.notification(notification_id)
    assert (sent.state.value, sent.channel, sent.channel_account_id) == ("sent", S, SMS_FROM)
    assert [(t.channel, t.outcome) for t in sent.tries_by_channel] == [(S, "sent")]
    # When Twilio's signed status callback for that message arrives at our webhook
    twilio = stack.channel(TwilioDriver())
    receipt = twilio.driver.receipt(
        Customer(MINJUN.phone or ""),
        message_id=sent.provider_message_id or "",
        status=DeliveryStatus.DELIVERED,
        at=utc_now(),
    )
    assert twilio.deliver(receipt).status == 200
    assert stack.drain_queue().failed_records == 0
    # Then its provider id finds the notification, whose delivery status moves forward to delivered
    assert shop.notification(notification_id).delivery_status == "delivered"


def test_a_redelivered_or_repeated_queue_message_sends_nothing_more(stack, fake_providers):
    # Given a notification sent once
    shop = Shop(stack, rules(S, M))
    notification_id = shop.event()
    shop.send_all()
    # When SQS delivers its message again, twice in one batch
    answer = shop.invoke(notification_id, notification_id)
    # Then nothing more is sent, and nothing is reported failed
    assert answer == {"batchItemFailures": []}
    assert len(twilio_sends(fake_providers)) == 1


def test_twenty_deliveries_of_one_notification_at_once_send_one_sms(stack, fake_providers):
    # Given a queued notification
    shop = Shop(stack, rules(S, M))
    notification_id = shop.event()
    # When twenty invocations of the sender function receive it at the same moment
    answers = run_together([lambda: shop.invoke(notification_id)] * 20)
    # Then one SMS went out, and none of the invocations failed
    assert len(twilio_sends(fake_providers)) == 1
    assert all(answer == {"batchItemFailures": []} for answer in answers)
    assert shop.notification(notification_id).state.value == "sent"


def test_a_refusal_on_sms_falls_back_to_email(stack, fake_providers):
    # Given a customer whose number Twilio refuses (opted out at the carrier: 21610)
    shop = Shop(stack, rules(S, M))
    notification_id = shop.event(customer=MINJUN.model_copy(update={"phone": "+15005550004"}))
    # When the sender function runs
    shop.send_all()
    # Then the refusal is recorded, and the mail went to the customer from the shop's mailbox
    sent = shop.notification(notification_id)
    assert [(t.channel, t.outcome, t.code) for t in sent.tries_by_channel] == [
        (S, "rejected", "21610"),
        (M, "sent", None),
    ]
    (mail,) = [entry for entry in fake_providers.sent() if entry["provider"] == "ses"]
    assert mail["json"]["FromEmailAddress"] == MAILBOX
    assert mail["json"]["Destination"]["ToAddresses"] == ["min@example.com"]
    parsed = BytesParser(policy=policy.default).parsebytes(mail["mime"].encode())
    assert parsed["Subject"] == "[민준상회] 주문 1042 배송 중"
    assert parsed["Message-ID"].startswith("<sb.") and parsed["Reply-To"] == MAILBOX
    assert parsed.get_body(("plain",)).get_content().startswith("[민준상회] 김민준님, 주문 1042 배송 중")


def test_the_channel_the_customer_wrote_on_comes_first_and_the_open_ticket_shows_the_notification(
    stack, fake_providers
):
    # Given a customer who wrote on WhatsApp (an open ticket), known to the shop by the same number
    wa_id = customer_writes_on_whatsapp(stack)
    shop = Shop(stack, rules(S, M))
    notification_id = shop.event(customer=MINJUN.model_copy(update={"phone": f"+{wa_id}"}))
    # When the sender function runs
    shop.send_all()
    # Then the approved template went by WhatsApp to them, not an SMS
    (message,) = graph_sends(fake_providers)
    assert message["type"] == "template" and message["to"] == wa_id
    assert message["template"]["name"] == "shipment_update"
    assert twilio_sends(fake_providers) == []
    # And their open ticket shows it: a system message, outbound, sent, naming the order
    (listed,) = stack.tickets()
    copy = stack.ticket(listed["id"])["messages"][-1]
    assert (copy["author_kind"], copy["direction"], copy["delivery_status"]) == ("system", "outbound", "sent")
    assert copy["text"].startswith("Order 1042 · shipment.in_transit · whatsapp\n")
    assert shop.notification(notification_id).ticket_id == listed["id"]


def test_an_opt_out_by_sms_keyword_sends_the_next_event_on_the_next_channel(stack, fake_providers):
    # Given a customer who answered an SMS with 수신거부
    shop = Shop(stack, rules(S, M))
    sms = stack.channel(TwilioDriver())
    driver = sms.driver
    body = driver.text_message(
        driver.customer(22223333), message_id=driver.message_id("stop"), text="수신거부", sent_at=utc_now()
    )
    assert sms.deliver(body).status < 300
    assert stack.drain_queue().failed_records == 0
    # When the shop's next event is sent
    notification_id = shop.event(customer=MINJUN.model_copy(update={"phone": driver.customer(22223333).external_id}))
    shop.send_all()
    # Then nothing went by SMS to them (beyond the one confirmation of the opt-out), and email carried it
    notification_sms = [s for s in twilio_sends(fake_providers) if "1042" in s.get("Body", "")]
    assert notification_sms == []
    sent = shop.notification(notification_id)
    assert [(t.channel, t.outcome, t.code) for t in sent.tries_by_channel] == [
        (S, "skipped", "opted_out"),
        (M, "sent", None),
    ]


@pytest.mark.parametrize("fault", ["429", "503"])
def test_a_throttled_provider_is_tried_again_on_the_same_channel_and_sends_once(stack, fake_providers, fault):
    # Given Twilio refusing the first request for now
    shop = Shop(stack, rules(S, M))
    path = "/twilio/2010-04-01/Accounts/{}/Messages.json".format(TwilioDriver.secrets["account_sid"])
    fake_providers.fail(path, status=int(fault), retry_after="1" if fault == "429" else None)
    notification_id = shop.event()
    # When the sender function runs until the queue is empty (the retry waits in the queue, DelaySeconds)
    shop.send_all()
    # Then the second request was taken: one SMS, on the same channel
    assert fake_providers.requests_to(path) == 2
    sent = shop.notification(notification_id)
    assert (sent.state.value, sent.channel) == ("sent", S)
    assert [(t.channel, t.outcome) for t in sent.tries_by_channel] == [(S, "sent")]


def test_alimtalk_carries_it_first_keyed_by_the_notification_and_its_result_makes_it_delivered(stack, fake_providers):
    # Given the shop's AlimTalk sender key first in the chain, with 대체발송 from its registered number
    shop = Shop(stack, rules(A, S, M, senders=ALIMTALK_SENDERS))
    notification_id = shop.event()
    # When the sender function runs
    shop.send_all()
    # Then NHN Cloud got one request, keyed by the notification id, for the customer's Korean number, with the
    # approved template's code and its rendered variables, and 대체발송's text
    (call,) = alimtalk_sends(fake_providers)
    assert call.header("X-NC-API-IDEMPOTENCY-KEY") == notification_id
    body = call.json()
    assert (body["senderKey"], body["templateCode"]) == (SENDER_KEY, "SB_IN_TRANSIT_KO")
    (recipient,) = body["recipientList"]
    assert recipient["recipientNo"] == "01012345678"
    assert recipient["templateParameter"] == {"고객명": "김민준", "주문번호": "1042"}
    assert recipient["resendParameter"]["resendSendNo"] == "0212345678"
    assert twilio_sends(fake_providers) == []
    sent = shop.notification(notification_id)
    assert (sent.state.value, sent.channel, sent.channel_account_id) == ("sent", A, SENDER_KEY)
    # When NHN Cloud's MESSAGE_RESULT_UPDATE arrives at our webhook
    answers = stack.deliver_receipts(fake_providers.take_receipts())
    # Then it verifies, and the notification is delivered
    assert answers and {answer.status for answer in answers} == {200}
    assert shop.notification(notification_id).delivery_status == "delivered"


def test_a_number_alimtalk_refuses_falls_back_to_sms(stack, fake_providers):
    # Given a customer whose number is not Korean (AlimTalk reaches +82 numbers only)
    shop = Shop(stack, rules(A, S, M, senders=ALIMTALK_SENDERS))
    notification_id = shop.event(customer=MINJUN.model_copy(update={"phone": "+14155550123"}))
    # When the sender function runs
    shop.send_all()
    # Then AlimTalk is a refusal and SMS carried it: the chain moved on
    sent = shop.notification(notification_id)
    assert [(t.channel, t.outcome) for t in sent.tries_by_channel] == [(A, "rejected"), (S, "sent")]
    assert [form["To"] for form in twilio_sends(fake_providers)] == ["+14155550123"]


def test_twilio_refusing_an_unsubscribed_number_records_the_opt_out_and_the_mail_carries_it(stack, fake_providers):
    # Given SMS first in the chain, and a customer whose number texted STOP to Twilio (the fake's 21610 number)
    shop = Shop(stack, rules(S, M))
    customer = MINJUN.model_copy(update={"phone": "+15005550004"})
    notification_id = shop.event(customer=customer)
    # When the sender function runs
    shop.send_all()
    # Then Twilio's refusal (21610) is recorded as the contact's opt-out of SMS, by Twilio, and the mail carries it
    sent = shop.notification(notification_id)
    assert [(t.channel, t.outcome, t.code) for t in sent.tries_by_channel] == [
        (S, "rejected", "21610"),
        (M, "sent", None),
    ]
    contact = stack.repositories().contacts.contact(sent.contact_id)
    assert contact is not None
    (opted_out, by) = (contact.consent.channels["sms"].opted_out, contact.consent.channels["sms"].by)
    assert (opted_out, by) == (True, "twilio")
    # And the next notification skips SMS without a call
    shop.event(E.SHIPMENT_OUT_FOR_DELIVERY, customer=customer)
    shop.send_all()
    assert len(twilio_sends(fake_providers)) == 1
