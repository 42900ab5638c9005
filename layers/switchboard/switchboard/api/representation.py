"""What the agents' routes share about HTTP: how a JSON body is read into its model, how a ticket and a message
are shown, and the ticket's ETag (its version, which every write moves on: RFC 9110 §8.8.3, a strong validator)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from switchboard.errors import InvalidRequest, NotFound, SwitchboardError
from switchboard.http_request import read_json
from switchboard.models import Contact, Ticket, TicketMessage
from switchboard.tickets.changes import MAX_ID_CHARS

if TYPE_CHECKING:
    from switchboard.store.repositories import Repositories

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
# A page's texts are cut here (Zendesk's ticket view also shows long comments folded): 8,000 characters is
# more than a chat message can hold on any channel but LINE's 5,000 and Telegram's 4,096 fit whole, and at
# most 32 KB of UTF-8 each.
LISTING_TEXT_CHARS = 8000

_ETAG = re.compile(r'(?:W/)?"([0-9]{1,12})"')


def json_body[M: BaseModel](event: Mapping[str, Any], model: type[M], *, max_bytes: int, expected: str) -> M:
    """The request's JSON body as `model`, or InvalidRequest (400) saying what was `expected` and, for a body
    of the wrong shape, which fields are wrong (never their values: they may be a customer's words)."""
    body = event.get("body") or ""
    if event.get("isBase64Encoded") or len(body) > max_bytes:
        raise InvalidRequest(f"send {expected} as JSON of at most {max_bytes} bytes")
    try:
        return model.model_validate(read_json(body.encode("utf-8", "surrogatepass")))
    except ValidationError as exc:
        problems = [f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors()[:3]]
        raise InvalidRequest(f"not {expected}: {'; '.join(problems)[:300]}") from exc
    except SwitchboardError as exc:
        raise InvalidRequest(f"the body must be {expected} as JSON") from exc


def ticket_json(ticket: Ticket) -> dict[str, Any]:
    return ticket.model_dump(mode="json")


def message_json(message: TicketMessage) -> dict[str, Any]:
    return message.model_dump(mode="json")


def contact_json(contact: Contact) -> dict[str, Any]:
    return contact.model_dump(mode="json")


def etag_of(version: int) -> str:
    return f'"{version}"'


def version_named(if_match: str) -> int | None:
    """The version an If-Match names; None for anything that is not one of our ETags (so it never matches)."""
    found = _ETAG.fullmatch(if_match[:64])
    return int(found.group(1)) if found else None


def known_contact(contact_id: str, store: Repositories) -> Contact:
    """The contact an agents' route names, or NotFound (404). Our contact ids are short (c_ and 24 hex digits): one
    longer than any id PATCH takes, or not printable (a lone surrogate UTF-8 cannot encode among them), is no
    contact, and is answered without a read: DynamoDB would refuse its key with a 500."""
    readable = 1 <= len(contact_id) <= MAX_ID_CHARS and contact_id.isprintable()
    contact = store.contacts.contact(contact_id) if readable else None
    if contact is None:
        raise NotFound(f"contact {contact_id[:200]!r} does not exist")
    return contact
