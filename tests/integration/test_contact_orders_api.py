"""What agents see of a customer's orders on moto: GET /contacts/{id}/orders and /notifications, newest first a page
at a time; the ticket read showing the requester's newest orders (one more Query, nothing asked of the customer);
and PATCH /contacts/{id} recording consent beside the tags, which GET /contacts/{id} then shows.

Orders and notifications are stored through their repositories as the order processor stores them (store/orders.py
save_order, store/notifications.py new_notification_actions). The contact routes are called through the tickets
API's and the agents' writes' handlers; the ticket read through its deployed function."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from switchboard.api.agent_writes import handle_agent_write
from switchboard.api.tickets import handle_tickets_api
from switchboard.config import AccessSettings
from switchboard.models import Channel, InboundMessage, NotifyChannel, SenderIdentity, Ticket
from switchboard.notifications.models import Category, ChannelTry, Notification, NotificationState
from switchboard.orders.events import OrderCustomer, OrderEventType, OrderSource
from switchboard.orders.state import OrderState, ShipmentState
from switchboard.outbound.queue import OutboundQueue
from switchboard.store.repositories import Repositories
from switchboard.store.table import Table
from switchboard.tickets.writer import record_inbound
from tests.support.lambda_events import AGENT_CLAIMS, NO_ROLE_CLAIMS, HttpResponse, http_api_event

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
SEOUL = "Asia/Seoul"


@pytest.fixture
def store(stack) -> Repositories:
    return Repositories.on(stack.dynamodb, stack.table_name)


def customer_writes(store: Repositories, at: datetime, *, user: str = "1001") -> Ticket:
    """A customer's Telegram message opens their ticket (and makes them a contact)."""
    message = InboundMessage(
        channel=Channel.TELEGRAM,
        channel_account_id="bot-1",
        conversation_id=user,
        external_id=f"{user}-{at.timestamp()}",
        sender=SenderIdentity(external_id=user, display_name="김민지"),
        message_type="text",
        text="제 주문 어디쯤 왔나요?",
        provider_timestamp=at,
        received_at=at,
    )
    record_inbound(message, store, sleep=lambda _: None)
    ticket_id = store.tickets.current_ticket_id(f"telegram:bot-1:{user}")
    assert ticket_id is not None
    found = store.tickets.ticket(ticket_id)
    assert found is not None
    return found.ticket


def order_of(contact_id: str, number: int, *, placed_at: datetime, shipped: bool = True) -> OrderState:
    """Order A-<number>, placed at `placed_at`, with one CJ대한통운 shipment in transit promised two days later."""
    shipments = {}
    if shipped:
        shipments["S-1"] = ShipmentState(
            id="S-1",
            status=OrderEventType.SHIPMENT_IN_TRANSIT,
            carrier="CJ대한통운",
            tracking_number=f"65432109{number:02d}",
            tracking_url=f"https://trace.example/65432109{number:02d}",
            promised_delivery_at=placed_at + timedelta(days=2),
            updated_at=placed_at + timedelta(days=1),
            delay_apology_due=True,
        )
    return OrderState(
        order_key=f"generic#shop.example#A-{number}",
        source=OrderSource.GENERIC,
        shop="shop.example",
        order_id=f"A-{number}",
        number=str(1000 + number),
        placed_at=placed_at,
        contact_id=contact_id,
        customer=OrderCustomer(id="cus_77", phone="+821012345678", name="김민지", timezone=SEOUL),
        status=OrderEventType.ORDER_PAID,
        shipments=shipments,
        first_seen_at=placed_at,
        updated_at=placed_at + timedelta(days=1),
    )


def store_orders(store: Repositories, orders: list[OrderState]) -> None:
    for order in orders:
        store.orders.save_order(order, seen_version=0, delay_due_at=None, written_at=order.updated_at, also=[])


def notification_of(contact_id: str, number: int, *, created_at: datetime, **fields: Any) -> Notification:
    """The in-transit notification of order A-<number>, due when created unless `fields` say otherwise."""
    return Notification.model_validate(
        {
            "id": f"ntf_{number:024x}",
            "order_key": f"generic#shop.example#A-{number}",
            "order_id": f"A-{number}",
            "order_number": str(1000 + number),
            "event_type": OrderEventType.SHIPMENT_IN_TRANSIT,
            "event_id": f"evt_{number}",
            "contact_id": contact_id,
            "due_at": created_at,
            "created_at": created_at,
            "facts": {"order_number": str(1000 + number)},
            **fields,
        }
    )


def store_notifications(stack, store: Repositories, notifications: list[Notification]) -> None:
    table = Table(stack.dynamodb, stack.table_name)
    for notification in notifications:
        actions = store.notifications.new_notification_actions(notification, written_at=notification.created_at)
        table.transact(actions, first_is_message_index=False)


def agent_reads(store: Repositories, route: str, path: dict[str, str], query: dict[str, str] | None = None, **kw):
    """A read route of the tickets API, as API Gateway passes it on for an agent."""
    raw_path = route.split(" ", 1)[1]
    for name, value in path.items():
        raw_path = raw_path.replace(f"{{{name}}}", value)
    event = http_api_event(
        method="GET",
        path=raw_path,
        route_key=route,
        query=query,
        path_parameters=path,
        claims=kw.get("claims", AGENT_CLAIMS),
    )
    return HttpResponse.of(handle_tickets_api(event, store, AccessSettings(), clock=lambda: T0))


def orders_page(store: Repositories, contact_id: str, **query: str) -> HttpResponse:
    return agent_reads(store, "GET /contacts/{contact_id}/orders", {"contact_id": contact_id}, query)


def notifications_page(store: Repositories, contact_id: str, **query: str) -> HttpResponse:
    return agent_reads(store, "GET /contacts/{contact_id}/notifications", {"contact_id": contact_id}, query)


def patch_contact(stack, store: Repositories, contact_id: str, body: Any, at: datetime) -> HttpResponse:
    event = http_api_event(
        method="PATCH",
        path=f"/contacts/{contact_id}",
        route_key="PATCH /contacts/{contact_id}",
        path_parameters={"contact_id": contact_id},
        headers={"content-type": "application/json"},
        body=json.dumps(body, ensure_ascii=False).encode(),
        claims=AGENT_CLAIMS,
        at=at,
    )
    answer = handle_agent_write(
        event,
        store=store,
        access=AccessSettings(),
        queue=OutboundQueue(stack.sqs, stack.queue_url_of("OutboundQueue")),
        templates=(),
        clock=lambda: at,
    )
    return HttpResponse.of(answer)


# -- orders --------------------------------------------------------------------------------------------------------


def test_a_contacts_orders_are_listed_newest_first_a_page_at_a_time_and_only_theirs(stack, store):
    # Given a customer with seven orders placed a day apart, and another customer's order placed last of all
    contact_id = customer_writes(store, T0).requester.contact_id
    other_id = customer_writes(store, T0, user="2002").requester.contact_id
    store_orders(store, [order_of(contact_id, n, placed_at=T0 - timedelta(days=10 - n)) for n in range(7)])
    store_orders(store, [order_of(other_id, 99, placed_at=T0)])
    # When an agent reads their orders three at a time
    numbers: list[list[str]] = []
    query: dict[str, str] = {"limit": "3"}
    while True:
        response = orders_page(store, contact_id, **query)
        assert response.status == 200, response
        numbers.append([order["number"] for order in response.json()["orders"]])
        if response.json()["next_cursor"] is None:
            break
        query["cursor"] = response.json()["next_cursor"]
    # Then they come newest first, each once, and never the other customer's
    assert numbers == [["1006", "1005", "1004"], ["1003", "1002", "1001"], ["1000"]]


def test_an_order_shows_what_an_agent_answers_where_is_my_order_with(stack, store):
    # Given an order paid, shipped with CJ대한통운 and in transit, promised for 5 December
    contact_id = customer_writes(store, T0).requester.contact_id
    store_orders(store, [order_of(contact_id, 42, placed_at=T0 - timedelta(days=1))])
    # When an agent reads it
    (order,) = orders_page(store, contact_id).json()["orders"]
    # Then it shows the order's number and status and the shipment's carrier, tracking and promised date
    assert order == {
        "order_key": "generic#shop.example#A-42",
        "source": "generic",
        "shop": "shop.example",
        "order_id": "A-42",
        "number": "1042",
        "status": "order.paid",
        "placed_at": "2026-12-02T09:00:00Z",
        "shipments": [
            {
                "id": "S-1",
                "status": "shipment.in_transit",
                "carrier": "CJ대한통운",
                "tracking_number": "6543210942",
                "tracking_url": "https://trace.example/6543210942",
                "promised_delivery_at": "2026-12-04T09:00:00Z",
                "delivered_at": None,
                "updated_at": "2026-12-03T09:00:00Z",
            }
        ],
        "updated_at": "2026-12-03T09:00:00Z",
    }


def test_a_contact_with_no_orders_has_an_empty_list_and_an_unknown_contact_is_not_found(stack, store):
    contact_id = customer_writes(store, T0).requester.contact_id
    assert orders_page(store, contact_id).json() == {"orders": [], "next_cursor": None}
    assert notifications_page(store, contact_id).json() == {"notifications": [], "next_cursor": None}
    for response in (orders_page(store, "c_000000000000000000000000"), notifications_page(store, "c_" + "f" * 300)):
        assert (response.status, response.json()["error"]) == (404, "not_found")


def test_a_cursor_of_another_listing_or_contact_is_refused(stack, store):
    # Given a customer with two orders and two notifications, and another customer with orders
    contact_id = customer_writes(store, T0).requester.contact_id
    other_id = customer_writes(store, T0, user="2002").requester.contact_id
    store_orders(store, [order_of(contact_id, n, placed_at=T0 - timedelta(days=n)) for n in range(2)])
    store_orders(store, [order_of(other_id, n, placed_at=T0 - timedelta(days=n)) for n in range(10, 12)])
    cursor = orders_page(store, contact_id, limit="1").json()["next_cursor"]
    assert cursor
    # When the orders' cursor is sent to the notifications, or to another contact's orders, or is forged
    refused = [
        notifications_page(store, contact_id, cursor=cursor),
        orders_page(store, other_id, cursor=cursor),
        orders_page(store, contact_id, cursor="eyJub3QiOiJvdXJzIn0"),
        orders_page(store, contact_id, limit="0"),
    ]
    # Then each is a 400, never a 500 or another listing's items
    assert [(r.status, r.json()["error"]) for r in refused] == [(400, "invalid_request")] * 4


def test_only_agents_read_a_customers_orders(stack, store):
    contact_id = customer_writes(store, T0).requester.contact_id
    for route in ("GET /contacts/{contact_id}/orders", "GET /contacts/{contact_id}/notifications"):
        response = agent_reads(store, route, {"contact_id": contact_id}, claims=NO_ROLE_CLAIMS)
        assert (response.status, response.json()["error"]) == (403, "forbidden")


# -- the ticket read ---------------------------------------------------------------------------------------------


def test_the_ticket_read_shows_the_requesters_five_newest_orders_with_one_more_query(stack, store):
    # Given a customer's ticket, and seven orders of theirs (one not shipped yet)
    ticket = customer_writes(store, T0)
    contact_id = ticket.requester.contact_id
    orders = [order_of(contact_id, n, placed_at=T0 - timedelta(days=10 - n), shipped=n != 6) for n in range(7)]
    store_orders(store, orders)
    # When an agent opens the ticket, through the deployed tickets API
    with stack.requests_sent("dynamodb") as sent:
        response = stack.api_get(f"/tickets/{ticket.id}")
    # Then it shows the five newest orders, newest first: numbers, statuses and shipments
    assert response.status == 200, response
    shown = response.json()["requester_orders"]
    assert [order["number"] for order in shown] == ["1006", "1005", "1004", "1003", "1002"]
    assert shown[0]["shipments"] == []
    assert shown[1]["shipments"][0]["carrier"] == "CJ대한통운"
    assert shown[1]["shipments"][0]["tracking_number"] == "6543210905"
    assert shown[1]["shipments"][0]["promised_delivery_at"] == "2026-11-30T09:00:00Z"
    assert {order["status"] for order in shown} == {"order.paid"}
    # And reading them took one Query of the contact's orders beside the ticket's own reads
    assert sent.operations == ["GetItem", "Query", "Query"]


def test_a_ticket_whose_requester_has_no_orders_shows_none(stack, store):
    ticket = customer_writes(store, T0)
    response = stack.api_get(f"/tickets/{ticket.id}")
    assert (response.status, response.json()["requester_orders"]) == (200, [])


# -- notifications -------------------------------------------------------------------------------------------------


def test_a_contacts_notifications_are_listed_newest_first_with_the_channels_tried(stack, store):
    # Given a notification sent by SMS after AlimTalk refused it, one held by quiet hours, and one skipped
    contact_id = customer_writes(store, T0).requester.contact_id
    sent = notification_of(
        contact_id,
        1,
        created_at=T0 - timedelta(hours=3),
        state=NotificationState.SENT,
        channel=NotifyChannel.SMS,
        channel_account_id="+15005550006",
        provider_message_id="SM0123",
        delivery_status="delivered",
        tries=1,
        tries_by_channel=(
            ChannelTry(channel=NotifyChannel.ALIMTALK, outcome="rejected", code="3018", at=T0 - timedelta(hours=3)),
            ChannelTry(channel=NotifyChannel.SMS, outcome="sent", at=T0 - timedelta(hours=3)),
        ),
    )
    deferred = notification_of(
        contact_id,
        2,
        created_at=T0 - timedelta(hours=2),
        due_at=T0 + timedelta(hours=10),
        deferred_reason="quiet_hours",
    )
    skipped = notification_of(
        contact_id,
        3,
        created_at=T0 - timedelta(hours=1),
        state=NotificationState.SKIPPED,
        category=Category.TRANSACTIONAL,
    )
    store_notifications(stack, store, [sent, deferred, skipped])
    # When an agent reads them two at a time
    first = notifications_page(store, contact_id, limit="2").json()
    second = notifications_page(store, contact_id, limit="2", cursor=first["next_cursor"]).json()
    # Then they come newest first, each with its state, the channel that carried it and every channel tried
    listed = first["notifications"] + second["notifications"]
    assert [(n["order_number"], n["state"]) for n in listed] == [
        ("1003", "skipped"),
        ("1002", "queued"),
        ("1001", "sent"),
    ]
    assert second["next_cursor"] is None
    assert listed[1]["deferred_reason"] == "quiet_hours"
    assert listed[1]["due_at"] == "2026-12-03T19:00:00Z"
    assert (listed[2]["channel"], listed[2]["delivery_status"]) == ("sms", "delivered")
    assert [(t["channel"], t["outcome"], t["code"]) for t in listed[2]["tries"]] == [
        ("alimtalk", "rejected", "3018"),
        ("sms", "sent", None),
    ]
    assert listed[2]["event_type"] == "shipment.in_transit"


# -- consent -----------------------------------------------------------------------------------------------------


def test_an_agent_records_a_customers_consent_which_the_contact_then_shows(stack, store):
    # Given a customer who told the agent on the phone that they agree to advertising, at night too, by AlimTalk
    ticket = customer_writes(store, T0)
    contact_id = ticket.requester.contact_id
    agreed_at = T0 + timedelta(minutes=5)
    body = {"consent": {"advertising": True, "night_advertising": True, "preferred_channel": "alimtalk"}}
    # When the agent records it
    response = patch_contact(stack, store, contact_id, body, agreed_at)
    # Then it is recorded at the time of the request, the tags and tickets untouched
    assert response.status == 200, response
    consent = response.json()["contact"]["consent"]
    assert (consent["advertising_at"], consent["night_advertising_at"]) == ("2026-12-03T09:05:00Z",) * 2
    assert consent["preferred_channel"] == "alimtalk"
    assert (response.json()["contact"]["tags"], response.json()["tickets_updated"]) == ([], 0)
    # And the contact read shows it, as the sender will read it
    shown = agent_reads(store, "GET /contacts/{contact_id}", {"contact_id": contact_id}).json()["contact"]
    assert shown["consent"] == consent
    stored = store.contacts.contact(contact_id)
    assert stored is not None and stored.consent.preferred_channel is NotifyChannel.ALIMTALK


def test_consent_withdrawn_and_a_preference_cleared_leave_the_rest_as_it_was(stack, store):
    # Given a customer who agreed to advertising, at night too, and prefers AlimTalk
    contact_id = customer_writes(store, T0).requester.contact_id
    everything = {"advertising": True, "night_advertising": True, "preferred_channel": "alimtalk"}
    patch_contact(stack, store, contact_id, {"consent": everything}, T0)
    # When they withdraw only night consent and clear the preference, and are tagged vip in the same request
    body = {"tags": ["vip"], "consent": {"night_advertising": False, "preferred_channel": None}}
    response = patch_contact(stack, store, contact_id, body, T0 + timedelta(hours=1))
    # Then advertising consent stands from when it was given, the rest is gone, and the tags and ticket follow
    assert response.status == 200, response
    contact = response.json()["contact"]
    assert contact["consent"]["advertising_at"] == "2026-12-03T09:00:00Z"
    assert (contact["consent"]["night_advertising_at"], contact["consent"]["preferred_channel"]) == (None, None)
    assert (contact["tags"], response.json()["tickets_updated"]) == (["vip"], 1)


@pytest.mark.parametrize(
    "body",
    [
        {"consent": {}},
        {"consent": {"advertising": None}},
        {"consent": {"advertising": "yes"}},
        {"consent": {"preferred_channel": "fax"}},
        {"consent": {"opted_out": True}},
        {"consent": None},
        {"tags": None},
        {},
    ],
    ids=[
        "empty",
        "null-answer",
        "not-a-bool",
        "unknown-channel",
        "opt-out-is-the-customers",
        "null",
        "null-tags",
        "none",
    ],
)
def test_a_consent_change_that_says_nothing_clear_is_refused_and_nothing_is_written(stack, store, body):
    contact_id = customer_writes(store, T0).requester.contact_id
    before = store.contacts.contact(contact_id)
    response = patch_contact(stack, store, contact_id, body, T0 + timedelta(minutes=1))
    assert (response.status, response.json()["error"]) == (400, "invalid_request")
    assert store.contacts.contact(contact_id) == before
