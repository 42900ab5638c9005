"""Opting out and back in by keyword: a customer's whole message STOP, 수신거부, 配信停止 (START, 재수신 ...) changes
their consent on the channel they wrote on, in the transaction that stores the message, and they get one
confirmation there, whatever redeliveries, retries and failed AWS calls happen (tickets/consent_replies.py)."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from switchboard.models import AuthorKind, ChannelConsent, Direction, TicketMessage
from switchboard.outbound.queue import OutboundQueue
from switchboard.store.repositories import Repositories
from tests.support.drivers.kakao import KakaoDriver
from tests.support.drivers.twilio import TwilioDriver
from tests.support.faults import Fault, FaultyClient

# Minutes before the run, at whole seconds: the webhook stamps its arrival with the real clock, and a confirmation is
# sent only inside the channel's window after the customer's message (24 hours on WhatsApp).
SENT = (datetime.now(UTC) - timedelta(minutes=10)).replace(microsecond=0)
_WRITES = frozenset({"TransactWriteItems", "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"})


def writes(channel, label: str, text: str, *, customer: int = 1, sent_at: datetime = SENT) -> bytes:
    driver = channel.driver
    return driver.text_message(
        driver.customer(customer, "김민준"), message_id=driver.message_id(label), text=text, sent_at=sent_at
    )


def deliver(stack, channel, body: bytes) -> None:
    assert channel.deliver(body).status == 200
    report = stack.drain_queue()
    assert report.failed_records == 0 and report.invocation_errors == []


def timeline(store: Repositories) -> list[TicketMessage]:
    """Every message of every ticket, in each ticket's order."""
    messages: list[TicketMessage] = []
    for ticket in store.tickets.list_tickets(status=None, limit=100, cursor=None).tickets:
        messages += [
            stored.message for stored in store.messages.message_page(ticket.id, limit=100, cursor=None).messages
        ]
    return messages


def confirmations(store: Repositories) -> list[TicketMessage]:
    return [m for m in timeline(store) if m.author_kind is AuthorKind.SYSTEM and m.direction is Direction.OUTBOUND]


def attempts(store: Repositories) -> list:
    return store.outbox.due_attempts(until=datetime.now(UTC) + timedelta(days=1), limit=100)


def consent_of(stack) -> dict[str, ChannelConsent]:
    (contact,) = stack.contacts()
    return contact.consent.channels


def test_stop_on_whatsapp_opts_out_and_confirms_once_however_often_it_is_delivered(
    stack, whatsapp, fake_providers, queue_dedup_window_lapsed
):
    # Given a customer who asked about an order on WhatsApp
    deliver(stack, whatsapp, writes(whatsapp, "q1", "배송 언제 와요?", sent_at=SENT - timedelta(minutes=3)))
    # When they send STOP, and Meta delivers it three more times (it redelivers for days)
    stop = writes(whatsapp, "stop", "STOP")
    for _ in range(4):
        deliver(stack, whatsapp, stop)
    # Then they are opted out of WhatsApp notifications as of the moment they sent it, by the keyword
    assert consent_of(stack) == {"whatsapp": ChannelConsent(opted_out=True, changed_at=SENT, by="keyword:STOP")}
    # And the STOP is on the ticket like any message, followed by one system confirmation queued in the outbox
    store = stack.repositories()
    assert [(m.direction, m.author_kind, m.text) for m in timeline(store)] == [
        (Direction.INBOUND, AuthorKind.CUSTOMER, "배송 언제 와요?"),
        (Direction.INBOUND, AuthorKind.CUSTOMER, "STOP"),
        (
            Direction.OUTBOUND,
            AuthorKind.SYSTEM,
            "You have been unsubscribed from notifications. Reply START to subscribe again.",
        ),
    ]
    (attempt,) = attempts(store)
    (ticket,) = store.tickets.list_tickets(status=None, limit=10, cursor=None).tickets
    assert ticket.message_count == 3
    # When the sender takes it (the outbox sweep queues what the writer leaves in the outbox)
    OutboundQueue(stack.sqs, stack.queue_url_of("OutboundQueue")).enqueue([attempt])
    assert stack.drain_outbound_queue().failed_records == 0
    # Then WhatsApp got exactly one message, the confirmation, to that customer
    (sent,) = [call.json() for call in fake_providers.calls("graph") if call.path.endswith("/messages")]
    assert sent["to"] == whatsapp.driver.customer(1).external_id
    assert sent["text"]["body"] == confirmations(store)[0].text
    assert confirmations(store)[0].delivery_status == "sent"


def test_a_first_message_that_is_a_keyword_creates_the_contact_opted_out(stack, whatsapp):
    # Given nobody we know; When their first message is 수신거부
    deliver(stack, whatsapp, writes(whatsapp, "first", "수신거부"))
    # Then the contact is created recording it, and the Korean confirmation is queued after it
    assert consent_of(stack) == {"whatsapp": ChannelConsent(opted_out=True, changed_at=SENT, by="keyword:수신거부")}
    store = stack.repositories()
    assert [m.text for m in timeline(store)] == [
        "수신거부",
        "수신거부가 처리되었습니다. 다시 받으시려면 '재수신'을 보내 주세요.",
    ]
    assert len(attempts(store)) == 1


def test_start_after_stop_opts_back_in_and_confirms_that_too(stack, whatsapp):
    # Given a customer who sent STOP
    deliver(stack, whatsapp, writes(whatsapp, "stop", "STOP"))
    # When they send START a minute later
    deliver(stack, whatsapp, writes(whatsapp, "start", "start", sent_at=SENT + timedelta(minutes=1)))
    # Then they are opted in again as of then, and each keyword got its own confirmation
    assert consent_of(stack) == {
        "whatsapp": ChannelConsent(opted_out=False, changed_at=SENT + timedelta(minutes=1), by="keyword:START")
    }
    store = stack.repositories()
    assert [m.text for m in confirmations(store)] == [
        "You have been unsubscribed from notifications. Reply START to subscribe again.",
        "You are subscribed to notifications again. Reply STOP to unsubscribe.",
    ]
    assert len(attempts(store)) == 2


def test_stop_on_twilio_sms_is_recorded_as_twilios_and_confirmed_by_twilio_alone(stack):
    # Given a customer texting our Twilio number
    sms = stack.channel(TwilioDriver())
    deliver(stack, sms, writes(sms, "hi", "주문 확인 부탁드려요"))
    # When they text STOP (Twilio blocks the number and answers them itself, then passes the message on)
    deliver(stack, sms, writes(sms, "stop", "Stop"))
    # Then the opt-out is recorded as Twilio's, the message is on the ticket, and we send nothing
    (recorded,) = consent_of(stack).values()
    assert (recorded.opted_out, recorded.by) == (True, "twilio")
    assert list(consent_of(stack)) == ["sms"]
    store = stack.repositories()
    assert [m.text for m in timeline(store)] == ["주문 확인 부탁드려요", "Stop"]
    assert attempts(store) == []
    # And when they text START, Twilio lifts its block and so do we
    deliver(stack, sms, writes(sms, "start", "START"))
    (recorded,) = consent_of(stack).values()
    assert (recorded.opted_out, recorded.by) == (False, "twilio")
    assert attempts(store) == []


def test_kakao_chatbot_opt_out_stops_alimtalk_without_an_outbox_reply(stack):
    # Given a KakaoTalk chatbot conversation
    kakao = stack.channel(KakaoDriver())
    # When the customer says 수신거부 to the chatbot
    deliver(stack, kakao, writes(kakao, "stop", "수신거부"))
    # Then AlimTalk, sent under the same KakaoTalk channel, is opted out; a chatbot cannot write first, so no
    # confirmation waits in the outbox (where it could only fail)
    (channel,) = consent_of(stack)
    assert channel == "alimtalk" and consent_of(stack)["alimtalk"].opted_out
    store = stack.repositories()
    assert attempts(store) == [] and [m.text for m in timeline(store)] == ["수신거부"]


def test_a_sentence_mentioning_stop_changes_nothing(stack, whatsapp):
    deliver(stack, whatsapp, writes(whatsapp, "sentence", "Please stop the second parcel, I cancelled it"))
    assert consent_of(stack) == {}
    assert attempts(stack.repositories()) == []


class KeywordTraffic:
    """Two keyword messages as the webhook queued them, replayable into an empty table after the message that opened
    the first customer's ticket: that customer's STOP on their open ticket (the consent change updates their
    contact) and a new customer's first message 配信停止 (the contact is created recording it)."""

    def __init__(self, stack, whatsapp, writer_dynamodb: FaultyClient) -> None:
        self.stack, self.writer_dynamodb = stack, writer_dynamodb
        for body in (
            writes(whatsapp, "q1", "배송 문의", sent_at=SENT - timedelta(minutes=5)),
            writes(whatsapp, "stop", "STOP"),
            writes(whatsapp, "ja", "配信停止", customer=2, sent_at=SENT + timedelta(minutes=1)),
        ):
            assert whatsapp.deliver(body).status == 200
        first, *keywords = stack.take_queued()
        self.first, self.keywords = [first], keywords

    def replay(self, fault: tuple[int, Fault] | None = None) -> list:
        """The table the writer leaves from an empty one, the keywords' records coming back until they succeed,
        with `fault` (call number, fault) armed for the keywords' writing only; the calls it made are kept."""
        self.stack.empty_table()
        self.writer_dynamodb.disarm()
        self.stack.enqueue(self.first)
        assert self.stack.drain_queue().failed_records == 0
        if fault is None:
            self.writer_dynamodb.disarm()
        else:
            self.writer_dynamodb.arm(*fault)
        self.stack.enqueue(self.keywords)
        self.stack.drain_queue()
        assert self.stack.dead_lettered_count() == 0
        return self.stack.table_items()


@pytest.mark.slow
def test_any_failed_aws_call_while_writing_a_keyword_leaves_one_consent_change_and_one_confirmation(
    stack, whatsapp, queue_dedup_window_lapsed
):
    # Given two keyword messages, and the writer's DynamoDB client wrapped so that one chosen call fails
    writer_dynamodb: FaultyClient = stack.wrap_runtime_client("dynamodb", FaultyClient)
    traffic = KeywordTraffic(stack, whatsapp, writer_dynamodb)
    # And the table a run without faults leaves: each customer opted out once and confirmed once
    clean = traffic.replay()
    calls = list(writer_dynamodb.calls)
    assert "TransactWriteItems" in calls and "GetItem" in calls
    consents = sorted(
        (c.consent.channels["whatsapp"].opted_out, c.consent.channels["whatsapp"].by) for c in stack.contacts()
    )
    assert consents == [(True, "keyword:STOP"), (True, "keyword:配信停止")]
    store = stack.repositories()
    assert len(confirmations(store)) == len(attempts(store)) == 2
    # When each call of the keywords' writing in turn fails once, in each way a call can fail, and SQS redelivers
    # (a read whose answer is lost changed nothing, as a refused read did: only writes lose theirs)
    differences = []
    for fault in (Fault.REFUSED, Fault.RESPONSE_LOST):
        for call_number, operation in enumerate(calls, start=1):
            if fault is Fault.RESPONSE_LOST and operation not in _WRITES:
                continue
            if traffic.replay((call_number, fault)) != clean:
                differences.append(f"call {call_number} ({operation}) {fault.value}")
    # Then every run ends with the clean run's table: one consent change and one confirmation per keyword
    assert differences == []


def test_kakao_chatbot_tells_the_customer_in_its_own_answer(stack):
    # Given a KakaoTalk chatbot conversation
    kakao = stack.channel(KakaoDriver())
    # When the customer says 수신거부, then 재수신
    stopped = kakao.deliver(writes(kakao, "stop", "수신거부"))
    restarted = kakao.deliver(writes(kakao, "start", "재수신", sent_at=SENT + timedelta(minutes=1)))
    # Then the skill's answer is the confirmation, in Korean: the one place a chatbot can say it
    said = [json.loads(answer.body)["template"]["outputs"][0]["simpleText"]["text"] for answer in (stopped, restarted)]
    assert said == [
        "수신거부가 처리되었습니다. 다시 받으시려면 '재수신'을 보내 주세요.",
        "알림 수신이 다시 시작되었습니다. 받지 않으시려면 '수신거부'를 보내 주세요.",
    ]
