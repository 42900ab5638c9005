"""Reply addresses that carry their ticket: support+<token>@shop.example.

The token is the ticket id plus a MAC under a key kept in Secrets Manager, so a reply to it can be
trusted to belong to that ticket without any lookup, and nobody can write into another customer's ticket
by making up a token. Lower-case letters and digits only: some mail systems lower-case addresses.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any

_TICKET_ID = re.compile(r"^t_([0-9a-f]{24})$")
_TOKEN = re.compile(r"^([0-9a-f]{24})([a-z2-7]{16})$")
_PLUS_ADDRESS = re.compile(r"^([^+@]+)\+([^@]+)@(.+)$")


def _mac(ticket_hex: str, key: str) -> str:
    digest = hmac.new(key.encode(), f"reply-token:{ticket_hex}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode().lower()[:16]


def reply_token(ticket_id: str, key: str) -> str:
    found = _TICKET_ID.match(ticket_id)
    if not found:
        raise ValueError("not a ticket id")
    return found.group(1) + _mac(found.group(1), key)


def ticket_id_of_token(token: str, keys: list[str]) -> str | None:
    """The ticket a token names, when its MAC verifies under one of `keys` (the current key first, then
    retired ones, so rotating the key does not orphan replies to mail sent before)."""
    found = _TOKEN.match(token.strip().lower())
    if not found:
        return None
    ticket_hex, mac = found.groups()
    if any(hmac.compare_digest(mac, _mac(ticket_hex, key)) for key in keys if key):
        return f"t_{ticket_hex}"
    return None


def reply_token_keys(secret: Mapping[str, Any]) -> list[str]:
    """The keys a reply token may be signed with, from the email secret: `reply_token_key` (the one new
    tokens use) first, then `retired_reply_token_keys`, kept while mail signed with them may be answered."""
    retired = secret.get("retired_reply_token_keys") or []
    return [str(secret.get("reply_token_key") or ""), *(str(key) for key in retired if isinstance(retired, list))]


def reply_address(mailbox: str, ticket_id: str, key: str) -> str:
    """The Reply-To of a mail we send on a ticket, e.g. support+<token>@shop.example."""
    local, _, domain = mailbox.partition("@")
    return f"{local}+{reply_token(ticket_id, key)}@{domain}"


def split_plus_address(address: str) -> tuple[str, str | None]:
    """'support+tag@shop.example' -> ('support@shop.example', 'tag'); addresses without a tag keep None."""
    found = _PLUS_ADDRESS.match(address.strip().lower())
    if not found:
        return address.strip().lower(), None
    local, tag, domain = found.groups()
    return f"{local}@{domain}", tag
