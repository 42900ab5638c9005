"""Contacts: one customer whatever the channel, found by a channel identity or a verified phone number; a shop's
customer also by the shop's own customer id (SHOPCUSTOMER#) or their email address (EMAIL#).

| item               | pk                                              | sk           | holds      |
|--------------------|-------------------------------------------------|--------------|------------|
| shop customer link | SHOPCUSTOMER#<key_part(source#shop#customer id)> | SHOPCUSTOMER | contact_id |
| email link         | EMAIL#<key_part(lowercased address)>            | EMAIL        | contact_id |

Each link is claimed once (attribute_not_exists), in the same transaction as what made it known (an order event's
record), so two events never make two contacts of one customer. The contact's `consent` map (the Consent model) is
written per channel, an older change never over a newer one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from switchboard.models import (
    MAX_CONTACT_FOLLOWS,
    MAX_CONTACT_IDENTITIES,
    Channel,
    ChannelConsent,
    ChannelIdentity,
    Contact,
    NotifyChannel,
    sortable_time,
)

if TYPE_CHECKING:
    from switchboard.orders.events import OrderCustomer

from switchboard.store.table import (
    Table,
    WriteConflict,
    contact_key,
    from_attributes,
    identity_key,
    key,
    key_of,
    key_part,
    phone_key,
    serialize,
    to_attributes,
)

# E.164: "+", then at most 15 digits (ITU-T E.164 §6); 8 is the shortest a real subscriber number gives with
# its country code. Only the separators people type are dropped before checking.
_E164 = re.compile(r"\+[1-9][0-9]{7,14}")
_PHONE_SEPARATORS = str.maketrans("", "", " -().")
_MAX_EMAIL_CHARS = 320
_MAX_CONSENT_TRIES = 5


def e164(phone: str | None) -> str | None:
    """The phone number in E.164, or None when it is not one (then it never identifies anyone)."""
    if not phone or len(phone) > 32:
        return None
    number = phone.translate(_PHONE_SEPARATORS)
    return number if _E164.fullmatch(number) else None


def normal_email(address: str | None) -> str | None:
    """The address as a link key holds it: trimmed, lower-cased; None when it cannot be an address."""
    if not address:
        return None
    normal = address.strip().lower()
    local, at, domain = normal.rpartition("@")
    if not at or not local or "." not in domain or len(normal) > _MAX_EMAIL_CHARS:
        return None
    return normal


def shop_customer_key(source: str, shop: str, customer_id: str) -> dict[str, Any]:
    return key(f"SHOPCUSTOMER#{key_part(f'{source}#{shop}#{customer_id}')}", "SHOPCUSTOMER")


def email_key(address: str) -> dict[str, Any]:
    return key(f"EMAIL#{key_part(address)}", "EMAIL")


@dataclass(frozen=True)
class CustomerLinks:
    """Which contact each of a shop customer's keys names, as read: None where the key is unclaimed (or absent)."""

    shop_customer_key: dict[str, Any] | None
    phone_e164: str | None
    email: str | None
    by_shop_customer: str | None = None
    by_phone: str | None = None
    by_email: str | None = None
    by_email_identity: str | None = None

    @property
    def contact_id(self) -> str | None:
        """The contact they resolve to: the shop's own customer id first, then the phone, then the email."""
        return self.by_shop_customer or self.by_phone or self.by_email or self.by_email_identity

    @property
    def names_anyone(self) -> bool:
        return bool(self.shop_customer_key or self.phone_e164 or self.email)


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

    # -- a shop's customers (proactive/order_events.py) ------------------------------------------------

    def customer_links(self, source: str, shop: str, customer: OrderCustomer) -> CustomerLinks:
        """The contacts a shop customer's id, phone and email name, in one BatchGetItem (the email also as the
        email channel's identity, so a customer who once wrote to us by mail is that contact)."""
        phone, email = e164(customer.phone), normal_email(customer.email)
        customer_key = shop_customer_key(source, shop, customer.id) if customer.id else None
        email_identity = (
            identity_key(ChannelIdentity(channel=Channel.EMAIL, channel_account_id="any", external_id=email))
            if email
            else None
        )
        wanted = [
            k
            for k in (
                customer_key,
                phone_key(phone) if phone else None,
                email_key(email) if email else None,
                email_identity,
            )
            if k is not None
        ]
        found = self._table.get_many(wanted) if wanted else {}

        def named_by(item_key: dict[str, Any] | None) -> str | None:
            item = found.get(key_of(item_key)) if item_key is not None else None
            return item["contact_id"]["S"] if item else None

        return CustomerLinks(
            shop_customer_key=customer_key,
            phone_e164=phone,
            email=email,
            by_shop_customer=named_by(customer_key),
            by_phone=named_by(phone_key(phone) if phone else None),
            by_email=named_by(email_key(email) if email else None),
            by_email_identity=named_by(email_identity),
        )

    def contact_for_customer(self, source: str, shop: str, customer: OrderCustomer) -> str | None:
        """The contact a shop's customer is: by the shop's customer id, else the E.164 phone, else the email."""
        return self.customer_links(source, shop, customer).contact_id

    def new_customer_actions(self, contact: Contact, links: CustomerLinks) -> list[dict[str, Any]]:
        """A contact made from a shop's customer, with every key of theirs claimed for it (each once: a concurrent
        event claiming one first makes the transaction conflict, and its retry finds that contact)."""
        return self.new_contact_actions(contact) + self._customer_claims(contact.id, links)

    def fill_actions(self, contact: Contact, customer: OrderCustomer, links: CustomerLinks) -> list[dict[str, Any]]:
        """The known contact's keys not claimed yet (the shop's customer id, the email address) claimed for it, and
        its missing email, phone, locale and time zone filled from the customer: never overwriting what it has."""
        fill: dict[str, str] = {}
        if contact.email is None and links.email and links.by_email in (None, contact.id):
            fill["email"] = links.email
        # A contact known by the shop's id or an email, without a phone: the order's number reaches them by AlimTalk
        # and SMS, once no one else has claimed it (PHONE# claimed in the same transaction).
        if contact.phone_e164 is None and links.phone_e164 and links.by_phone is None:
            fill["phone_e164"] = links.phone_e164
        if contact.locale is None and customer.locale:
            fill["locale"] = customer.locale
        if contact.timezone is None and customer.timezone:
            fill["timezone"] = customer.timezone
        return [
            *self._customer_claims(contact.id, links),
            *self._phone_claims(contact, links),
            *self._fill_actions(contact.id, fill),
        ]

    def _customer_claims(self, contact_id: str, links: CustomerLinks) -> list[dict[str, Any]]:
        claims = []
        if links.shop_customer_key is not None and links.by_shop_customer is None:
            claims.append(self._claim(links.shop_customer_key, contact_id))
        if links.email and links.by_email is None:
            claims.append(self._claim(email_key(links.email), contact_id))
        return claims

    def _phone_claims(self, contact: Contact, links: CustomerLinks) -> list[dict[str, Any]]:
        if contact.phone_e164 is None and links.phone_e164 and links.by_phone is None:
            return [self._claim(phone_key(links.phone_e164), contact.id)]
        return []

    def _claim(self, link_key: dict[str, Any], contact_id: str) -> dict[str, Any]:
        return self._table.put_action({**link_key, "contact_id": {"S": contact_id}}, "attribute_not_exists(pk)")

    def _fill_actions(self, contact_id: str, fill: dict[str, str]) -> list[dict[str, Any]]:
        if not fill:
            return []
        names = {f"#{name}": name for name in fill}
        update = "SET " + ", ".join(f"#{name} = if_not_exists(#{name}, :{name})" for name in fill)
        return [
            {
                "Update": {
                    "TableName": self._table.name,
                    "Key": contact_key(contact_id),
                    "UpdateExpression": update,
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": {f":{name}": {"S": value} for name, value in fill.items()},
                }
            }
        ]

    # -- consent to proactive messages -------------------------------------------------------------

    def consent_actions(
        self, contact_id: str, channel: NotifyChannel, opted_out: bool, at: datetime, by: str
    ) -> list[dict[str, Any]]:
        """The transaction action recording an opt-out or opt-in on a channel, unless a change at or after `at` is
        recorded already (then none: a keyword arriving late never undoes a newer one) or there is no such contact.
        Its condition is the consent as read here, so a change recorded meanwhile makes the transaction conflict
        and the caller re-reads. Works on contacts stored before consent existed (no `consent` map)."""
        item = self._table.get(contact_key(contact_id), projection="pk, consent")
        if item is None:
            return []
        stored = item.get("consent")
        entry = ChannelConsent(opted_out=opted_out, changed_at=at, by=by[:64])
        entry_value = _consent_entry(entry)
        if stored is None:
            return [
                self._table.update_action(
                    contact_key(contact_id),
                    "SET consent = :consent",
                    "attribute_exists(pk) AND attribute_not_exists(consent)",
                    {":consent": {"M": {"channels": {"M": {channel.value: entry_value}}}}},
                )
            ]
        channels = stored["M"].get("channels")
        if channels is None:
            return [
                self._consent_update(
                    contact_id,
                    "SET consent.channels = :channels",
                    "attribute_not_exists(consent.channels)",
                    {":channels": {"M": {channel.value: entry_value}}},
                )
            ]
        recorded = channels["M"].get(channel.value)
        if recorded is None:
            return [
                self._consent_update(
                    contact_id,
                    "SET consent.channels.#channel = :entry",
                    "attribute_exists(consent.channels) AND attribute_not_exists(consent.channels.#channel)",
                    {":entry": entry_value},
                    channel.value,
                )
            ]
        if ChannelConsent.model_validate(from_attributes(recorded["M"])).changed_at >= at:
            return []
        return [
            self._consent_update(
                contact_id,
                "SET consent.channels.#channel = :entry",
                "consent.channels.#channel.changed_at = :seen",
                {":entry": entry_value, ":seen": recorded["M"]["changed_at"]},
                channel.value,
            )
        ]

    def record_consent(self, contact_id: str, channel: NotifyChannel, opted_out: bool, at: datetime, by: str) -> bool:
        """Records an opt-out or opt-in alone (Twilio's own STOP handling, an agent): False when a change at or after
        `at` is recorded already, or there is no such contact."""
        for _ in range(_MAX_CONSENT_TRIES):
            actions = self.consent_actions(contact_id, channel, opted_out, at, by)
            if not actions:
                return False
            try:
                self._table.transact(actions, first_is_message_index=False)
            except WriteConflict:
                continue  # another change landed between the read and the write: read again
            return True
        raise WriteConflict(f"the consent of contact {contact_id} kept changing")

    def set_consent(
        self,
        contact_id: str,
        *,
        advertising: bool | None,
        night_advertising: bool | None,
        preferred_channel: NotifyChannel | None,
        clear_preferred: bool,
        at: datetime,
    ) -> Contact | None:
        """Records the contact's consent to advertising (and to advertising at night) given or withdrawn at `at`
        (None: unchanged), and their preferred channel (set, or cleared with `clear_preferred`): the contact as it
        now is, or None when there is no such contact."""
        moment = sortable_time(at)
        for _ in range(_MAX_CONSENT_TRIES):
            item = self._table.get(contact_key(contact_id))
            if item is None:
                return None
            sets: dict[str, dict[str, Any] | None] = {}
            if advertising is not None:
                sets["advertising_at"] = {"S": moment} if advertising else None
            if night_advertising is not None:
                sets["night_advertising_at"] = {"S": moment} if night_advertising else None
            if preferred_channel is not None:
                sets["preferred_channel"] = {"S": preferred_channel.value}
            elif clear_preferred:
                sets["preferred_channel"] = None
            if not sets:
                return Contact.model_validate(from_attributes(item))
            if "consent" not in item:
                whole = {name: value for name, value in sets.items() if value is not None}
                written = self._table.update_if(
                    contact_key(contact_id),
                    "SET consent = :consent",
                    "attribute_exists(pk) AND attribute_not_exists(consent)",
                    values={":consent": {"M": {"channels": {"M": {}}, **whole}}},
                    return_new=True,
                )
            else:
                written = self._set_consent_fields(contact_id, sets)
            if written is not None:
                return Contact.model_validate(from_attributes(written))
        raise WriteConflict(f"the consent of contact {contact_id} kept changing")

    def _set_consent_fields(self, contact_id: str, sets: dict[str, dict[str, Any] | None]) -> dict[str, Any] | None:
        names = {f"#{name}": name for name in sets}
        # The SET always holds one value: a consent written before `channels` existed gains it, and an update
        # that only withdraws (REMOVE) still names a value, which DynamoDB requires of an expression with values.
        assigned = ["consent.channels = if_not_exists(consent.channels, :no_channels)"]
        assigned += [f"consent.#{name} = :{name}" for name, value in sets.items() if value is not None]
        removed = [f"consent.#{name}" for name, value in sets.items() if value is None]
        expression = f"SET {', '.join(assigned)}" + (f" REMOVE {', '.join(removed)}" if removed else "")
        values = {f":{name}": value for name, value in sets.items() if value is not None}
        return self._table.update_if(
            contact_key(contact_id),
            expression,
            "attribute_exists(consent)",
            values={**values, ":no_channels": {"M": {}}},
            names=names,
            return_new=True,
        )

    def _consent_update(
        self,
        contact_id: str,
        expression: str,
        condition: str,
        values: dict[str, Any],
        channel: str | None = None,
    ) -> dict[str, Any]:
        update: dict[str, Any] = {
            "TableName": self._table.name,
            "Key": contact_key(contact_id),
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": values,
        }
        if channel is not None:
            update["ExpressionAttributeNames"] = {"#channel": channel}
        return {"Update": update}


def _consent_entry(entry: ChannelConsent) -> dict[str, Any]:
    # changed_at fixed-width UTC, as every time a condition compares.
    return {
        "M": {
            "opted_out": {"BOOL": entry.opted_out},
            "changed_at": {"S": sortable_time(entry.changed_at)},
            "by": {"S": entry.by},
        }
    }
