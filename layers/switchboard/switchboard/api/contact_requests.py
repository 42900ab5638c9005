"""The body and answer of PATCH /contacts/{contact_id} (api/contact_changes.py), apart from its handler so that the
API's description (api/openapi.py) reads them without importing the write paths (as api/write_requests.py does for
the tickets' writes)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from switchboard.models import MAX_TAG_CHARS, MAX_TICKET_TAGS, Contact, NotifyChannel, plain_tags

# A request re-tags at most MAX_TICKETS_RETAGGED of the contact's tickets among the MAX_TICKETS_READ newest
# (api/contact_changes.py says why these bounds).
MAX_TICKETS_RETAGGED = 50
MAX_TICKETS_READ = 200


class ConsentChange(BaseModel):
    """What an agent records of the customer's answer to proactive messages (notifications/consent.py reads it at
    every send). A field left out stays as it is."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Strict: "yes" or 1 is not an answer a customer gave, and lax bools would take them as true.
    advertising: bool | None = Field(
        default=None,
        strict=True,
        description="true: the customer agreed to advertising (recorded now); false: withdrawn",
    )
    night_advertising: bool | None = Field(
        default=None,
        strict=True,
        description="true: the customer also agreed to advertising between 21:00 and 08:00 in their time zone, "
        "which 정보통신망법 제50조 asks for apart; false: withdrawn",
    )
    preferred_channel: NotifyChannel | None = Field(
        default=None,
        description="The channel notifications try first; null clears the preference (the channel they last "
        "wrote on is tried first again)",
    )

    @field_validator("advertising", "night_advertising")
    @classmethod
    def _answered(cls, answer: bool | None) -> bool:
        if answer is None:
            raise ValueError("true or false; leave it out to keep it as it is")
        return answer

    @model_validator(mode="after")
    def _something(self) -> ConsentChange:
        if not self.model_fields_set:
            raise ValueError("give advertising, night_advertising or preferred_channel")
        return self

    @property
    def clears_preferred_channel(self) -> bool:
        return "preferred_channel" in self.model_fields_set and self.preferred_channel is None


class ContactTags(BaseModel):
    """The body of PATCH /contacts/{contact_id}: every tag the contact is to have (an empty list clears them), their
    consent to proactive messages, or both."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tags: tuple[str, ...] | None = Field(
        default=None,
        max_length=MAX_TICKET_TAGS,
        description=f"e.g. vip: at most {MAX_TICKET_TAGS}, each 1 to {MAX_TAG_CHARS} characters without spaces, "
        "as a ticket's tags; a repeated tag is kept once. Left out, the tags stay as they are",
    )
    consent: ConsentChange | None = Field(default=None, description="Left out, the consent stays as it is")

    @field_validator("tags", mode="before")
    @classmethod
    def _a_list(cls, tags: object) -> object:
        # null is not "no tags" ([] is): refused, so that a client's null never clears or keeps tags by surprise.
        if tags is None:
            raise ValueError("a list of tags ([] clears them); leave it out to keep them as they are")
        return tags

    @field_validator("tags")
    @classmethod
    def _plain_tags(cls, tags: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return plain_tags(tags) if tags is not None else None

    @field_validator("consent", mode="before")
    @classmethod
    def _a_consent(cls, consent: object) -> object:
        if consent is None:
            raise ValueError("the consent to change; leave it out to keep it as it is")
        return consent

    @model_validator(mode="after")
    def _something(self) -> ContactTags:
        if self.tags is None and self.consent is None:
            raise ValueError("give tags, consent or both")
        return self


class TaggedContact(BaseModel):
    """The answer of PATCH /contacts/{contact_id}."""

    contact: Contact
    tickets_updated: int = Field(
        description="How many of the contact's tickets took the tags as requester.tags (0 without tags)"
    )
    complete: bool = Field(
        description=f"false when the request stopped at a bound ({MAX_TICKETS_READ} tickets read, "
        f"{MAX_TICKETS_RETAGGED} re-tagged): older open tickets may keep the tags they had"
    )
