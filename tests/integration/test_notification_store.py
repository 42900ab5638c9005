"""The notification and consent store on moto, as the sender, the receipts and the agents' API use it: a claim held
by one sender, settled once with everything a sent notification leaves behind, receipts moving forward only, and
consent recorded newest-wins on contacts old and new."""

from __future__ import annotations

from datetime import timedelta

import pytest

from switchboard.errors import InvalidRequest
from switchboard.models import (
    AuthorKind,
    Channel,
    Contact,
    DeliveryStatus,
    Direction,
    InboundMessage,
    NotifyChannel,
    SenderIdentity,
    TicketMessage,
    stable_id,
)
from switchboard.notifications.models import ChannelTry, NotificationState
from switchboard.proactive.order_events import process
from switchboard.store.repositories import Repositories
from switchboard.store.table import Table, WriteConflict, contact_key, key, to_attributes
from switchboard.tickets.writer import record_inbound
from tests.support.orders import T0, BrokenQueue, Clock, E, items, rules, shop_event

LEASE = timedelta(seconds=120)


@pytest.fixture
def store(stack) -> Repositories:
    return Repositories.on(stack.dynamodb, stack.table_name, clock=Clock())


def queued_notification(store, order_id: str = "A-1042", at=T0) -> str:
    processed = process(
        shop_event(E.SHIPMENT_IN_TRANSIT, order_id=order_id, at=at),
        store=store,
        rules_of=rules,
        queue=BrokenQueue(),
        now=at,
        sleep=lambda _: None,
    )
    assert processed.notification_id is not None
    return processed.notification_id


def test_one_sender_holds_a_notification_at_a_time_and_only_once_due(store):
    notification_id = queued_notification(store)
    claim = store.notifications.claim(notification_id, now=T0, lease=LEASE)
    # Given one sender holds it, a second sender (a repeated queue message) gets nothing while the lease runs
    assert claim is not None and claim.notification.state is NotificationState.SENDING and claim.notification.tries == 1
    assert store.notifications.claim(notification_id, now=T0 + timedelta(seconds=30), lease=LEASE) is None
    # When the first defers it to quiet hours' end
    ends = T0 + timedelta(hours=8)
    deferred = (ChannelTry(channel=NotifyChannel.SMS, outcome="skipped", code="quiet_hours", at=T0),)
    assert store.notifications.defer(claim.notification, due_at=ends, reason="quiet_hours", tries_by_channel=deferred)
    # Then nobody may claim it before then, and anyone may after
    assert store.notifications.claim(notification_id, now=ends - timedelta(minutes=1), lease=LEASE) is None
    again = store.notifications.claim(notification_id, now=ends, lease=LEASE)
    assert again is not None and not again.interrupted and again.notification.tries == 2
    assert again.notification.deferred_reason == "quiet_hours" and again.notification.tries_by_channel == deferred
    # And the earlier claim can settle nothing
    assert not store.notifications.defer(claim.notification, due_at=ends, reason="retry", tries_by_channel=())


def test_a_sent_notification_is_settled_with_its_receipt_index_its_contacts_last_notification_and_its_ticket_copy(
    stack, store
):
    # Given a customer with an open Telegram ticket, and their notification claimed by a sender
    notification_id = queued_notification(store)
    (contact,) = stack.contacts()
    message = InboundMessage(
        channel=Channel.TELEGRAM,
        channel_account_id="bot-1",
        conversation_id="5001",
        external_id="tg-1",
        sender=SenderIdentity(external_id="5001", display_name="김민준", phone_e164="+821012345678"),
        message_type="text",
        text="안녕하세요",
        provider_timestamp=T0,
        received_at=T0,
    )
    record_inbound(message, store, sleep=lambda _: None)
    (ticket,) = store.tickets.list_tickets(status=None, limit=5, cursor=None).tickets
    claim = store.notifications.claim(notification_id, now=T0, lease=LEASE)
    assert claim is not None
    # When it is sent by SMS and recorded with its copy for the ticket
    sent_at = T0 + timedelta(seconds=2)
    copy = TicketMessage(
        id=stable_id("m", "sms", "SM123"),
        ticket_id=ticket.id,
        channel=Channel.SMS,
        external_id="SM123",
        direction=Direction.OUTBOUND,
        author_kind=AuthorKind.SYSTEM,
        message_type="notification",
        text="[민준상회] 1042 shipment.in_transit",
        delivery_status=DeliveryStatus.SENT,
        created_at=sent_at,
        received_at=sent_at,
    )
    recorded = store.notifications.record_sent(
        claim.notification,
        channel=NotifyChannel.SMS,
        account_id="+15005550006",
        provider_message_id="SM123",
        tries_by_channel=(ChannelTry(channel=NotifyChannel.SMS, outcome="sent", at=sent_at),),
        now=sent_at,
        ticket_message=copy,
        ticket_id=ticket.id,
    )
    # Then the notification is sent, out of the due index, on that channel and ticket
    assert recorded
    sent = store.notifications.notification(notification_id)
    assert sent is not None and sent.state is NotificationState.SENT
    assert (sent.channel, sent.provider_message_id, sent.ticket_id) == (NotifyChannel.SMS, "SM123", ticket.id)
    (item,) = [i for i in items(stack, "NOTIFY#") if i["sk"] == "NOTIFY"]
    assert "notify_due_pk" not in item and "lease_until" not in item
    # And the provider's id leads receipts to the notification and to the ticket's copy
    index = stack.dynamodb.get_item(TableName=stack.table_name, Key=key("MESSAGE#sms#SM123", "MESSAGE"))["Item"]
    assert (index["notification_id"]["S"], index["ticket_id"]["S"]) == (notification_id, ticket.id)
    ref = store.messages.message_ref("sms", "SM123")
    assert ref is not None and ref.ticket_id == ticket.id
    # And the ticket shows it as its second message
    after = store.tickets.ticket(ticket.id)
    assert after is not None and after.ticket.message_count == 2
    assert [m.text for m in store.messages.latest_messages(ticket.id, limit=5)][0] == copy.text  # newest first
    # And the contact remembers it, so a reply soon after shows the order it answered
    remembered = store.contacts.contact(contact.id)
    assert remembered is not None and remembered.last_notification is not None
    assert (remembered.last_notification.notification_id, remembered.last_notification.order_id) == (
        notification_id,
        "A-1042",
    )
    # And a second settle (a sender whose lease was taken over) changes nothing
    assert not store.notifications.record_final(
        claim.notification, state=NotificationState.UNKNOWN, tries_by_channel=(), now=sent_at
    )


def test_a_sent_notification_without_a_ticket_is_indexed_for_its_receipts_alone(stack, store):
    notification_id = queued_notification(store)
    claim = store.notifications.claim(notification_id, now=T0, lease=LEASE)
    assert claim is not None
    assert store.notifications.record_sent(
        claim.notification,
        channel=NotifyChannel.ALIMTALK,
        account_id="sender-key",
        provider_message_id="req-1",
        tries_by_channel=(),
        now=T0,
        ticket_message=None,
        ticket_id=None,
    )
    # Then the receipt index is on the timeline channel (kakao), naming the notification and no ticket
    index = stack.dynamodb.get_item(TableName=stack.table_name, Key=key("MESSAGE#kakao#req-1", "MESSAGE"))["Item"]
    assert index["notification_id"]["S"] == notification_id and "ticket_id" not in index


def test_receipts_move_a_notifications_delivery_forward_only(store):
    notification_id = queued_notification(store)
    # When receipts arrive out of order and repeated
    moved = [
        store.notifications.record_delivery(notification_id, status, T0 + timedelta(seconds=n))
        for n, status in enumerate(
            (DeliveryStatus.SENT, DeliveryStatus.READ, DeliveryStatus.DELIVERED, DeliveryStatus.READ)
        )
    ]
    # Then only the steps forward are recorded, and a receipt for no notification records nothing
    assert moved == [True, True, False, False]
    notification = store.notifications.notification(notification_id)
    assert notification is not None and notification.delivery_status == "read"
    assert not store.notifications.record_delivery("ntf_unknown", DeliveryStatus.DELIVERED, T0)


def test_a_contacts_notifications_are_listed_newest_first_a_page_at_a_time(stack, store):
    for n in range(3):
        queued_notification(store, order_id=f"A-{n}", at=T0 + timedelta(minutes=n))
    (contact,) = stack.contacts()
    first, cursor = store.notifications.notifications_of(contact.id, limit=2)
    second, end = store.notifications.notifications_of(contact.id, limit=2, cursor=cursor)
    assert [n.order_id for n in first + second] == ["A-2", "A-1", "A-0"] and end is None
    orders, _ = store.orders.orders_of(contact.id, limit=10)
    assert len(orders) == 3
    # And a cursor from another listing is refused as a client's error
    with pytest.raises(InvalidRequest):
        store.orders.orders_of(contact.id, limit=2, cursor=cursor)


# -- consent ---------------------------------------------------------------------------------------------------


def old_contact(stack, contact_id: str = "c_old") -> str:
    """A contact stored before consent existed: no `consent` attribute at all."""
    document = Contact(id=contact_id, identities=(), created_at=T0 - timedelta(days=400)).model_dump(mode="json")
    document.pop("consent")
    stack.dynamodb.put_item(TableName=stack.table_name, Item={**contact_key(contact_id), **to_attributes(document)})
    return contact_id


def test_an_opt_out_is_recorded_on_a_contact_stored_before_consent_existed(stack, store):
    contact_id = old_contact(stack)
    # When they send STOP on SMS
    assert store.contacts.record_consent(contact_id, NotifyChannel.SMS, True, T0, "keyword:STOP")
    # Then the contact is opted out of SMS, and nothing else
    contact = store.contacts.contact(contact_id)
    assert contact is not None
    assert contact.consent.channels["sms"].opted_out and contact.consent.channels["sms"].by == "keyword:STOP"
    assert set(contact.consent.channels) == {"sms"}


def test_a_late_keyword_never_undoes_a_newer_one(stack, store):
    contact_id = old_contact(stack)
    # Given START at T0+1 min recorded, then a STOP sent at T0 arriving late
    assert store.contacts.record_consent(
        contact_id, NotifyChannel.SMS, False, T0 + timedelta(minutes=1), "keyword:START"
    )
    assert not store.contacts.record_consent(contact_id, NotifyChannel.SMS, True, T0, "keyword:STOP")
    assert store.contacts.consent_actions(contact_id, NotifyChannel.SMS, True, T0, "keyword:STOP") == []
    # Then START stands; a newer STOP on another channel is its own
    assert store.contacts.record_consent(contact_id, NotifyChannel.EMAIL, True, T0, "api")
    contact = store.contacts.contact(contact_id)
    assert contact is not None
    assert not contact.consent.channels["sms"].opted_out and contact.consent.channels["email"].opted_out
    # And no contact, no record
    assert not store.contacts.record_consent("c_nobody", NotifyChannel.SMS, True, T0, "api")


def test_consent_actions_conflict_when_consent_changed_after_they_were_read(stack, store):
    contact_id = old_contact(stack)
    # Given actions built from the consent as read
    actions = store.contacts.consent_actions(contact_id, NotifyChannel.SMS, True, T0, "keyword:STOP")
    # When another change lands first
    store.contacts.record_consent(contact_id, NotifyChannel.SMS, False, T0 + timedelta(seconds=1), "keyword:START")
    # Then committing them conflicts (the caller reads again), rather than overwriting it
    with pytest.raises(WriteConflict):
        Table(stack.dynamodb, stack.table_name).transact(actions, first_is_message_index=False)


def test_advertising_consent_and_a_preferred_channel_are_set_and_withdrawn(stack, store):
    contact_id = old_contact(stack)
    # When an agent records advertising consent, night consent and a preferred channel
    given = store.contacts.set_consent(
        contact_id,
        advertising=True,
        night_advertising=True,
        preferred_channel=NotifyChannel.ALIMTALK,
        clear_preferred=False,
        at=T0,
    )
    assert given is not None
    assert (given.consent.advertising_at, given.consent.night_advertising_at) == (T0, T0)
    assert given.consent.preferred_channel is NotifyChannel.ALIMTALK
    # Then withdraws night consent and clears the preference, leaving the rest
    withdrawn = store.contacts.set_consent(
        contact_id,
        advertising=None,
        night_advertising=False,
        preferred_channel=None,
        clear_preferred=True,
        at=T0 + timedelta(days=1),
    )
    assert withdrawn is not None
    assert (withdrawn.consent.advertising_at, withdrawn.consent.night_advertising_at) == (T0, None)
    assert withdrawn.consent.preferred_channel is None
    # And there is no such contact: None
    assert (
        store.contacts.set_consent(
            "c_nobody", advertising=True, night_advertising=None, preferred_channel=None, clear_preferred=False, at=T0
        )
        is None
    )
