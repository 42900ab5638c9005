"""What every inbound-parse provider (Mailgun, Postmark, SendGrid) turns a delivery into, and the helpers
they share: form bodies, HTTP basic auth, and a MIME message built from parsed fields.

A provider either posts the mail as received (raw MIME), which we pass on byte for byte, or posts its
own parse of it, from which `compose_mime` rebuilds a message the SES parser reads like any other.
"""

from __future__ import annotations

import base64
import binascii
import email.errors
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import HTTP, SMTP
from typing import Any, Literal, Protocol
from urllib.parse import parse_qsl

from pydantic import BaseModel, ConfigDict

from switchboard.errors import InvalidSignature, MalformedPayload
from switchboard.http_request import WebhookRequest
from switchboard.proof import ChannelSecrets, every_account, same_secret

MAX_FORM_PARTS = 256  # a mail's own fields are a few dozen; the rest are attachments
# Lambda takes at most 6 MB of request payload (API Gateway passes a binary body base64-encoded, 4/3 of
# its size), so no larger delivery can reach AWS; the cap is checked before anything reads the body.
MAX_BODY_BYTES = 6 * 1024 * 1024
FORM_URLENCODED = "application/x-www-form-urlencoded"
FORM_DATA = "multipart/form-data"

# Describe the provider's rendering of the body, not the one compose_mime writes.
_STRUCTURAL_HEADERS = frozenset(
    {"content-type", "content-transfer-encoding", "content-disposition", "content-id", "content-length", "mime-version"}
)
_FIELD_NAME = re.compile(r"^[!-9;-~]+$")  # RFC 5322 ftext: printable ASCII except ":"
_MEDIA_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$")  # RFC 6838 restricted-name
_FOLD = re.compile(r"(?:\r\n|\r|\n)(?=[ \t])")
_LINE_BREAK = re.compile(r"[\r\n]")
_WELL_FOLDED = re.compile(rb"^[^\r\n]*(?:\r\n[ \t][^\r\n]*)*\r\n$")
_MULTIPART_DEFECTS = (
    email.errors.NoBoundaryInMultipartDefect,
    email.errors.StartBoundaryNotFoundDefect,
    email.errors.CloseBoundaryNotFoundDefect,
    email.errors.MultipartInvariantViolationDefect,
)
# Given header values are written as they came; re-rendering them through the structured header classes
# would rewrite a Date such as "-04:00" as "-0000" and drop one it cannot read.
_COMPOSE_POLICY = SMTP.clone(refold_source="none")


class MailDelivery(BaseModel):
    """One inbound mail as raw MIME, ready to be stored and parsed like mail received by SES."""

    model_config = ConfigDict(frozen=True)

    provider: Literal["mailgun", "postmark", "sendgrid"]
    provider_id: str | None  # the provider's own id for the mail (Postmark's MessageID), not the RFC Message-ID
    raw_mime: bytes


class ReplayToken(BaseModel):
    """A one-time value from a signed delivery: the caller claims it once and refuses a second claim
    until it expires, after which the signature's timestamp refuses the delivery anyway."""

    model_config = ConfigDict(frozen=True)

    value: str
    expires_at: datetime


class MailWebhook(Protocol):
    name: str

    def verify(
        self, request: WebhookRequest, secrets: ChannelSecrets, now: datetime, max_age_seconds: int
    ) -> ReplayToken | None:
        """Raises InvalidSignature unless the request provably comes from the provider. Returns the
        delivery's one-time token when the provider signs one."""

    def extract(self, request: WebhookRequest) -> MailDelivery:
        """Raises MalformedPayload when the body is not the provider's documented shape."""


class FormFile(bytes):
    """A file part of a multipart/form-data body: its bytes, and the name and type the sender gave it."""

    filename: str | None
    content_type: str

    def __new__(cls, data: bytes, filename: str | None, content_type: str) -> FormFile:
        file = super().__new__(cls, data)
        file.filename = filename
        file.content_type = content_type
        return file


@dataclass(frozen=True)
class MailFileSpec:
    """An attachment or inline part to put into a composed message."""

    filename: str | None
    content_type: str
    data: bytes
    content_id: str | None = None
    inline: bool = False


def form_fields(request: WebhookRequest, *, raw_text: bool = False) -> list[tuple[str, str | bytes]]:
    """The fields of a form body, urlencoded or multipart, in the order sent.

    A file part comes back as a FormFile. Any other value is text when its bytes are valid in its declared
    charset (UTF-8 when none is declared) and bytes otherwise; with raw_text, always its exact bytes, for
    callers that decode by a charset named elsewhere (SendGrid's `charsets`) or pass a raw mail on.
    """
    media_type = (request.header("content-type") or "").split(";", 1)[0].strip().lower()
    with form_errors():
        if media_type == FORM_URLENCODED:
            fields = _urlencoded(request.body)
        elif media_type == FORM_DATA:
            fields = _multipart(request.header("content-type") or "", request.body)
        else:
            raise MalformedPayload(f"Content-Type must be {FORM_URLENCODED} or {FORM_DATA}")
    if raw_text:
        return [(name, value if isinstance(value, FormFile) else value.data) for name, value in fields]
    return [(name, value if isinstance(value, FormFile) else value.text()) for name, value in fields]


@contextmanager
def form_errors() -> Iterator[None]:
    """Whatever the email package raises on a hostile body becomes MalformedPayload naming only its type.
    Its header parser is known to raise IndexError and AttributeError on some malformed input."""
    try:
        yield
    except MalformedPayload:
        raise
    except (
        ValueError,
        TypeError,
        LookupError,
        IndexError,
        AttributeError,
        RecursionError,
        email.errors.MessageError,
    ) as exc:
        raise MalformedPayload(f"form body is unreadable ({type(exc).__name__})") from exc


@dataclass(frozen=True)
class _TextPart:
    data: bytes
    charset: str = "utf-8"

    def text(self) -> str | bytes:
        try:
            return self.data.decode(self.charset)
        except (UnicodeDecodeError, LookupError):
            return self.data


def _urlencoded(body: bytes) -> list[tuple[str, FormFile | _TextPart]]:
    # Latin-1 maps each byte to one character and back, so values keep their exact bytes.
    pairs = parse_qsl(
        body.decode("latin-1"),
        keep_blank_values=True,
        strict_parsing=bool(body),
        encoding="latin-1",
        max_num_fields=MAX_FORM_PARTS,
    )
    return [(_field_name(name.encode("latin-1")), _TextPart(value.encode("latin-1"))) for name, value in pairs]


def _multipart(content_type: str, body: bytes) -> list[tuple[str, FormFile | _TextPart]]:
    if any(c in content_type for c in "\r\n") or not content_type.isascii():
        raise MalformedPayload("Content-Type header is not a valid multipart/form-data header")
    envelope = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("ascii") + b"\r\n\r\n", headersonly=True
    )
    boundary = envelope.get_boundary()
    if not boundary or len(boundary) > 200:
        raise MalformedPayload("multipart/form-data body has no usable boundary")
    # Counted before parsing, so a body of a million empty parts is refused without building them.
    if body.count(b"--" + boundary.encode("ascii", "surrogateescape")) > MAX_FORM_PARTS + 1:
        raise MalformedPayload(f"form body has more than {MAX_FORM_PARTS} parts")
    form = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode("ascii") + b"\r\n\r\n" + body)
    if not form.is_multipart() or any(isinstance(defect, _MULTIPART_DEFECTS) for defect in form.defects):
        raise MalformedPayload("multipart/form-data body is truncated or its boundaries do not match")
    fields: list[tuple[str, FormFile | _TextPart]] = []
    for part in form.iter_parts():
        if part.is_multipart():
            raise MalformedPayload("multipart/form-data part is itself multipart")
        # Each header is parsed once: the HTTP policy parses a header anew on every access, which made
        # reading a form several times slower than the form itself.
        disposition = part.get("content-disposition")
        if disposition is None or getattr(disposition, "content_disposition", None) != "form-data":
            raise MalformedPayload("multipart/form-data part has no Content-Disposition: form-data")
        params = disposition.params
        name = params.get("name")
        if not isinstance(name, str) or not name:
            raise MalformedPayload("multipart/form-data part has no name")
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):
            raise MalformedPayload("multipart/form-data part has no content")
        type_header = part.get("content-type")
        if "filename" in params:
            declared = getattr(type_header, "content_type", None) or "text/plain"
            fields.append((name, FormFile(data, params.get("filename") or None, declared)))
        else:
            charset = type_header.params.get("charset") if type_header is not None else None
            fields.append((name, _TextPart(data, (charset or "utf-8").lower())))
    return fields


def _field_name(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedPayload("form field name is not UTF-8") from exc


def text_field(value: str | bytes, field: str, charset: str = "utf-8", *, strict: bool = True) -> str:
    """A form value as text. Strict for providers that promise UTF-8, so a broken body is refused rather
    than stored with replacement characters; lenient where the sender's own charset label may be wrong."""
    if isinstance(value, FormFile):
        raise MalformedPayload(f"{field} must be a text field, not a file")
    if isinstance(value, str):
        return value
    try:
        return value.decode(charset, "strict" if strict else "replace")
    except LookupError:
        return value.decode("utf-8", "replace")
    except UnicodeDecodeError as exc:
        raise MalformedPayload(f"{field} is not valid {charset}") from exc


def has_basic_auth(account: ChannelSecrets) -> bool:
    """Whether an account of a secret configures basic auth: a non-empty `username` and `password`."""
    return all(isinstance(account.get(key), str) and account[key] for key in ("username", "password"))


def check_basic_auth(request: WebhookRequest, secrets: ChannelSecrets) -> str | None:
    """Checks HTTP basic auth against the default account's and each named account's `username` and
    `password`; returns the matching account id (None for the default account). Both halves are compared
    in constant time, for every account, whichever fails first."""
    presented = request.header("authorization")
    if not presented:
        raise InvalidSignature("missing Authorization header (basic auth)")
    scheme, _, credentials = presented.strip().partition(" ")
    if scheme.lower() != "basic" or not credentials.strip():
        raise InvalidSignature("Authorization header is not Basic credentials")
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError) as exc:
        raise InvalidSignature("Authorization Basic credentials are not base64 of UTF-8 text") from exc
    username, colon, password = decoded.partition(":")
    if not colon:
        raise InvalidSignature("Authorization Basic credentials have no username:password")
    configured = [
        (account_id, account["username"], account["password"])
        for account_id, account in every_account(secrets)
        if has_basic_auth(account)
    ]
    if not configured:
        raise InvalidSignature("no basic auth credentials are configured for this provider")
    matches = [
        account_id
        for account_id, expected_user, expected_password in configured
        if same_secret(expected_user, username) & same_secret(expected_password, password)
    ]
    if not matches:
        raise InvalidSignature("basic auth credentials do not match any account")
    return matches[0]


def compose_mime(
    headers: Sequence[tuple[str, str]],
    text: str | None,
    html: str | None,
    attachments: Sequence[MailFileSpec] = (),
) -> bytes:
    """A MIME message from a provider's parse of a mail: its headers as given (minus the ones describing the
    provider's body structure), text and HTML as multipart/alternative, inline parts related to the HTML,
    and attachments. Raises MalformedPayload when the fields cannot make a message."""
    message = EmailMessage(policy=_COMPOSE_POLICY)
    for name, value in headers:
        # A name no mail can carry is left out rather than refusing the customer's whole mail.
        if not _FIELD_NAME.match(name) or name.lower() in _STRUCTURAL_HEADERS:
            continue
        message.set_raw(name, _header_value(name, value))
    with form_errors():
        if html is None or text is not None:
            message.set_content(text or "", subtype="plain", charset="utf-8")
        if html is not None:
            if text is not None:
                message.add_alternative(html, subtype="html", charset="utf-8")
            else:
                message.set_content(html, subtype="html", charset="utf-8")
        html_part = list(message.iter_parts())[-1] if message.is_multipart() else message
        # Related parts first: once an attachment makes the message multipart/mixed, an HTML-only
        # message's top part can no longer become multipart/related.
        for spec in sorted(attachments, key=lambda spec: not (spec.inline and spec.content_id and html is not None)):
            maintype, subtype = _content_type(spec.content_type)
            cid = f"<{spec.content_id.strip().strip('<>')}>" if spec.content_id else None
            options: dict[str, Any] = {
                "filename": spec.filename,
                "cid": cid,
                "disposition": "inline" if spec.inline else "attachment",
                # A message/* part may not be base64 (RFC 2046 5.2.1): an attached mail goes in as it is.
                "cte": "8bit" if maintype == "message" else "base64",
            }
            if spec.inline and cid and html is not None:
                html_part.add_related(spec.data, maintype, subtype, **options)
            else:
                message.add_attachment(spec.data, maintype, subtype, **options)
        return message.as_bytes()


def _header_value(name: str, value: str) -> object:
    """A header value ready to write: unfolded, verbatim when ASCII, else encoded by its header class (so an
    address keeps its <addr-spec> outside the encoded-word) or, failing that, as one encoded text."""
    flat = _LINE_BREAK.sub(" ", _FOLD.sub("", value))
    if flat.isascii():
        return flat
    try:
        header = _COMPOSE_POLICY.header_factory(name, flat)
        folded = _COMPOSE_POLICY.fold_binary(name, header)
    except (ValueError, TypeError, LookupError, IndexError, AttributeError, email.errors.MessageError):
        folded = None
    # The stdlib folder can break an odd address list (a group name before stray bytes) onto a line that
    # does not start with white space, which would end the header section there and lose the MIME structure.
    if folded is not None and _WELL_FOLDED.match(folded):
        return header
    return Header(flat, "utf-8", header_name=name).encode(linesep="\r\n")


def _content_type(declared: str) -> tuple[str, str]:
    maintype, slash, subtype = declared.split(";", 1)[0].strip().lower().partition("/")
    # A multipart type would promise structure the bytes do not have.
    if not (slash and _MEDIA_TOKEN.match(maintype) and _MEDIA_TOKEN.match(subtype)) or maintype == "multipart":
        return "application", "octet-stream"
    return maintype, subtype
