"""One raw mail (RFC 5322 + MIME bytes) -> ParsedMail.

The stdlib parser finds the structure; everything that carries text is then read from the headers and
bytes as they arrived, because the modern policy's header objects turn undeclared 8-bit bytes into U+FFFD
and raise on some malformed values. The parser runs with compat32: under the modern policy it parses
every part's Content-Type through the header registry, about 9 us a byte of parameters. Whatever the bytes, parse_mail returns a ParsedMail: what
could not be read well is named in `decoding_problems` (never with mail content), not raised.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.feedparser import BytesFeedParser
from email.generator import BytesGenerator
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from io import BytesIO

from switchboard.email import classify, quotes
from switchboard.email.bounds import FIELD_LIMIT, HEADER_BLOCK_LIMIT, MAX_DEPTH, MAX_PARTS, PARAMETER_FIELD_LIMIT, bound
from switchboard.email.charsets import decode_bytes, decode_header_value, decode_unlabelled
from switchboard.email.html_text import HTML_LIMIT, html_to_text, sanitize_html
from switchboard.email.parsed import BodySource, MailAddress, MailFile, MailKind, ParsedMail, normalize_message_id

_FEED_CHUNK = 1 << 16
# What is kept of the body as text: far more than a message holds (see intake), and the bound on the work
# that reads it after parsing (quote splitting, the id of a mail without Message-ID). The raw mail keeps all.
TEXT_LIMIT = 256 * 1024

_BODY_TYPES = frozenset({"text/plain", "text/html"})
# A bare token, then checked for an "@": "[^\s,<>]+@[^\s,<>]+" would rescan a long token without one from
# each of its characters.
_MESSAGE_ID_TOKEN = re.compile(r"<([^<>]*)>|([^\s,<>]+)")
_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]{1,40})""", re.IGNORECASE)
_CONTENT_TYPE = re.compile(r"[a-z0-9!#$&^_.+-]{1,64}/[a-z0-9!#$&^_.+-]{1,128}")
_FILENAME_UNSAFE = re.compile(r"[\x00-\x1f\x7f]+")
ADDRESS_FIELDS = 10
ADDRESS_FIELD_LIMIT = 16 * 1024
# Tokens of a value the stdlib's address parser gave up on; those with an "@" inside are its addresses.
_ADDRESS_TOKEN = re.compile(r"[^\s<>(),;:\"]+")
# Re-serializing an attached message: raw header values written back as they came (8-bit included), no
# refolding, CRLF as in any .eml file.
_EML_POLICY = policy.compat32.clone(linesep="\r\n", max_line_length=None)


def parse_mail(raw: bytes) -> ParsedMail:
    """Read `raw` into a ParsedMail. Never raises on any input; see the module docstring. What a limit cut
    is named in `limits` (and described in `decoding_problems`)."""
    problems: list[str] = []
    limits: list[str] = []
    try:
        message, structure_read = _parse(bytes(raw), problems, limits)
        return _parsed_mail(message, structure_read, problems, limits)
    except Exception as failure:  # the contract is "never raises": anything missed above still yields a record
        unreadable = f"mail: unreadable ({type(failure).__name__})"
        return ParsedMail(message_id=None, decoding_problems=(*problems, unreadable), limits=(*limits, "unreadable"))


def _parse(raw: bytes, problems: list[str], limits: list[str]) -> tuple[Message, bool]:
    """The parsed mail, and whether its MIME structure was read (else only its headers)."""
    # The stdlib builds every part and reads every header before anything could count them: bound() says
    # first, in one linear pass, which bytes it may read (see switchboard.email.bounds).
    bounded = bound(raw)
    problems.extend(bounded.problems)
    limits.extend(bounded.limits)
    # Fed in chunks: BytesParser.parsebytes would hold the whole mail once more as a str and once as a
    # StringIO (four bytes a character), several times the size of a 25 MB mail.
    parser = BytesFeedParser(policy=policy.compat32)
    try:
        for chunk in bounded.chunks(raw, _FEED_CHUNK):
            parser.feed(chunk)
        return parser.close(), True
    except RecursionError:
        # The stdlib parser recurses once per nesting level; a few hundred nested parts exhaust the stack.
        problems.append("mail: MIME structure nested too deeply to read; headers only")
        limits.append("mime_depth")
        return BytesParser(policy=policy.compat32).parsebytes(
            _header_block(raw)[:HEADER_BLOCK_LIMIT], headersonly=True
        ), False


def _header_block(raw: bytes) -> bytes:
    ends = [found + len(blank) for blank in (b"\r\n\r\n", b"\n\n") if (found := raw.find(blank)) >= 0]
    return raw[: min(ends)] if ends else raw


def _parsed_mail(message: Message, structure_read: bool, problems: list[str], limits: list[str]) -> ParsedMail:
    headers = _Headers(message)
    if headers.cut:
        limits.append("header_size")
    body = _Body(problems=problems, limits=limits)
    if structure_read:
        body.walk(message, depth=0)
    text, source = body.text()
    if len(text) > TEXT_LIMIT:
        text = text[:TEXT_LIMIT]
        limits.append("text_length")
        problems.append(f"body: longer than {TEXT_LIMIT} characters; the rest left out")
    kind, kind_reason, bounced_id = _classification(message, problems)
    senders = _addresses(headers.all("from"))
    message_ids = _message_ids(headers.all("message-id"))
    return ParsedMail(
        message_id=message_ids[0] if message_ids else None,
        in_reply_to=_message_ids(headers.all("in-reply-to")),
        references=_message_ids(headers.all("references")),
        subject=decode_header_value(headers.first("subject") or ""),
        sender=senders[0] if senders else None,
        reply_to=_addresses(headers.all("reply-to")),
        to=_addresses(headers.all("to")),
        cc=_addresses(headers.all("cc")),
        date=_date(headers.first("date")),
        text=text,
        body_source=source,
        html="\n".join(body.html) if body.html else None,
        reply_text=_reply_text(text, problems),
        attachments=tuple(body.files),
        decoding_problems=tuple(dict.fromkeys(problems)),
        limits=tuple(dict.fromkeys(limits)),
        kind=kind,
        kind_reason=kind_reason,
        bounced_message_id=normalize_message_id(bounced_id),
        spam_verdict=_verdict(headers.first("x-ses-spam-verdict")),
        virus_verdict=_verdict(headers.first("x-ses-virus-verdict")),
    )


class _Headers:
    """Header values as they arrived, 8-bit bytes kept (as surrogate escapes) for our own decoding."""

    def __init__(self, message: Message) -> None:
        self._values: dict[str, list[str]] = {}
        self.cut = False
        for name, value in message.raw_items():
            value = str(value)
            if len(value) > FIELD_LIMIT:  # what reads it next (getaddresses, RFC 2047 decoding) is linear at best
                value = value[:FIELD_LIMIT]
                self.cut = True
            self._values.setdefault(name.strip().lower(), []).append(value)

    def all(self, name: str) -> list[str]:
        return self._values.get(name, [])

    def first(self, name: str) -> str | None:
        values = self._values.get(name)
        return values[0] if values else None


@dataclass
class _Body:
    problems: list[str]
    limits: list[str]
    plain: list[str] = field(default_factory=list)
    html_text: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    files: list[MailFile] = field(default_factory=list)
    parts: int = 0

    def walk(self, part: Message, depth: int) -> None:
        if self.parts >= MAX_PARTS:
            self._problem(f"mail: more than {MAX_PARTS} MIME parts; the rest left out")
            self.limits.append("mime_parts")
            return
        self.parts += 1
        number = self.parts
        shape = _Shape.of(part)
        payload = _raw_payload(part)
        if isinstance(payload, list):
            if shape.maintype == "message":
                self.files.append(_attached_message(part, shape, payload, number, self.problems))
                return
            if depth >= MAX_DEPTH:
                self._problem(f"mail: MIME parts nested deeper than {MAX_DEPTH}; the deeper ones left out")
                self.limits.append("mime_depth")
                return
            for child in payload:
                if isinstance(child, Message):
                    self.walk(child, depth + 1)
            return
        if shape.maintype == "multipart":
            # No boundary parameter, or none of its boundaries in the body: the whole body is one text.
            self._problem(f"part {number} ({shape.content_type}): no usable boundary; read as text")
            shape = _Shape("text/plain", shape.charset, None, None, None, None, shape.flowed, shape.delsp)
        self._leaf(part, shape, number)

    def _leaf(self, part: Message, shape: _Shape, number: int) -> None:
        data = _payload_bytes(part, shape, number, self.problems)
        if shape.content_type in _BODY_TYPES and shape.disposition != "attachment" and shape.filename is None:
            charset = shape.charset
            if charset is None and shape.content_type == "text/html":
                declared = _META_CHARSET.search(data[:4096])
                charset = declared.group(1).decode("ascii") if declared else None
            text, problem = decode_bytes(data, charset)
            if problem:
                self._problem(f"part {number} ({shape.content_type}): {problem}")
            # Past the limits nothing more is read (one character more tells that a limit cut).
            text = _normalized_text(text[: max(TEXT_LIMIT, HTML_LIMIT) + 1], shape)
            if shape.content_type == "text/plain":
                self.plain.append(text)
            else:
                if len(text) > HTML_LIMIT:
                    self._problem(f"part {number} (text/html): longer than {HTML_LIMIT} characters; the rest left out")
                    self.limits.append("html_length")
                self.html.append(sanitize_html(text))
                self.html_text.append(html_to_text(text))
            return
        self.files.append(
            MailFile(
                filename=shape.filename or _default_filename(shape.content_type),
                content_type=shape.content_type,
                content_id=shape.content_id,
                inline=shape.disposition == "inline" or (shape.disposition is None and shape.content_id is not None),
                data=data,
            )
        )

    def text(self) -> tuple[str, BodySource]:
        plain = _joined(self.plain)
        if plain:
            return plain, "plain"
        converted = _joined(self.html_text)
        if converted:
            return converted, "html"
        return "", "none"

    def _problem(self, problem: str) -> None:
        if problem not in self.problems:
            self.problems.append(problem)


@dataclass(frozen=True)
class _Shape:
    """What a part's Content-Type and Content-Disposition say, read from their raw values."""

    content_type: str
    charset: str | None
    disposition: str | None
    filename: str | None
    content_id: str | None
    transfer_encoding: str | None
    flowed: bool = False
    delsp: bool = False

    @property
    def maintype(self) -> str:
        return self.content_type.partition("/")[0]

    @classmethod
    def of(cls, part: Message) -> _Shape:
        # A compat32 Message holding just these headers: its parameter parsing keeps RFC 2231 values as
        # (charset, language, bytes-as-latin-1) for us to decode, and never raises on malformed values.
        shell = Message()
        transfer_encoding = content_id = None
        for name, value in part.raw_items():
            lowered = name.strip().lower()
            if lowered in ("content-type", "content-disposition") and lowered not in shell:
                # As Latin-1 characters, not surrogate escapes: compat32 would replace those with U+FFFD,
                # and raw EUC-KR file names must reach _param_text as the bytes they were.
                shell[lowered] = _bytes_of(str(value)[:PARAMETER_FIELD_LIMIT]).decode("latin-1")
            elif lowered == "content-transfer-encoding" and transfer_encoding is None:
                transfer_encoding = str(value).split(";", 1)[0].split("(", 1)[0].strip().lower() or None
            elif lowered == "content-id" and content_id is None:
                content_id = decode_header_value(str(value)).strip().strip("<>").strip() or None
        shell.set_default_type(part.get_default_type())
        content_type = shell.get_content_type().strip().lower()
        if not _CONTENT_TYPE.fullmatch(content_type):
            content_type = "application/octet-stream"
        disposition = str(shell.get("content-disposition") or "")
        disposition_type = disposition.split(";", 1)[0].strip().lower() or None
        filename = _param_text(shell, "filename", "content-disposition") or _param_text(shell, "name", "content-type")
        return cls(
            content_type=content_type,
            charset=_param_text(shell, "charset", "content-type"),
            disposition=disposition_type,
            filename=_safe_filename(filename),
            content_id=content_id,
            transfer_encoding=transfer_encoding,
            flowed=(_param_text(shell, "format", "content-type") or "").lower() == "flowed",
            delsp=(_param_text(shell, "delsp", "content-type") or "").lower() == "yes",
        )


def _param_text(shell: Message, name: str, header: str) -> str | None:
    value = shell.get_param(name, header=header)
    if value is None:
        return None
    if isinstance(value, tuple):  # RFC 2231: (charset, language, percent-decoded bytes as latin-1)
        charset, _, encoded = value
        text = decode_bytes(str(encoded).encode("latin-1", "replace"), charset or None)[0]
    else:
        # RFC 2047 inside a quoted parameter is forbidden and what Outlook and Gmail send; raw 8-bit is
        # what Korean clients send.
        text = decode_header_value(str(value).encode("latin-1", "replace"))
    return text.strip() or None


def _safe_filename(filename: str | None) -> str | None:
    if filename is None:
        return None
    # Windows clients send full paths ("C:\Users\...\견적서.pdf"); only the last name is the file's.
    name = re.split(r"[\\/]", filename)[-1]
    name = _FILENAME_UNSAFE.sub("", name).strip()
    return name or None


def _default_filename(content_type: str) -> str | None:
    # Outlook and Google Calendar send invitations as a bare text/calendar part; agents still need a file.
    return "invite.ics" if content_type == "text/calendar" else None


def _raw_payload(part: Message) -> str | list | bytes | None:
    # Not get_payload(): for 8-bit text it re-decodes the bytes in the declared charset with replacement,
    # which destroys exactly the bytes a wrong declaration needs; and it parses Content-Transfer-Encoding
    # through the policy's header objects. The parser's own payload is the body as it arrived.
    return part._payload  # type: ignore[attr-defined]  # the parser's own attribute, read on purpose


def _payload_bytes(part: Message, shape: _Shape, number: int, problems: list[str]) -> bytes:
    payload = _raw_payload(part)
    encoded = _bytes_of(payload) if isinstance(payload, str) else payload if isinstance(payload, bytes) else b""
    encoding = shape.transfer_encoding
    if encoding == "base64":
        try:
            return binascii.a2b_base64(encoded)
        except binascii.Error:
            problems.append(f"part {number} ({shape.content_type}): broken base64; decoded what could be read")
            return _salvaged_base64(encoded)
    if encoding == "quoted-printable":
        return binascii.a2b_qp(encoded)
    if encoding in ("x-uuencode", "uuencode", "x-uue", "uue"):
        try:
            decoded = part.get_payload(decode=True)
        except Exception:  # the stdlib's uudecode path raises its own errors on damaged input
            decoded = None
        if isinstance(decoded, bytes):
            return decoded
        problems.append(f"part {number} ({shape.content_type}): broken uuencode; kept as sent")
    return encoded


def _bytes_of(text: str) -> bytes:
    """The bytes the parser read as `text` (it keeps 8-bit bytes as surrogate escapes)."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace")


def _salvaged_base64(encoded: bytes) -> bytes:
    letters = re.sub(rb"[^A-Za-z0-9+/]", b"", encoded)
    letters = letters[: len(letters) - len(letters) % 4 if len(letters) % 4 == 1 else len(letters)]
    return binascii.a2b_base64(letters + b"=" * (-len(letters) % 4))


def _normalized_text(text: str, shape: _Shape) -> str:
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if shape.flowed and shape.content_type == "text/plain":
        text = _unflowed(text, shape.delsp)
    return text


def _unflowed(text: str, delsp: bool) -> str:
    """RFC 3676 format=flowed: a line ending in a space continues on the next line of the same quote depth."""
    lines: list[str] = []
    # The paragraph's pieces, joined once it ends: adding each line to a string copies the paragraph anew.
    paragraph: list[str] = []
    paragraph_depth = 0
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):  # space-stuffing, RFC 3676 4.4
            content = content[1:]
        flowed = content.endswith(" ") and content != "-- "
        if flowed and delsp:
            content = content[:-1]
        if paragraph and depth != paragraph_depth:
            lines.append(_quoted("".join(paragraph), paragraph_depth))
            paragraph = []
        paragraph.append(content)
        paragraph_depth = depth
        if not flowed:
            lines.append(_quoted("".join(paragraph), depth))
            paragraph = []
    if paragraph:
        lines.append(_quoted("".join(paragraph), paragraph_depth))
    return "\n".join(lines)


def _quoted(line: str, depth: int) -> str:
    return (">" * depth + " " + line).rstrip() if depth else line


def _joined(texts: list[str]) -> str:
    # Apple Mail splits one body around each inline image: the pieces are one text, a blank line apart.
    return "\n\n".join(text.strip("\n").rstrip() for text in texts if text.strip()).rstrip()


def _attached_message(part: Message, shape: _Shape, payload: list, number: int, problems: list[str]) -> MailFile:
    data = _serialized_body(part, shape, number, problems)
    filename = shape.filename
    if filename is None and shape.content_type == "message/rfc822":
        inner = payload[0] if payload and isinstance(payload[0], Message) else None
        subject = decode_header_value(_Headers(inner).first("subject") or "") if inner is not None else ""
        filename = f"{_safe_filename(subject.replace(':', ' ')[:100]) or 'message'}.eml"
    return MailFile(
        filename=filename,
        content_type=shape.content_type,
        content_id=shape.content_id,
        inline=shape.disposition == "inline",
        data=data,
    )


def _serialized_body(part: Message, shape: _Shape, number: int, problems: list[str]) -> bytes:
    buffer = BytesIO()
    try:
        BytesGenerator(buffer, mangle_from_=False, policy=_EML_POLICY).flatten(part)
    except Exception:  # the generator chokes on some malformed headers; the parts it did write still help
        problems.append(f"part {number} ({shape.content_type}): could not be re-serialized whole")
    flattened = buffer.getvalue()
    _, separator, body = flattened.partition(b"\r\n\r\n")
    return body if separator else b""


def _message_ids(values: Iterable[str]) -> tuple[str, ...]:
    found: dict[str, None] = {}
    for value in values:
        for token in _MESSAGE_ID_TOKEN.finditer(decode_unlabelled(_bytes_of(value))):
            bare = token.group(2)
            if bare is not None and "@" not in bare[1:-1]:
                continue
            normalized = normalize_message_id(token.group(1) if token.group(1) is not None else bare)
            if normalized:
                found.setdefault(normalized, None)
    return tuple(found)


def _addresses(values: list[str]) -> tuple[MailAddress, ...]:
    found: dict[str, MailAddress] = {}
    # getaddresses costs up to ~5 us a character and recurses once per "(" or ":" of a value; the intake
    # keeps 50 addresses of a field, which fit in far less than this.
    for value in values[:ADDRESS_FIELDS]:
        value = value[:ADDRESS_FIELD_LIMIT]
        # Names are decoded after the split: a decoded name may hold the commas and quotes that separate
        # addresses. Strict parsing refuses some real headers outright ("a@b.c (Kim, Minjun)"); then the
        # lenient parser is the better guess.
        try:
            pairs = getaddresses([value])
            if not any("@" in address for _, address in pairs):
                pairs = getaddresses([value], strict=False)
        except (RecursionError, ValueError, IndexError):
            pairs = [("", token) for token in _ADDRESS_TOKEN.findall(value) if "@" in token[1:-1]]
        for name, address in pairs:
            mailbox = _mailbox(address)
            if mailbox is None:
                continue
            decoded_name = decode_header_value(name) if name else ""
            found.setdefault(mailbox.lower(), MailAddress(address=mailbox, name=decoded_name or None))
    return tuple(found.values())


def _mailbox(address: str) -> str | None:
    text = decode_unlabelled(_bytes_of(address)).strip()
    if any(c.isspace() for c in text) or "<" in text:
        candidates = [token.strip("<>\"'(),;") for token in re.split(r"[\s<>]+", text) if "@" in token]
        text = candidates[-1] if candidates else ""
    local, at, domain = text.rpartition("@")
    return text if at and local and domain else None


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(decode_header_value(value))
    except (ValueError, TypeError, OverflowError, IndexError):
        return None
    if parsed.tzinfo is None:  # "-0000" or no zone: RFC 5322 says the local time is unknown; UTC is the norm
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        return None


def _verdict(value: str | None) -> str | None:
    if not value:
        return None
    return decode_header_value(value).strip() or None


def _classification(message: Message, problems: list[str]) -> tuple[MailKind, str | None, str | None]:
    try:
        return classify.classify(message)
    except Exception as failure:  # a classifier bug must not lose the mail; it is filed as ordinary and flagged
        problems.append(f"mail: could not classify ({type(failure).__name__})")
        return MailKind.ORDINARY, None, None


def _reply_text(text: str, problems: list[str]) -> str:
    try:
        return quotes.split_reply(text)[0]
    except Exception as failure:  # without a split the whole text is the reply, which loses nothing
        problems.append(f"mail: could not split the reply ({type(failure).__name__})")
        return text
