"""Which ticket thread a mail belongs to. The rules run in this order and the first that matches decides:

1. reply address: the mail was sent to support+<token>@..., the token we put in the Reply-To of our
   replies. The intake only passes on a token whose MAC verifies, so nobody can write into another
   customer's ticket by guessing one.
2. references: In-Reply-To, then References from the newest, name a mail we hold (received or sent).
3. subject token: "[#<number>]" in the subject names a ticket whose requester is this sender. The same
   token from another address is ignored: a number is easy to guess.
4. otherwise the mail starts its own thread. That thread's key is the sender plus the thread's root
   Message-ID (the first References entry), so replies of one sender that arrive before the mail they
   answer still meet on one ticket, while two customers answering the same newsletter do not.

A thread maps to its current ticket (the conversation item); the writer opens a follow-up ticket when
that ticket is closed. A subject alone never joins anything.

Rule 2 trusts headers anyone once copied on the thread knows: a Message-ID is no secret. A mail it joins
from someone neither the ticket's requester nor among the thread's copied addresses (Ticket.cc) still joins,
so no customer's answer is lost, but its timeline message says `sender_not_participant` for the agent.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from switchboard.models import Channel, InboundMessage, Ticket
from switchboard.store.repositories import Repositories
from switchboard.store.tickets import VersionedTicket
from switchboard.tickets import lifecycle


class ThreadRule(StrEnum):
    REPLY_ADDRESS = "reply_address"
    REFERENCES = "references"
    SUBJECT_TOKEN = "subject_token"
    OWN_THREAD = "own_thread"


@dataclass(frozen=True)
class ThreadDecision:
    conversation_key: str
    rule: ThreadRule
    # The ticket the rule found, as read: the writer reuses it when it is still the thread's current one.
    ticket: VersionedTicket | None = None
    # Joined by rule 2, from an address that is neither the requester's nor copied on the thread.
    sender_not_participant: bool = False


def decide(message: InboundMessage, store: Repositories, *, subject_token: bool = True) -> ThreadDecision:
    """The thread of a mail. `subject_token=False` skips rule 3 (automatic mail joins only by headers)."""
    email = message.email
    if email is None:
        raise ValueError("only mail is threaded by mail rules")
    if email.reply_ticket_id:
        ticket = store.tickets.ticket(email.reply_ticket_id)
        if ticket is not None:
            return ThreadDecision(ticket.ticket.conversation_key, ThreadRule.REPLY_ADDRESS, ticket)
    referenced = [*email.in_reply_to, *reversed(email.references)]
    if referenced:
        holding = store.messages.tickets_of_messages(Channel.EMAIL.value, referenced)
        for message_id in referenced:
            ticket = store.tickets.ticket(holding[message_id]) if message_id in holding else None
            if ticket is not None:
                outsider = not _is_participant(store, ticket.ticket, message)
                return ThreadDecision(ticket.ticket.conversation_key, ThreadRule.REFERENCES, ticket, outsider)
    if subject_token and email.subject_ticket_number is not None:
        ticket_id = store.tickets.ticket_id_numbered(email.subject_ticket_number)
        ticket = store.tickets.ticket(ticket_id) if ticket_id else None
        if ticket is not None and _is_requester(store, ticket.ticket, message):
            return ThreadDecision(ticket.ticket.conversation_key, ThreadRule.SUBJECT_TOKEN, ticket)
    return ThreadDecision(message.conversation_key, ThreadRule.OWN_THREAD)


def _is_participant(store: Repositories, ticket: Ticket, message: InboundMessage) -> bool:
    """The sender is copied on the thread, or is its requester. The requester's own replies share the
    thread's key (their address and the thread's root), so only other senders cost a read."""
    copied = message.email is not None and message.email.from_address in ticket.cc
    return copied or message.conversation_key == ticket.conversation_key or _is_requester(store, ticket, message)


def _is_requester(store: Repositories, ticket: Ticket, message: InboundMessage) -> bool:
    return store.contacts.contact_id_for(lifecycle.identity_of(message)) == ticket.requester.contact_id
