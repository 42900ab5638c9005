"""Items that grow with a ticket's or a contact's life stay bounded: each list keeps its first entries up to
its documented maximum, and every write to an item driven to its worst case still succeeds, far below
DynamoDB's 400 KB item limit, with nothing dead-lettered."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from switchboard.models import (
    MAX_CONTACT_FOLLOWS,
    MAX_CONTACT_IDENTITIES,
    MAX_TICKET_CC,
    Channel,
    ChannelIdentity,
    InboundMessage,
    SenderIdentity,
)
from switchboard.tickets.writer import Outcome, record_event
from tests.support.drivers import Customer
from tests.support.drivers.email import SesDriver, raw_mail

SENT = datetime(2025, 6, 8, 12, 0, tzinfo=UTC)
MINJUN = Customer("minjun.kim@example.com", "김민준")
DYNAMODB_ITEM_LIMIT = 400 * 1024


def item_bytes(item: dict) -> int:
    """An upper estimate of an item's DynamoDB size: its attribute names and values as JSON."""
    return len(json.dumps(item, ensure_ascii=False).encode())


def largest_item(stack) -> int:
    return max(item_bytes(item) for item in stack.table_items())


def copied(mail: int, position: int) -> str:
    # 243 characters: as long as an address gets after the intake's cut to RFC 5321's 254.
    return f"copied.{mail:02d}.{position:02d}.{'x' * 200}@customers.example.com"


def test_a_thread_copying_ever_more_addresses_keeps_its_first_100_and_every_mail(stack):
    ses = stack.channel(SesDriver())
    mails = 40
    # Given a thread on which each of 40 mails copies 50 new long addresses (2,000 in all, ~480 KB of them)
    for mail in range(mails):
        cc = ", ".join(copied(mail, position) for position in range(50))
        raw = raw_mail(
            MINJUN,
            message_id=f"cc-{mail:02d}@mail.example.com",
            text=f"{mail}번째 메일입니다",
            sent_at=SENT + timedelta(minutes=mail),
            thread_headers=mail > 0,
            in_reply_to="cc-00@mail.example.com" if mail else None,
            extra_headers=(("Cc", cc),),
        )
        # When each is delivered and written
        assert ses.deliver(raw).status == 200
        assert stack.drain_queue().failed_records == 0
    # Then every mail is on the one ticket, which lists the first 100 addresses in the order they came
    (listed,) = stack.tickets()
    ticket = stack.ticket(listed["id"])
    assert len(ticket["messages"]) == mails
    assert ticket["ticket"]["cc"] == [copied(0, p) for p in range(50)] + [copied(1, p) for p in range(50)]
    assert len(ticket["ticket"]["cc"]) == MAX_TICKET_CC
    # ... each mail keeps its own Cc list, nothing was dead-lettered, and no item nears the limit
    assert ticket["messages"][-1]["email"]["cc"][0] == copied(mails - 1, 0)
    assert stack.dead_lettered_count() == 0
    assert largest_item(stack) < DYNAMODB_ITEM_LIMIT // 4


def whatsapp_from(account: int, at: datetime) -> InboundMessage:
    """The same customer (one phone number) writing to our business number `account`."""
    return InboundMessage(
        channel=Channel.WHATSAPP,
        channel_account_id=f"10654035224{account:04d}",
        conversation_id="821012345678",
        external_id=f"wamid.bounded-{account:04d}",
        sender=SenderIdentity(external_id="821012345678", display_name="김민준", phone_e164="+821012345678"),
        message_type="text",
        text="배송 문의",
        provider_timestamp=at,
        received_at=at + timedelta(seconds=1),
    )


def test_a_customer_writing_to_ever_more_accounts_stays_one_contact_that_lists_its_first_50(stack):
    store = stack.repositories()
    accounts = MAX_CONTACT_IDENTITIES + 15
    # Given one customer (one verified phone number) writing to 65 of our WhatsApp numbers
    outcomes = [
        record_event(whatsapp_from(account, SENT + timedelta(minutes=account)), store) for account in range(accounts)
    ]
    # Then every message opened its ticket, all of them for one contact
    assert outcomes == [Outcome.OPENED] * accounts
    (contact,) = stack.contacts()
    assert {t["requester"]["contact_id"] for t in stack.tickets()} == {contact.id}
    # ... which lists its first 50 identities, while every identity, listed or not, still resolves to it
    assert [identity.channel_account_id for identity in contact.identities] == [
        f"10654035224{a:04d}" for a in range(MAX_CONTACT_IDENTITIES)
    ]
    for account in range(accounts):
        identity = ChannelIdentity(
            channel=Channel.WHATSAPP, channel_account_id=f"10654035224{account:04d}", external_id="821012345678"
        )
        assert store.contacts.contact_id_for(identity) == contact.id
    assert largest_item(stack) < DYNAMODB_ITEM_LIMIT // 4


def test_a_contact_records_the_follow_state_of_its_first_50_identities_and_keeps_updating_them(stack):
    store = stack.repositories()
    # Given a contact
    record_event(whatsapp_from(0, SENT), store)
    (contact,) = stack.contacts()
    identities = [
        ChannelIdentity(channel=Channel.LINE, channel_account_id=f"U{account:032x}", external_id=f"U{account + 1:032x}")
        for account in range(MAX_CONTACT_FOLLOWS + 10)
    ]
    # When 60 identities of it follow the account
    recorded = [
        store.contacts.record_follow(contact.id, identity, True, SENT + timedelta(minutes=1)) for identity in identities
    ]
    # Then the first 50 are recorded and the rest are not, and a recorded one still takes newer changes
    assert recorded == [True] * MAX_CONTACT_FOLLOWS + [False] * 10
    assert store.contacts.record_follow(contact.id, identities[0], False, SENT + timedelta(minutes=2)) is True
    (contact,) = stack.contacts()
    assert len(contact.follows) == MAX_CONTACT_FOLLOWS and contact.follows[identities[0].key].following is False
    assert largest_item(stack) < DYNAMODB_ITEM_LIMIT // 4
