"""MailEventsFunction's flow: SES's reports on agents' mail (SNS notifications on MailEventsQueue) become delivery
receipts on the inbound queue, where the ticket writer records each once, as it does every channel's receipts.

A record that cannot be read goes back to its queue: after the queue's maxReceiveCount receives it moves to
MailEventsDeadLetterQueue, whose alarm says so. A notification is never dropped because this code does not know
its shape (SES may add one): it waits there for a redrive once the parser does, and it cannot loop for ever.
What settles nothing (SES's setup message, an event type the destination should not publish) is acknowledged.
Repeating a record is harmless: its receipt's deduplication id is the mail's id and status, and the writer moves
a reply's status forward only.
"""

from __future__ import annotations

from typing import Any

from switchboard.email.ses_events import read_notification
from switchboard.errors import MalformedPayload
from switchboard.masking import mask_email
from switchboard.observability import logger, metrics
from switchboard.queue import InboundQueue


def forward_mail_events(event: dict[str, Any], context: Any, queue: InboundQueue) -> dict[str, Any]:
    """An SQS batch of SES's notifications; a failed record (and only it) returns to the queue for a retry."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    def handle(record) -> None:
        forward_mail_event(record.body, queue)

    # A plain dict, as the handler declares: Powertools types it as its own TypedDict.
    return dict(
        process_partial_response(
            event=event, record_handler=handle, processor=BatchProcessor(event_type=EventType.SQS), context=context
        )
    )


def forward_mail_event(body: str, queue: InboundQueue) -> str:
    """Puts the receipt one notification makes on the inbound queue; the outcome: delivered, failed or ignored.
    Raises MalformedPayload for a body that is not SES's notification, EnqueueFailed when SQS refuses it."""
    try:
        read = read_notification(body)
    except MalformedPayload as error:
        metrics.add_metric(name="MailEvent_unreadable", unit="Count", value=1)
        logger.warning("unreadable mail event", extra={"error": error.message})
        raise
    if read.receipt is None:
        metrics.add_metric(name="MailEvent_ignored", unit="Count", value=1)
        if read.kind.startswith("sns:SubscriptionConfirmation"):
            # CloudFormation's subscription of a queue of the same account is confirmed without this message.
            logger.warning("the mail events queue was asked to confirm an SNS subscription", extra={"kind": read.kind})
        else:
            logger.debug("mail event settles nothing", extra={"kind": read.kind})
        return "ignored"
    receipt = read.receipt
    queue.send([receipt])
    metrics.add_metric(name=f"MailEvent_{receipt.status.value}", unit="Count", value=1)
    logger.debug(
        "mail event forwarded",
        extra={"kind": read.kind, "status": receipt.status.value, "recipient": mask_email(receipt.recipient_id)},
    )
    return receipt.status.value
