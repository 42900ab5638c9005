"""AlimTalk notifications on moto, through NotificationSenderFunction to the fake NHN Cloud and back through
POST /webhooks/alimtalk: 대체발송 for a customer without KakaoTalk, a failed delivery without it, and a forged result."""

from __future__ import annotations

import json
import time

from infra.fakes import outbound_alimtalk
from switchboard.models import NotifyChannel, utc_now
from switchboard.notifications.models import (
    AlimTalkTemplateSpec,
    ChannelTemplates,
    EventRule,
    Notification,
    NotificationRules,
    Senders,
)
from switchboard.notifications.queue import NotificationQueue
from switchboard.proactive.order_events import process
from tests.support.orders import MINJUN, E, shop_event

A, S = NotifyChannel.ALIMTALK, NotifyChannel.SMS
SENDER_KEY = "9f2c" + "0" * 36
RESEND_NUMBER = "0212345678"
RESEND_TEXT = "[{shop_name}] {customer_name}님, 주문 {order_number} 배송이 시작되었습니다."


def rules(resend_number: str | None) -> NotificationRules:
    """Shipment events notify by AlimTalk first (with 대체발송 when the shop registered a number), then SMS."""
    templates = {
        "ko": ChannelTemplates(
            sms="[{shop_name}] 주문 {order_number} {status}",
            alimtalk=AlimTalkTemplateSpec(
                template_code="SB_IN_TRANSIT_KO",
                variables={"고객명": "{customer_name}", "주문번호": "{order_number}"},
                resend_text=RESEND_TEXT,
            ),
        )
    }
    return NotificationRules(
        rules=tuple(EventRule(event_type=t, templates=templates) for t in E if t.is_shipment),
        fallback_chain=(A, S),
        senders=Senders(alimtalk_sender_key=SENDER_KEY, alimtalk_resend_number=resend_number, sms_from="+15005550006"),
        shop_name="민준상회",
    )


def notify(stack, the_rules: NotificationRules) -> str:
    """A shipment event processed and its notification sent by the sender function; the notification's id."""
    stack.repositories().notification_rules.save(the_rules, 0, actor_id="admin", at=utc_now())
    queue = NotificationQueue(stack.sqs, stack.queue_url_of("NotificationQueue"))
    event = shop_event(E.SHIPMENT_IN_TRANSIT, customer=MINJUN, at=utc_now())
    processed = process(event, store=stack.repositories(), rules_of=lambda: the_rules, queue=queue, now=utc_now())
    assert processed.notification_id is not None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        stack.drain("NotificationQueue")
        if stored(stack, processed.notification_id).state.value != "queued":
            break
        time.sleep(0.2)
    return processed.notification_id


def stored(stack, notification_id: str) -> Notification:
    found = stack.repositories().notifications.notification(notification_id)
    assert found is not None
    return found


def test_a_customer_without_kakaotalk_gets_the_resend_sms_and_the_notification_stays_sent(stack, fake_providers):
    # Given a customer NHN Cloud finds no KakaoTalk user, and a shop that registered its 대체발송 number
    outbound_alimtalk.mark_not_kakao_user(MINJUN.phone or "")
    # When a shipment event notifies them
    notification_id = notify(stack, rules(RESEND_NUMBER))
    sent = stored(stack, notification_id)
    assert (sent.state.value, sent.channel) == ("sent", A)
    # Then NHN Cloud sent the 대체발송 SMS from the shop's number, with the rendered text, and Twilio sent nothing
    (failover,) = [entry for entry in fake_providers.sent() if entry.get("failover")]
    assert failover["json"]["resendSendNo"] == RESEND_NUMBER
    assert failover["json"]["resendContent"] == "[민준상회] 김민준님, 주문 1042 배송이 시작되었습니다."
    assert [call for call in fake_providers.calls() if call.provider == "twilio"] == []
    # When NHN Cloud's result (KakaoTalk: 3019, not a KakaoTalk user) reaches our webhook
    (result,) = fake_providers.take_receipts()
    assert json.loads(result.body)["hooks"][0]["resultCode"] == "3019"
    answers = stack.deliver_receipts([result])
    # Then it is accepted, and the notification is not marked failed: the SMS carried it
    assert [(answer.status, answer.json()) for answer in answers] == [(200, {"received": 0})]
    assert stored(stack, notification_id).delivery_status in (None, "sent")


def test_a_customer_without_kakaotalk_and_no_resend_number_is_a_failed_delivery(stack, fake_providers):
    # Given a customer without KakaoTalk, and a shop with no 대체발송 number
    outbound_alimtalk.mark_not_kakao_user(MINJUN.phone or "")
    # When a shipment event notifies them, and NHN Cloud's result reaches our webhook
    notification_id = notify(stack, rules(None))
    assert [entry for entry in fake_providers.sent() if entry.get("failover")] == []
    answers = stack.deliver_receipts(fake_providers.take_receipts())
    # Then the notification's delivery failed
    assert [answer.status for answer in answers] == [200]
    assert stored(stack, notification_id).delivery_status == "failed"


def test_a_forged_result_changes_nothing(stack, fake_providers):
    # Given a notification NHN Cloud delivered, whose result someone posts without the configured signature
    notification_id = notify(stack, rules(RESEND_NUMBER))
    (result,) = fake_providers.take_receipts()
    forged = type(result)(
        provider=result.provider,
        target=result.target,
        headers={**result.headers, "X-Toast-Webhook-Signature": "guessed-signature-value"},
        body=result.body,
    )
    # When it is delivered
    (answer,) = stack.deliver_receipts([forged])
    # Then it is refused and the notification is still only sent; the genuine result then delivers it
    assert answer.status == 401
    assert stored(stack, notification_id).delivery_status in (None, "sent")
    assert [a.status for a in stack.deliver_receipts([result])] == [200]
    assert stored(stack, notification_id).delivery_status == "delivered"
