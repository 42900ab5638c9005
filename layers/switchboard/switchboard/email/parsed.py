"""What the MIME parser makes of one raw mail: the contract between parsing and the intake pipeline.

Everything here is plain data: addresses as written, bodies as text, attachments with their bytes.
Deciding what the mail means for tickets (which ticket, whether it is ours, whether to hold it) is the
pipeline's job, not the parser's.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class MailKind(StrEnum):
    ORDINARY = "ordinary"
    AUTO_REPLY = "auto_reply"  # Auto-Submitted other than "no", X-Autoreply, X-Autorespond, Precedence: auto_reply
    BULK = "bulk"  # Precedence: bulk/junk/list, List-Id: newsletters and mailing lists
    BOUNCE = "bounce"  # a DSN (multipart/report; report-type=delivery-status) or from mailer-daemon/postmaster


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MailAddress(_Frozen):
    address: str = Field(description="addr-spec as written, e.g. 'Kim.Minjun@Example.com'")
    name: str | None = Field(default=None, description="display name, decoded (RFC 2047, 8-bit EUC-KR ...)")

    @property
    def normalized(self) -> str:
        """What two mentions of one mailbox have in common: lower case, no surrounding spaces."""
        return self.address.strip().lower()


class MailFile(_Frozen):
    """An attachment or inline part, with its bytes (decoded from base64/quoted-printable)."""

    filename: str | None = Field(default=None, description="RFC 2231 / RFC 2047 decoded file name, when given")
    content_type: str = Field(description="lower-case type/subtype, e.g. 'image/png'")
    content_id: str | None = Field(default=None, description="Content-ID without <>, for cid: references")
    inline: bool = False
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


# Which part the text came from.
BodySource = Literal["plain", "html", "none"]


class ParsedMail(_Frozen):
    message_id: str | None = Field(description="normalized (see normalize_message_id); None when absent or empty")
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = Field(default=(), description="in header order: the thread's root first")
    subject: str = ""
    sender: MailAddress | None = Field(default=None, description="From (the first mailbox when several)")
    reply_to: tuple[MailAddress, ...] = ()
    to: tuple[MailAddress, ...] = ()
    cc: tuple[MailAddress, ...] = ()
    date: datetime | None = Field(
        default=None, description="Date header, time-zone aware; None if absent or unreadable"
    )
    text: str = Field(default="", description="the whole body as text: text/plain, else the HTML converted to text")
    body_source: BodySource = "none"
    html: str | None = Field(
        default=None, description="the HTML body sanitized: no scripts, handlers or remote content"
    )
    reply_text: str = Field(
        default="", description="what the sender newly wrote: `text` without quoted reply and signature"
    )
    attachments: tuple[MailFile, ...] = Field(default=(), description="attachments and inline parts, in MIME order")
    decoding_problems: tuple[str, ...] = Field(
        default=(),
        description="e.g. 'body: declared euc-kr, not valid in it; decoded with replacement' (never content)",
    )
    limits: tuple[str, ...] = Field(
        default=(),
        description="what a parsing limit cut, e.g. 'mime_parts', 'header_size', 'text_length' (see email.bounds)",
    )
    kind: MailKind = MailKind.ORDINARY
    kind_reason: str | None = Field(
        default=None, description="the header or part that decided `kind`, e.g. 'Auto-Submitted: auto-replied'"
    )
    bounced_message_id: str | None = Field(
        default=None, description="a bounce: the normalized Message-ID of the mail that bounced"
    )
    spam_verdict: str | None = Field(default=None, description="first X-SES-Spam-Verdict header (SES prepends its own)")
    virus_verdict: str | None = Field(default=None, description="first X-SES-Virus-Verdict header")


def normalize_message_id(value: str | None) -> str | None:
    """A Message-ID as compared for threading and dedup: without <>, surrounding space, and with a lower-case
    domain (clients re-case domains; the local part is kept, as RFC 5322 makes it case-sensitive)."""
    if value is None:
        return None
    found = value.strip().strip("<>").strip()
    if not found or any(c.isspace() for c in found):
        return None
    local, at, domain = found.rpartition("@")
    return f"{local}@{domain.lower()}" if at else found
