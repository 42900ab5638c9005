"""SES's reports on the mail agents send, read into delivery receipts.

The channel sender names the stack's configuration set on every `SendEmail` (`ConfigurationSetName`); its
event destination publishes what happens to the mail to an SNS topic, and SNS puts each notification on
MailEventsQueue (email/mail_events.py takes it from there). Each notification that settles a reply becomes one
`DeliveryReceipt`, which the ticket writer records like any other channel's.

The shapes:
- the queue message is SNS's JSON envelope (raw message delivery is off): `{"Type": "Notification",
  "MessageId", "TopicArn", "Message": <SES's event, itself JSON, as a string>, "Timestamp", "SignatureVersion",
  "Signature", ...}` (SNS developer guide, "HTTP/HTTPS notification JSON format"; an SQS subscription receives the
  same document);
- SES's event: `{"eventType": "Bounce" | "Complaint" | "Delivery" | "Reject" | ..., "mail": {"timestamp", "source",
  "messageId", "destination": [...]}, "bounce" | "complaint" | "delivery" | "reject": {...}}`, where
  `mail.messageId` is SendEmail's `MessageId` (SES developer guide, "Contents of event data that Amazon SES
  publishes to Amazon SNS"). Feedback notifications set on an identity, which an operator may point at the same
  topic, spell the type `notificationType` and carry the same objects ("Amazon SNS notification contents for
  Amazon SES"); both are read.

What each event means for the reply (a delivery status only moves forward, so a complaint after a delivery fails it):

| event | status | reason on the message |
|---|---|---|
| Delivery | delivered | |
| Bounce | failed | `bounced: Permanent/General (smtp; 550 5.1.1 user unknown)` |
| Complaint | failed | `marked as spam by the recipient` |
| Reject | failed | `rejected by SES: it found a virus and delivered nothing (Bad content)` |

A `Transient` bounce is final as well: SES publishes a soft bounce only "when SES fails to deliver the email after
retrying for a period of time" (SES API v2, EventDestination, BOUNCE). Any other notification (SES's "Successfully
validated SNS topic for Amazon SES event publishing." when the destination is set up, a Send or DeliveryDelay should
the destination ever publish them) settles nothing and is read as such. A body that is neither is malformed.

Each receipt also names our send attempt when the mail carries the sender's tag (SES publishes a mail's tags in
`mail.tags`), so a report settles a reply whose SendEmail answer never came (`unknown`): the writer adopts the
MessageId for that attempt's message, as for WhatsApp's echoed attempt.

Reasons name no address: a diagnostic code that quotes one ("smtp; 550 5.1.1 <jane@example.com>... User") has it
replaced by `<address>`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from switchboard.errors import MalformedPayload
from switchboard.models import Channel, DeliveryReceipt, DeliveryStatus

SNS_NOTIFICATION = "Notification"
# The tag the sender puts on each mail (EmailTags), naming its send attempt; SES publishes it in mail.tags.
ATTEMPT_TAG = "switchboard-attempt"
_ATTEMPT_ID = re.compile(r"^a_[0-9a-f]{24}$")  # models.stable_id("a", ...)
DIAGNOSTIC_CHARS = 300
_IDENTITY_CHARS = 256


class _Boundary(BaseModel):
    """SES's and SNS's documents as they come: fields we do not read are theirs to add."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class _SnsEnvelope(_Boundary):
    type: str = Field(alias="Type", min_length=1)
    message: str = Field(alias="Message")


class _Mail(_Boundary):
    message_id: str = Field(alias="messageId", min_length=1, max_length=512)
    source: str = Field(min_length=1, max_length=2048)
    destination: tuple[str, ...] = Field(min_length=1)
    timestamp: datetime
    # SES's own (ses:configuration-set ...) and the mail's EmailTags, each name with its values.
    tags: dict[str, Any] = {}

    @property
    def attempt_id(self) -> str | None:
        """Our send attempt, from the tag the sender puts on the mail (email/sender.py)."""
        values = self.tags.get(ATTEMPT_TAG)
        value = values[0] if isinstance(values, list) and values else None
        return value if isinstance(value, str) and _ATTEMPT_ID.match(value) else None


class _BouncedRecipient(_Boundary):
    diagnostic_code: str | None = Field(default=None, alias="diagnosticCode")


class _Bounce(_Boundary):
    bounce_type: str = Field(alias="bounceType", min_length=1, max_length=64)
    bounce_sub_type: str = Field(default="Undetermined", alias="bounceSubType", max_length=64)
    bounced_recipients: tuple[_BouncedRecipient, ...] = Field(default=(), alias="bouncedRecipients")
    timestamp: datetime | None = None


class _Complaint(_Boundary):
    # SES API v2: OnAccountSuppressionList when SES did not send the mail, the address being on the account's
    # suppression list after an earlier complaint; absent otherwise.
    complaint_sub_type: str | None = Field(default=None, alias="complaintSubType")
    timestamp: datetime | None = None


class _Delivery(_Boundary):
    timestamp: datetime | None = None


class _Reject(_Boundary):
    reason: str | None = Field(default=None, max_length=256)


class _SesEvent(_Boundary):
    event_type: str = Field(validation_alias=AliasChoices("eventType", "notificationType"), min_length=1)


class _SettlingEvent(_SesEvent):
    """An event that settles a reply: it names the mail, and Bounce and Complaint carry their object."""

    mail: _Mail
    bounce: _Bounce | None = None
    complaint: _Complaint | None = None
    delivery: _Delivery | None = None
    reject: _Reject | None = None


@dataclass(frozen=True)
class MailEvent:
    """One notification read: SES's event type (or SNS's message type when it is no notification), and the
    receipt it makes, None when it settles nothing."""

    kind: str
    receipt: DeliveryReceipt | None = None


_SETTLING = {"Delivery", "Bounce", "Complaint", "Reject"}


def read_notification(body: str | bytes) -> MailEvent:
    """The receipt an SNS notification of SES's carries; MalformedPayload when it is no such notification (the
    message names where it broke, never what it holds: addresses and subjects are the customer's)."""
    envelope = _validated(_SnsEnvelope, body, "the SNS envelope")
    if envelope.type != SNS_NOTIFICATION:
        # A SubscriptionConfirmation or UnsubscribeConfirmation: SNS's business, not a report on a mail.
        return MailEvent(kind=f"sns:{envelope.type[:40]}")
    try:
        document = json.loads(envelope.message)
    except ValueError:
        # SES's setup message is plain text: "Successfully validated SNS topic for Amazon SES event publishing."
        if envelope.message.startswith("Successfully validated SNS topic for Amazon SES"):
            return MailEvent(kind="setup")
        raise MalformedPayload("the SNS Message is not SES's JSON event") from None
    event = _validated(_SesEvent, document, "SES's event")
    if event.event_type not in _SETTLING:
        return MailEvent(kind=event.event_type[:40])
    settling = _validated(_SettlingEvent, document, "SES's event")
    return MailEvent(kind=settling.event_type, receipt=_receipt(settling))


def _receipt(event: _SettlingEvent) -> DeliveryReceipt:
    mail = event.mail
    status, at, reason = _outcome(event)
    return DeliveryReceipt(
        channel=Channel.EMAIL,
        channel_account_id=_address(mail.source),
        external_id=mail.message_id,
        recipient_id=_address(mail.destination[0]),
        status=status,
        errors=(reason,) if reason else (),
        provider_timestamp=at or mail.timestamp,
        attempt_id=mail.attempt_id,
    )


def _outcome(event: _SettlingEvent) -> tuple[DeliveryStatus, datetime | None, str | None]:
    if event.event_type == "Delivery":
        return DeliveryStatus.DELIVERED, event.delivery.timestamp if event.delivery else None, None
    if event.event_type == "Bounce":
        bounce = _required(event.bounce, "bounce")
        return DeliveryStatus.FAILED, bounce.timestamp, _bounce_reason(bounce, recipients=len(event.mail.destination))
    if event.event_type == "Complaint":
        complaint = _required(event.complaint, "complaint")
        if complaint.complaint_sub_type == "OnAccountSuppressionList":
            reason = "not sent: the recipient marked earlier mail as spam (the SES account's suppression list)"
        else:
            reason = "marked as spam by the recipient"
        return DeliveryStatus.FAILED, complaint.timestamp, reason
    detail = f" ({without_addresses(event.reject.reason)})" if event.reject and event.reject.reason else ""
    return DeliveryStatus.FAILED, None, f"rejected by SES: it found a virus and delivered nothing{detail}"


def _bounce_reason(bounce: _Bounce, *, recipients: int) -> str:
    reason = f"bounced: {bounce.bounce_type}/{bounce.bounce_sub_type}"
    bounced = len(bounce.bounced_recipients)
    if 0 < bounced < recipients:
        # A Cc that bounced fails the reply too: the agent sees which share of the mail did not arrive.
        reason += f" for {bounced} of {recipients} recipients"
    diagnostic = next((r.diagnostic_code for r in bounce.bounced_recipients if r.diagnostic_code), None)
    if diagnostic:
        reason += f" ({without_addresses(diagnostic)})"
    return reason


def without_addresses(text: str) -> str:
    """`text` with every word holding an address replaced by <address>, at most DIAGNOSTIC_CHARS long."""
    words = (("<address>" if "@" in word else word) for word in text[: DIAGNOSTIC_CHARS * 4].split())
    return " ".join(words)[:DIAGNOSTIC_CHARS]


def _address(value: str) -> str:
    """The address of `Sender Name <sender@example.com>` (or the value itself), lowercased as a mailbox id."""
    address = parseaddr(value)[1] or value.strip()
    return (address.lower() or "unknown")[:_IDENTITY_CHARS]


def _required[T](value: T | None, name: str) -> T:
    if value is None:
        raise MalformedPayload(f"SES's event has no {name} object")
    return value


def _validated[M: BaseModel](model: type[M], document: str | bytes | object, what: str) -> M:
    try:
        if isinstance(document, str | bytes):
            return model.model_validate_json(document)
        return model.model_validate(document)
    except ValidationError as error:
        # pydantic's message quotes the input (addresses, subjects); only where it broke is said.
        fields = sorted({".".join(map(str, detail["loc"])) or "(top)" for detail in error.errors()})[:5]
        raise MalformedPayload(f"{what} does not parse ({error.error_count()} errors at {fields})") from None
