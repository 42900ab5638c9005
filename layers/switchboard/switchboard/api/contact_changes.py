"""Agents set a contact's tags and record their consent to proactive messages: PATCH /contacts/{contact_id}.

    PATCH /contacts/{contact_id}
    {"tags": ["vip"], "consent": {"advertising": true, "preferred_channel": "alimtalk"}}
    -> 200 {"contact": {..., "tags": ["vip"], "consent": {...}}, "tickets_updated": 2, "complete": true}

Either part may be left out, and stays as it is. Consent (models.py Consent) is what the notification sender
reads at every send: advertising needs it, advertising between 21:00 and 08:00 needs night consent too
(정보통신망법 제50조), and a preferred channel is tried before the channel the customer last wrote on. It is
recorded first, so a request whose re-tagging stops at a busy ticket (409) has recorded it. A customer's opt-out
of a channel is theirs to send (STOP, 수신거부: notifications/consent.py); an agent records only the answers above.

SLA policies match the requester's tags (`conditions.requester_tags`, sla/policies.py) through the copy a ticket
carries as `requester.tags`: the writer copies a known contact's tags into each ticket it opens
(tickets/writer.py). Setting a contact's tags therefore also re-tags their tickets that are not closed, each
through the path every agent change takes: read with its version, its SLA tracked at the time of the request
(sla/clocks.py re-targets a running metric from the change, and a target the time spent already exceeds is
breached then, never back-dated), and saved on that version with an audit of `requester.tags`; a ticket someone
else wrote first (a customer's message, the SLA enforcer) is read again and tried again. A closed ticket is final
(tickets/changes.py) and keeps the tags it had.

The work is bounded whatever the contact's history: their tickets are read newest first, MAX_TICKETS_READ at
most, and MAX_TICKETS_RETAGGED at most are re-tagged. An open ticket past either bound keeps the requester tags it
had, and the answer says `"complete": false` (the request stopped at a bound, and the contact may have tickets it
did not reach). A contact's open tickets are nearly always among their newest (a solved ticket closes some days
later), so the bounds leave out only a contact with many old tickets still unsolved. The request is safe to send again
as it is: the contact's tags are written only when they differ, and a ticket only when its requester tags still
differ, so a repeat goes on with the next tickets among the newest MAX_TICKETS_READ. A ticket the writer opens
while this request runs may take the tags from before (it read the contact first); a repeat settles it too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from switchboard.api.agents import Role, caller_of
from switchboard.api.contact_requests import (
    MAX_TICKETS_READ,
    MAX_TICKETS_RETAGGED,
    ConsentChange,
    ContactTags,
    TaggedContact,
)
from switchboard.api.representation import json_body, known_contact
from switchboard.api.ticket_notes import Busy
from switchboard.config import AccessSettings
from switchboard.errors import NotFound, SwitchboardError
from switchboard.http import error_response, json_response
from switchboard.models import Contact, FieldChange, Ticket, TicketAudit, TicketStatus, utc_now
from switchboard.observability import logger, metrics
from switchboard.sla.clocks import track
from switchboard.sla.policies import SlaRules
from switchboard.store.repositories import Repositories
from switchboard.store.table import WriteConflict

# The contact's tickets are read newest first, a page at a time, MAX_TICKETS_READ (200) at most; of those, at most
# MAX_TICKETS_RETAGGED (50) are written. At most 4 pages of the index and 50 ticket writes (a read and a
# transaction each): about a second on DynamoDB, well within the function's 10-second timeout.
_PAGE_SIZE = 50
# A ticket's write races only with other writes of that ticket (a customer's message, an agent, the SLA enforcer);
# each retry reads it again.
_ATTEMPTS = 3
# 50 tags of 80 characters, each character an emoji escaped in JSON as a surrogate pair (\ud83d\ude00, 12 bytes),
# is 48 KB: every body this route takes fits.
MAX_BODY_BYTES = 64 * 1024


@dataclass(frozen=True)
class Retagging:
    """What re-tagging a contact's tickets did: how many were written, and whether it reached every open one."""

    updated: int
    complete: bool


def handle_contact_change(
    event: Mapping[str, Any],
    *,
    store: Repositories,
    access: AccessSettings,
    clock: Callable[[], datetime] = utc_now,
) -> dict[str, Any]:
    try:
        agent = caller_of(event, access).require(Role.AGENT)
        contact_id = (event.get("pathParameters") or {}).get("contact_id", "")
        wanted = json_body(
            event, ContactTags, max_bytes=MAX_BODY_BYTES, expected='the contact\'s tags or consent {"tags": [...]}'
        )
        contact = known_contact(contact_id, store)
        now = clock()
        if wanted.consent is not None:
            contact = _record_consent(store, contact.id, wanted.consent, at=now)
        retagging = Retagging(0, complete=True)
        if wanted.tags is not None:
            contact, retagging = _tag(store, contact, wanted.tags, actor_id=agent.subject, at=now)
        answer = TaggedContact(contact=contact, tickets_updated=retagging.updated, complete=retagging.complete)
        return json_response(200, answer.model_dump(mode="json"))
    except SwitchboardError as error:
        return error_response(error)


def _tag(
    store: Repositories, contact: Contact, tags: tuple[str, ...], *, actor_id: str, at: datetime
) -> tuple[Contact, Retagging]:
    if contact.tags != tags:
        tagged = store.contacts.set_tags(contact.id, tags)
        if tagged is None:  # pragma: no cover - contacts are never deleted
            raise NotFound(f"contact {contact.id[:200]!r} does not exist")
        contact = tagged
    retagging = retag_requested_tickets(store, contact.id, tags, actor_id=actor_id, at=at)
    logger.info(
        "contact tagged",
        extra={"tags": len(tags), "tickets_updated": retagging.updated, "complete": retagging.complete},
    )
    metrics.add_metric(name="ContactTagged", unit="Count", value=1)
    return contact, retagging


def _record_consent(store: Repositories, contact_id: str, change: ConsentChange, *, at: datetime) -> Contact:
    """The agent's record of the customer's consent: advertising consent is stamped with the time of the request
    (정보통신망법 제50조 asks the sender to be able to show when it was given), and read by every send decided
    after it."""
    consented = store.contacts.set_consent(
        contact_id,
        advertising=change.advertising,
        night_advertising=change.night_advertising,
        preferred_channel=change.preferred_channel,
        clear_preferred=change.clears_preferred_channel,
        at=at,
    )
    if consented is None:  # pragma: no cover - contacts are never deleted
        raise NotFound(f"contact {contact_id[:200]!r} does not exist")
    logger.info(
        "contact consent recorded",
        extra={
            "advertising": change.advertising,
            "night_advertising": change.night_advertising,
            "preferred_channel": change.preferred_channel,
            "clears_preferred_channel": change.clears_preferred_channel,
        },
    )
    metrics.add_metric(name="ContactConsentRecorded", unit="Count", value=1)
    return consented


def retag_requested_tickets(
    store: Repositories, contact_id: str, tags: tuple[str, ...], *, actor_id: str, at: datetime
) -> Retagging:
    """Gives the contact's tickets that are not closed `tags` as their requester tags, newest first, within the
    bounds (MAX_TICKETS_READ read, MAX_TICKETS_RETAGGED written). Busy when a ticket kept changing."""
    rules = store.sla_rules.current()
    updated, read, cursor = 0, 0, None
    while read < MAX_TICKETS_READ:
        limit = min(_PAGE_SIZE, MAX_TICKETS_READ - read)
        page = store.tickets.tickets_requested_by(contact_id, limit=limit, cursor=cursor)
        read += limit
        for listed in page.tickets:
            if not takes_requester_tags(listed, tags):
                continue
            if updated == MAX_TICKETS_RETAGGED:
                return Retagging(updated, complete=False)
            if _retag(store, listed.id, tags, rules, actor_id=actor_id, at=at):
                updated += 1
        if page.next_cursor is None:
            return Retagging(updated, complete=True)
        cursor = page.next_cursor
    return Retagging(updated, complete=False)


def takes_requester_tags(ticket: Ticket, tags: tuple[str, ...]) -> bool:
    """Whether the ticket is to be re-tagged: it is not closed (final), and its requester tags differ."""
    return ticket.status is not TicketStatus.CLOSED and ticket.requester.tags != tags


def requester_retagged(
    ticket: Ticket, tags: tuple[str, ...], *, actor_id: str, at: datetime, version: int
) -> tuple[Ticket, TicketAudit]:
    """The ticket with `tags` as its requester's, changed at `at`, and the audit of the version it makes (its SLA
    is the caller's to track: sla.clocks.track, with the rules of the moment)."""
    after = ticket.model_copy(
        update={"requester": ticket.requester.model_copy(update={"tags": tags}), "updated_at": at}
    )
    audit = TicketAudit(
        ticket_id=ticket.id,
        ticket_version=version,
        actor_id=actor_id,
        at=at,
        changes=(FieldChange(field="requester.tags", before=list(ticket.requester.tags), after=list(tags)),),
    )
    return after, audit


def _retag(
    store: Repositories, ticket_id: str, tags: tuple[str, ...], rules: SlaRules, *, actor_id: str, at: datetime
) -> bool:
    """Re-tags one ticket on the version read, reading it again after a conflict; False when it needs nothing
    any more (closed, or re-tagged meanwhile by a concurrent request)."""
    for _ in range(_ATTEMPTS):
        current = store.tickets.ticket(ticket_id)
        if current is None or not takes_requester_tags(current.ticket, tags):
            return False
        after, audit = requester_retagged(current.ticket, tags, actor_id=actor_id, at=at, version=current.version + 1)
        after = track(current.ticket, after, at=at, rules=rules)
        try:
            store.tickets.change_ticket(current=current, ticket_after=after, audit=audit)
        except WriteConflict:
            continue
        return True
    raise Busy(
        "the contact's tags are set, but one of their tickets kept changing; send the same request again: it "
        "re-tags only the tickets that still differ"
    )
