"""The ticket writer: each inbound event lands exactly once, whatever retries or concurrency happen.

Exactly-once comes from the table, not from the queue: every message's writes commit in one
conditional transaction keyed by the provider's message id, so a redelivery is a no-op, and a
writer that loses a race re-reads and tries again instead of writing twice.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from typing import Any, Protocol

from switchboard import queue
from switchboard.masking import mask_email, mask_phone
from switchboard.models import (
    MAX_CONTACT_IDENTITIES,
    MAX_NAME_CHARS,
    Channel,
    Contact,
    DeliveryReceipt,
    DeliveryStatus,
    Direction,
    FollowChange,
    InboundEvent,
    InboundMessage,
    MailHandling,
    MessageEdit,
    ReadWatermark,
    Ticket,
    cut_text,
)
from switchboard.observability import logger, metrics
from switchboard.sla import clocks
from switchboard.sla.restarts import NO_THANKS_DETECTION, ThanksDetector
from switchboard.store.contacts import IdentityLink
from switchboard.store.messages import DeliveryTarget, timeline_key
from switchboard.store.repositories import Repositories
from switchboard.store.table import AlreadyStored, WriteConflict
from switchboard.store.tickets import VersionedTicket
from switchboard.tickets import consent_replies, email_threads, lifecycle
from switchboard.tickets.consent_replies import ConsentChange

MAX_ATTEMPTS = 8


class Outcome(StrEnum):
    OPENED = "opened"
    APPENDED = "appended"
    DUPLICATE = "duplicate"
    RECEIPT_RECORDED = "receipt_recorded"
    RECEIPT_IGNORED = "receipt_ignored"
    EDIT_RECORDED = "edit_recorded"
    EDIT_IGNORED = "edit_ignored"
    FOLLOW_RECORDED = "follow_recorded"
    FOLLOW_IGNORED = "follow_ignored"
    NOTED = "noted"  # an automatic mail recorded as an internal note on its ticket
    HELD = "held"  # a mail kept out of tickets (quarantined, or automatic and about no open ticket)


class AttachmentRequests(Protocol):
    """Where the writer asks for a stored message's attachments to be fetched (the media job queue)."""

    def request_attachments(self, message: InboundMessage) -> None: ...


def _with_retries(attempt_once: Callable[[], Outcome], sleep: Callable[[float], None]) -> Outcome:
    for attempt in range(MAX_ATTEMPTS):
        try:
            return attempt_once()
        except WriteConflict:
            # Another writer changed what we read between our read and write: back off, re-read.
            sleep(random.uniform(0, 0.02 * 2**attempt))
    raise WriteConflict(f"still conflicting after {MAX_ATTEMPTS} attempts; the queue will redeliver")


def record_inbound(
    message: InboundMessage,
    store: Repositories,
    sleep: Callable[[float], None] = time.sleep,
    thanks: ThanksDetector = NO_THANKS_DETECTION,
) -> Outcome:
    """Puts a message on the conversation's ticket, opening one if needed, with the ticket's SLA clocks moved
    as the message moves them (sla/clocks.py)."""
    return _with_retries(lambda: _record_once(message, store, thanks), sleep)


def _record_once(message: InboundMessage, store: Repositories, thanks: ThanksDetector) -> Outcome:
    if lifecycle.is_automatic(message):
        return _record_automatic_mail(message, store)
    conversation_key, found, outsider = message.conversation_key, None, False
    if message.email is not None:
        decision = email_threads.decide(message, store)
        conversation_key, found, outsider = decision.conversation_key, decision.ticket, decision.sender_not_participant
    ticket_id = store.tickets.current_ticket_id(conversation_key)
    current = _current_ticket(store, ticket_id, already_read=found)
    # Whether the whole message is an opt-out or opt-in keyword: no I/O, and None for nearly every message.
    change = consent_replies.consent_change_of(message)
    try:
        if current and not lifecycle.needs_follow_up(current.ticket):
            only_thanks = thanks.only_thanks(message, current.ticket)
            after = lifecycle.with_message(current.ticket, message, only_thanks=only_thanks)
            after = _sla_tracked(current.ticket, after, store)
            timeline = lifecycle.timeline_message(after.id, message, sender_not_participant=outsider)
            audit = lifecycle.status_audit(current.ticket, after, version=current.version + 1)
            consenting = _consenting(store, message, change, after.requester.contact_id)
            consent = _consent_writes(store, message, change, consenting, after)
            store.tickets.append_message(
                current=current,
                ticket_after=consent.ticket,
                message=timeline,
                audit=audit,
                also=consent.actions,
                sequence=after.message_count,
            )
            _count_consent(consent)
            return Outcome.APPENDED
        link = None
        if current:
            follows_up = current.ticket
            contact_id, new_contact = follows_up.requester.contact_id, None
            number = store.tickets.next_ticket_number()
            found_by_phone = False
        else:
            follows_up = None
            identity = lifecycle.identity_of(message)
            lookup = store.tickets.contact_and_next_number(identity, message.sender.phone_e164)
            number = lookup.next_number
            new_contact = None if lookup.contact_id else lifecycle.new_contact(message)
            contact_id = new_contact.id if new_contact else str(lookup.contact_id)
            found_by_phone = lookup.found_by_phone
        # The requester, read once per ticket opened (never per message): their tags for SLA policies, room on their
        # identity list, and the notification a reply answers. One strongly consistent GetItem of the contact item.
        contact, consenting = None, None
        if new_contact is None:
            contact = store.contacts.contact(contact_id)
            consenting = _consenting(store, message, change, contact_id, contact)
        elif change is not None:
            # A contact's first message is a keyword: the contact is created recording it.
            new_contact = consent_replies.with_consent(new_contact, change)
        if found_by_phone:
            # A new channel identity with a verified phone number joins the contact who has that number. It is listed
            # on the contact only while the list has room (MAX_CONTACT_IDENTITIES), so a customer writing from ever
            # more accounts keeps one bounded contact; and not when its keyword changes that contact in this same
            # transaction, which takes one action per item. Unlisted, the identity still resolves to the contact,
            # and their phone number reaches them on the channel.
            room = contact is None or len(contact.identities) < MAX_CONTACT_IDENTITIES
            link = IdentityLink(contact_id, identity, listed=room and not _changes(consenting, change, contact_id))
        rules = store.sla_rules.current()
        ticket = lifecycle.opened_ticket(
            message,
            number=number,
            contact_id=contact_id,
            follows_up=follows_up,
            conversation_key=conversation_key,
            requester_tags=contact.tags if contact is not None and rules.uses_requester_tags else (),
            order_ref=lifecycle.order_ref_of(contact, message),
        )
        ticket = clocks.track(None, ticket, at=ticket.created_at, rules=rules)
        consent = _consent_writes(store, message, change, consenting, ticket, new_contact=new_contact)
        store.tickets.open_ticket_for(
            ticket=consent.ticket,
            first_message=lifecycle.timeline_message(ticket.id, message, sender_not_participant=outsider),
            new_contact=new_contact,
            follows_up=follows_up,
            link_identity=link,
            also=consent.actions,
        )
        _count_consent(consent)
        return Outcome.OPENED
    except AlreadyStored:
        return Outcome.DUPLICATE


def _sla_tracked(before: Ticket, after: Ticket, store: Repositories) -> Ticket:
    """The ticket after a message, its SLA clocks moved at the message's arrival (never before the ticket's last
    change: a message processed late does not rewind the clocks)."""
    at = max(after.updated_at, before.updated_at)
    return clocks.track(before, after, at=at, rules=store.sla_rules.current())


@dataclass(frozen=True)
class _ConsentWrites:
    """What a keyword message writes besides itself: the consent change (`actions`), and its confirmation with its
    send attempt, counted on `ticket`. Nothing for any other message."""

    actions: list[dict[str, Any]]
    ticket: Ticket
    change: ConsentChange | None = None
    confirmed: bool = False


def _consenting(
    store: Repositories,
    message: InboundMessage,
    change: ConsentChange | None,
    requester_id: str,
    requester: Contact | None = None,
) -> Contact | None:
    """The contact whose consent a keyword changes: the conversation's customer, the requester (read here unless
    already read); on mail, the sender's own contact, who may be someone copied on the thread. Nothing is read
    for a message that is no keyword."""
    if change is None:
        return None
    contact_id: str | None = requester_id
    if message.email is not None:
        contact_id = store.contacts.contact_id_for(lifecycle.identity_of(message))
    if contact_id is None:
        return None
    if requester is not None and requester.id == contact_id:
        return requester
    return store.contacts.contact(contact_id)


def _changes(contact: Contact | None, change: ConsentChange | None, contact_id: str) -> bool:
    """Whether the keyword's consent change is written on this contact."""
    return (
        contact is not None
        and change is not None
        and contact.id == contact_id
        and consent_replies.is_news(contact, change)
    )


def _consent_writes(
    store: Repositories,
    message: InboundMessage,
    change: ConsentChange | None,
    contact: Contact | None,
    ticket: Ticket,
    *,
    new_contact: Contact | None = None,
) -> _ConsentWrites:
    """The consent change a keyword message makes (on `contact`, or already on `new_contact`) and its one
    confirmation after the message on `ticket` (whose message count includes the keyword's). A change older than
    what the contact records changes nothing and is not confirmed: the newer one was."""
    if change is None:
        return _ConsentWrites([], ticket)
    actions: list[dict[str, Any]] = []
    if new_contact is None:
        if contact is None or not consent_replies.is_news(contact, change):
            return _ConsentWrites([], ticket)
        # Conditional on the consent as it reads it: a change recorded meanwhile makes the transaction conflict,
        # and the retry sees it; none when a change as new is recorded by now.
        actions = store.contacts.consent_actions(
            contact.id, change.channel, change.opted_out, at=change.at, by=change.by
        )
        if not actions:
            return _ConsentWrites([], ticket)
    sequence = ticket.message_count + 1
    confirmation = consent_replies.confirmation_on(
        ticket, message, change, sequence=sequence, timeline_key=timeline_key
    )
    if confirmation is None:
        return _ConsentWrites(actions, ticket, change)
    reply, attempt = confirmation
    actions += [*store.messages.new_message_actions(reply, sequence), *store.outbox.new_attempt_actions(attempt)]
    return _ConsentWrites(actions, consent_replies.with_confirmation(ticket, reply), change, confirmed=True)


def _count_consent(consent: _ConsentWrites) -> None:
    if consent.change is None:
        return
    action = "OptOut" if consent.change.opted_out else "OptIn"
    metrics.add_metric(name=f"Consent{action}", unit="Count", value=1)
    if consent.confirmed:
        metrics.add_metric(name="ConsentConfirmationQueued", unit="Count", value=1)


def _current_ticket(
    store: Repositories, ticket_id: str | None, already_read: VersionedTicket | None
) -> VersionedTicket | None:
    """The thread's current ticket, without reading again the one threading just read (a reply's usual case);
    its version still guards the write, so a change in between is a conflict and a retry, as ever."""
    if ticket_id is None:
        return None
    if already_read is not None and already_read.ticket.id == ticket_id:
        return already_read
    return store.tickets.ticket(ticket_id)


def _record_automatic_mail(message: InboundMessage, store: Repositories) -> Outcome:
    """An automatic mail joins the open ticket it is about as an internal note, else it is held for review.

    A bounce is about the mail that bounced (which is then marked failed); an out-of-office or a list mail
    is about the thread its headers name. It never opens a ticket, reopens one or joins one by subject,
    so two auto-responders cannot keep a ticket ping-ponging."""
    email = message.email
    if email is None:
        raise ValueError("only mail is automatic mail")
    ticket_id, found = None, None
    if email.handling is MailHandling.BOUNCE and email.bounced_message_id:
        target = store.messages.delivery_target(Channel.EMAIL.value, email.bounced_message_id)
        if target is not None and target.notification_id is not None:
            store.notifications.record_delivery(
                target.notification_id, DeliveryStatus.FAILED, message.provider_timestamp
            )
        bounced = target.message if target is not None else None
        if bounced is not None:
            if bounced.direction is Direction.OUTBOUND:
                store.messages.record_delivery_status(
                    bounced, DeliveryStatus.FAILED, at=message.provider_timestamp, by="bounce"
                )
            found = store.tickets.ticket(bounced.ticket_id)
            ticket_id = store.tickets.current_ticket_id(found.ticket.conversation_key) if found else None
    elif email.handling in (MailHandling.AUTO_REPLY, MailHandling.BULK, MailHandling.LOOP):
        decision = email_threads.decide(message, store, subject_token=False)
        if decision.rule is not email_threads.ThreadRule.OWN_THREAD:
            found = decision.ticket
            ticket_id = store.tickets.current_ticket_id(decision.conversation_key)
    current = _current_ticket(store, ticket_id, already_read=found)
    if current is None or lifecycle.needs_follow_up(current.ticket):
        return Outcome.HELD if store.held_mail.hold_mail(lifecycle.held_mail(message)) else Outcome.DUPLICATE
    try:
        store.tickets.append_message(
            current=current,
            ticket_after=_sla_tracked(current.ticket, lifecycle.with_message(current.ticket, message), store),
            message=lifecycle.timeline_message(current.ticket.id, message),
        )
    except AlreadyStored:
        return Outcome.DUPLICATE
    return Outcome.NOTED


def record_receipt(receipt: DeliveryReceipt, store: Repositories) -> Outcome:
    """A provider's delivery report for something we sent: an agent's reply, or a proactive notification and its
    copy on the contact's open ticket; each moves forward only. Reports for what we don't know are ignored."""
    target = store.messages.delivery_target(receipt.channel.value, receipt.external_id)
    if target is None and receipt.attempt_id is not None:
        # A reply whose send answer never came (unknown): the provider's receipt names our attempt, and its
        # provider id now finds the message, as a sent answer would have made it.
        adopted = store.outbox.adopt_provider_id(receipt.attempt_id, receipt.channel, receipt.external_id)
        target = DeliveryTarget(adopted) if adopted is not None else None
    if target is None:
        return Outcome.RECEIPT_IGNORED
    at = receipt.provider_timestamp
    # Each write is forward only, so a redelivered receipt (or one retried after a crash between them) records
    # what is still missing and nothing twice.
    recorded = False
    if target.notification_id is not None:
        recorded = store.notifications.record_delivery(target.notification_id, receipt.status, at)
    ref = target.message
    if ref is not None and ref.direction is Direction.OUTBOUND:
        # A failed receipt's reasons (a bounce's, WhatsApp's errors) become the message's delivery_error.
        error = cut_text("; ".join(receipt.errors), MAX_NAME_CHARS) or None
        recorded = store.messages.record_delivery_status(ref, receipt.status, at=at, error=error) or recorded
    return Outcome.RECEIPT_RECORDED if recorded else Outcome.RECEIPT_IGNORED


def record_read_watermark(watermark: ReadWatermark, store: Repositories) -> Outcome:
    """The customer read everything we sent up to a moment: each such message of the current ticket becomes read."""
    ticket_id = store.tickets.current_ticket_id(watermark.conversation_key)
    if ticket_id is None:
        return Outcome.RECEIPT_IGNORED
    updated = [
        store.messages.record_delivery_status(ref, DeliveryStatus.READ, at=watermark.read_up_to)
        for ref in store.messages.outbound_refs_up_to(ticket_id, watermark.read_up_to)
    ]
    return Outcome.RECEIPT_RECORDED if any(updated) else Outcome.RECEIPT_IGNORED


def record_edit(edit: MessageEdit, store: Repositories) -> Outcome:
    """The author changed a message: the timeline shows the new text and keeps the original."""
    ref = store.messages.message_ref(edit.channel.value, edit.external_id)
    if ref is None:
        # The original never reached us (sent before the channel was connected): nothing to correct.
        return Outcome.EDIT_IGNORED
    return Outcome.EDIT_RECORDED if store.messages.record_edit(ref, edit.text, edit.edited_at) else Outcome.EDIT_IGNORED


def record_follow(change: FollowChange, store: Repositories, sleep: Callable[[float], None] = time.sleep) -> Outcome:
    """Follow/unfollow is recorded on the contact, creating the contact if this is the first we hear of them."""
    identity = lifecycle.identity_of(change)

    def attempt() -> Outcome:
        contact_id = store.contacts.contact_id_for(identity)
        if contact_id is None:
            contact = lifecycle.new_contact(change)
            store.contacts.create_contact(contact)
            contact_id = contact.id
        recorded = store.contacts.record_follow(contact_id, identity, change.following, change.occurred_at)
        return Outcome.FOLLOW_RECORDED if recorded else Outcome.FOLLOW_IGNORED

    return _with_retries(attempt, sleep)


def record_event(event: InboundEvent, store: Repositories, media: AttachmentRequests | None = None) -> Outcome:
    if isinstance(event, DeliveryReceipt):
        return record_receipt(event, store)
    if isinstance(event, ReadWatermark):
        return record_read_watermark(event, store)
    if isinstance(event, MessageEdit):
        return record_edit(event, store)
    if isinstance(event, FollowChange):
        return record_follow(event, store)
    outcome = record_inbound(event, store)
    # Asked again on redelivery too: a crash after the write but before the request must not lose media;
    # fetching is idempotent per attachment.
    if media is not None and event.attachments:
        media.request_attachments(event)
    return outcome


def record_queued_event(body: str, store: Repositories, media: AttachmentRequests | None = None) -> Outcome:
    event = queue.decode(body)
    outcome = record_event(event, store, media)
    customer = ""
    if isinstance(event, InboundMessage):
        customer = mask_email(event.email.from_address) if event.email else mask_phone(event.sender.phone_e164)
    # DEBUG, not INFO: the metric counts outcomes; a line per message is for an operator who turns it on.
    logger.debug(
        "inbound event recorded",
        extra={"channel": event.channel.value, "kind": event.kind, "outcome": outcome.value, "customer": customer},
    )
    metrics.add_metric(name=f"Inbound_{outcome.value}", unit="Count", value=1)
    return outcome


def write_batch(
    event: dict[str, Any], context: Any, store: Repositories, media: AttachmentRequests | None = None
) -> dict[str, Any]:
    """Processes an SQS FIFO batch. A failed record fails the rest of its message group only (order is kept
    per conversation); Lambda returns just those to the queue, which redelivers and finally dead-letters them."""
    from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response

    # A plain dict, as the handler declares: Powertools types it as its own TypedDict.
    return dict(
        process_partial_response(
            event=event,
            record_handler=partial(_record_sqs_record, store=store, media=media),
            processor=SqsFifoPartialProcessor(skip_group_on_error=True),
            context=context,
        )
    )


def _record_sqs_record(record, store: Repositories, media: AttachmentRequests | None) -> Outcome:
    return record_queued_event(record.body, store, media)
