"""Agents reply through POST /tickets/{ticket_id}/replies: accepted once into the outbox, sent once by the channel
sender to the (fake) provider, and moved on by the provider's signed receipts, whatever retries and crashes."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from switchboard.models import utc_now
from tests.support.lambda_events import AGENT_CLAIMS
from tests.support.stack import run_together

GRAPH_MESSAGES = "/graph/v21.0/{account}/messages"


def customer_writes(stack, whatsapp, text: str = "배송이 언제 오나요?", *, sent_at: datetime | None = None) -> str:
    driver = whatsapp.driver
    body = driver.text_message(
        driver.customer(1, "김민준"),
        message_id=driver.message_id(text[:8]),
        text=text,
        sent_at=sent_at or utc_now() - timedelta(minutes=5),
    )
    assert whatsapp.deliver(body).status == 200
    assert stack.drain_queue().failed_records == 0
    return stack.tickets()[0]["id"]


def reply(stack, ticket_id: str, body: dict, key: str | None = "reply-key-1", claims=AGENT_CLAIMS):
    headers = {"content-type": "application/json", **({"idempotency-key": key} if key else {})}
    return stack.http(
        "POST", f"/tickets/{ticket_id}/replies", headers=headers, body=json.dumps(body).encode(), claims=claims
    )


def timeline(stack, ticket_id: str) -> list[dict]:
    response = stack.api_get(f"/tickets/{ticket_id}/messages")
    assert response.status == 200
    return response.json()["messages"]


def graph_sends(fake_providers) -> list:
    return [call for call in fake_providers.calls("graph") if call.path.endswith("/messages")]


def test_a_whatsapp_reply_is_sent_once_and_its_receipts_make_it_delivered_then_read(stack, whatsapp, fake_providers):
    # Given a customer's WhatsApp message
    ticket_id = customer_writes(stack, whatsapp)
    # When an agent replies and the sender runs
    accepted = reply(stack, ticket_id, {"text": "오늘 출고되었습니다. 내일 도착 예정입니다."})
    assert accepted.status == 202
    assert accepted.json()["message"]["delivery_status"] == "queued"
    assert accepted.json()["ticket"]["status"] == "open"
    assert stack.drain_outbound_queue().failed_records == 0
    # Then the provider got one request with the reply's text, to the customer
    (sent,) = graph_sends(fake_providers)
    assert sent.json()["text"]["body"] == "오늘 출고되었습니다. 내일 도착 예정입니다."
    assert sent.json()["to"] == whatsapp.driver.customer(1, "김민준").external_id
    reply_message = timeline(stack, ticket_id)[-1]
    assert reply_message["delivery_status"] == "sent" and reply_message["author_id"] == AGENT_CLAIMS["sub"]
    # When the provider's signed receipts arrive at our webhook
    answers = stack.deliver_receipts(fake_providers.take_receipts())
    # Then they verify, and the reply ends read, each step recorded once with who reported it
    assert {answer.status for answer in answers} == {200}
    read = timeline(stack, ticket_id)[-1]
    assert read["delivery_status"] == "read"
    assert [(step["status"], step["by"]) for step in read["delivery_history"]] == [
        ("queued", "outbox"),
        ("sent", "sender"),
        ("delivered", "provider"),
        ("read", "provider"),
    ]


def test_a_public_reply_answers_the_customer_and_sets_the_reply_clocks(stack, whatsapp, fake_providers):
    # Given a new ticket waiting on an agent
    ticket_id = customer_writes(stack, whatsapp)
    waiting = stack.ticket(ticket_id)["ticket"]
    assert waiting.get("awaiting_agent_since") is not None and waiting.get("first_agent_reply_at") is None
    # When an agent replies, submitting it as pending
    accepted = reply(stack, ticket_id, {"text": "확인 부탁드립니다.", "status": "pending"})
    # Then nothing waits on the agent any more, the clocks are set once, and the status change is audited
    ticket = accepted.json()["ticket"]
    assert ticket["status"] == "pending" and ticket["awaiting_agent_since"] is None
    assert ticket["first_agent_reply_at"] == ticket["last_public_agent_reply_at"] == ticket["last_agent_reply_at"]
    audits = stack.api_get(f"/tickets/{ticket_id}/audits").json()["audits"]
    reply_key = accepted.json()["message"]["message_key"]
    assert [a["changes"] for a in audits] == [
        [
            {"field": "reply", "before": None, "after": reply_key},
            {"field": "status", "before": "new", "after": "pending"},
        ]
    ]


def test_twenty_copies_of_one_reply_posted_at_once_write_one_message_and_send_one_request(
    stack, whatsapp, fake_providers
):
    # Given a customer's message
    ticket_id = customer_writes(stack, whatsapp)
    # When the same reply with one Idempotency-Key is POSTed 20 times at once, then the sender runs
    answers = run_together([lambda: reply(stack, ticket_id, {"text": "곧 답변드리겠습니다."})] * 20)
    stack.drain_outbound_queue()
    stack.sweep_outbox()
    stack.drain_outbound_queue()
    # Then one was accepted (202), the others found it (200), all name the same message, and one request went out
    assert sorted(a.status for a in answers) == [200] * 19 + [202]
    assert len({a.json()["message"]["id"] for a in answers}) == 1
    assert len(graph_sends(fake_providers)) == 1
    assert [m["direction"] for m in timeline(stack, ticket_id)] == ["inbound", "outbound"]


def test_the_same_key_with_another_text_is_refused_and_sends_nothing_more(stack, whatsapp, fake_providers):
    ticket_id = customer_writes(stack, whatsapp)
    assert reply(stack, ticket_id, {"text": "첫 답변"}).status == 202
    # When the key is reused for another text
    again = reply(stack, ticket_id, {"text": "다른 답변"})
    # Then it is a 422 and the timeline holds the first reply only
    assert again.status == 422 and again.json()["error"] == "idempotency_key_reused"
    assert [m["text"] for m in timeline(stack, ticket_id)][1:] == ["첫 답변"]


def test_outside_the_24_hour_window_a_whatsapp_reply_is_refused_with_what_is_allowed(stack, whatsapp, fake_providers):
    # Given a customer who last wrote 24 hours and 1 second ago
    ticket_id = customer_writes(stack, whatsapp, sent_at=utc_now() - timedelta(hours=24, seconds=1))
    # When an agent replies with free text
    refused = reply(stack, ticket_id, {"text": "안녕하세요"})
    # Then it is 409 window_closed, naming templates as what may still go, and nothing is written or sent
    assert refused.status == 409 and refused.json()["error"] == "window_closed"
    assert refused.json()["allowed"] == ["template"]
    assert len(timeline(stack, ticket_id)) == 1 and graph_sends(fake_providers) == []


def test_a_reply_over_the_channels_limit_is_a_400_naming_it(stack, whatsapp):
    ticket_id = customer_writes(stack, whatsapp)
    refused = reply(stack, ticket_id, {"text": "가" * 4097})
    assert refused.status == 400 and "4096" in refused.json()["message"]
    assert len(timeline(stack, ticket_id)) == 1


def test_a_provider_429_is_retried_after_its_retry_after_and_sent_once(stack, whatsapp, fake_providers):
    # Given the provider answers the first send 429 with Retry-After
    ticket_id = customer_writes(stack, whatsapp)
    account = stack.ticket(ticket_id)["ticket"]["channel_account_id"]
    fake_providers.fail(GRAPH_MESSAGES.format(account=account), status=429, retry_after="1")
    reply(stack, ticket_id, {"text": "잠시만 기다려 주세요."})
    # When the sender runs (the test's queue redelivers at once)
    stack.drain_outbound_queue()
    # Then the attempt waited for its due time, then went out once more, and the reply is sent
    calls = graph_sends(fake_providers)
    assert len(calls) in (1, 2)
    if len(calls) == 1:
        # The redelivery came before the due time: the sweep's next run (a minute on) sends it.
        attempt = stack.repositories().outbox.attempt(timeline(stack, ticket_id)[-1]["attempt_id"])
        assert attempt is not None and attempt.state.value == "queued"


def test_a_permanent_refusal_fails_the_reply_with_the_providers_reason_and_a_resend_sends_again(
    stack, whatsapp, fake_providers
):
    # Given the provider refuses the send for good (a 400 with Graph's error)
    ticket_id = customer_writes(stack, whatsapp)
    account = stack.ticket(ticket_id)["ticket"]["channel_account_id"]
    fake_providers.fail(GRAPH_MESSAGES.format(account=account), status=400)
    reply(stack, ticket_id, {"text": "주문 번호를 알려주세요."})
    stack.drain_outbound_queue()
    failed = timeline(stack, ticket_id)[-1]
    assert failed["delivery_status"] == "failed" and failed["delivery_error"]
    # When the agent resends it
    resent = stack.http("POST", f"/tickets/{ticket_id}/messages/{failed['message_key']}/resend", claims=AGENT_CLAIMS)
    assert resent.status == 202 and resent.json()["message"]["attempt_id"] != failed["attempt_id"]
    stack.drain_outbound_queue()
    # Then it was really sent again (a second provider request), and is sent
    assert len(graph_sends(fake_providers)) == 2
    assert timeline(stack, ticket_id)[-1]["delivery_status"] == "sent"
    # And a second resend of a sent reply is refused
    again = stack.http("POST", f"/tickets/{ticket_id}/messages/{failed['message_key']}/resend", claims=AGENT_CLAIMS)
    assert again.status == 409


def test_a_timeout_after_the_provider_took_it_is_unknown_and_never_blindly_resent(
    stack, whatsapp, fake_providers, monkeypatch
):
    # Given the provider takes the message but answers after our read timeout
    from switchboard.channels import sending

    monkeypatch.setattr(sending.SendHttp, "__init__", _short_read_timeout(sending.SendHttp.__init__))
    ticket_id = customer_writes(stack, whatsapp)
    account = stack.ticket(ticket_id)["ticket"]["channel_account_id"]
    fake_providers.stall(GRAPH_MESSAGES.format(account=account), seconds=1.0)
    reply(stack, ticket_id, {"text": "확인 중입니다."})
    # When the sender runs, and the queue and the sweep run again
    stack.drain_outbound_queue()
    stack.sweep_outbox()
    stack.drain_outbound_queue()
    # Then one request went out and the reply is unknown (WhatsApp takes no idempotency key)
    assert len(graph_sends(fake_providers)) == 1
    assert timeline(stack, ticket_id)[-1]["delivery_status"] == "unknown"
    # When WhatsApp's status webhooks arrive, naming our attempt (biz_opaque_callback_data)
    receipts = _receipts_within(fake_providers, seconds=3)
    stack.deliver_receipts(receipts)
    # Then they settle it: the provider had it, and the customer read it
    settled = timeline(stack, ticket_id)[-1]
    assert settled["delivery_status"] == "read" and settled["delivery_error"] is None
    attempt = stack.repositories().outbox.attempt(settled["attempt_id"])
    assert attempt is not None and attempt.state.value == "sent" and attempt.provider_message_id


def test_a_reply_whose_enqueue_failed_is_sent_by_the_sweep(stack, whatsapp, fake_providers, monkeypatch):
    # Given the outbound queue refuses the reply's message right after the reply is accepted
    from switchboard.outbound import queue

    ticket_id = customer_writes(stack, whatsapp)
    for number in range(5):
        # (five replies that went out as usual, which the sweep must not read)
        reply(stack, ticket_id, {"text": f"안내 {number}"}, key=f"earlier-{number}")
    stack.drain_outbound_queue()
    original = queue.OutboundQueue.enqueue
    monkeypatch.setattr(queue.OutboundQueue, "enqueue", _fails_once(original))
    accepted = reply(stack, ticket_id, {"text": "발송 완료"})
    assert accepted.status == 202
    stack.drain_outbound_queue()
    assert len(graph_sends(fake_providers)) == 5
    # When a minute passes and the sweep runs
    monkeypatch.setattr("switchboard.outbound.sweep.GRACE", timedelta(0))
    with stack.requests_sent("dynamodb") as requests:
        assert stack.sweep_outbox()["requeued"] == 1
    # Then it read only what was overdue (one Query per shard of the sparse index, one attempt found)
    assert requests.operations == ["Query"] * 8
    assert len(stack.repositories().outbox.due_attempts(until=utc_now(), limit=500)) == 1
    stack.drain_outbound_queue()
    # And the reply went out once
    assert len(graph_sends(fake_providers)) == 6
    assert timeline(stack, ticket_id)[-1]["delivery_status"] == "sent"


@pytest.mark.parametrize("crash_at", ["claim", "after_provider"])
def test_a_sender_dying_at_any_step_never_sends_twice(stack, whatsapp, fake_providers, monkeypatch, crash_at):
    # Given the sender dies once: before its claim, or after the provider answered but before it recorded that
    from switchboard.store import outbox

    ticket_id = customer_writes(stack, whatsapp)
    step = {"claim": "claim_attempt", "after_provider": "record_outcome"}[crash_at]
    original = getattr(outbox.OutboxRepository, step)
    monkeypatch.setattr(outbox.OutboxRepository, step, _fails_once(original))
    reply(stack, ticket_id, {"text": "처리되었습니다."})
    # When the queue redelivers until the sender is done, with the lease run out
    monkeypatch.setattr("switchboard.outbound.sender.LEASE", timedelta(0))
    stack.drain_outbound_queue()
    # Then the provider got at most one request, and the reply is settled: sent if the crash came before the
    # provider call, unknown if it came after (WhatsApp has no idempotency key to make a repeat safe)
    sends = graph_sends(fake_providers)
    status = timeline(stack, ticket_id)[-1]["delivery_status"]
    assert len(sends) == 1
    assert status == ("sent" if crash_at == "claim" else "unknown")


def _receipts_within(fake_providers, *, seconds: float) -> list:
    """The receipts of a request answered after our timeout: the fake posts them once it has answered."""
    import time

    deadline, taken = time.monotonic() + seconds, []
    while time.monotonic() < deadline and len(taken) < 3:
        taken += fake_providers.take_receipts()
        time.sleep(0.05)
    return taken


def _fails_once(original):
    calls = {"n": 0}

    def wrapper(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("injected crash")
        return original(*args, **kwargs)

    return wrapper


def _short_read_timeout(original):
    def init(self, connect_timeout: float = 3.0, read_timeout: float = 10.0) -> None:
        original(self, connect_timeout=connect_timeout, read_timeout=0.3)

    return init


def test_the_reply_routes_need_the_agent_role_and_a_key(stack, whatsapp):
    ticket_id = customer_writes(stack, whatsapp)
    assert reply(stack, ticket_id, {"text": "x"}, key=None).status == 400
    assert reply(stack, "t_missing", {"text": "x"}).status == 404
    assert reply(stack, ticket_id, {"text": "x"}, claims={"sub": "someone"}).status in (401, 403)
    assert reply(stack, ticket_id, {"status": "open"}).status == 400


_ = UTC


# What each provider reports after a send (the fakes post what the real ones do): WhatsApp sent, delivered, read;
# Messenger a delivery and a read watermark; Instagram a seen; Twilio sent and delivered; SES a delivery (through
# SNS and MailEventsQueue), whichever way the customer's mail came in; LINE and Telegram nothing.
FINAL_STATUS = {
    "whatsapp": "read",
    "messenger": "read",
    "instagram": "read",
    "twilio": "delivered",
    "email": "delivered",
    "mailgun": "delivered",
    "postmark": "delivered",
    "sendgrid": "delivered",
    "line": "sent",
    "telegram": "sent",
}


def test_every_channels_reply_goes_out_once_on_the_customers_own_channel(stack, channel, fake_providers):
    # Given a customer's message on the channel
    driver = channel.driver
    customer = driver.customer(1, "김민준")
    body = driver.text_message(
        customer,
        message_id=driver.message_id("hello"),
        text="주문 확인 부탁드려요",
        sent_at=utc_now() - timedelta(minutes=3),
    )
    assert channel.deliver(body).status < 300
    assert stack.drain_queue().failed_records == 0
    (listed,) = stack.tickets()
    ticket_id = listed["id"]
    # When an agent replies on it
    answer = reply(stack, ticket_id, {"text": "확인되었습니다. 내일 도착합니다."})
    if driver.name == "kakao":
        # Then KakaoTalk, which lets no one push free text, refuses it and says what can reach the customer
        assert answer.status == 409 and answer.json()["error"] == "channel_cannot_push"
        assert answer.json()["allowed"] and len(timeline(stack, ticket_id)) == 1
        return
    assert answer.status == 202, answer.body
    assert stack.drain_outbound_queue().failed_records == 0
    # Then one request reached the provider the customer wrote through, and the reply is sent
    sent = fake_providers.sent()
    assert len(sent) == 1, sent
    assert timeline(stack, ticket_id)[-1]["delivery_status"] == "sent"
    # And the provider's signed receipts, posted to our webhook, move it on as far as that provider reports
    answers = stack.deliver_receipts(fake_providers.take_receipts())
    assert all(a.status < 300 for a in answers)
    expected = FINAL_STATUS.get(driver.name, "sent")
    assert timeline(stack, ticket_id)[-1]["delivery_status"] == expected


def test_a_mail_reply_threads_and_the_customers_answer_to_it_joins_the_same_ticket(stack, fake_providers):
    # Given a customer's mail, received by SES
    from email import message_from_bytes
    from email.policy import default

    from tests.support.drivers.email import SesDriver, raw_mail

    mail = stack.channel(SesDriver())
    customer = mail.driver.customer(1, "김민준")
    first_id = mail.driver.message_id("first")
    mail.deliver(
        raw_mail(customer, message_id=first_id, text="교환 문의드립니다", sent_at=utc_now(), subject="교환 문의")
    )
    assert stack.drain_queue().failed_records == 0
    (listed,) = stack.tickets()
    # When an agent replies and the sender sends it
    assert reply(stack, listed["id"], {"text": "네, 교환해 드리겠습니다."}).status == 202
    stack.drain_outbound_queue()
    # Then SES got one raw mail that continues the customer's thread, from the mailbox they wrote to
    (sent,) = fake_providers.sent()
    mime = message_from_bytes(sent["mime"].encode(), policy=default)
    assert mime["In-Reply-To"] == f"<{first_id}>" and f"<{first_id}>" in mime["References"]
    assert mime["Subject"] == f"Re: 교환 문의 [#{listed['number']}]"
    assert mime["From"].addresses[0].addr_spec == "support@shop.example"
    assert mime["Reply-To"].addresses[0].addr_spec.startswith("support+")
    assert "네, 교환해 드리겠습니다." in mime.get_body(("plain",)).get_content()
    # When the customer answers that mail from a client that keeps only In-Reply-To (the id SES gave it)
    answered = _ses_message_id(stack, timeline(stack, listed["id"])[-1]["attempt_id"])
    mail.deliver(
        raw_mail(
            customer,
            message_id=mail.driver.message_id("answer"),
            text="감사합니다!",
            # A mail's Date has whole seconds: a second on, it is after the reply on the timeline.
            sent_at=utc_now() + timedelta(seconds=1),
            subject="Re: 교환 문의",
            in_reply_to=answered,
        )
    )
    assert stack.drain_queue().failed_records == 0
    # Then it joins the same ticket
    assert [t["id"] for t in stack.tickets()] == [listed["id"]]
    assert [m["direction"] for m in timeline(stack, listed["id"])] == ["inbound", "outbound", "inbound"]


def _ses_message_id(stack, attempt_id: str) -> str:
    """The Message-ID SES gave the mail it sent (it replaces ours): <SendEmail's MessageId>@<region>.amazonses.com."""
    from switchboard.email.sender import ses_message_id_header

    attempt = stack.repositories().outbox.attempt(attempt_id)
    assert attempt is not None and attempt.provider_message_id
    return ses_message_id_header(attempt.provider_message_id, "us-east-1").strip("<>")


TEMPLATES = json.dumps(
    [{"account": "*", "name": "order_update", "language": "ko", "category": "utility", "parameters": 2}]
)


def test_outside_the_window_an_approved_template_is_offered_and_goes_out(stack, whatsapp, fake_providers):
    # Given an approved template, and a customer who last wrote two days ago
    stack.configure("TicketChangesFunction", WHATSAPP_TEMPLATES=TEMPLATES)
    ticket_id = customer_writes(stack, whatsapp, sent_at=utc_now() - timedelta(days=2))
    # When an agent tries free text, the refusal lists the templates configured
    refused = reply(stack, ticket_id, {"text": "안녕하세요"}, key="free-text")
    assert refused.status == 409
    assert [t["name"] for t in refused.json()["templates"]] == ["order_update"]
    # When they send the template with its two parameters
    template = {"name": "order_update", "language": "ko", "parameters": ["#1042", "내일"]}
    assert reply(stack, ticket_id, {"template": template}, key="template").status == 202
    stack.drain_outbound_queue()
    # Then WhatsApp got that template with its body parameters, and the reply is sent
    (sent,) = graph_sends(fake_providers)
    assert sent.json()["type"] == "template" and sent.json()["template"]["name"] == "order_update"
    body_parameters = sent.json()["template"]["components"][0]["parameters"]
    assert [p["text"] for p in body_parameters] == ["#1042", "내일"]
    assert timeline(stack, ticket_id)[-1]["delivery_status"] == "sent"
    # And a template that is not configured, or with the wrong parameter count, is a 400
    unknown = {"name": "promo", "language": "ko", "parameters": []}
    assert reply(stack, ticket_id, {"template": unknown}, key="unknown").status == 400
    short = {"name": "order_update", "language": "ko", "parameters": ["#1042"]}
    assert reply(stack, ticket_id, {"template": short}, key="short").status == 400


def test_a_reply_its_channel_cannot_carry_as_one_message_is_a_400_before_anything_is_written(stack, fake_providers):
    # Given a Messenger customer
    from tests.support.drivers.messenger import MessengerDriver

    messenger = stack.channel(MessengerDriver())
    customer = messenger.driver.customer(1, "Kim")
    body = messenger.driver.text_message(
        customer, message_id=messenger.driver.message_id("q"), text="hi", sent_at=utc_now() - timedelta(minutes=1)
    )
    messenger.deliver(body)
    stack.drain_queue()
    (listed,) = stack.tickets()
    # When an agent replies with text and a file, which Messenger sends as two messages
    attachment = {"storage_key": "attachments/manual/size-chart.png", "mime_type": "image/png"}
    refused = reply(stack, listed["id"], {"text": "사이즈표입니다", "attachments": [attachment]})
    # Then it is refused with the channel's reason, and nothing is written or sent
    assert refused.status == 400 and "attachment" in refused.json()["message"]
    assert len(timeline(stack, listed["id"])) == 1 and fake_providers.sent() == []


def test_a_burst_to_one_telegram_chat_is_paced_at_one_a_second_never_dropped(stack, fake_providers):
    # Given a Telegram customer (Telegram allows about one message a second to a chat)
    from datetime import datetime

    from tests.support.drivers.telegram import TelegramDriver

    telegram = stack.channel(TelegramDriver())
    customer = telegram.driver.customer(1, "Lee")
    body = telegram.driver.text_message(
        customer, message_id=telegram.driver.message_id("q"), text="hi", sent_at=utc_now() - timedelta(minutes=1)
    )
    telegram.deliver(body)
    stack.drain_queue()
    (listed,) = stack.tickets()
    # When an agent sends three replies at once
    for number in range(3):
        assert reply(stack, listed["id"], {"text": f"답변 {number}"}, key=f"burst-{number}").status == 202
    stack.drain_outbound_queue()
    # Then all three went out, in order, about a second apart
    sent = sorted(fake_providers.sent(), key=lambda entry: entry["at"])
    assert [entry["json"]["text"] for entry in sent] == ["답변 0", "답변 1", "답변 2"]
    moments = [datetime.fromisoformat(entry["at"]) for entry in sent]
    assert all((later - earlier).total_seconds() >= 0.9 for earlier, later in zip(moments, moments[1:], strict=False))
    assert {m["delivery_status"] for m in timeline(stack, listed["id"])[1:]} == {"sent"}
