"""An agent's reply as a mail: the MIME that SES v2 `SendEmail` sends as raw content (email/sender.py).

Pure logic: the request in, bytes out. The mail continues the customer's thread the way mail clients thread
(RFC 5322 §3.6.4): `In-Reply-To` is the parent's Message-ID, `References` the parent's References plus the
parent's Message-ID. It comes from the mailbox the customer wrote to, asks replies to go to the ticket's
plus-address (email/reply_address.py), and carries `[#<number>]` in its subject, which the intake reads back
(docs/channels/email.md, "Threading"). Nothing marks it automatic: a person wrote it (RFC 3834 §2 asks
responders to skip only mail with `Auto-Submitted` other than `no`, so vacation notices still answer it).

SES's limits, checked here so that a reply SES would refuse fails before the call, with a reason an agent
can act on (https://docs.aws.amazon.com/ses/latest/dg/quotas.html, API_Destination, API_RawMessage):
- at most 40 MB per message with the v2 API, measured after base64 encoding;
- at most 50 recipients across To, Cc and Bcc;
- addresses are 7-bit ASCII (SES has no SMTPUTF8): a non-ASCII domain goes as Punycode, a non-ASCII local
  part cannot be sent at all;
- no line longer than 1,000 characters (RFC 5321): bodies are quoted-printable or base64, and msg-id lists
  are folded between ids, never inside one.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from switchboard.channels.sending import OutboundAttachment, OutboundEmail, OutboundRequest
from switchboard.email.parsed import normalize_message_id

# Our Message-IDs start so, which is how the intake recognizes our own mail coming back (email/intake.py).
MESSAGE_ID_PREFIX = "sb."
# SES v2: "40 MB per message (after base64 encoding)" (SES quotas, "Message quotas"). Decimal megabytes, the
# smaller reading, so a mail we pass is never one SES refuses for size.
SES_MAX_ENCODED_BYTES = 40_000_000
SES_MAX_RECIPIENTS = 50  # "The message may not include more than 50 recipients, across the To:, CC: and BCC: fields"
# References keeps the thread's root and its newest ids, like the intake (email.references: the root and
# the 19 newest), so a long thread still threads in every client and the header stays small.
MAX_REFERENCES = 20
# A msg-id longer than this is no real one; the intake drops such ids too (email/intake.py MESSAGE_ID_LIMIT).
MAX_MESSAGE_ID_CHARS = 250
# The quoted history: the newest 10 messages, at most 64 KiB of text part. Enough for the customer to see
# the conversation; a long thread's whole history would outgrow the mail and repeat what they already hold.
QUOTED_MESSAGES_LIMIT = 10
QUOTED_TEXT_BYTES_LIMIT = 64 * 1024
SUBJECT_CHARS_LIMIT = 200
AUTHOR_CHARS_LIMIT = 200
FILENAME_CHARS_LIMIT = 120

# Reply and forward prefixes mail clients add (as tickets/lifecycle.py strips them from a ticket's subject),
# in lower case: English, German, Nordic, Dutch, French, Spanish, Korean, Japanese and Chinese clients.
_REPLY_PREFIXES = frozenset(
    {"re", "fw", "fwd", "aw", "wg", "sv", "vs", "tr", "rv", "답장", "회신", "전달", "返信", "转发", "回复", "答复"}
)
_LONGEST_PREFIX = max(len(prefix) for prefix in _REPLY_PREFIXES)
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_QUOTE_STYLE = "margin:0 0 0 .8ex;border-left:1px solid #ccc;padding-left:1ex"

type ReadAttachment = Callable[[str], bytes]


class UnsendableMail(ValueError):
    """The reply cannot go out as a mail through SES, whatever we retry: the sender reports it `rejected`.

    `reason` is for the agent and names no address, text or file name."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class OutgoingMail:
    """The reply's MIME, and the envelope SES needs beside it (all addresses ASCII, as SES takes them)."""

    raw: bytes
    from_address: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    message_id: str


def new_message_id(attempt_id: str, domain: str) -> str:
    """Our Message-ID for one attempt: `<sb.<26 base32 letters>@<domain>>`, the same for the same attempt id
    (a resend of the attempt keeps it, so the customer's client sees one mail), and a dot-atom whatever the
    attempt id holds (RFC 5322 §3.6.4). `domain` is the mailbox's; the intake knows `sb.` ids at our domains
    as our own mail (docs/channels/email.md, "Reply addresses")."""
    digest = hashlib.sha256(f"message-id:{attempt_id}".encode()).digest()
    token = base64.b32encode(digest).decode().lower()[:26]
    return f"<{MESSAGE_ID_PREFIX}{token}@{_ascii_domain(domain)}>"


def reply_subject(subject: str, number: int) -> str:
    """`Re: <subject> [#<number>]`, without stacking: leading reply and forward prefixes ("Re:", "RE[2]:",
    "Fwd:", "답장:", "회신:" ...) and every `[#n]` token are taken out first, so the ticket's token appears
    once and is the only one the intake can read. Linear in the subject's length."""
    core = _without_ticket_tokens(_without_reply_prefixes(" ".join(subject.split())))
    core = " ".join(core.split())
    if len(core) > SUBJECT_CHARS_LIMIT:
        core = core[: SUBJECT_CHARS_LIMIT - 1] + "…"
    return f"Re: {core} [#{number}]" if core else f"Re: [#{number}]"


def reply_references(references: Sequence[str], in_reply_to: str | None) -> tuple[str, ...]:
    """The References of a reply, as `<id>` strings: the parent's References plus the parent's Message-ID
    (RFC 5322 §3.6.4), each once, unusable ids dropped, at most 20: the thread's root and the 19 newest."""
    seen: set[str] = set()
    ids: list[str] = []
    for value in [*references, *([in_reply_to] if in_reply_to else [])]:
        found = _msg_id(value)
        if found is not None and found not in seen:
            seen.add(found)
            ids.append(found)
    if len(ids) > MAX_REFERENCES:
        ids = [ids[0], *ids[-(MAX_REFERENCES - 1) :]]
    return tuple(ids)


def quoted_history(messages: Iterable[tuple[str, datetime, str]]) -> tuple[str, str]:
    """The thread so far, for a reply's text and HTML parts, from (author label, sent at, text), newest first.

    Each message gets an attribution line ("On Tue, 7 May 2024 at 10:02 UTC, Kim Minjun wrote:") and its
    text quoted with "> " (in HTML, escaped inside a <blockquote>). At most the 10 newest messages and 64 KiB
    of text part: a message that does not fit whole is cut at a line, and older ones are left out."""
    text_blocks: list[str] = []
    html_blocks: list[str] = []
    budget = QUOTED_TEXT_BYTES_LIMIT
    for count, (author, sent_at, text) in enumerate(messages):
        if count >= QUOTED_MESSAGES_LIMIT or budget <= 0:
            break
        attribution = _attribution(author, sent_at)
        budget -= len(attribution.encode()) + 2
        lines, cut = _lines_within(text, budget)
        if not lines and cut:
            break
        quoted = [f"> {line}" if line else ">" for line in lines] + (["> […]"] if cut else [])
        block = "\n".join([attribution, *quoted])
        budget -= len(block.encode()) - len(attribution.encode())
        text_blocks.append(block)
        body = "<br>\n".join(html.escape(line) for line in lines) + ("<br>\n[…]" if cut else "")
        html_blocks.append(
            f'<div>{html.escape(attribution)}</div>\n<blockquote style="{_QUOTE_STYLE}">{body}</blockquote>'
        )
        if cut:
            break
    if not text_blocks:
        return "", ""
    return "\n\n".join(text_blocks), '<div class="sb-quote">\n' + "\n".join(html_blocks) + "\n</div>"


def build_reply(request: OutboundRequest, read_attachment: ReadAttachment | None = None) -> OutgoingMail:
    """The reply's MIME: multipart/alternative (text/plain and text/html, UTF-8, the reply on top of the
    quoted history), inside multipart/mixed when it has attachments, read with `read_attachment(key)`.

    `request.email.subject` is written as given: the caller makes it with `reply_subject`, which needs the
    ticket's number. Raises UnsendableMail for what SES would refuse (size, recipients, addresses);
    ValueError when the request is no email reply (our own fault)."""
    mail = request.email
    if mail is None:
        raise ValueError("an email reply needs its OutboundEmail")
    sender = _ascii_address(mail.mailbox, "our mailbox")
    reply_to = _ascii_address(mail.reply_to, "the reply address")
    to, cc = _recipients(mail, exclude={sender.lower(), reply_to.lower()})
    if len(to) + len(cc) > SES_MAX_RECIPIENTS:
        raise UnsendableMail(
            "too_many_recipients",
            f"SES sends a mail to at most {SES_MAX_RECIPIENTS} recipients across To and Cc; "
            f"this reply has {len(to) + len(cc)}",
        )
    message_id = _msg_id(mail.message_id)
    if message_id is None:
        raise ValueError("the reply's Message-ID is not a msg-id")

    message = EmailMessage(policy=SMTP)
    message["Date"] = format_datetime(request.now.astimezone(UTC))
    message["From"] = sender
    message["To"] = ", ".join(to)
    if cc:
        message["Cc"] = ", ".join(cc)
    message["Reply-To"] = reply_to
    message["Subject"] = " ".join(mail.subject.split())
    message["Message-ID"] = _MsgIdHeader("Message-ID", (message_id,))
    parent = _msg_id(mail.in_reply_to) if mail.in_reply_to else None
    if parent is not None:
        message["In-Reply-To"] = _MsgIdHeader("In-Reply-To", (parent,))
    references = reply_references(mail.references, mail.in_reply_to)
    if references:
        message["References"] = _MsgIdHeader("References", references)

    text, html_body = _bodies(request.text or "", mail)
    message.set_content(text, subtype="plain", charset="utf-8", cte=_transfer_encoding(text))
    message.add_alternative(html_body, subtype="html", charset="utf-8", cte=_transfer_encoding(html_body))
    if request.attachments:
        _attach(message, request.attachments, read_attachment)

    raw = message.as_bytes(policy=SMTP)
    encoded = _base64_length(len(raw))
    if encoded > SES_MAX_ENCODED_BYTES:
        raise UnsendableMail("message_too_large", _too_large_reason(encoded))
    return OutgoingMail(raw=raw, from_address=sender, to=to, cc=cc, message_id=message_id)


class _MsgIdHeader(str):
    """Message-ID, In-Reply-To and References written as msg-ids, one per line. The policy's own folding
    turns a word longer than a line into RFC 2047 encoded-words, which no client reads back as an id; the
    policy writes any value that carries its own `name` and `fold` as that value folds itself."""

    name: str
    ids: tuple[str, ...]

    def __new__(cls, name: str, ids: tuple[str, ...]) -> _MsgIdHeader:
        header = super().__new__(cls, " ".join(ids))
        header.name, header.ids = name, ids
        return header

    def fold(self, *, policy: object) -> str:
        linesep = getattr(policy, "linesep", "\r\n")
        return f"{self.name}: " + f"{linesep} ".join(self.ids) + linesep


def _msg_id(value: str | None) -> str | None:
    """`<id>` for a Message-ID as stored (normalized, without <>) or as written; None for what is none."""
    found = normalize_message_id(value)
    if found is None or len(found) > MAX_MESSAGE_ID_CHARS or not found.isascii() or "@" not in found:
        return None
    if any(char in found for char in '<>"\\') or not found.isprintable():
        return None
    return f"<{found}>"


def _without_reply_prefixes(subject: str) -> str:
    """The subject after its leading "Re:", "RE[2]:", "Fwd:", "회신:", "[#12]" ... in one left-to-right pass:
    every step either consumes input or stops, and looks at most a few characters ahead."""
    position, end = 0, len(subject)
    while position < end:
        start = _skip_spaces(subject, position)
        token_end = _ticket_token_end(subject, start)
        if token_end is not None:
            position = token_end
            continue
        word_end = start
        while word_end < end and word_end - start <= _LONGEST_PREFIX and subject[word_end].isalpha():
            word_end += 1
        if subject[start:word_end].lower() not in _REPLY_PREFIXES:
            return subject[start:]
        after = _skip_spaces(subject, word_end)
        counter_end = _counter_end(subject, after)  # Outlook's "RE[2]:"
        if counter_end is not None:
            after = _skip_spaces(subject, counter_end)
        if after < end and subject[after] in ":：":
            position = after + 1
            continue
        return subject[start:]
    return ""


def _without_ticket_tokens(subject: str) -> str:
    """The subject without any `[#<digits>]` anywhere: ours is added once, at the end."""
    kept: list[str] = []
    position = 0
    while True:
        found = subject.find("[#", position)
        if found < 0:
            kept.append(subject[position:])
            return "".join(kept)
        token_end = _ticket_token_end(subject, found)
        if token_end is None:
            kept.append(subject[position : found + 2])
            position = found + 2
        else:
            kept.append(subject[position:found])
            position = token_end


def _skip_spaces(text: str, position: int) -> int:
    while position < len(text) and text[position].isspace():
        position += 1
    return position


def _ticket_token_end(text: str, position: int) -> int | None:
    """Where `[#<1-9 digits>]` starting at `position` ends, or None."""
    if not text.startswith("[#", position):
        return None
    digits_end = position + 2
    while (
        digits_end < len(text)
        and digits_end - position < 12
        and text[digits_end].isascii()
        and text[digits_end].isdigit()
    ):
        digits_end += 1
    if digits_end == position + 2 or digits_end >= len(text) or text[digits_end] != "]":
        return None
    return digits_end + 1


def _counter_end(text: str, position: int) -> int | None:
    if not text.startswith("[", position):
        return None
    digits_end = position + 1
    while (
        digits_end < len(text)
        and digits_end - position < 6
        and text[digits_end].isascii()
        and text[digits_end].isdigit()
    ):
        digits_end += 1
    if digits_end == position + 1 or digits_end >= len(text) or text[digits_end] != "]":
        return None
    return digits_end + 1


def _attribution(author: str, sent_at: datetime) -> str:
    """English month and day names whatever the locale, in UTC: the intake (and Gmail, Outlook) read
    "On … wrote:" as the start of quoted mail."""
    label = " ".join(author.split())[:AUTHOR_CHARS_LIMIT] or "Unknown"
    when = sent_at if sent_at.tzinfo is not None else sent_at.replace(tzinfo=UTC)
    when = when.astimezone(UTC)
    date = f"{_WEEKDAYS[when.weekday()]}, {when.day} {_MONTHS[when.month - 1]} {when.year} at {when:%H:%M} UTC"
    return f"On {date}, {label} wrote:"


def _lines_within(text: str, budget: int) -> tuple[list[str], bool]:
    """The text's lines whose quoted form fits `budget` bytes, and whether any were left out. One line
    longer than the whole budget is cut inside, at a character boundary."""
    lines: list[str] = []
    for line in text.splitlines():
        cost = len(line.encode()) + 3  # "> " and the newline
        if cost > budget:
            if not lines and budget > 3:
                lines.append(line.encode()[: budget - 3].decode(errors="ignore"))
            return lines, True
        lines.append(line)
        budget -= cost
    while lines and not lines[-1].strip():
        lines.pop()
    return lines, False


def _bodies(reply: str, mail: OutboundEmail) -> tuple[str, str]:
    reply = reply.replace("\r\n", "\n").replace("\r", "\n")
    text = reply if not mail.quoted_text else f"{reply}\n\n{mail.quoted_text}"
    reply_html = "<br>\n".join(html.escape(line) for line in reply.split("\n"))
    quoted = f"\n<br>\n{mail.quoted_html}" if mail.quoted_html else ""
    document = (
        '<!DOCTYPE html>\n<html>\n<head><meta charset="utf-8"></head>\n<body>\n'
        f'<div dir="auto">{reply_html}</div>{quoted}\n</body>\n</html>\n'
    )
    return text + ("" if text.endswith("\n") else "\n"), document


def _transfer_encoding(body: str) -> str:
    """Never 8bit (SES asks for non-ASCII content to be encoded; not every hop takes 8BITMIME): ASCII text
    stays readable as quoted-printable, other text is a third shorter as base64 (Korean is 3 bytes a
    character, 9 characters quoted-printable)."""
    return "quoted-printable" if body.isascii() else "base64"


def _attach(message: EmailMessage, attachments: Sequence[OutboundAttachment], read: ReadAttachment | None) -> None:
    if read is None:
        raise ValueError("this reply has attachments and the sender was given no way to read them")
    total = 0
    for number, attachment in enumerate(attachments, start=1):
        data = read(attachment.storage_key)
        total += len(data)
        if _base64_length(total) > SES_MAX_ENCODED_BYTES:
            raise UnsendableMail("message_too_large", _too_large_reason(_base64_length(total)))
        maintype, subtype = _mime_type(attachment)
        message.add_attachment(
            data, maintype=maintype, subtype=subtype, filename=_filename(attachment, number), cte="base64"
        )


def _mime_type(attachment: OutboundAttachment) -> tuple[str, str]:
    declared = (attachment.mime_type or "").split(";", 1)[0].strip().lower()
    maintype, _, subtype = declared.partition("/")
    if maintype and subtype and declared.isascii() and all(c.isalnum() or c in "!#$&-^_.+/" for c in declared):
        return maintype, subtype
    return "application", "octet-stream"


def _filename(attachment: OutboundAttachment, number: int) -> str:
    """The file's name as the agent gave it, without paths or control characters; RFC 2231 encodes it."""
    name = attachment.filename or attachment.storage_key.rsplit("/", 1)[-1]
    name = "".join(c for c in name.replace("\\", "/").rsplit("/", 1)[-1] if c.isprintable()).strip()
    return name[:FILENAME_CHARS_LIMIT] or f"attachment-{number}"


def _recipients(mail: OutboundEmail, exclude: set[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """To, then the customer-visible Cc, each address once, never our own mailbox or reply address."""
    seen = set(exclude)
    fields: list[list[str]] = [[], []]
    for index, addresses in enumerate((mail.to, mail.cc)):
        for address in addresses:
            ascii_address = _ascii_address(address, "a recipient's address")
            if ascii_address.lower() not in seen:
                seen.add(ascii_address.lower())
                fields[index].append(ascii_address)
    if not fields[0]:
        raise UnsendableMail("no_recipient", "the reply has no recipient besides our own addresses")
    return tuple(fields[0]), tuple(fields[1])


def _ascii_address(address: str, what: str) -> str:
    """The address as SES takes it: the domain in Punycode, the local part as it is (SES has no SMTPUTF8:
    "the local part ... may only contain 7-bit ASCII characters", SES API reference, Destination)."""
    local, at, domain = address.strip().rpartition("@")
    if not at or not local or not domain:
        raise UnsendableMail("invalid_address", f"{what} is not an email address")
    if not local.isascii() or not local.isprintable() or any(c.isspace() or c in '<>,;"()[]\\' for c in local):
        raise UnsendableMail("invalid_address", f"{what} has characters SES cannot send to (SES has no SMTPUTF8)")
    try:
        return f"{local}@{_ascii_domain(domain)}"
    except ValueError:
        raise UnsendableMail("invalid_address", f"{what} has no valid domain") from None


def _ascii_domain(domain: str) -> str:
    try:
        encoded = domain.strip().rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise ValueError("not a domain name") from None
    labels = encoded.split(".")
    if not encoded or any(not label or len(label) > 63 for label in labels):
        raise ValueError("not a domain name")
    if not all(c.isalnum() or c == "-" for label in labels for c in label):
        raise ValueError("not a domain name")
    return encoded


def _base64_length(size: int) -> int:
    return 4 * ((size + 2) // 3)


def _too_large_reason(encoded: int) -> str:
    return (
        f"the mail is {encoded / 1_000_000:.1f} MB as SES counts it (base64); SES v2 sends at most "
        f"{SES_MAX_ENCODED_BYTES // 1_000_000} MB: send fewer or smaller attachments"
    )
