"""The order events processor (OrderEventsFunction): each shop event applied to its order exactly once, and the
customer told once per order, event type and contact.

    event -> contact: the order's own, else the shop's customer id link, else PHONE#<E.164>, else EMAIL#<address>,
             else a new contact claiming those keys
          -> the order read, orders/state.py apply (forward only: a stale event changes nothing and notifies nothing)
          -> ONE TransactWriteItems: the event's record (attribute_not_exists: a replay is a no-op), the order on its
             version with its delay timer, the contact's claims and filled fields, and when the rules say the event
             type notifies and the event is news, the Notification (attribute_not_exists)
          -> SendMessage {"notification_id"} to NotificationQueue; a lost one is the scheduler's (ByNotifyDue)

Exactly-once comes from the table: the event's record makes a redelivery (SQS, Shopify's retries, a replay) fail the
whole transaction, and the notification's id is a hash of the order, the event type and the contact, so two events
saying the same thing (two event ids for one shipment's in_transit) make one notification.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import ValidationError

from switchboard.models import Contact, stable_id
from switchboard.notifications.models import Notification, NotificationRules
from switchboard.notifications.queue import NotificationQueue
from switchboard.notifications.templates import facts_of
from switchboard.observability import logger, metrics
from switchboard.orders.events import OrderEvent, OrderEventType
from switchboard.orders.state import Applied, OrderState, apply, delay_due_at
from switchboard.store.contacts import CustomerLinks
from switchboard.store.repositories import Repositories
from switchboard.store.table import AlreadyStored, WriteConflict

MAX_ATTEMPTS = 5


class Outcome(StrEnum):
    NOTIFIED = "notified"  # recorded, and a notification created
    RECORDED = "recorded"  # recorded; nothing to tell (not news, the rules do not notify it, or told already)
    NO_CONTACT = "no_contact"  # recorded; the event named nobody we can reach
    DUPLICATE = "duplicate"  # processed before: nothing changed


@dataclass(frozen=True)
class Processed:
    outcome: Outcome
    order: OrderState | None = None
    notification_id: str | None = None
    reason: str = ""


def notification_id_for(order_key: str, event_type: OrderEventType, contact_id: str) -> str:
    """One notification per order, event type and contact: the shop's own shipment.delayed and the scheduler's
    apology share the id, so the customer never hears both."""
    return stable_id("ntf", order_key, event_type.value, contact_id)


def process(
    event: OrderEvent,
    *,
    store: Repositories,
    rules_of: Callable[[], NotificationRules],
    queue: NotificationQueue | None,
    now: datetime,
    sleep: Callable[[float], None] = time.sleep,
) -> Processed:
    """Applies one shop event, once; the notification it caused is queued for the sender."""
    rules = rules_of()
    for attempt in range(MAX_ATTEMPTS):
        try:
            processed = _process_once(event, store, rules, now)
        except AlreadyStored:
            return Processed(Outcome.DUPLICATE, reason="processed before")
        except WriteConflict:
            # Another event of the customer claimed a key, or the order moved, between our reads and the write.
            sleep(random.uniform(0, 0.02 * 2**attempt))
            continue
        if processed.notification_id is not None and queue is not None:
            _enqueue(queue, processed.notification_id)
        return processed
    raise WriteConflict(f"still conflicting after {MAX_ATTEMPTS} attempts; the queue will redeliver")


def _process_once(event: OrderEvent, store: Repositories, rules: NotificationRules, now: datetime) -> Processed:
    if store.orders.event_seen(event.dedup_key):
        return Processed(Outcome.DUPLICATE, reason="processed before")
    current = store.orders.order(event.order_key)
    contact, new_contact, links = _resolve_contact(event, current, store, now)
    contact_id = contact.id if contact is not None else None
    applied = apply(current, event, contact_id=contact_id, now=now)
    also: list[dict[str, Any]] = []
    if new_contact and contact is not None:
        also.extend(store.contacts.new_customer_actions(contact, links))
    elif contact is not None and links.contact_id in (None, contact.id):
        # What the customer's keys say is this contact's only when they name no one else.
        also.extend(store.contacts.fill_actions(contact, event.order.customer, links))
    notification = _notification(event, applied, contact, rules, store, now)
    if notification is not None:
        also.extend(store.notifications.new_notification_actions(notification, written_at=now))
    # The delay watch needs someone to apologize to; a later event naming the customer files it.
    watching = rules.delay_detection.enabled and applied.state.contact_id is not None
    due = delay_due_at(applied.state, rules.delay_detection.grace_minutes) if watching else None
    order = store.orders.record_event(
        event,
        order=applied.state,
        seen_version=current.version if current is not None else 0,
        delay_due_at=due,
        written_at=now,
        notification_id=notification.id if notification is not None else None,
        also=also,
    )
    if contact is None:
        return Processed(Outcome.NO_CONTACT, order=order, reason="the event names nobody we can reach")
    if notification is None:
        return Processed(Outcome.RECORDED, order=order, reason=applied.reason or "nothing to tell")
    return Processed(Outcome.NOTIFIED, order=order, notification_id=notification.id)


def _resolve_contact(
    event: OrderEvent, current: OrderState | None, store: Repositories, now: datetime
) -> tuple[Contact | None, bool, CustomerLinks]:
    """Who the event is for: the order's contact once it has one, else the contact the customer's keys name (the
    shop's customer id, then the phone, then the email), else a new contact (True) when the event names any key."""
    customer = event.order.customer
    links = store.contacts.customer_links(event.source.value, event.shop, customer)
    known = (current.contact_id if current is not None else None) or links.contact_id
    if known is not None:
        contact = store.contacts.contact(known)
        if contact is not None:
            return contact, False, links
    if not links.names_anyone:
        return None, False, links
    return _new_contact(event, links, now), True, links


def _new_contact(event: OrderEvent, links: CustomerLinks, now: datetime) -> Contact:
    """A contact for a customer we have never seen, its id a hash of their strongest key: a retry, or a concurrent
    event of the same customer, builds the same contact (and one of two racing writes conflicts)."""
    customer = event.order.customer
    strongest = (
        f"shop:{event.source.value}#{event.shop}#{customer.id}"
        if customer.id
        else f"phone:{links.phone_e164}"
        if links.phone_e164
        else f"email:{links.email}"
    )
    return Contact(
        id=stable_id("c", "order-customer", strongest),
        display_name=customer.name,
        # The phone is claimed for the contact only while no one has it (new_contact_actions claims it once).
        phone_e164=links.phone_e164 if links.by_phone is None else None,
        email=links.email if links.by_email is None else None,
        locale=customer.locale,
        timezone=customer.timezone,
        identities=(),
        created_at=now,
    )


def _notification(
    event: OrderEvent,
    applied: Applied,
    contact: Contact | None,
    rules: NotificationRules,
    store: Repositories,
    now: datetime,
) -> Notification | None:
    """The notification the event causes: when it is news, reaches a contact, and the rules notify its type; None
    when one for the order, event type and contact exists already (an earlier event said the same thing). Its put
    stays conditional: one created meanwhile makes the transaction conflict, and the retry finds it."""
    rule = rules.rule_for(event.type)
    if not applied.news or contact is None or rule is None:
        return None
    notification_id = notification_id_for(event.order_key, event.type, contact.id)
    if store.notifications.notification(notification_id) is not None:
        return None
    state = applied.state
    return Notification(
        id=notification_id,
        order_key=state.order_key,
        order_id=state.order_id,
        order_number=state.number,
        event_type=event.type,
        event_id=event.event_id,
        contact_id=contact.id,
        category=rule.category,
        due_at=now,
        created_at=now,
        facts=facts_of(
            state,
            event.type,
            applied.shipment_id,
            shop_name=rules.shop_name,
            timezone=contact.timezone or event.order.customer.timezone or rules.default_timezone,
            locale=contact.locale or event.order.customer.locale or rules.default_locale,
        ),
    )


def _enqueue(queue: NotificationQueue, notification_id: str) -> None:
    try:
        queue.send([notification_id])
    except Exception:  # noqa: BLE001 - the notification is in ByNotifyDue at its due time: the scheduler sends it
        logger.exception(
            "a notification was not queued; the scheduler will", extra={"notification_id": notification_id}
        )
        metrics.add_metric(name="NotificationsNotQueued", unit=MetricUnit.Count, value=1)


# -- the SQS batch ---------------------------------------------------------------------------------------------


def process_order_events(
    records: Iterable[Mapping[str, Any]],
    *,
    store: Repositories,
    rules_of: Callable[[], NotificationRules],
    queue: NotificationQueue | None,
    now: datetime,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, list[dict[str, str]]]:
    """An OrderEventsQueue batch (SQS FIFO, ReportBatchItemFailures). One order's events are one message group, so on
    the first failure that record and every later one are returned: none overtakes an event of its order that failed
    (Lambda: "when using a FIFO queue, stop processing messages after the first failure"), and SQS redelivers them,
    finally to the dead-letter queue."""
    failures: list[dict[str, str]] = []
    for record in records:
        message_id = str(record.get("messageId", ""))
        if failures:
            failures.append({"itemIdentifier": message_id})
            continue
        try:
            event = OrderEvent.model_validate_json(record.get("body", ""))
            processed = process(event, store=store, rules_of=rules_of, queue=queue, now=now, sleep=sleep)
        except ValidationError:
            # Never ours: the intake queues only events it validated. Kept for the dead-letter queue to show.
            logger.error("an order event on the queue is not one", extra={"message_id": message_id})
            failures.append({"itemIdentifier": message_id})
            continue
        except Exception:  # noqa: BLE001 - this record and the rest go back to the queue; the others are done
            logger.exception("an order event failed", extra={"message_id": message_id})
            failures.append({"itemIdentifier": message_id})
            continue
        _report(event, processed)
    return {"batchItemFailures": failures}


def _report(event: OrderEvent, processed: Processed) -> None:
    # DEBUG per event (the metrics count outcomes); no customer data: ids and types only.
    logger.debug(
        "order event processed",
        extra={
            "source": event.source.value,
            "event_type": event.type.value,
            "outcome": processed.outcome.value,
            "reason": processed.reason,
        },
    )
    metrics.add_metric(name=f"OrderEvents_{processed.outcome.value}", unit=MetricUnit.Count, value=1)
    if processed.outcome is Outcome.NO_CONTACT:
        metrics.add_metric(name="OrderEventsWithoutContact", unit=MetricUnit.Count, value=1)
