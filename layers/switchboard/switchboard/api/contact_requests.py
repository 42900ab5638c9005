"""The body and answer of PATCH /contacts/{contact_id} (api/contact_changes.py), apart from its handler so that the
API's description (api/openapi.py) reads them without importing the write paths (as api/write_requests.py does for
the tickets' writes)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from switchboard.models import MAX_TAG_CHARS, MAX_TICKET_TAGS, Contact, plain_tags

# A request re-tags at most MAX_TICKETS_RETAGGED of the contact's tickets among the MAX_TICKETS_READ newest
# (api/contact_changes.py says why these bounds).
MAX_TICKETS_RETAGGED = 50
MAX_TICKETS_READ = 200


class ContactTags(BaseModel):
    """The body of PATCH /contacts/{contact_id}: every tag the contact is to have (an empty list clears them)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tags: tuple[str, ...] = Field(
        max_length=MAX_TICKET_TAGS,
        description=f"e.g. vip: at most {MAX_TICKET_TAGS}, each 1 to {MAX_TAG_CHARS} characters without spaces, "
        "as a ticket's tags; a repeated tag is kept once",
    )

    @field_validator("tags")
    @classmethod
    def _plain_tags(cls, tags: tuple[str, ...]) -> tuple[str, ...]:
        return plain_tags(tags)


class TaggedContact(BaseModel):
    """The answer of PATCH /contacts/{contact_id}."""

    contact: Contact
    tickets_updated: int = Field(description="How many of the contact's tickets took the tags as requester.tags")
    complete: bool = Field(
        description=f"false when the request stopped at a bound ({MAX_TICKETS_READ} tickets read, "
        f"{MAX_TICKETS_RETAGGED} re-tagged): older open tickets may keep the tags they had"
    )
