"""Contacts: one customer whatever the channel, found by a channel identity or a verified phone number."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from switchboard.models import MAX_CONTACT_FOLLOWS, MAX_CONTACT_IDENTITIES, ChannelIdentity, Contact, sortable_time
from switchboard.store.table import (
    Table,
    contact_key,
    from_attributes,
    identity_key,
    phone_key,
    serialize,
    to_attributes,
)


@dataclass(frozen=True)
class IdentityLink:
    """A new channel identity joining a contact found by its verified phone number; `listed` while the
    contact's identities list has room."""

    contact_id: str
    identity: ChannelIdentity
    listed: bool = True


class ContactRepository:
    def __init__(self, table: Table) -> None:
        self._table = table

    def contact(self, contact_id: str) -> Contact | None:
        item = self._table.get(contact_key(contact_id))
        return Contact.model_validate(from_attributes(item)) if item else None

    def contact_id_for(self, identity: ChannelIdentity) -> str | None:
        item = self._table.get(identity_key(identity))
        return item["contact_id"]["S"] if item else None

    def set_tags(self, contact_id: str, tags: tuple[str, ...]) -> Contact | None:
        """Sets the contact's tags (e.g. vip, which SLA policies match through each ticket's requester): the contact
        as it now is, or None when there is no such contact. Conditional on the contact existing, so a stray id
        never leaves a tags-only item that reads as half a contact."""
        item = self._table.update_if(
            contact_key(contact_id),
            "SET #tags = :tags",
            "attribute_exists(pk)",
            names={"#tags": "tags"},
            values={":tags": serialize(list(tags))},
            return_new=True,
        )
        return Contact.model_validate(from_attributes(item)) if item is not None else None

    def create_contact(self, contact: Contact) -> None:
        """Records a contact before any ticket (someone who followed the account); WriteConflict if their
        identity or phone number was claimed meanwhile (the caller re-reads)."""
        self._table.transact(self.new_contact_actions(contact), first_is_message_index=False)

    def record_follow(self, contact_id: str, identity: ChannelIdentity, following: bool, at: datetime) -> bool:
        """Sets whether the contact follows the account on that identity; an older event never overrides a newer
        one, and a contact already recording MAX_CONTACT_FOLLOWS identities records no further one (False)."""
        moment = sortable_time(at)
        written = self._table.update_if(
            contact_key(contact_id),
            "SET follows.#identity = :state",
            # A new identity is recorded only while the map has room (MAX_CONTACT_FOLLOWS).
            "attribute_exists(pk) AND (attribute_not_exists(follows.#identity) AND size(follows) < :max"
            " OR follows.#identity.changed_at < :at)",
            names={"#identity": identity.key},
            values={
                ":state": {"M": {"following": {"BOOL": following}, "changed_at": {"S": moment}}},
                ":at": {"S": moment},
                ":max": {"N": str(MAX_CONTACT_FOLLOWS)},
            },
        )
        return written is not None

    # -- what a contact contributes to a ticket's opening transaction -----------------------------

    def new_contact_actions(self, contact: Contact) -> list[dict[str, Any]]:
        """The contact, its identities and its verified phone, each claimed once."""
        actions = [
            self._table.put_action(
                {**identity_key(identity), "contact_id": {"S": contact.id}}, "attribute_not_exists(pk)"
            )
            for identity in contact.identities
        ]
        if contact.phone_e164:
            # Claimed once: a second contact with the same verified number would split one customer in two.
            actions.append(
                self._table.put_action(
                    {**phone_key(contact.phone_e164), "contact_id": {"S": contact.id}}, "attribute_not_exists(pk)"
                )
            )
        contact_item = {**contact_key(contact.id), **to_attributes(contact.model_dump(mode="json"))}
        actions.append(self._table.put_action(contact_item, "attribute_not_exists(pk)"))
        return actions

    def link_actions(self, link: IdentityLink) -> list[dict[str, Any]]:
        """The identity resolves to the contact from now on; it is also listed on the contact while the
        list has room (MAX_CONTACT_IDENTITIES). The list is checked again here: when a concurrent link
        filled it since the writer read it, the transaction conflicts and the writer re-reads."""
        actions = [
            self._table.put_action(
                {**identity_key(link.identity), "contact_id": {"S": link.contact_id}}, "attribute_not_exists(pk)"
            )
        ]
        if link.listed:
            actions.append(
                self._table.update_action(
                    contact_key(link.contact_id),
                    "SET identities = list_append(identities, :identity)",
                    "attribute_exists(pk) AND size(identities) < :max",
                    {
                        ":identity": {"L": [serialize(link.identity.model_dump(mode="json"))]},
                        ":max": {"N": str(MAX_CONTACT_IDENTITIES)},
                    },
                )
            )
        return actions
