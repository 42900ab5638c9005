"""The bodies of the agents' writes (replies, notes, held-mail release), apart from their handlers so that the
API's description (api/openapi.py) reads them without importing the write paths."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from switchboard.models import MAX_TICKET_CC, TicketStatus
from switchboard.store.attachments_bucket import KEY_PREFIX
from switchboard.tickets.changes import AGENT_STATUSES
from switchboard.tickets.notes import MAX_NOTE_CHARS

MAX_REPLY_CHARS = 100_000  # an upper bound for any channel; each channel's own limit is lower and checked first


class AttachmentReference(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    storage_key: str = Field(min_length=len(KEY_PREFIX) + 1, max_length=1024, pattern=r"^attachments/[^\x00-\x1f]+$")
    filename: str | None = Field(default=None, min_length=1, max_length=255)
    mime_type: str | None = Field(default=None, pattern=r"^[a-z0-9!#$&^_.+-]{1,64}/[a-z0-9!#$&^_.+-]{1,128}$")


class TemplateReference(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=512)
    language: str = Field(min_length=2, max_length=15)
    parameters: tuple[str, ...] = Field(default=(), max_length=20)


class ReplyRequest(BaseModel):
    """The body of POST /tickets/{ticket_id}/replies."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str | None = Field(default=None, min_length=1, max_length=MAX_REPLY_CHARS)
    status: TicketStatus | None = Field(default=None, description="Submit as: open, pending, on_hold or solved")
    attachments: tuple[AttachmentReference, ...] = Field(default=(), max_length=10)
    cc: tuple[str, ...] = Field(default=(), max_length=MAX_TICKET_CC, description="Email only: addresses to copy")
    template: TemplateReference | None = Field(default=None, description="WhatsApp: an approved template")

    @model_validator(mode="after")
    def _says_something(self) -> ReplyRequest:
        if self.text is None and not self.attachments and self.template is None:
            raise ValueError("a reply has a text, attachments or a template")
        if self.template is not None and (self.text is not None or self.attachments):
            raise ValueError("a template reply carries only the template's parameters")
        if self.status is not None and self.status not in AGENT_STATUSES:
            raise ValueError("status is open, pending, on_hold or solved")
        for address in self.cc:
            if len(address) > 254 or address.count("@") != 1 or any(c.isspace() or c in '<>,;"' for c in address):
                raise ValueError("cc holds plain addresses (name@domain)")
        return self


class NoteRequest(BaseModel):
    """The body of POST /tickets/{ticket_id}/notes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str = Field(min_length=1, max_length=MAX_NOTE_CHARS)


class ReleaseRequest(BaseModel):
    """The body of POST /mail/held/release."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    external_id: str = Field(
        min_length=1, max_length=1024, description="The held mail's external_id, as GET /mail/held lists it"
    )
