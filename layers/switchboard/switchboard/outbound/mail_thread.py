"""What a mail reply needs from its thread, read when it is sent: who the customer is, the mail it answers
(In-Reply-To, References), the mailbox they wrote to, the ticket's Reply-To token, and the quoted history."""

from __future__ import annotations

from collections.abc import Callable

from switchboard.channels.sending import OutboundEmail
from switchboard.email.outgoing import new_message_id, quoted_history, reply_references, reply_subject
from switchboard.email.reply_address import reply_address
from switchboard.models import Direction, MailHandling, SendAttempt, TicketMessage
from switchboard.outbound.requests import UnsendableReply
from switchboard.proof import ChannelSecrets
from switchboard.store.repositories import Repositories

# Enough of the thread for the quote (email/outgoing.py keeps the ten newest) and to find the customer's mail.
THREAD_MESSAGES = 25


class CustomerMailMissing(UnsendableReply):
    """The ticket holds no mail from the customer to answer (an email ticket always does)."""


class MailThreads:
    def __init__(self, store: Repositories, reply_key: Callable[[], ChannelSecrets]) -> None:
        self._store = store
        self._secret = reply_key

    def email_of(self, attempt: SendAttempt) -> OutboundEmail:
        found = self._store.tickets.ticket(attempt.ticket_id)
        if found is None:
            raise CustomerMailMissing("ticket_gone", "the reply's ticket is gone")
        ticket = found.ticket
        newest = self._store.messages.latest_messages(ticket.id, limit=THREAD_MESSAGES)
        answered = next((m for m in newest if _is_customer_mail(m)), None) or self._store.messages.latest_customer_mail(
            ticket.id
        )
        if answered is None or answered.email is None:
            raise CustomerMailMissing("no_customer_mail", "the ticket holds no mail from the customer to answer")
        mail = answered.email
        mailbox = mail.mailbox
        customer = mail.from_address
        copied = [a for a in dict.fromkeys([*ticket.cc, *attempt.intent.cc]) if a not in (customer, mailbox)]
        history = [
            (_author(m), m.created_at, m.text or "")
            for m in newest
            if m.id != attempt.message_id and m.public and m.direction is not Direction.INTERNAL and m.text
        ]
        quoted_text, quoted_html = quoted_history(history)
        return OutboundEmail(
            mailbox=mailbox,
            to=(customer,),
            cc=tuple(copied[:100]),
            reply_to=reply_address(mailbox, ticket.id, str(self._secret().get("reply_token_key") or "")),
            subject=reply_subject(ticket.subject, ticket.number),
            message_id=new_message_id(attempt.id, mailbox.rpartition("@")[2]),
            in_reply_to=f"<{mail.message_id}>" if mail.message_id else None,
            references=reply_references(
                [f"<{r}>" for r in mail.references], f"<{mail.message_id}>" if mail.message_id else None
            ),
            quoted_text=quoted_text,
            quoted_html=quoted_html,
        )


def _is_customer_mail(message: TicketMessage) -> bool:
    return (
        message.direction is Direction.INBOUND
        and message.email is not None
        and message.email.handling is MailHandling.CUSTOMER
    )


def _author(message: TicketMessage) -> str:
    if message.direction is Direction.INBOUND:
        return message.sender_name or (message.email.from_address if message.email else "Customer")
    return "Support"
