"""Agents add internal notes: POST /tickets/{ticket_id}/notes with an Idempotency-Key and {"text": "..."}.

A note is for the team and is never sent (tickets/notes.py). The Idempotency-Key, per agent, makes the
request safe to retry: the same key and text answer 200 with the note already written, and nothing more is
written; the same key with other text, or on another ticket, is a mistake the client must see (422), as
Stripe and the IETF draft "The Idempotency-Key HTTP Header Field" answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from switchboard.api.agents import Role, caller_of
from switchboard.api.representation import etag_of, json_body, message_json
from switchboard.api.write_requests import NoteRequest
from switchboard.config import AccessSettings
from switchboard.errors import InvalidRequest, NotFound, SwitchboardError
from switchboard.http import error_response, json_response
from switchboard.models import utc_now
from switchboard.observability import logger, metrics
from switchboard.sla.clocks import track
from switchboard.store.messages import StoredMessage, timeline_key
from switchboard.store.repositories import Repositories
from switchboard.store.table import AlreadyStored, WriteConflict
from switchboard.tickets.notes import MAX_IDEMPOTENCY_KEY_CHARS, MAX_NOTE_CHARS, note_audit, note_external_id, note_on

# Appending races only with other appends (a customer's message, another note); each retry re-reads.
_ATTEMPTS = 5
_MAX_BODY_BYTES = 4 * MAX_NOTE_CHARS + 1024


class IdempotencyKeyReused(SwitchboardError):
    status_code = 422
    code = "idempotency_key_reused"


class Busy(SwitchboardError):
    status_code = 409
    code = "conflict"


def handle_ticket_note(
    event: Mapping[str, Any],
    *,
    store: Repositories,
    access: AccessSettings,
    clock: Callable[[], datetime] = utc_now,
) -> dict[str, Any]:
    try:
        agent = caller_of(event, access).require(Role.AGENT).subject
        ticket_id = (event.get("pathParameters") or {}).get("ticket_id", "")
        idempotency_key = idempotency_key_of(event, what="note")
        wanted = json_body(event, NoteRequest, max_bytes=_MAX_BODY_BYTES, expected='a note {"text": "..."}')
        for _ in range(_ATTEMPTS):
            current = store.tickets.ticket_record(ticket_id)
            if current is None:
                raise NotFound(f"ticket {ticket_id[:200]!r} does not exist")
            now = clock()
            note, after = note_on(
                current.ticket, text=wanted.text, agent_id=agent, idempotency_key=idempotency_key, at=now
            )
            # A note answers nothing, but it is an update: the policy is applied anew, as on every update.
            after = track(current.ticket, after, at=now, rules=store.sla_rules.current())
            try:
                audit = note_audit(
                    current.ticket,
                    note,
                    message_key=timeline_key(note, after.message_count),
                    version=current.version + 1,
                )
                store.tickets.append_message(current=current, ticket_after=after, message=note, audit=audit)
            except AlreadyStored:
                return _replayed(store, current.ticket.channel.value, ticket_id, agent, idempotency_key, wanted)
            except WriteConflict:
                continue
            logger.info("note added", extra={"version": current.version + 1})
            metrics.add_metric(name="TicketNoteAdded", unit="Count", value=1)
            stored = StoredMessage(timeline_key(note, after.message_count), note)
            return json_response(201, {"message": _note_json(stored)}, {"etag": etag_of(current.version + 1)})
        raise Busy("the ticket is changing right now; send the note again with the same Idempotency-Key")
    except SwitchboardError as error:
        return error_response(error)


def _replayed(
    store: Repositories, channel: str, ticket_id: str, agent: str, idempotency_key: str, wanted: NoteRequest
) -> dict[str, Any]:
    """The note this agent's key already wrote: 200 with it if the request is the same one, else 422."""
    ref = store.messages.message_ref(channel, note_external_id(agent, idempotency_key))
    stored = store.messages.stored_message(ref) if ref is not None else None
    if stored is None or ref is None or ref.ticket_id != ticket_id or stored.message.text != wanted.text:
        raise IdempotencyKeyReused("this Idempotency-Key already added another note; use a new key for a new note")
    return json_response(200, {"message": _note_json(stored)})


def idempotency_key_of(event: Mapping[str, Any], *, what: str) -> str:
    """The request's Idempotency-Key header: required on every agent write that must not happen twice."""
    value = (event.get("headers") or {}).get("idempotency-key")
    key = value.strip() if isinstance(value, str) else ""
    if not key or len(key) > MAX_IDEMPOTENCY_KEY_CHARS or not key.isascii() or not key.isprintable():
        raise InvalidRequest(
            f"send an Idempotency-Key header (1 to {MAX_IDEMPOTENCY_KEY_CHARS} printable ASCII characters, a new "
            f"UUID per {what}) so that a retried request cannot write the {what} twice"
        )
    return key


def _note_json(stored: StoredMessage) -> dict[str, Any]:
    return {**message_json(stored.message), "message_key": stored.key}
