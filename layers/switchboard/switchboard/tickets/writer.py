"""The ticket writer: each inbound event lands exactly once, whatever retries or concurrency happen.

Exactly-once comes from the table, not from the queue: every message's writes commit in one
conditional transaction keyed by the provider's message id, so a redelivery is a no-op, and a
writer that loses a race re-reads and tries again instead of writing twice.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from enum import StrEnum
from functools import partial
from typing import Any

from switchboard import queue
from switchboard.masking import mask_phone
from switchboard.models import DeliveryReceipt, Direction, InboundMessage
from switchboard.observability import logger, metrics
from switchboard.store.tickets_table import AlreadyStored, TicketStore, WriteConflict
from switchboard.tickets import lifecycle

MAX_ATTEMPTS = 8


class Outcome(StrEnum):
    OPENED = "opened"
    APPENDED = "appended"
    DUPLICATE = "duplicate"
    RECEIPT_RECORDED = "receipt_recorded"
    RECEIPT_IGNORED = "receipt_ignored"


def record_inbound(message: InboundMessage, store: TicketStore, sleep: Callable[[float], None] = time.sleep) -> Outcome:
    """Puts a customer's message on the conversation's ticket, opening one if needed."""
    for attempt in range(MAX_ATTEMPTS):
        try:
            return _record_once(message, store)
        except WriteConflict:
            # Another writer changed the conversation between our read and write: back off, re-read.
            sleep(random.uniform(0, 0.02 * 2**attempt))
    raise WriteConflict(f"still conflicting after {MAX_ATTEMPTS} attempts; the queue will redeliver")


def _record_once(message: InboundMessage, store: TicketStore) -> Outcome:
    ticket_id = store.current_ticket_id(message.conversation_key)
    current = store.ticket(ticket_id) if ticket_id else None
    try:
        if current and not lifecycle.needs_follow_up(current.ticket):
            after = lifecycle.with_customer_message(current.ticket, message)
            store.append_message(
                current=current, ticket_after=after, message=lifecycle.customer_message(after.id, message)
            )
            return Outcome.APPENDED
        if current:
            follows_up = current.ticket
            contact_id, new_contact = follows_up.requester.contact_id, None
            number = store.next_ticket_number()
        else:
            follows_up = None
            contact_id, number = store.contact_and_next_number(lifecycle.identity_of(message))
            new_contact = None if contact_id else lifecycle.new_contact(message)
            contact_id = contact_id or new_contact.id
        ticket = lifecycle.opened_ticket(message, number=number, contact_id=contact_id, follows_up=follows_up)
        store.open_ticket_for(
            ticket=ticket,
            first_message=lifecycle.customer_message(ticket.id, message),
            new_contact=new_contact,
            follows_up=follows_up,
        )
        return Outcome.OPENED
    except AlreadyStored:
        return Outcome.DUPLICATE


def record_receipt(receipt: DeliveryReceipt, store: TicketStore) -> Outcome:
    """A provider's delivery report for a message we sent; reports for messages we don't know are ignored."""
    ref = store.message_ref(receipt.channel.value, receipt.external_id)
    if ref is None or ref.direction is not Direction.OUTBOUND:
        return Outcome.RECEIPT_IGNORED
    return Outcome.RECEIPT_RECORDED if store.record_delivery_status(ref, receipt.status) else Outcome.RECEIPT_IGNORED


def record_queued_event(body: str, store: TicketStore) -> Outcome:
    event = queue.decode(body)
    outcome = record_receipt(event, store) if isinstance(event, DeliveryReceipt) else record_inbound(event, store)
    customer = mask_phone(event.sender.phone_e164) if isinstance(event, InboundMessage) else ""
    logger.info(
        "inbound event recorded",
        extra={"channel": event.channel.value, "kind": event.kind, "outcome": outcome.value, "customer": customer},
    )
    metrics.add_metric(name=f"Inbound_{outcome.value}", unit="Count", value=1)
    return outcome


def write_batch(event: dict[str, Any], context: Any, store: TicketStore) -> dict[str, Any]:
    """Processes an SQS FIFO batch. A failed record fails the rest of its message group only (order is kept
    per conversation); Lambda returns just those to the queue, which redelivers and finally dead-letters them."""
    from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response

    return process_partial_response(
        event=event,
        record_handler=partial(_record_sqs_record, store=store),
        processor=SqsFifoPartialProcessor(skip_group_on_error=True),
        context=context,
    )


def _record_sqs_record(record, store: TicketStore) -> Outcome:
    return record_queued_event(record.body, store)
