"""The order state machine (orders/state.py): a shop's events arrive late, twice and out of order, and the order
only ever moves forward; a stale or repeated event changes nothing and is no news for the customer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.orders.events import OrderEvent, OrderEventType, OrderSource
from switchboard.orders.state import (
    _SHIPMENT_RANK,
    MAX_SHIPMENTS,
    Applied,
    OrderState,
    apply,
    delay_apologized,
    delay_due_at,
    overdue_shipments,
)

E = OrderEventType
T0 = datetime(2026, 12, 3, 0, 0, tzinfo=UTC)
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
PROMISED = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def event(
    kind: OrderEventType,
    hours: float = 0,
    *,
    shipment: str | None = "S-1",
    event_id: str | None = None,
    **shipment_fields: object,
) -> OrderEvent:
    body: dict[str, object] = {
        "source": OrderSource.GENERIC,
        "shop": "shop.example",
        "event_id": event_id or f"evt-{kind}-{hours}",
        "type": kind,
        "occurred_at": at(hours),
        "order": {"id": "A-1042", "number": "1042"},
    }
    if shipment is not None and kind.is_shipment:
        body["shipment"] = {"id": shipment, **shipment_fields}
    return OrderEvent.model_validate(body)


def run(*events: OrderEvent, contact_id: str | None = "c-1") -> tuple[OrderState, list[Applied]]:
    """The order after the events in the order given, and what each one did."""
    state: OrderState | None = None
    results = []
    for one in events:
        applied = apply(state, one, contact_id=contact_id, now=NOW)
        results.append(applied)
        state = applied.state
    assert state is not None
    return state, results


def news_of(results: list[Applied]) -> list[bool]:
    return [applied.news for applied in results]


# -- creation -----------------------------------------------------------------------------------------------


def test_first_event_creates_the_order_with_its_contact_and_placing_time() -> None:
    # Given no order yet, When an event names it with a placing time
    placed = at(-48)
    first = OrderEvent.model_validate(
        {
            "source": "generic",
            "shop": "shop.example",
            "event_id": "evt-1",
            "type": "shipment.in_transit",
            "occurred_at": at(0),
            "order": {"id": "A-1042", "number": "1042", "placed_at": placed, "customer": {"name": "김민준"}},
            "shipment": {"id": "S-1", "carrier": "CJ대한통운", "tracking_number": "6543210987"},
        }
    )
    applied = apply(None, first, contact_id="c-1", now=NOW)
    # Then the order exists, linked to the contact, placed when the shop says, and the event is news
    state = applied.state
    assert (state.order_key, state.number, state.contact_id) == ("generic#shop.example#A-1042", "1042", "c-1")
    assert state.placed_at == placed and state.first_seen_at == NOW and state.customer.name == "김민준"
    assert applied.news and applied.shipment_id == "S-1"
    assert state.shipments["S-1"].status is E.SHIPMENT_IN_TRANSIT
    assert state.shipments["S-1"].carrier == "CJ대한통운"


def test_an_order_without_a_placing_time_was_placed_when_its_first_event_occurred() -> None:
    state, _ = run(event(E.ORDER_PAID, 5))
    assert state.placed_at == at(5)


def test_the_contact_is_kept_when_the_processor_resolves_none_and_replaced_when_it_resolves_another() -> None:
    # Given an order linked to c-1
    state, _ = run(event(E.SHIPMENT_CREATED, 1))
    # When an event comes for which the processor resolved nobody, Then the order keeps c-1
    kept = apply(state, event(E.SHIPMENT_IN_TRANSIT, 2), contact_id=None, now=NOW).state
    assert kept.contact_id == "c-1"
    # When the processor resolves c-2 (the shop's customer link moved), Then the order follows
    assert apply(kept, event(E.SHIPMENT_DELIVERED, 3), contact_id="c-2", now=NOW).state.contact_id == "c-2"


# -- the order's own status ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kinds", "news", "final"),
    [
        ([E.ORDER_PLACED, E.ORDER_PAID], [True, True], E.ORDER_PAID),
        ([E.ORDER_PAID, E.ORDER_PLACED], [True, False], E.ORDER_PAID),
        ([E.ORDER_PLACED, E.ORDER_PLACED], [True, False], E.ORDER_PLACED),
        # cancelled is terminal for placed and paid: a late paid is stale
        ([E.ORDER_PLACED, E.ORDER_CANCELLED, E.ORDER_PAID], [True, True, False], E.ORDER_CANCELLED),
        # a refund after a cancellation is news; a cancellation after the refund is stale
        ([E.ORDER_CANCELLED, E.REFUND_ISSUED], [True, True], E.REFUND_ISSUED),
        ([E.REFUND_ISSUED, E.ORDER_CANCELLED], [True, False], E.REFUND_ISSUED),
        ([E.RETURN_RECEIVED, E.REFUND_ISSUED, E.RETURN_RECEIVED], [True, True, False], E.REFUND_ISSUED),
    ],
)
def test_the_order_status_moves_by_rank_only(kinds: list[OrderEventType], news: list[bool], final: E) -> None:
    # Given/When the order events in this order (each an hour apart), Then each is news only if it moves forward
    state, results = run(*(event(kind, hour) for hour, kind in enumerate(kinds)))
    assert news_of(results) == news
    assert state.status is final


def test_an_order_confirmation_after_the_parcel_shipped_is_recorded_but_no_news() -> None:
    # Given an order whose parcel is in transit
    state, _ = run(event(E.SHIPMENT_IN_TRANSIT, 5))
    # When the order.paid event arrives late
    applied = apply(state, event(E.ORDER_PAID, 1), contact_id="c-1", now=NOW)
    # Then the order is paid, but telling the customer "payment received" now would be stale
    assert applied.state.status is E.ORDER_PAID
    assert not applied.news and applied.reason.startswith("stale")


# -- shipments: forward only -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("steps", "news", "final"),
    [
        # the issue's example: in_transit after delivered sends nothing
        ([(E.SHIPMENT_DELIVERED, 5), (E.SHIPMENT_IN_TRANSIT, 3)], [True, False], E.SHIPMENT_DELIVERED),
        ([(E.SHIPMENT_DELIVERED, 5), (E.SHIPMENT_IN_TRANSIT, 6)], [True, False], E.SHIPMENT_DELIVERED),
        # the happy path, in order
        (
            [(E.SHIPMENT_CREATED, 1), (E.SHIPMENT_IN_TRANSIT, 2), (E.SHIPMENT_OUT_FOR_DELIVERY, 3),
             (E.SHIPMENT_DELIVERED, 4)],
            [True, True, True, True],
            E.SHIPMENT_DELIVERED,
        ),
        # a higher rank scanned earlier still moves forward; the lower one after it is stale
        ([(E.SHIPMENT_IN_TRANSIT, 2), (E.SHIPMENT_CREATED, 1)], [True, False], E.SHIPMENT_IN_TRANSIT),
        ([(E.SHIPMENT_IN_TRANSIT, 2), (E.SHIPMENT_OUT_FOR_DELIVERY, 1)], [True, True], E.SHIPMENT_OUT_FOR_DELIVERY),
        # a repeated status is not news, even when newer
        ([(E.SHIPMENT_IN_TRANSIT, 2), (E.SHIPMENT_IN_TRANSIT, 8)], [True, False], E.SHIPMENT_IN_TRANSIT),
        # the last mile loops: a missed delivery, then out again the next day, then delivered
        (
            [(E.SHIPMENT_OUT_FOR_DELIVERY, 1), (E.SHIPMENT_ATTEMPTED_DELIVERY, 3),
             (E.SHIPMENT_OUT_FOR_DELIVERY, 25), (E.SHIPMENT_DELIVERED, 27)],
            [True, True, True, True],
            E.SHIPMENT_DELIVERED,
        ),
        # ... but yesterday's attempt arriving after today's round is stale
        (
            [(E.SHIPMENT_OUT_FOR_DELIVERY, 25), (E.SHIPMENT_ATTEMPTED_DELIVERY, 3)],
            [True, False],
            E.SHIPMENT_OUT_FOR_DELIVERY,
        ),
        # a missed delivery, then the parcel waits at a pickup point
        (
            [(E.SHIPMENT_ATTEMPTED_DELIVERY, 3), (E.SHIPMENT_READY_FOR_PICKUP, 5)],
            [True, True],
            E.SHIPMENT_READY_FOR_PICKUP,
        ),
        # failure gives way to delivered only
        (
            [(E.SHIPMENT_FAILURE, 3), (E.SHIPMENT_IN_TRANSIT, 4), (E.SHIPMENT_OUT_FOR_DELIVERY, 5),
             (E.SHIPMENT_DELIVERED, 6)],
            [True, False, False, True],
            E.SHIPMENT_DELIVERED,
        ),
        ([(E.SHIPMENT_DELIVERED, 3), (E.SHIPMENT_FAILURE, 4)], [True, False], E.SHIPMENT_DELIVERED),
    ],
)  # fmt: skip
def test_a_shipment_never_moves_backward(
    steps: list[tuple[OrderEventType, float]], news: list[bool], final: OrderEventType
) -> None:
    # Given/When the shipment events in arrival order (with the hour each occurred)
    state, results = run(*(event(kind, hour) for kind, hour in steps))
    # Then only the steps forward are news, and the shipment ends at the furthest step
    assert news_of(results) == news
    assert state.shipments["S-1"].status is final


def test_a_stale_event_changes_nothing() -> None:
    # Given a delivered shipment
    state, _ = run(event(E.SHIPMENT_DELIVERED, 5, carrier="CJ대한통운", tracking_number="111"))
    # When an older in_transit arrives with other tracking facts
    applied = apply(
        state, event(E.SHIPMENT_IN_TRANSIT, 2, carrier="한진택배", tracking_number="222"), contact_id="c-1", now=NOW
    )
    # Then the order is exactly as it was, and the reason says why
    assert applied.state == state
    assert not applied.news and applied.reason.startswith("stale")


def test_a_newer_event_updates_the_shipment_facts_even_when_it_is_no_news() -> None:
    # Given a shipment in transit
    state, _ = run(event(E.SHIPMENT_IN_TRANSIT, 2, carrier="CJ대한통운"))
    # When the shop repeats in_transit later, now with a tracking number and link
    applied = apply(
        state,
        event(E.SHIPMENT_IN_TRANSIT, 3, tracking_number="6543210987", tracking_url="https://track.example/6543210987"),
        contact_id="c-1",
        now=NOW,
    )
    # Then it is no news, but the shipment knows the facts (and keeps the carrier the event left out)
    shipment = applied.state.shipments["S-1"]
    assert not applied.news and applied.reason == "repeated"
    assert (shipment.carrier, shipment.tracking_number) == ("CJ대한통운", "6543210987")
    assert shipment.tracking_url == "https://track.example/6543210987"


def test_the_same_event_applied_twice_is_news_once_and_changes_nothing_the_second_time() -> None:
    once = event(E.SHIPMENT_OUT_FOR_DELIVERY, 3, carrier="CJ대한통운")
    state, results = run(once, once)
    assert news_of(results) == [True, False]
    assert results[1].state == results[0].state


def test_delivered_records_when_it_was_delivered() -> None:
    state, _ = run(event(E.SHIPMENT_IN_TRANSIT, 2), event(E.SHIPMENT_DELIVERED, 7))
    assert state.shipments["S-1"].delivered_at == at(7)
    assert state.shipments["S-1"].updated_at == at(7)


def test_shipments_move_independently() -> None:
    # Given two parcels of one order
    state, results = run(
        event(E.SHIPMENT_DELIVERED, 5, shipment="S-1"),
        event(E.SHIPMENT_IN_TRANSIT, 6, shipment="S-2"),
        event(E.SHIPMENT_IN_TRANSIT, 7, shipment="S-1"),
    )
    # Then the second parcel's progress is news, the first one's stale step is not
    assert news_of(results) == [True, True, False]
    assert {sid: s.status for sid, s in state.shipments.items()} == {
        "S-1": E.SHIPMENT_DELIVERED,
        "S-2": E.SHIPMENT_IN_TRANSIT,
    }


def test_a_shipment_event_naming_no_shipment_is_about_the_only_one() -> None:
    state, _ = run(event(E.SHIPMENT_IN_TRANSIT, 2, shipment="S-9"))
    applied = apply(state, event(E.SHIPMENT_DELIVERED, 4, shipment=None), contact_id="c-1", now=NOW)
    assert applied.shipment_id == "S-9" and applied.state.shipments["S-9"].status is E.SHIPMENT_DELIVERED


def test_at_most_max_shipments_are_tracked() -> None:
    # Given an order with the most shipments it tracks
    state, _ = run(*(event(E.SHIPMENT_CREATED, i, shipment=f"S-{i}") for i in range(MAX_SHIPMENTS)))
    # When one more parcel appears
    applied = apply(state, event(E.SHIPMENT_CREATED, 99, shipment="S-extra"), contact_id="c-1", now=NOW)
    # Then it is ignored: no news, the order unchanged
    assert not applied.news and applied.state == state
    assert len(applied.state.shipments) == MAX_SHIPMENTS


# -- shipment.delayed and the delay watch ------------------------------------------------------------------------


def test_a_delay_notice_is_news_once_and_never_changes_the_status() -> None:
    state, results = run(
        event(E.SHIPMENT_IN_TRANSIT, 1),
        event(E.SHIPMENT_DELAYED, 2, event_id="d1"),
        event(E.SHIPMENT_DELAYED, 3, event_id="d2"),
    )
    assert news_of(results) == [True, True, False]
    assert state.shipments["S-1"].status is E.SHIPMENT_IN_TRANSIT
    assert state.shipments["S-1"].delayed_at == at(2)


@pytest.mark.parametrize("status", [E.SHIPMENT_DELIVERED, E.SHIPMENT_READY_FOR_PICKUP, E.SHIPMENT_FAILURE])
def test_a_delay_notice_is_no_news_once_the_parcel_stopped_travelling(status: OrderEventType) -> None:
    _, results = run(event(status, 1), event(E.SHIPMENT_DELAYED, 2))
    assert news_of(results) == [True, False]


def test_a_delay_notice_older_than_the_last_step_is_stale() -> None:
    _, results = run(event(E.SHIPMENT_OUT_FOR_DELIVERY, 5), event(E.SHIPMENT_DELAYED, 2))
    assert news_of(results) == [True, False]
    assert results[1].reason.startswith("stale")


def test_a_delay_notice_for_an_unknown_shipment_creates_it_and_any_step_then_moves_it() -> None:
    state, results = run(event(E.SHIPMENT_DELAYED, 2), event(E.SHIPMENT_CREATED, 1))
    assert news_of(results) == [True, True]
    assert state.shipments["S-1"].status is E.SHIPMENT_CREATED


def test_a_promised_date_arms_the_delay_watch_and_delivery_disarms_it() -> None:
    # Given a shipment promised for tomorrow 09:00 UTC
    state, _ = run(event(E.SHIPMENT_CREATED, 1, promised_delivery_at=PROMISED))
    # Then the watch is due at the promise plus the grace
    assert delay_due_at(state, 30) == PROMISED + timedelta(minutes=30)
    # When it is delivered, Then nothing is watched any more
    delivered = apply(state, event(E.SHIPMENT_DELIVERED, 20), contact_id="c-1", now=NOW).state
    assert delay_due_at(delivered, 30) is None
    assert not delivered.shipments["S-1"].delay_apology_due


def test_a_later_promise_re_arms_the_watch_after_the_apology() -> None:
    # Given the scheduler apologized for a passed promise
    state, _ = run(event(E.SHIPMENT_IN_TRANSIT, 1, promised_delivery_at=PROMISED))
    after = PROMISED + timedelta(minutes=1)
    assert [s.id for s in overdue_shipments(state, 0, after)] == ["S-1"]
    apologized = delay_apologized(state, 0, after)
    assert delay_due_at(apologized, 0) is None and overdue_shipments(apologized, 0, after) == []
    # When the shop sends a delay notice with a later promise
    later = PROMISED + timedelta(days=2)
    applied = apply(apologized, event(E.SHIPMENT_DELAYED, 30, promised_delivery_at=later), contact_id="c-1", now=NOW)
    # Then the notice is news, and the new promise is watched
    assert applied.news
    assert applied.state.shipments["S-1"].promised_delivery_at == later
    assert delay_due_at(applied.state, 0) == later


def test_a_delay_notice_without_a_new_promise_disarms_the_watch() -> None:
    # Given a watched promise, When the shop says the parcel is late (the customer hears it from that notice)
    state, _ = run(event(E.SHIPMENT_IN_TRANSIT, 1, promised_delivery_at=PROMISED), event(E.SHIPMENT_DELAYED, 2))
    # Then no apology of ours is due
    assert delay_due_at(state, 0) is None


def test_an_earlier_promise_does_not_re_arm_the_watch() -> None:
    state, _ = run(event(E.SHIPMENT_IN_TRANSIT, 1, promised_delivery_at=PROMISED))
    apologized = delay_apologized(state, 0, PROMISED)
    earlier = apply(
        apologized,
        event(E.SHIPMENT_OUT_FOR_DELIVERY, 2, promised_delivery_at=PROMISED - timedelta(hours=3)),
        contact_id="c-1",
        now=NOW,
    ).state
    assert delay_due_at(earlier, 0) is None


def test_the_earliest_watched_promise_is_due_first() -> None:
    state, _ = run(
        event(E.SHIPMENT_CREATED, 1, shipment="S-1", promised_delivery_at=PROMISED + timedelta(days=1)),
        event(E.SHIPMENT_CREATED, 1, shipment="S-2", promised_delivery_at=PROMISED),
        event(E.SHIPMENT_READY_FOR_PICKUP, 2, shipment="S-3", promised_delivery_at=PROMISED - timedelta(days=1)),
    )
    # S-3 waits at a pickup point: its promise is kept, and it is not watched
    assert delay_due_at(state, 0) == PROMISED
    moment = PROMISED + timedelta(days=2)
    assert [s.id for s in overdue_shipments(state, 0, moment)] == ["S-2", "S-1"]


def test_apologizing_disarms_only_the_overdue_shipments() -> None:
    state, _ = run(
        event(E.SHIPMENT_CREATED, 1, shipment="S-1", promised_delivery_at=PROMISED),
        event(E.SHIPMENT_CREATED, 1, shipment="S-2", promised_delivery_at=PROMISED + timedelta(days=3)),
    )
    after = delay_apologized(state, 0, PROMISED + timedelta(hours=1))
    assert delay_due_at(after, 0) == PROMISED + timedelta(days=3)
    assert delay_apologized(after, 0, PROMISED + timedelta(hours=1)) == after


# -- properties ---------------------------------------------------------------------------------------------

STEPS = [kind for kind in E if kind.is_shipment]
PROMISES = [None, PROMISED - timedelta(days=1), PROMISED, PROMISED + timedelta(days=2)]
arrivals = st.lists(
    st.tuples(st.sampled_from(STEPS), st.integers(min_value=0, max_value=72), st.sampled_from(PROMISES)),
    min_size=1,
    max_size=12,
)


def events_of(steps: list[tuple[OrderEventType, int, datetime | None]]) -> list[OrderEvent]:
    return [
        event(kind, hour, event_id=f"e{i}", **({"promised_delivery_at": promised} if promised else {}))
        for i, (kind, hour, promised) in enumerate(steps)
    ]


@settings(max_examples=300, deadline=None)
@given(arrivals)
def test_property_the_rank_never_decreases_and_news_is_told_once_per_step(
    steps: list[tuple[OrderEventType, int, datetime | None]],
) -> None:
    # Given any events for one parcel, in any order, with any times and promises
    state, results = run(*events_of(steps))
    ranks = [_SHIPMENT_RANK[r.state.shipments["S-1"].status] for r in results if "S-1" in r.state.shipments]
    # Then the shipment's rank never goes down
    assert ranks == sorted(ranks)
    # and nothing is news after delivered, and delayed is news at most once
    delivered_at = next(
        (i for i, r in enumerate(results) if r.state.shipments["S-1"].status is E.SHIPMENT_DELIVERED), None
    )
    if delivered_at is not None:
        assert not any(r.news for r in results[delivered_at + 1 :])
    delayed_news = [r for (kind, _, _), r in zip(steps, results, strict=True) if kind is E.SHIPMENT_DELAYED and r.news]
    assert len(delayed_news) <= 1


@settings(max_examples=200, deadline=None)
@given(arrivals, st.integers(min_value=0, max_value=11))
def test_property_a_redelivered_event_is_never_news_and_changes_nothing(
    steps: list[tuple[OrderEventType, int, datetime | None]], pick: int
) -> None:
    # Given any history, When one of its events is delivered again right after it
    events = events_of(steps)
    state: OrderState | None = None
    for one in events[: pick % len(events) + 1]:
        state = apply(state, one, contact_id="c-1", now=NOW).state
    assert state is not None
    again = apply(state, events[pick % len(events)], contact_id="c-1", now=NOW)
    # Then it is no news and the order stays as it was
    assert not again.news
    assert again.state == state
