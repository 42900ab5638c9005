"""The notification scheduler on moto, minute by minute at chosen instants: what it reads (only what is due), what it
queues again (lost queue messages, dead senders, deferrals), and the one delay apology per late delivery."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from switchboard.models import Channel, InboundMessage, SenderIdentity
from switchboard.notifications.models import DelayDetection, NotificationState, Senders
from switchboard.proactive.order_events import Outcome, notification_id_for, process
from switchboard.proactive.scheduler import DELAY_TAG, DELAY_TEMPLATES, TEMPLATES_FACT, run_scheduler
from switchboard.store.due_index import SETTLE_MINUTES, SHARDS
from switchboard.store.repositories import Repositories
from switchboard.tickets.writer import record_inbound
from tests.support.orders import (
    PROMISED,
    T0,
    BrokenQueue,
    Clock,
    E,
    QueueProbe,
    due_entries,
    items,
    rules,
    shop_event,
    sms_templates,
)

RULES = rules()
ORDER_KEY = "generic#minjun-shop#A-1042"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(stack, clock) -> Repositories:
    return Repositories.on(stack.dynamodb, stack.table_name, clock=clock)


@pytest.fixture
def probe(stack) -> QueueProbe:
    return QueueProbe(stack.sqs)


def event_at(store, clock, event, at, queue, the_rules=RULES):
    clock.now = at
    return process(event, store=store, rules_of=lambda: the_rules, queue=queue, now=at, sleep=lambda _: None)


def tick(store, clock, probe, at: datetime, the_rules=RULES, limit: int = 1000) -> dict[str, int]:
    clock.now = at
    return run_scheduler(at, store=store, queue=probe.queue, rules=lambda: the_rules, limit=limit)


def lost_notification(store, clock, at=T0) -> str:
    """A notification whose queue message never left: processed with the queue unreachable."""
    processed = event_at(store, clock, shop_event(E.SHIPMENT_IN_TRANSIT), at, BrokenQueue())
    assert processed.notification_id is not None
    return processed.notification_id


def test_with_nothing_due_a_run_reads_only_empty_buckets(stack, store, clock, probe):
    # Given notifications deferred to tomorrow (quiet hours), nothing else
    notification_id = lost_notification(store, clock)
    claim = store.notifications.claim(notification_id, now=T0, lease=timedelta(seconds=120))
    assert claim is not None
    store.notifications.defer(
        claim.notification, due_at=T0 + timedelta(hours=23), reason="quiet_hours", tries_by_channel=()
    )
    # When the scheduler runs this minute
    figures = tick(store, clock, probe, T0 + timedelta(minutes=10))
    # Then it read its cursor's trailing minutes' buckets and found nothing due
    assert figures["due_read"] == 0 and figures["enqueued"] == 0
    assert figures["buckets_read"] == SHARDS * (SETTLE_MINUTES + 1)
    assert probe.taken() == []


def test_a_lost_queue_message_is_found_and_queued_again_once_a_look(stack, store, clock, probe):
    # Given a notification whose queue message was lost at T0
    notification_id = lost_notification(store, clock)
    # When the scheduler runs while it is still fresh, it leaves it to the sender
    assert tick(store, clock, probe, T0 + timedelta(seconds=30))["enqueued"] == 0
    # Then a minute after its due time it is queued again, once
    assert tick(store, clock, probe, T0 + timedelta(minutes=2))["enqueued"] == 1
    assert tick(store, clock, probe, T0 + timedelta(minutes=3))["enqueued"] == 0
    assert probe.taken() == [notification_id]
    # And if no sender takes it, it is queued again at the next look, 5 minutes on
    assert tick(store, clock, probe, T0 + timedelta(minutes=8))["enqueued"] == 1
    assert probe.taken() == [notification_id]
    # And once a sender settles it, never again
    claim = store.notifications.claim(notification_id, now=T0 + timedelta(minutes=8), lease=timedelta(seconds=120))
    assert claim is not None
    settled_at = T0 + timedelta(minutes=8, seconds=5)
    assert store.notifications.record_final(
        claim.notification, state=NotificationState.SKIPPED, tries_by_channel=(), now=settled_at
    )
    for minutes in (14, 20, 60):
        assert tick(store, clock, probe, T0 + timedelta(minutes=minutes))["due_read"] == 0
    assert probe.taken() == [] and due_entries(stack) == []


def test_a_sender_that_died_holding_a_notification_is_replaced_after_its_lease(stack, store, clock, probe):
    # Given a notification claimed at T0+1 min by a sender that then died
    notification_id = lost_notification(store, clock)
    first = store.notifications.claim(notification_id, now=T0 + timedelta(minutes=1), lease=timedelta(seconds=120))
    assert first is not None and not first.interrupted
    # When the scheduler runs while the lease holds, then after it ended
    assert tick(store, clock, probe, T0 + timedelta(minutes=2))["enqueued"] == 0
    assert tick(store, clock, probe, T0 + timedelta(minutes=5))["enqueued"] == 1
    # Then the next sender takes it over, knowing a provider may have it
    assert probe.taken() == [notification_id]
    second = store.notifications.claim(notification_id, now=T0 + timedelta(minutes=5), lease=timedelta(seconds=120))
    assert second is not None and second.interrupted and second.notification.tries == 2
    # And the dead sender's claim can no longer settle it
    assert not store.notifications.record_final(
        first.notification, state=NotificationState.FAILED, tries_by_channel=(), now=T0 + timedelta(minutes=6)
    )


def test_a_deferred_notification_is_queued_when_quiet_hours_end(stack, store, clock, probe):
    # Given a notification deferred at T0 to the end of quiet hours, 8 hours later
    notification_id = lost_notification(store, clock)
    claim = store.notifications.claim(notification_id, now=T0, lease=timedelta(seconds=120))
    assert claim is not None
    ends = T0 + timedelta(hours=8)
    assert store.notifications.defer(claim.notification, due_at=ends, reason="quiet_hours", tries_by_channel=())
    # When the scheduler runs through the night (every 10 minutes, then every minute around the end: a run catches up
    # the minutes since the last, so the gaps hide nothing it would have done)
    queued_at = []
    for minute in [*range(0, 8 * 60 - 10, 10), *range(8 * 60 - 10, 8 * 60 + 4)]:
        at = T0 + timedelta(minutes=minute, seconds=5)
        if tick(store, clock, probe, at)["enqueued"]:
            queued_at.append(at)
    # Then it was queued once, a minute after quiet hours ended, and a sender may claim it then
    assert queued_at == [ends + timedelta(minutes=1, seconds=5)]
    assert probe.taken() == [notification_id]
    assert store.notifications.claim(notification_id, now=queued_at[0], lease=timedelta(seconds=120)) is not None


def test_a_run_takes_at_most_its_limit_and_the_next_run_the_rest(stack, store, clock, probe):
    # Given five notifications whose queue messages were lost
    for n in range(5):
        clock.now = T0
        process(
            shop_event(E.SHIPMENT_IN_TRANSIT, order_id=f"A-{n}"),
            store=store,
            rules_of=lambda: RULES,
            queue=BrokenQueue(),
            now=T0,
            sleep=lambda _: None,
        )
    # When runs may take two entries each
    taken = [tick(store, clock, probe, T0 + timedelta(minutes=2 + n), limit=2)["enqueued"] for n in range(4)]
    # Then the five are queued over three runs, each once
    assert taken == [2, 2, 1, 0]
    assert len(set(probe.taken())) == 5


# -- delay detection -------------------------------------------------------------------------------------------


def shipped(store, clock, probe, the_rules=RULES, promised=PROMISED) -> None:
    event_at(store, clock, shop_event(E.SHIPMENT_IN_TRANSIT, promised=promised), T0, probe.queue, the_rules)
    probe.taken()


def test_a_promised_date_passing_without_delivery_sends_one_apology_with_the_latest_status(stack, store, clock, probe):
    # Given a shipment in transit, promised for 2026-12-04 18:00 Seoul time, with 30 minutes' grace
    grace = rules(delay=DelayDetection(grace_minutes=30))
    shipped(store, clock, probe, grace)
    # When the scheduler runs every few minutes around the promised time
    apologies, queued = [], []
    for minutes in (0, 29, 31, 31.5, 40):
        apologies.append(tick(store, clock, probe, PROMISED + timedelta(minutes=minutes), grace)["apologies"])
        queued.append(probe.taken())
    # Then it apologizes once, right after the grace ran out, and queues the apology
    assert apologies == [0, 0, 1, 0, 0]
    (contact,) = stack.contacts()
    apology_id = notification_id_for(ORDER_KEY, E.SHIPMENT_DELAYED, contact.id)
    assert queued[:4] == [[], [], [apology_id], []]
    # (and, as no sender took it, queues it again a look later, as any notification)
    assert queued[4] == [apology_id]
    apology = store.notifications.notification(apology_id)
    assert apology is not None and apology.event_type is E.SHIPMENT_DELAYED
    assert apology.state is NotificationState.QUEUED
    # With the latest known status and the promised date in the customer's time zone
    assert apology.facts["shipment_status"] != apology.facts["status"]
    assert "18:00" in apology.facts["promised_date"]
    # From the shipment.delayed rule's templates (the delay detection has none of its own)
    assert TEMPLATES_FACT not in apology.facts
    # And the order is watched no more
    order = store.orders.order(ORDER_KEY)
    assert order is not None and not order.shipments["S-1"].delay_apology_due
    assert (f"ORDER#{ORDER_KEY}", "ORDER") not in due_entries(stack)


def test_the_delay_detections_own_templates_are_named_in_the_apology(stack, store, clock, probe):
    # Given delay detection with templates of its own
    own = rules(delay=DelayDetection(templates=sms_templates("sorry, late")))
    shipped(store, clock, probe, own)
    # When the promised date passes
    tick(store, clock, probe, PROMISED + timedelta(minutes=1), own)
    # Then the apology says to render those
    (apology_id,) = probe.taken()
    apology = store.notifications.notification(apology_id)
    assert apology is not None and apology.facts[TEMPLATES_FACT] == DELAY_TEMPLATES


def test_a_delivery_in_time_sends_no_apology(stack, store, clock, probe):
    # Given a shipment promised for tomorrow, delivered today
    shipped(store, clock, probe)
    event_at(
        store, clock, shop_event(E.SHIPMENT_DELIVERED, at=T0 + timedelta(hours=3)), T0 + timedelta(hours=3), probe.queue
    )
    probe.taken()
    # When the promised date passes
    figures = tick(store, clock, probe, PROMISED + timedelta(minutes=5))
    # Then nothing was due and nothing is sent
    assert (figures["due_read"], figures["apologies"]) == (0, 0)
    assert probe.taken() == []


def test_the_shops_own_delay_notice_and_our_apology_never_both_send(stack, store, clock, probe):
    # Given a shipment in transit whose shop announced a delay with a later promise, which the customer was told
    shipped(store, clock, probe)
    later = PROMISED + timedelta(days=2)
    told = event_at(
        store,
        clock,
        shop_event(E.SHIPMENT_DELAYED, at=T0 + timedelta(hours=5), promised=later),
        T0 + timedelta(hours=5),
        probe.queue,
    )
    assert told.outcome is Outcome.NOTIFIED
    probe.taken()
    # When the new promise passes too
    figures = tick(store, clock, probe, later + timedelta(minutes=1))
    # Then the scheduler saw the late delivery but sends no second delay message
    assert (figures["delays_detected"], figures["apologies"]) == (1, 0)
    assert probe.taken() == []
    delay_notices = [
        n for n in items(stack, "NOTIFY#") if n["sk"] == "NOTIFY" and n["event_type"] == "shipment.delayed"
    ]
    assert len(delay_notices) == 1


def test_turning_delay_detection_off_takes_the_orders_out_of_the_index(stack, store, clock, probe):
    # Given a watched shipment, and then delay detection turned off
    shipped(store, clock, probe)
    off = rules(delay=DelayDetection(enabled=False))
    # When its promised date passes
    figures = tick(store, clock, probe, PROMISED + timedelta(minutes=1), off)
    # Then no apology, and the order is no longer due
    assert figures["apologies"] == 0
    assert (f"ORDER#{ORDER_KEY}", "ORDER") not in due_entries(stack)


def test_a_longer_grace_files_the_order_again_at_its_new_time(stack, store, clock, probe):
    # Given a watched shipment, then the grace raised to two hours after it was filed
    shipped(store, clock, probe)
    longer = rules(delay=DelayDetection(grace_minutes=120))
    # When the promised date passes, and then the new grace
    apologies = [
        tick(store, clock, probe, PROMISED + timedelta(minutes=minutes), longer)["apologies"]
        for minutes in (1, 60, 119, 121)
    ]
    # Then it apologizes at the new time only
    assert apologies == [0, 0, 0, 1]


# -- a ticket for the team -------------------------------------------------------------------------------------


def with_ticket(grace_minutes: int = 0) -> object:
    return rules(
        delay=DelayDetection(grace_minutes=grace_minutes, open_ticket=True),
        senders=Senders(sms_from="+15005550006"),
    )


def test_a_late_delivery_opens_one_ticket_on_the_customers_sms_conversation(stack, store, clock, probe):
    # Given a customer who never wrote to us, a shop that sends SMS, and delay detection that opens tickets
    team = with_ticket()
    shipped(store, clock, probe, team)
    # When the promised date passes and the scheduler runs twice
    first = tick(store, clock, probe, PROMISED + timedelta(minutes=1), team)
    second = tick(store, clock, probe, PROMISED + timedelta(minutes=2), team)
    # Then one ticket, tagged delivery_delayed, is on the conversation their SMS answer would open
    assert (first["tickets_opened"], second["tickets_opened"]) == (1, 0)
    (ticket,) = store.tickets.list_tickets(status=None, limit=10, cursor=None).tickets
    (contact,) = stack.contacts()
    assert ticket.tags == (DELAY_TAG,) and ticket.requester.contact_id == contact.id
    assert ticket.conversation_key == "sms:+15005550006:+821012345678"
    # With a note for the team, never shown to the customer
    (note,) = store.messages.latest_messages(ticket.id, limit=5)
    assert note.public is False and "1042" in (note.text or "")


def test_a_late_delivery_is_noted_on_the_customers_open_ticket(stack, store, clock, probe):
    # Given the customer wrote to us on Telegram earlier (an open ticket), and their order is late
    team = with_ticket()
    shipped(store, clock, probe, team)
    (contact,) = stack.contacts()
    message = InboundMessage(
        channel=Channel.TELEGRAM,
        channel_account_id="bot-1",
        conversation_id="5001",
        external_id="tg-1",
        sender=SenderIdentity(external_id="5001", display_name="김민준", phone_e164="+821012345678"),
        message_type="text",
        text="배송 언제 오나요?",
        provider_timestamp=T0 + timedelta(hours=2),
        received_at=T0 + timedelta(hours=2),
    )
    clock.now = T0 + timedelta(hours=2)
    record_inbound(message, store, sleep=lambda _: None)
    (ticket,) = store.tickets.list_tickets(status=None, limit=10, cursor=None).tickets
    assert ticket.requester.contact_id == contact.id
    # When the promised date passes
    tick(store, clock, probe, PROMISED + timedelta(minutes=1), team)
    tick(store, clock, probe, PROMISED + timedelta(minutes=2), team)
    # Then that ticket is tagged and carries the note once, and no other ticket is opened
    (after,) = store.tickets.list_tickets(status=None, limit=10, cursor=None).tickets
    assert after.id == ticket.id and DELAY_TAG in after.tags and after.message_count == 2
    notes = [m for m in store.messages.latest_messages(ticket.id, limit=5) if not m.public]
    assert len(notes) == 1
