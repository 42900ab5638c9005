"""Worst-case time of the email intake on hostile mail: seconds per MB for each adversarial shape.

Each shape is a mail built to make one piece of the intake do the most work per byte: the stdlib's MIME
parser (many parts, deep nesting, huge header blocks, long parameter lists), quote splitting (long
attribution lines, header-label lines, long lines without spaces), HTML conversion (unclosed tags, deep
nesting), Message-ID extraction and format=flowed text. The whole intake path is timed, as email_inbound
runs it without AWS: parse_mail, inbound_message (addresses, threading, quote split already in the parse)
and the queue body's encoding, with time.process_time.

Each shape is measured at SIZES (MB); a per-MB figure that stays flat or falls as the size grows says the
work is linear (it falls where a limit stops the work). The largest, HOSTILE_MB, is what SES accepts
(40 MB): the worst shape's time there is compared with 25% of EmailInboundFunction's timeout.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

MB = 1024 * 1024
SIZES = (1, 8, 40)
HOSTILE_MB = 40
FUNCTION_TIMEOUT_S = 120
_HEAD = (
    "From: Kim Minjun <minjun.kim@example.com>\r\nTo: support@shop.example\r\nSubject: hostile\r\n"
    "Date: Sun, 08 Jun 2025 21:00:00 +0900\r\nMessage-ID: <hostile@example.com>\r\nMIME-Version: 1.0\r\n"
)


def _plain(body: bytes, extra: str = "") -> bytes:
    return (_HEAD + extra + "Content-Type: text/plain; charset=utf-8\r\n\r\n").encode() + body


def _html(body: bytes) -> bytes:
    return (_HEAD + "Content-Type: text/html; charset=utf-8\r\n\r\n").encode() + body


def _repeat(unit: bytes, size: int) -> bytes:
    return unit * max(1, size // len(unit))


def _multipart(body: bytes, boundary: str = "b") -> bytes:
    return (_HEAD + f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n').encode() + body


def _deep(size: int) -> bytes:
    level = b'Content-Type: multipart/mixed; boundary="%d"\r\n\r\n--%d\r\n'
    chunks = [_HEAD.encode()]
    total, depth = 0, 0
    while total < size:
        chunk = level % (depth, depth)
        chunks.append(chunk)
        total += len(chunk)
        depth += 1
    return b"".join(chunks) + b"Content-Type: text/plain\r\n\r\ndeep\r\n"


def _part_headers(size: int) -> bytes:
    parameters = "".join(f'; p{n}="{"v" * 20}"' for n in range(1400))
    part = f"--b\r\nContent-Type: application/octet-stream{parameters}\r\n\r\nx\r\n".encode()
    return _multipart(_repeat(part, size))


def _huge_header(size: int) -> bytes:
    addresses = ", ".join(f"customer{n}@example.com" for n in range(2000))
    trace = _repeat(b"X-Trace: relay.example.com\r\n", size - len(addresses))
    return (
        _HEAD.replace("Subject:", f"Cc: {addresses}\r\nSubject:").encode()
        + trace
        + b"Content-Type: text/plain\r\n\r\nhello\r\n"
    )


def _attached_messages(size: int) -> bytes:
    return _multipart(b"--b\r\n" + _repeat(b"Content-Type: message/rfc822\r\n\r\n", size))


# name -> (what it attacks, builder of a mail of about `size` bytes)
SHAPES: dict[str, tuple[str, Callable[[int], bytes]]] = {
    "long attribution line": ("quotes", lambda size: _plain(b"Am" + _repeat(b" schrieb", size) + b" x\r\n")),
    "many empty parts": ("MIME parser", lambda size: _multipart(_repeat(b"--b\r\n\r\n", size) + b"--b--\r\n")),
    "deep nesting": ("MIME parser", _deep),
    "huge header block": ("headers", _huge_header),
    "long line, no spaces": ("quotes, text", lambda size: _plain(_repeat(b"a", size) + b"\r\n")),
    "long parameter lists": ("part headers", _part_headers),
    "nested attached mail": ("MIME parser", _attached_messages),
    "header-label lines": ("quotes", lambda size: _plain(_repeat(b"From: a\r\nSent: b\r\n", size))),
    "flowed text": (
        "format=flowed",
        lambda size: _plain(_repeat(b"a \r\n", size), "X-Note: flowed\r\n").replace(
            b"charset=utf-8", b"charset=utf-8; format=flowed"
        ),
    ),
    "unclosed HTML tags": ("HTML", lambda size: _html(_repeat(b"<a", size))),
    "nested HTML links": ("HTML", lambda size: _html(_repeat(b"<a href=x>y", size))),
    "References without @": (
        "Message-IDs",
        lambda size: _HEAD.replace("Subject:", "References: <" + "r" * size + "\r\nSubject:").encode() + b"\r\nx",
    ),
    "part header fields": (
        "headers",
        lambda size: _multipart(_repeat(b"--b\r\n" + b"X-A: b\r\n" * 5000 + b"\r\nx\r\n", size)),
    ),
    "attached mail's header": (
        "headers",
        lambda size: _multipart(
            b"--b\r\nContent-Type: message/rfc822\r\n\r\n" + _repeat(b"X-A: b\r\n", size) + b"\r\nbody\r\n--b--\r\n"
        ),
    ),
    "short lines (QP =)": (
        "MIME parser",
        lambda size: _plain(_repeat(b"=\r\n", size), "Content-Transfer-Encoding: quoted-printable\r\n"),
    ),
    "address comments (((": (
        "addresses",
        lambda size: _HEAD.replace("To:", "To: " + "(" * size + " support@shop.example\r\nX-To:").encode() + b"\r\nx",
    ),
}


@dataclass(frozen=True)
class ShapeFigures:
    shape: str
    attacks: str
    seconds: dict[int, float]  # size in MB -> seconds for the whole intake path
    limits: tuple[str, ...]

    def per_mb(self, size: int) -> float:
        return self.seconds[size] / size


@dataclass(frozen=True)
class Adversarial:
    shapes: list[ShapeFigures]
    hostile_shape: str
    hostile_seconds: float


def intake_seconds(raw: bytes) -> tuple[float, tuple[str, ...]]:
    """process_time of the intake's work on one stored mail, and the limits it reported."""
    from switchboard.email.intake import Mailboxes, inbound_message
    from switchboard.email.mime import parse_mail
    from switchboard.queue import encode
    from switchboard.store.mail_bucket import StoredMail

    now = datetime(2025, 6, 8, 12, 0, tzinfo=UTC)
    stored = StoredMail(key="inbound/ses/hostile", provider="ses", provider_id="hostile", raw=raw, stored_at=now)
    mailboxes = Mailboxes(domains=frozenset({"shop.example"}), default_mailbox="support@shop.example")
    started = time.process_time()
    parsed = parse_mail(raw)
    message = inbound_message(stored, parsed, mailboxes=mailboxes, reply_token_keys=lambda: ["key"], received_at=now)
    encode(message)
    return time.process_time() - started, getattr(parsed, "limits", ())


def measure() -> Adversarial:
    figures = []
    for name, (attacks, build) in SHAPES.items():
        seconds, limits = {}, ()
        for size in SIZES:
            seconds[size], limits = intake_seconds(build(size * MB))
        figures.append(ShapeFigures(name, attacks, seconds, limits))
    worst = max(figures, key=lambda row: row.seconds[HOSTILE_MB])
    return Adversarial(figures, worst.shape, worst.seconds[HOSTILE_MB])


def report(figures: Adversarial) -> None:
    sizes = " ".join(f"{f's/MB at {size} MB':>12}" for size in SIZES)
    print("\n6. Email intake on adversarial mail (parse_mail + inbound_message + queue encoding; time.process_time)")
    print(f"   {'shape':<24} {'attacks':<14} {sizes}  limits reported")
    for row in figures.shapes:
        per_mb = " ".join(f"{row.per_mb(size):>12.3f}" for size in SIZES)
        print(f"   {row.shape:<24} {row.attacks:<14} {per_mb}  {', '.join(row.limits) or '-'}")
    budget = FUNCTION_TIMEOUT_S * 0.25
    print(
        f"   Worst shape at {HOSTILE_MB} MB (SES's largest mail), {figures.hostile_shape}: {figures.hostile_seconds:.1f} s,"
        f" {figures.hostile_seconds / budget:.0%} of 25% of EmailInboundFunction's {FUNCTION_TIMEOUT_S} s timeout ({budget:.0f} s)"
    )
    print(
        "   A flat s/MB from size to size is linear work; each limit cut is named on the message (email.parse_limits)."
    )


if __name__ == "__main__":
    report(measure())
