"""The notification scheduler (NotificationSchedulerFunction, every minute): what is due, and nothing else.

    sweep = store.notifications.due(now)    # ByNotifyDue's minute buckets from the cursor: entries due, read once
    notification due (queued past its due time, or claimed past its lease) -> filed again RECHECK_AFTER later,
        then its id to NotificationQueue: the sender claims it (a repeat is harmless: one claim wins)
    order due (a promised delivery date plus the grace passed, not delivered) -> ONE TransactWriteItems: the apology
        notification (attribute_not_exists) + the order on its version with the watch disarmed; then its id queued;
        with rules.delay_detection.open_ticket, first a ticket for the team, once
    advance the cursor over the buckets left with nothing to do

It settles nothing itself: sending and settling are the sender's (proactive/sender.py). A notification still
queued LOST_AFTER past its due time lost its queue message (the processor died before enqueueing, SQS lost it, a
deferral longer than SQS's 15-minute delay), so it is queued again; one due more recently is in a sender's hands.
The clock is a parameter, so tests run an order's life at chosen instants.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from aws_lambda_powertools.metrics import MetricUnit

from switchboard.models import (
    AuthorKind,
    Channel,
    Contact,
    Direction,
    FieldChange,
    Requester,
    Ticket,
    TicketAudit,
    TicketMessage,
    TicketStatus,
    stable_id,
)
from switchboard.notifications.models import Category, Notification, NotificationRules
from switchboard.notifications.queue import NotificationQueue
from switchboard.notifications.templates import facts_of
from switchboard.observability import logger, metrics
from switchboard.orders.events import OrderEventType
from switchboard.orders.state import OrderState, ShipmentState, delay_apologized, delay_due_at, overdue_shipments
from switchboard.proactive.order_events import notification_id_for
from switchboard.sla import clocks
from switchboard.store.due_index import DueTimer
from switchboard.store.messages import timeline_key
from switchboard.store.notifications import NOTIFY_SK
from switchboard.store.orders import ORDER_SK
from switchboard.store.repositories import Repositories
from switchboard.store.table import AlreadyStored, WriteConflict
from switchboard.tickets import lifecycle

MAX_DUE_PER_RUN = 1000
# A notification is in a sender's hands for this long after its due time (its queue message on the way, a claim a
# moment off); still queued after it, its queue message was lost.
LOST_AFTER = timedelta(minutes=1)
# A notification queued again is looked at again this much later, if no sender has taken it by then.
RECHECK_AFTER = timedelta(minutes=5)
DELAY_TAG = "delivery_delayed"
# The apology's facts say which templates render it: the delay detection's own, else the shipment.delayed rule's.
TEMPLATES_FACT = "templates"
DELAY_TEMPLATES = "delay_detection"
APOLOGY_EVENT_ID = "delay_detection"
_MAX_ATTEMPTS = 5


@dataclass
class SchedulerReport:
    due_read: int = 0
    buckets_read: int = 0
    enqueued: int = 0
    delays_detected: int = 0
    apologies: int = 0
    tickets_opened: int = 0
    failures: int = 0
    enqueue_failures: int = 0
    ids: list[str] = field(default_factory=list)

    def figures(self) -> dict[str, int]:
        return {
            "due_read": self.due_read,
            "buckets_read": self.buckets_read,
            "enqueued": self.enqueued,
            "delays_detected": self.delays_detected,
            "apologies": self.apologies,
            "tickets_opened": self.tickets_opened,
            "failures": self.failures,
            "enqueue_failures": self.enqueue_failures,
        }


def run_scheduler(
    now: datetime,
    *,
    store: Repositories,
    queue: NotificationQueue,
    rules: Callable[[], NotificationRules],
    limit: int = MAX_DUE_PER_RUN,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, int]:
    """One run at `now`: every due notification queued again, every overdue order apologized for once, the cursor
    moved over what is settled. `rules` reads the notification rules (called only when an order is due). Its
    figures, also in the log and as EMF metrics (NotificationsDue, NotificationsEnqueued, DeliveryDelaysDetected)."""
    report = schedule(now, store=store, queue=queue, rules_of=rules, limit=limit, sleep=sleep)
    figures = report.figures()
    logger.info("notification schedule", extra=figures)
    metrics.add_metric(name="NotificationsDue", unit=MetricUnit.Count, value=report.due_read)
    metrics.add_metric(name="NotificationsEnqueued", unit=MetricUnit.Count, value=report.enqueued)
    metrics.add_metric(name="DeliveryDelaysDetected", unit=MetricUnit.Count, value=report.delays_detected)
    return figures


def schedule(
    now: datetime,
    *,
    store: Repositories,
    queue: NotificationQueue,
    rules_of: Callable[[], NotificationRules],
    limit: int = MAX_DUE_PER_RUN,
    sleep: Callable[[float], None] = time.sleep,
) -> SchedulerReport:
    sweep = store.notifications.due(now, limit=limit)
    report = SchedulerReport(due_read=len(sweep.timers), buckets_read=sweep.buckets_read)
    settled_until = sweep.settled_until
    rules: NotificationRules | None = None
    for entry in sweep.timers:
        try:
            if entry.sk == NOTIFY_SK:
                _requeue(entry, now, store, report)
            elif entry.sk == ORDER_SK:
                rules = rules or rules_of()  # read once a run, and only when an order is due
                _detect_delay(entry, now, store, rules, report, sleep)
        except Exception:  # noqa: BLE001 - one entry's failure must not stop the others; the run reports it
            # Its bucket stays at or after the cursor, so the next run tries it again.
            logger.exception("a due notification or order failed", extra={"due_pk": entry.pk, "due_sk": entry.sk})
            report.failures += 1
            settled_until = min(settled_until, entry.minute)
    _send(queue, report)
    store.notifications.advance_cursor(settled_until)
    return report


# -- notifications whose queue message was lost, or whose sender died -------------------------------------------


def _requeue(entry: DueTimer, now: datetime, store: Repositories, report: SchedulerReport) -> None:
    """A notification due LOST_AFTER ago and still queued or claimed: filed again RECHECK_AFTER from now (so the
    cursor moves on, and a lost message is found again), then queued for the sender. One due more recently is left
    in its bucket, which stays ahead of the cursor for the next run."""
    if entry.due_at > now - LOST_AFTER:
        return
    if store.notifications.recheck_at(entry, now + RECHECK_AFTER):
        report.ids.append(entry.pk.removeprefix("NOTIFY#"))


def _send(queue: NotificationQueue, report: SchedulerReport) -> None:
    if not report.ids:
        return
    try:
        queue.send(report.ids)
    except Exception:  # noqa: BLE001 - filed again RECHECK_AFTER from now: the next look queues them again
        logger.exception("due notifications were not queued", extra={"count": len(report.ids)})
        report.enqueue_failures += len(report.ids)
        return
    report.enqueued += len(report.ids)


# -- delay detection -------------------------------------------------------------------------------------------


def _detect_delay(
    entry: DueTimer,
    now: datetime,
    store: Repositories,
    rules: NotificationRules,
    report: SchedulerReport,
    sleep: Callable[[float], None],
) -> None:
    """An order whose delay timer ran out: ONE apology with the latest known status (unless the customer was told
    of the delay already), the watch of its overdue shipments disarmed on the order's version, then queued."""
    detection = rules.delay_detection
    for attempt in range(_MAX_ATTEMPTS):
        order = store.orders.order_at(entry.pk)
        if order is None:
            return
        grace = detection.grace_minutes
        overdue = overdue_shipments(order, grace, now) if detection.enabled else []
        if not overdue:
            _refile_timer(order, entry, now, store, rules)
            return
        contact = store.contacts.contact(order.contact_id) if order.contact_id else None
        apology = _apology(order, overdue[0], contact, store, rules, now)
        if apology is not None and detection.open_ticket and contact is not None:
            report.tickets_opened += _open_delay_ticket(order, overdue[0], apology, contact, store, rules, now)
        after = delay_apologized(order, grace, now)
        also = store.notifications.new_notification_actions(apology, written_at=now) if apology else []
        try:
            store.orders.save_order(
                after,
                seen_version=order.version,
                delay_due_at=delay_due_at(after, grace) if after.contact_id else None,
                written_at=now,
                also=also,
            )
        except WriteConflict:
            # An event moved the order (or another run apologized) since it was read: read it again.
            sleep(random.uniform(0, 0.02 * 2**attempt))
            continue
        report.delays_detected += 1
        if apology is not None:
            report.apologies += 1
            report.ids.append(apology.id)
        return
    raise WriteConflict(f"order {entry.pk} kept changing under the scheduler")


def _refile_timer(
    order: OrderState, entry: DueTimer, now: datetime, store: Repositories, rules: NotificationRules
) -> None:
    """Nothing overdue at the entry's time: the order moved on (delivered, a later promise) and its own write filed
    it right, or the rules changed (delay detection off, a longer grace): then its timer is written again."""
    detection = rules.delay_detection
    due = delay_due_at(order, detection.grace_minutes) if detection.enabled and order.contact_id else None
    if due == entry.due_at:
        return
    try:
        store.orders.save_order(order, seen_version=order.version, delay_due_at=due, written_at=now, also=[])
    except WriteConflict:
        return  # an event wrote the order meanwhile, and with it its timer as the rules say


def _apology(
    order: OrderState,
    shipment: ShipmentState,
    contact: Contact | None,
    store: Repositories,
    rules: NotificationRules,
    now: datetime,
) -> Notification | None:
    """The apology for the order's overdue shipment, or None: nobody to tell, told already (the shop's own
    shipment.delayed, an earlier run), or no template to say it with."""
    if contact is None:
        return None
    delayed_rule = rules.rule_for(OrderEventType.SHIPMENT_DELAYED)
    own_templates = bool(rules.delay_detection.templates)
    if not own_templates and delayed_rule is None:
        logger.warning("a delivery is late but no template can say so", extra={"order_id": order.order_id})
        return None
    notification_id = notification_id_for(order.order_key, OrderEventType.SHIPMENT_DELAYED, contact.id)
    if store.notifications.notification(notification_id) is not None:
        return None
    facts = facts_of(
        order,
        OrderEventType.SHIPMENT_DELAYED,
        shipment.id,
        shop_name=rules.shop_name,
        timezone=contact.timezone or order.customer.timezone or rules.default_timezone,
        locale=contact.locale or order.customer.locale or rules.default_locale,
    )
    if own_templates:
        facts[TEMPLATES_FACT] = DELAY_TEMPLATES
    return Notification(
        id=notification_id,
        order_key=order.order_key,
        order_id=order.order_id,
        order_number=order.number,
        event_type=OrderEventType.SHIPMENT_DELAYED,
        event_id=APOLOGY_EVENT_ID,
        contact_id=contact.id,
        category=Category.TRANSACTIONAL,
        due_at=now,
        created_at=now,
        facts=facts,
    )


# -- the team's ticket -----------------------------------------------------------------------------------------


def _open_delay_ticket(
    order: OrderState,
    shipment: ShipmentState,
    apology: Notification,
    contact: Contact,
    store: Repositories,
    rules: NotificationRules,
    now: datetime,
) -> int:
    """Puts the delay before the team, once per apology (its note's message index is keyed by the notification): on
    the conversation the customer last wrote on (their newest ticket's), else the SMS conversation their answer to
    an SMS would open; the conversation's open ticket gets the note and the tag, a closed one a follow-up ticket
    tagged delivery_delayed, none a new ticket. A contact with neither gets no ticket (DelayTicketsSkipped): there
    is no conversation an agent could answer on. 1 when a ticket was opened."""
    conversation = _conversation_of(contact, store, rules)
    if conversation is None:
        metrics.add_metric(name="DelayTicketsSkipped", unit=MetricUnit.Count, value=1)
        return 0
    channel, account_id, conversation_key = conversation
    sla_rules = store.sla_rules.current()
    for _ in range(_MAX_ATTEMPTS):
        current_id = store.tickets.current_ticket_id(conversation_key)
        current = store.tickets.ticket(current_id) if current_id else None
        try:
            if current is not None and not lifecycle.needs_follow_up(current.ticket):
                note = _delay_note(current.ticket.id, current.ticket.channel, order, shipment, apology, now)
                before = current.ticket
                tags = before.tags + (DELAY_TAG,) if DELAY_TAG not in before.tags else before.tags
                after = before.model_copy(
                    update={
                        "message_count": before.message_count + 1,
                        "updated_at": max(before.updated_at, now),
                        "tags": tags,
                    }
                )
                after = clocks.track(before, after, at=max(before.updated_at, now), rules=sla_rules)
                changes = [FieldChange(field="note", after=timeline_key(note, after.message_count))]
                if tags != before.tags:
                    changes.insert(0, FieldChange(field="tags", before=list(before.tags), after=list(tags)))
                audit = TicketAudit(
                    ticket_id=before.id,
                    ticket_version=current.version + 1,
                    actor_id="system",
                    at=now,
                    changes=tuple(changes),
                )
                store.tickets.append_message(current=current, ticket_after=after, message=note, audit=audit)
                return 0
            ticket = Ticket(
                id=stable_id("t", "delay", apology.id),
                number=store.tickets.next_ticket_number(),
                status=TicketStatus.NEW,
                channel=channel,
                channel_account_id=account_id,
                conversation_key=conversation_key,
                subject=f"Delivery delayed: order {order.number or order.order_id}"[: lifecycle.SUBJECT_LIMIT],
                requester=Requester(contact_id=contact.id, display_name=contact.display_name, tags=contact.tags),
                follow_up_of=current.ticket.id if current is not None else None,
                tags=(DELAY_TAG,),
                message_count=1,
                created_at=now,
                updated_at=now,
            )
            ticket = clocks.track(None, ticket, at=now, rules=sla_rules)
            store.tickets.open_ticket_for(
                ticket=ticket,
                first_message=_delay_note(ticket.id, channel, order, shipment, apology, now),
                new_contact=None,
                follows_up=current.ticket if current is not None else None,
            )
            return 1
        except AlreadyStored:
            return 0  # put before the team already (a run that died before its apology committed)
        except WriteConflict:
            continue  # the conversation moved on (a message, another ticket): read it again
    raise WriteConflict(f"the conversation {conversation_key} kept changing")


def _conversation_of(
    contact: Contact, store: Repositories, rules: NotificationRules
) -> tuple[Channel, str, str] | None:
    newest = store.tickets.tickets_requested_by(contact.id, limit=1, cursor=None).tickets
    if newest:
        ticket = newest[0]
        return ticket.channel, ticket.channel_account_id, ticket.conversation_key
    sms_from = rules.senders.sms_from
    if contact.phone_e164 and sms_from:
        # Twilio's conversation for an SMS: our number, the customer's (channels/twilio.py: To, From).
        return Channel.SMS, sms_from, f"{Channel.SMS}:{sms_from}:{contact.phone_e164}"
    return None


def _delay_note(
    ticket_id: str,
    channel: Channel,
    order: OrderState,
    shipment: ShipmentState,
    apology: Notification,
    now: datetime,
) -> TicketMessage:
    """The team's note: which order and shipment is late, since when, and its last known status."""
    external_id = f"delay:{apology.id}"
    promised = shipment.promised_delivery_at.isoformat() if shipment.promised_delivery_at else "unknown"
    tracking = " ".join(part for part in (shipment.carrier, shipment.tracking_number) if part)
    text = (
        f"Delivery delayed: order {order.number or order.order_id}, shipment {shipment.id}"
        f"{f' ({tracking})' if tracking else ''} was promised for {promised} and is not delivered; "
        f"last status {shipment.status.value}. The customer is sent an apology (notification {apology.id})."
    )
    return TicketMessage(
        id=stable_id("m", channel.value, external_id),
        ticket_id=ticket_id,
        channel=channel,
        external_id=external_id,
        direction=Direction.INTERNAL,
        author_kind=AuthorKind.SYSTEM,
        public=False,
        message_type="note",
        text=text,
        created_at=now,
        received_at=now,
    )
