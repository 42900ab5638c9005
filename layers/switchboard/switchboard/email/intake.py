"""From a raw mail in the mail bucket to one normalized message on the inbound queue.

The same path serves SES (its receipt rule writes the object) and the inbound-parse webhooks (they write
the object after verifying the provider): the bucket notifies an SQS queue, and each notification lands
here. Attachments go to the attachments bucket first, then the message is enqueued; a failure of S3 or SQS
leaves the notification on its queue to be retried and finally dead-lettered, never lost. Repeating the
whole path is harmless: attachment keys derive from the message, and the writer stores a Message-ID once.

What the mail says can never fail the intake: the parser's work is bounded (email.bounds) and what a limit
cut is named in `email.parse_limits`; a mail the intake still cannot read becomes a quarantined message
(held mail an agent can review), since a retry would fail the same way into the dead-letter queue.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote_plus

from switchboard.email.mime import parse_mail
from switchboard.email.parsed import MailKind, ParsedMail
from switchboard.email.reply_address import split_plus_address, ticket_id_of_token
from switchboard.models import (
    Attachment,
    AttachmentFetchStatus,
    Channel,
    EmailDetails,
    InboundMessage,
    MailHandling,
    SenderIdentity,
)
from switchboard.observability import logger, metrics
from switchboard.queue import InboundQueue
from switchboard.store.attachments_bucket import AttachmentBucket, attachment_key
from switchboard.store.mail_bucket import SES_SETUP_OBJECT, MailBucket, StoredMail

# Bounds that keep a message under the queue's 256 KB, and so its table item far below DynamoDB's 400 KB,
# whatever the mail (tests/unit/test_email_intake.py builds one at every bound): the text at most ~24 KB and
# the whole body ~48 KB in UTF-8, 50 addresses per field, 100 files. The raw mail keeps everything.
REPLY_TEXT_LIMIT = 8_000
FULL_TEXT_LIMIT = 16_000
ATTACHMENT_LIMIT = 100
FILENAME_LIMIT = 120
REFERENCE_LIMIT = 20
IN_REPLY_TO_LIMIT = 5
MESSAGE_ID_LIMIT = 250  # real Message-IDs are far shorter; a longer one cannot be matched and is dropped
ADDRESS_LIMIT = 50
ADDRESS_LENGTH_LIMIT = 254  # RFC 5321's longest path
_SUBJECT_TICKET = re.compile(r"\[#(\d{1,9})\]")
# Our own outgoing mail is recognisable by the Message-ID we give it (see reply_address and docs).
OUR_MESSAGE_ID_PREFIX = "sb."
_OLDEST_PLAUSIBLE = datetime(1990, 1, 1, tzinfo=UTC)
_KIND_HANDLING = {
    MailKind.AUTO_REPLY: MailHandling.AUTO_REPLY,
    MailKind.BULK: MailHandling.BULK,
    MailKind.BOUNCE: MailHandling.BOUNCE,
}


class _CollaboratorFailed(Exception):
    """An AWS collaborator failed while a mail was read: the cause is raised again, for a retry."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(type(cause).__name__)
        self.cause = cause


@dataclass(frozen=True)
class Mailboxes:
    """Who we are: the domains whose every address is ours, and where mail that names none of them goes."""

    domains: frozenset[str]
    default_mailbox: str

    def is_ours(self, address: str) -> bool:
        return address.rpartition("@")[2].strip().lower() in self.domains


def mail_objects(notification_body: str) -> list[tuple[str, str]]:
    """(bucket, key) of each mail an S3 event notification announces; S3's test event and SES's setup check
    announce none. Keys arrive URL-encoded (spaces as '+')."""
    document = json.loads(notification_body)
    announced = [
        (record["s3"]["bucket"]["name"], unquote_plus(record["s3"]["object"]["key"]))
        for record in document.get("Records", [])
        if str(record.get("eventName", "")).startswith("ObjectCreated")
    ]
    return [(bucket, key) for bucket, key in announced if not key.endswith("/" + SES_SETUP_OBJECT)]


def receive_mail(
    key: str,
    *,
    mail_bucket: MailBucket,
    attachments: AttachmentBucket,
    queue: InboundQueue,
    mailboxes: Mailboxes,
    reply_token_keys: Callable[[], list[str]],
) -> InboundMessage:
    stored = mail_bucket.read(key)
    files: list[tuple[Attachment, bytes, str]] = []

    def keys() -> list[str]:
        try:
            return reply_token_keys()
        except Exception as failure:  # Secrets Manager: retried like any AWS failure, never a quarantine
            raise _CollaboratorFailed(failure) from failure

    try:
        parsed = parse_mail(stored.raw)
        # Received when it reached our bucket: the same moment however often the intake retries it.
        message = inbound_message(
            stored, parsed, mailboxes=mailboxes, reply_token_keys=keys, received_at=stored.stored_at
        )
        files = _attachment_files(message, parsed)
    except _CollaboratorFailed as failure:
        raise failure.cause from None
    except Exception as failure:  # noqa: BLE001 (the content, not AWS, failed: the same would happen on every retry)
        parsed = ParsedMail(message_id=None, decoding_problems=(f"mail: intake failed ({type(failure).__name__})",))
        message = unreadable_message(stored, mailboxes, failure)
        # The error's type only: its message may quote the mail (addresses, text).
        logger.warning(
            "mail quarantined: the intake could not read it",
            extra={"provider": stored.provider, "error": type(failure).__name__},
        )
    for record, data, content_type in files:
        # Every file the intake keeps was given its key by _attachment_files.
        attachments.put_bytes(str(record.storage_key), data, content_type)
    message = message.model_copy(update={"attachments": tuple(record for record, _, _ in files)})
    queue.send([message])
    email = message.email
    if email is None:  # inbound_message and unreadable_message always describe the mail
        raise ValueError("a received mail has email details")
    logger.debug(
        "mail received",
        extra={
            "provider": stored.provider,
            "handling": email.handling.value,
            "attachments": len(files),
            "size_bytes": len(stored.raw),
            "decoding_problems": len(parsed.decoding_problems),
            "parse_limits": list(email.parse_limits),
        },
    )
    metrics.add_metric(name=f"MailReceived_{email.handling.value}", unit="Count", value=1)
    return message


def inbound_message(
    stored: StoredMail,
    parsed: ParsedMail,
    *,
    mailboxes: Mailboxes,
    reply_token_keys: Callable[[], list[str]],
    received_at: datetime,
) -> InboundMessage:
    """The normalized message for a parsed mail (attachments not yet stored)."""
    sender = parsed.sender or (parsed.reply_to[0] if parsed.reply_to else None)
    from_address = sender.normalized if sender and "@" in sender.address else "unknown@invalid"
    if len(from_address) > ADDRESS_LENGTH_LIMIT:  # no real mailbox is longer; cut, it would match nobody
        from_address = from_address[:ADDRESS_LENGTH_LIMIT]
    recipients = [a.normalized for a in (*parsed.to, *parsed.cc)]
    ours = [address for address in recipients if mailboxes.is_ours(address) and len(address) <= ADDRESS_LENGTH_LIMIT]
    mailbox = split_plus_address(ours[0])[0] if ours else mailboxes.default_mailbox
    handling, reason = _handling(stored, parsed, from_address, mailbox, mailboxes)
    external_id = mail_external_id(parsed, from_address)
    root = (parsed.references or parsed.in_reply_to or (external_id,))[0]
    conversation_id = "thread-" + hashlib.sha256(f"{from_address}\x1f{root}".encode()).hexdigest()[:40]
    subject_number = _SUBJECT_TICKET.search(parsed.subject)
    full_text = parsed.text if parsed.text.strip() != parsed.reply_text.strip() else None
    details = EmailDetails(
        mailbox=mailbox,
        from_address=from_address[:ADDRESS_LENGTH_LIMIT],
        to=tuple(a.normalized[:ADDRESS_LENGTH_LIMIT] for a in parsed.to[:ADDRESS_LIMIT]),
        cc=tuple(a.normalized[:ADDRESS_LENGTH_LIMIT] for a in parsed.cc[:ADDRESS_LIMIT]),
        participants=tuple(
            dict.fromkeys(
                a[:ADDRESS_LENGTH_LIMIT] for a in recipients if a != from_address and not mailboxes.is_ours(a)
            )
        )[:ADDRESS_LIMIT],
        subject=parsed.subject[:998],
        message_id=parsed.message_id if parsed.message_id and len(parsed.message_id) <= 998 else None,
        in_reply_to=_bounded_ids(parsed.in_reply_to)[:IN_REPLY_TO_LIMIT],
        references=_root_and_newest(_bounded_ids(parsed.references)),
        reply_ticket_id=_reply_ticket(ours, reply_token_keys),
        subject_ticket_number=int(subject_number.group(1)) if subject_number and int(subject_number.group(1)) else None,
        handling=handling,
        handling_reason=reason[:200] if reason else None,
        bounced_message_id=parsed.bounced_message_id
        if parsed.bounced_message_id and len(parsed.bounced_message_id) <= 998
        else None,
        full_text=full_text[:FULL_TEXT_LIMIT] if full_text else None,
        full_text_truncated=len(parsed.text) > FULL_TEXT_LIMIT or len(parsed.reply_text) > REPLY_TEXT_LIMIT,
        decoding_problems=tuple(p[:200] for p in parsed.decoding_problems[:20]),
        parse_limits=_parse_limits(parsed),
        raw_mail_key=stored.key,
        provider=stored.provider,
        provider_id=stored.provider_id[:512] if stored.provider_id else None,
    )
    return InboundMessage(
        channel=Channel.EMAIL,
        channel_account_id=mailbox[:256],
        conversation_id=conversation_id,
        external_id=external_id,
        sender=SenderIdentity(
            external_id=from_address[:256], display_name=sender.name[:256] if sender and sender.name else None
        ),
        message_type="email",
        text=(parsed.reply_text or parsed.text)[:REPLY_TEXT_LIMIT] or None,
        email=details,
        provider_timestamp=_sent_at(parsed, received_at),
        received_at=received_at,
    )


def _parse_limits(parsed: ParsedMail) -> tuple[str, ...]:
    """What the parser cut, and what this message leaves out of what was parsed (the raw mail has it all)."""
    limits = list(parsed.limits)
    if max(len(parsed.to), len(parsed.cc)) > ADDRESS_LIMIT or any(
        len(a.normalized) > ADDRESS_LENGTH_LIMIT for a in (*parsed.to, *parsed.cc)
    ):
        limits.append("addresses")
    if len(parsed.attachments) > ATTACHMENT_LIMIT:
        limits.append("attachments")
    return tuple(dict.fromkeys(limits))


def unreadable_message(stored: StoredMail, mailboxes: Mailboxes, failure: Exception) -> InboundMessage:
    """A mail the intake could not read, as a quarantined message: held for an agent to review, its raw mail
    in the bucket. Identified by its bytes, so a retry or a redrive holds it once."""
    external_id = "sha256:" + hashlib.sha256(stored.raw).hexdigest()
    return InboundMessage(
        channel=Channel.EMAIL,
        channel_account_id=mailboxes.default_mailbox[:256],
        conversation_id="thread-" + external_id.removeprefix("sha256:")[:40],
        external_id=external_id,
        sender=SenderIdentity(external_id="unknown@invalid"),
        message_type="email",
        email=EmailDetails(
            mailbox=mailboxes.default_mailbox,
            from_address="unknown@invalid",
            handling=MailHandling.QUARANTINED,
            handling_reason=f"the intake could not read this mail ({type(failure).__name__})",
            decoding_problems=(f"mail: intake failed ({type(failure).__name__})",),
            parse_limits=("unreadable",),
            raw_mail_key=stored.key,
            provider=stored.provider,
            provider_id=stored.provider_id[:512] if stored.provider_id else None,
        ),
        provider_timestamp=stored.stored_at,
        received_at=stored.stored_at,
    )


def _is_our_own_mail(parsed: ParsedMail, from_address: str, mailbox: str, mailboxes: Mailboxes) -> bool:
    """Mail we sent (its Message-ID is one we give, at one of our domains), or mail from the very mailbox it
    reached. A colleague at our domain writing to support is not a loop: staff open tickets too."""
    message_id = parsed.message_id or ""
    if message_id.startswith(OUR_MESSAGE_ID_PREFIX) and mailboxes.is_ours(message_id):
        return True
    return from_address in (mailbox, mailboxes.default_mailbox)


def _handling(
    stored: StoredMail, parsed: ParsedMail, from_address: str, mailbox: str, mailboxes: Mailboxes
) -> tuple[MailHandling, str | None]:
    # An agent looked at this held mail and released it: it is a customer's, whatever its headers say.
    if stored.released_by is not None:
        return MailHandling.CUSTOMER, "released from held mail by an agent"
    # SES prepends its verdicts; only mail SES received can carry trustworthy ones.
    if stored.provider == "ses":
        if (parsed.virus_verdict or "").upper() == "FAIL":
            return MailHandling.QUARANTINED, "SES virus verdict FAIL"
        if (parsed.spam_verdict or "").upper() == "FAIL":
            return MailHandling.QUARANTINED, "SES spam verdict FAIL"
    if from_address == "unknown@invalid":
        return MailHandling.QUARANTINED, "no sender address"
    if parsed.kind is MailKind.BOUNCE:
        return MailHandling.BOUNCE, parsed.kind_reason
    if _is_our_own_mail(parsed, from_address, mailbox, mailboxes):
        return MailHandling.LOOP, "sent by Switchboard or by the mailbox it came to"
    if parsed.kind in _KIND_HANDLING:
        return _KIND_HANDLING[parsed.kind], parsed.kind_reason
    return MailHandling.CUSTOMER, None


def mail_external_id(parsed: ParsedMail, from_address: str) -> str:
    """The normalized Message-ID; a mail without one is identified by what it says, so the same mail
    delivered twice (by SES and again by a forwarding provider) still has one id."""
    if parsed.message_id and len(parsed.message_id) <= 400:
        return parsed.message_id
    content = "\x1f".join(
        [
            from_address,
            parsed.subject,
            parsed.date.isoformat() if parsed.date else "",
            parsed.text,
            *(f.sha256 for f in parsed.attachments),
        ]
    )
    return "sha256:" + hashlib.sha256(content.encode("utf-8", "surrogatepass")).hexdigest()


def _root_and_newest(references: Sequence[str]) -> tuple[str, ...]:
    """The thread's root (first) and the newest entries: what threading needs from a long References."""
    if len(references) <= REFERENCE_LIMIT:
        return tuple(references)
    return (references[0], *references[-(REFERENCE_LIMIT - 1) :])


def _bounded_ids(ids: Sequence[str]) -> tuple[str, ...]:
    return tuple(i for i in ids if len(i) <= MESSAGE_ID_LIMIT)


def _reply_ticket(our_recipients: list[str], reply_token_keys: Callable[[], list[str]]) -> str | None:
    tokens = [tag for _, tag in map(split_plus_address, our_recipients) if tag]
    if not tokens:
        return None
    keys = reply_token_keys()
    return next((ticket for ticket in (ticket_id_of_token(tag, keys) for tag in tokens) if ticket), None)


def _sent_at(parsed: ParsedMail, received_at: datetime) -> datetime:
    """The Date header when plausible; senders' clocks and forged headers must not reorder a timeline."""
    if parsed.date is None or not (_OLDEST_PLAUSIBLE <= parsed.date <= received_at + timedelta(days=1)):
        return received_at
    return parsed.date


def _attachment_files(message: InboundMessage, parsed: ParsedMail) -> list[tuple[Attachment, bytes, str]]:
    """Each attachment, and the sanitized HTML body (for fidelity), with the bytes and Content-Type to store
    under its key. No AWS here: what fails here fails on every retry."""
    files = list(parsed.attachments[:ATTACHMENT_LIMIT])
    stored: list[tuple[Attachment, bytes, str]] = []
    for index, part in enumerate(files):
        key = attachment_key(Channel.EMAIL, message.external_id, index, part.filename)
        stored.append(
            (
                Attachment(
                    kind=_kind_of(part.content_type),
                    mime_type=part.content_type[:255],
                    filename=bounded_filename(part.filename),
                    sha256=part.sha256,
                    size_bytes=part.size,
                    storage_key=key,
                    fetch_status=AttachmentFetchStatus.STORED,
                    content_id=part.content_id[:255] if part.content_id else None,
                    inline=part.inline,
                ),
                part.data,
                part.content_type,
            )
        )
    if parsed.html:
        body = parsed.html.encode("utf-8", "replace")
        key = attachment_key(Channel.EMAIL, message.external_id, len(files), "body.html")
        stored.append(
            (
                Attachment(
                    kind="html_body",
                    mime_type="text/html",
                    filename="body.html",
                    sha256=hashlib.sha256(body).hexdigest(),
                    size_bytes=len(body),
                    storage_key=key,
                    fetch_status=AttachmentFetchStatus.STORED,
                ),
                body,
                "text/html; charset=utf-8",
            )
        )
    return stored


def bounded_filename(filename: str | None) -> str | None:
    """Long names keep their start and their extension (what tells an agent what the file is)."""
    if not filename or len(filename) <= FILENAME_LIMIT:
        return filename or None
    stem, dot, extension = filename.rpartition(".")
    if dot and 0 < len(extension) <= 10:
        return stem[: FILENAME_LIMIT - len(extension) - 2] + "…." + extension
    return filename[: FILENAME_LIMIT - 1] + "…"


def _kind_of(content_type: str) -> str:
    major, _, minor = content_type.partition("/")
    if major in ("image", "audio", "video"):
        return major
    if content_type == "text/calendar":
        return "calendar"
    if content_type == "message/rfc822":
        return "message"
    return "file"


def process_notifications(
    event: dict[str, Any], context: Any, receive: Callable[[str], InboundMessage]
) -> dict[str, Any]:
    """An SQS batch of S3 notifications; a failed record (and only it) returns to the queue for a retry."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    def handle(record) -> None:
        for _, key in mail_objects(record.body):
            receive(key)

    # A plain dict, as the handler declares: Powertools types it as its own TypedDict.
    return dict(
        process_partial_response(
            event=event, record_handler=handle, processor=BatchProcessor(event_type=EventType.SQS), context=context
        )
    )
