"""Shop events through the order processor on moto: who the order is for, what it becomes, and the one notification
each event calls for, at chosen instants."""

from __future__ import annotations

from datetime import timedelta

import pytest

from switchboard.models import ChannelIdentity, Contact, stable_id
from switchboard.notifications.models import NotificationState
from switchboard.orders.events import OrderCustomer
from switchboard.proactive.order_events import Outcome, notification_id_for, process, process_order_events
from switchboard.store.repositories import Repositories
from tests.support.orders import (
    MINJUN,
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
    sqs_record,
)

RULES = rules()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(stack, clock) -> Repositories:
    return Repositories.on(stack.dynamodb, stack.table_name, clock=clock)


@pytest.fixture
def probe(stack) -> QueueProbe:
    return QueueProbe(stack.sqs)


def run(store, probe, event, at=T0, the_rules=RULES):
    return process(event, store=store, rules_of=lambda: the_rules, queue=probe.queue, now=at, sleep=lambda _: None)


def test_a_new_customers_shipment_makes_their_contact_their_order_and_one_queued_notification(stack, store, probe):
    # Given a customer we have never heard of
    # When the shop says their order is in transit
    processed = run(store, probe, shop_event(E.SHIPMENT_IN_TRANSIT, promised=PROMISED))
    # Then a contact is made from what the shop knows, found from now on by the shop's id, the phone and the email
    assert processed.outcome is Outcome.NOTIFIED
    (contact,) = stack.contacts()
    assert (contact.display_name, contact.phone_e164, contact.email, contact.locale, contact.timezone) == (
        "김민준",
        "+821012345678",
        "min@example.com",
        "ko-KR",
        "Asia/Seoul",
    )
    assert store.contacts.contact_for_customer("generic", "minjun-shop", OrderCustomer(id="cus_77")) == contact.id
    assert (
        store.contacts.contact_for_customer("generic", "other", OrderCustomer(phone="+82 10-1234-5678")) == contact.id
    )
    assert store.contacts.contact_for_customer("generic", "other", OrderCustomer(email="MIN@example.com")) == contact.id
    # And the order is the contact's, its shipment in transit
    order = store.orders.order("generic#minjun-shop#A-1042")
    assert order is not None and order.contact_id == contact.id and order.version == 1
    assert order.shipments["S-1"].status is E.SHIPMENT_IN_TRANSIT
    # And one notification is queued, its facts frozen in the customer's language
    notification_id = notification_id_for(order.order_key, E.SHIPMENT_IN_TRANSIT, contact.id)
    assert probe.taken() == [notification_id] == [processed.notification_id]
    notification = store.notifications.notification(notification_id)
    assert notification is not None
    assert (notification.state, notification.contact_id, notification.order_number, notification.due_at) == (
        NotificationState.QUEUED,
        contact.id,
        "1042",
        T0,
    )
    assert notification.facts["order_number"] == "1042" and notification.facts["carrier"] == "CJ대한통운"
    assert notification.facts["shop_name"] == "민준상회"
    # And the agents see the order and the notification on the contact
    assert [o.order_key for o in store.orders.orders_of(contact.id)[0]] == [order.order_key]
    assert [n.id for n in store.notifications.notifications_of(contact.id)[0]] == [notification_id]


def test_a_redelivered_event_changes_nothing_and_queues_nothing(stack, store, probe):
    # Given an event processed once
    event = shop_event(E.SHIPMENT_IN_TRANSIT)
    run(store, probe, event)
    probe.taken()
    before = stack.table_items()
    # When it is delivered again, an hour later (Shopify retries for 4 hours)
    processed = run(store, probe, event, at=T0 + timedelta(hours=1))
    # Then it is a duplicate: the table is as it was and nothing is queued
    assert processed.outcome is Outcome.DUPLICATE
    assert stack.table_items() == before
    assert probe.taken() == []
    assert store.orders.event_seen(event.dedup_key)


def test_in_transit_after_delivered_sends_nothing_and_the_shipment_stays_delivered(stack, store, probe):
    # Given a shipment delivered
    run(store, probe, shop_event(E.SHIPMENT_DELIVERED, at=T0 + timedelta(hours=5)))
    probe.taken()
    # When a late in_transit scan arrives afterwards
    processed = run(store, probe, shop_event(E.SHIPMENT_IN_TRANSIT, at=T0 + timedelta(hours=1)))
    # Then nothing is sent and the shipment did not move backward
    assert processed.outcome is Outcome.RECORDED and processed.notification_id is None
    assert probe.taken() == []
    assert [n["event_type"] for n in items(stack, "NOTIFY#") if n["sk"] == "NOTIFY"] == ["shipment.delivered"]
    order = store.orders.order("generic#minjun-shop#A-1042")
    assert order is not None and order.shipments["S-1"].status is E.SHIPMENT_DELIVERED


def test_two_events_saying_the_same_thing_make_one_notification(stack, store, probe):
    # Given an order in transit, told to the customer
    run(store, probe, shop_event(E.SHIPMENT_IN_TRANSIT, event_id="evt-1"))
    # When the shop sends the same step again under another event id (a second fulfillment event, a replay)
    processed = run(store, probe, shop_event(E.SHIPMENT_OUT_FOR_DELIVERY, event_id="evt-2", at=T0 + timedelta(hours=1)))
    again = run(store, probe, shop_event(E.SHIPMENT_OUT_FOR_DELIVERY, event_id="evt-3", at=T0 + timedelta(hours=2)))
    # Then both are recorded and the customer hears of each step once
    assert (processed.outcome, again.outcome) == (Outcome.NOTIFIED, Outcome.RECORDED)
    assert sorted(n["event_type"] for n in items(stack, "NOTIFY#") if n["sk"] == "NOTIFY") == [
        "shipment.in_transit",
        "shipment.out_for_delivery",
    ]
    assert len(items(stack, "ORDEREVENT#")) == 3


def test_an_event_naming_nobody_records_the_order_and_notifies_nobody(stack, store, probe):
    # Given an event whose customer has no id, no usable phone and no email
    nobody = OrderCustomer(name="guest", phone="call me maybe")
    # When it is processed
    processed = run(store, probe, shop_event(E.SHIPMENT_IN_TRANSIT, customer=nobody, promised=PROMISED))
    # Then the order is kept without a contact, no contact is made, nothing is queued, nothing is watched
    assert processed.outcome is Outcome.NO_CONTACT
    order = store.orders.order("generic#minjun-shop#A-1042")
    assert order is not None and order.contact_id is None
    assert stack.contacts() == [] and probe.taken() == [] and due_entries(stack) == []


def test_a_known_contact_is_found_by_phone_and_only_what_it_lacks_is_filled(stack, store, probe):
    # Given a contact who wrote to us on WhatsApp, English-speaking, with no email known
    identity = ChannelIdentity(channel="whatsapp", channel_account_id="pn-1", external_id="821012345678")
    known = Contact(
        id="c_known",
        display_name="Minjun",
        phone_e164="+821012345678",
        identities=(identity,),
        created_at=T0 - timedelta(days=30),
        locale="en-US",
    )
    store.contacts.create_contact(known)
    # When the shop's event names the same phone, an email, Korean and Seoul
    run(store, probe, shop_event(E.SHIPMENT_IN_TRANSIT))
    # Then the event is theirs; their email and time zone are filled, their locale and name kept
    (contact,) = stack.contacts()
    assert contact.id == "c_known"
    assert (contact.display_name, contact.email, contact.locale, contact.timezone) == (
        "Minjun",
        "min@example.com",
        "en-US",
        "Asia/Seoul",
    )
    # And the shop's customer id and the email now find them too
    assert store.contacts.contact_for_customer("generic", "minjun-shop", OrderCustomer(id="cus_77")) == "c_known"
    assert store.contacts.contact_for_customer("generic", "x", OrderCustomer(email="min@example.com")) == "c_known"


def test_a_contact_known_without_a_phone_takes_the_orders_number_and_is_found_by_it(stack, store, probe):
    # Given a contact the shop knows by its customer id only (an earlier order gave no phone)
    run(store, probe, shop_event(E.ORDER_PLACED, order_id="A-1", customer=OrderCustomer(id="cus_77", name="민준")))
    # When a later order of that customer names their number
    run(
        store,
        probe,
        shop_event(E.ORDER_PLACED, order_id="A-2", customer=OrderCustomer(id="cus_77", phone="+821012345678")),
    )
    # Then the contact has it (AlimTalk and SMS can reach them), and the number finds them
    (contact,) = stack.contacts()
    assert contact.phone_e164 == "+821012345678"
    assert store.contacts.contact_for_customer("generic", "x", OrderCustomer(phone="+821012345678")) == contact.id


def test_the_shops_customer_id_comes_before_the_phone_and_the_phone_before_the_email(stack, store, probe):
    # Given three contacts: one the shop's customer id names, one with the phone, one with the email
    for order_id, customer in (
        ("A-1", OrderCustomer(id="cus_77", name="by id")),
        ("A-2", OrderCustomer(phone="+821012345678", name="by phone")),
        ("A-3", OrderCustomer(email="min@example.com", name="by email")),
    ):
        run(store, probe, shop_event(E.ORDER_PLACED, order_id=order_id, customer=customer))
    by_name = {contact.display_name: contact.id for contact in stack.contacts()}
    assert len(by_name) == 3
    # When events name several of them at once
    run(store, probe, shop_event(E.ORDER_PLACED, order_id="B-1", customer=MINJUN))
    run(store, probe, shop_event(E.ORDER_PLACED, order_id="B-2", customer=MINJUN.model_copy(update={"id": None})))
    # Then the shop's id wins, then the phone
    assert store.orders.order("generic#minjun-shop#B-1").contact_id == by_name["by id"]  # type: ignore[union-attr]
    assert store.orders.order("generic#minjun-shop#B-2").contact_id == by_name["by phone"]  # type: ignore[union-attr]
    assert len(stack.contacts()) == 3


def test_an_order_keeps_its_contact_whatever_later_events_say(stack, store, probe):
    # Given an order made for the shop's customer cus_77
    run(store, probe, shop_event(E.ORDER_PLACED))
    (contact,) = stack.contacts()
    # When a later event of the same order carries only someone else's email
    other = OrderCustomer(email="someone.else@example.com")
    run(store, probe, shop_event(E.SHIPMENT_IN_TRANSIT, customer=other, at=T0 + timedelta(hours=1)))
    # Then the order and its notification stay with the order's contact
    order = store.orders.order("generic#minjun-shop#A-1042")
    assert order is not None and order.contact_id == contact.id
    assert [n["contact_id"] for n in items(stack, "NOTIFY#") if n["sk"] == "NOTIFY"] == [contact.id]


def test_event_types_the_rules_leave_out_are_recorded_without_a_notification(stack, store, probe):
    # Given rules where only deliveries notify
    only_delivered = rules(E.SHIPMENT_DELIVERED)
    # When an order is placed and shipped
    placed = run(store, probe, shop_event(E.ORDER_PLACED), the_rules=only_delivered)
    shipped = run(store, probe, shop_event(E.SHIPMENT_CREATED, at=T0 + timedelta(hours=1)), the_rules=only_delivered)
    # Then both are recorded and nothing is sent
    assert (placed.outcome, shipped.outcome) == (Outcome.RECORDED, Outcome.RECORDED)
    assert items(stack, "NOTIFY#") == [] and probe.taken() == []


def test_a_promised_date_puts_the_order_in_the_due_index_until_delivered(stack, store, probe):
    # Given a shipment promised for tomorrow 18:00 Seoul time
    run(store, probe, shop_event(E.SHIPMENT_CREATED, promised=PROMISED))
    order_pk = "ORDER#generic#minjun-shop#A-1042"
    # Then the order waits in ByNotifyDue at its promised time (beside its notification, due now)
    entries = due_entries(stack)
    assert (order_pk, "ORDER") in entries
    (order_item,) = items(stack, "ORDER#")
    assert order_item["notify_due_sk"] == f"2026-12-04T09:00:00.000000Z#{order_pk}"
    assert order_item["notify_due_pk"].startswith("NOTIFYDUE#2026-12-04T09:00#")
    # When it is delivered before then
    run(store, probe, shop_event(E.SHIPMENT_DELIVERED, at=T0 + timedelta(hours=20)))
    # Then the order leaves the index
    assert (order_pk, "ORDER") not in due_entries(stack)


def test_a_lost_enqueue_leaves_the_notification_due_for_the_scheduler(stack, store):
    # Given a queue that cannot be reached
    broken = BrokenQueue()
    # When an event is processed
    processed = process(
        shop_event(E.SHIPMENT_IN_TRANSIT),
        store=store,
        rules_of=lambda: RULES,
        queue=broken,
        now=T0,
        sleep=lambda _: None,
    )
    # Then it still succeeds, and its notification waits in ByNotifyDue at its due time
    assert processed.outcome is Outcome.NOTIFIED and broken.tries == 1
    assert (f"NOTIFY#{processed.notification_id}", "NOTIFY") in due_entries(stack)


def test_a_batch_stops_at_its_first_failure_and_returns_the_rest(stack, store, probe):
    # Given a batch of three events of which the second is not an order event
    first = shop_event(E.SHIPMENT_IN_TRANSIT, order_id="A-1")
    third = shop_event(E.SHIPMENT_IN_TRANSIT, order_id="A-3")
    records = [sqs_record(first, "m1"), {"messageId": "m2", "body": '{"not": "an event"}'}, sqs_record(third, "m3")]
    # When the batch is processed
    response = process_order_events(records, store=store, rules_of=lambda: RULES, queue=probe.queue, now=T0)
    # Then the first is done, and the second and everything after it go back to the queue, in order
    assert response == {"batchItemFailures": [{"itemIdentifier": "m2"}, {"itemIdentifier": "m3"}]}
    assert store.orders.event_seen(first.dedup_key) and not store.orders.event_seen(third.dedup_key)


def test_a_new_contacts_id_is_the_same_on_every_retry(stack, store, probe):
    # Given the id a new customer's contact gets
    run(store, probe, shop_event(E.ORDER_PLACED))
    (contact,) = stack.contacts()
    # Then it derives from the shop's customer id, so a retry or a racing event builds the same contact
    assert contact.id == stable_id("c", "order-customer", "shop:generic#minjun-shop#cus_77")


def test_an_order_with_the_longest_shop_and_order_id_in_a_wide_script_is_stored_and_watched(stack, store, probe):
    # Given an event whose shop (255 characters) and order id (128) take three bytes a character
    event = shop_event(E.SHIPMENT_CREATED, promised=PROMISED)
    event = event.model_copy(update={"shop": "가" * 255, "order": event.order.model_copy(update={"id": "나" * 128})})
    # When it is processed
    processed = run(store, probe, event)
    # Then the order is stored, watched in ByNotifyDue, listed on its contact, and notified
    assert processed.outcome is Outcome.NOTIFIED
    order = store.orders.order(event.order_key)
    assert order is not None and order.order_id == "나" * 128
    assert any(sk == "ORDER" for _, sk in due_entries(stack))
    (contact,) = stack.contacts()
    assert [o.order_key for o in store.orders.orders_of(contact.id)[0]] == [event.order_key]
