"""Hostile mail shapes against the whole intake path (parse_mail, inbound_message): the work grows linearly
with the mail whatever its shape, what a limit cuts is named, and no value of a mail can fail validation."""

import time
from datetime import UTC, datetime

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from switchboard.email.bounds import MAX_DEPTH, MAX_PARTS, bound
from switchboard.email.intake import Mailboxes, inbound_message
from switchboard.email.mime import parse_mail
from switchboard.email.parsed import MailAddress, ParsedMail
from switchboard.models import EmailDetails, MailHandling
from switchboard.store.mail_bucket import StoredMail

NOW = datetime(2025, 6, 8, 12, 0, tzinfo=UTC)
MAILBOXES = Mailboxes(domains=frozenset({"shop.example"}), default_mailbox="support@shop.example")
HEAD = b"From: a@example.com\r\nTo: support@shop.example\r\nSubject: x\r\nMessage-ID: <m@example.com>\r\n"

# Pieces that made (or could make) a pattern or loop of the intake do more than linear work when repeated:
# attribution words, tag starts html.parser rescans from, nesting, delimiters, quote marks, header labels,
# flowed lines, encoded-word starts, parameters, folding, a Korean attribution's end.
ATOMS = [
    b" schrieb", b"Am schrieb ", b"On 2025 wrote", b"<a", b"<a href=x>y", b"</", b"<!", b"<?", b"<b>", b"</i>",
    b"<blockquote>x<br>", b"--b\r\n\r\n", b"> ", b">\r\n", b"From: a\r\nSent: b\r\n", b"a \r\n", b"a", b" ",
    b"*  ", b"@", b"<", b"=?utf-8?b?", b'; p="v"', b"\r\n ", b"-- ", b"\xea\xb0\x80 \xec\x9e\x91\xec\x84\xb1",
    b"(", b":", b'"',
]  # fmt: skip


def plain(filler: bytes) -> bytes:
    return HEAD + b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + filler


def flowed(filler: bytes) -> bytes:
    return HEAD + b"Content-Type: text/plain; charset=utf-8; format=flowed; delsp=yes\r\n\r\n" + filler


def html(filler: bytes) -> bytes:
    return HEAD + b"Content-Type: text/html; charset=utf-8\r\n\r\n" + filler


def header(name: bytes):
    return lambda filler: HEAD.replace(b"Subject:", name + b": " + filler + b"\r\nSubject:") + b"\r\nbody"


def multipart(filler: bytes) -> bytes:
    return HEAD + b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n' + filler + b"\r\n--b--\r\n"


def part_parameters(filler: bytes) -> bytes:
    return multipart(b"Content-Type: application/octet-stream" + filler + b"\r\n\r\nx")


CONTAINERS = [plain, flowed, html, header(b"To"), header(b"References"), header(b"Subject"), multipart, part_parameters]


def intake_seconds(raw: bytes) -> float:
    """The least of two runs of the intake's work on `raw` (process time: other processes do not count)."""
    stored = StoredMail(key="inbound/ses/x", provider="ses", provider_id="x", raw=raw, stored_at=NOW)
    best = float("inf")
    for _ in range(2):
        started = time.process_time()
        inbound_message(stored, parse_mail(raw), mailboxes=MAILBOXES, reply_token_keys=lambda: ["k"], received_at=NOW)
        best = min(best, time.process_time() - started)
    return best


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    atoms=st.lists(st.one_of(st.sampled_from(ATOMS), st.binary(min_size=1, max_size=6)), min_size=1, max_size=3),
    container=st.sampled_from(CONTAINERS),
)
@example(atoms=[b" schrieb"], container=plain)
@example(atoms=[b"--b\r\n\r\n"], container=multipart)
@example(atoms=[b"("], container=CONTAINERS[3])
@example(atoms=[b"<a href=x>y"], container=html)
@example(atoms=[b'; p="v"'], container=part_parameters)
def test_the_intake_work_grows_linearly_with_any_repeated_shape(atoms, container):
    # Given a mail whose body or header repeats a hostile piece to ~32 KB, and the same at four times the size
    unit = b"".join(atoms)
    small = container(unit * (32 * 1024 // len(unit)))
    large = container(unit * (128 * 1024 // len(unit)))
    # When the intake reads each
    small_seconds, large_seconds = intake_seconds(small), intake_seconds(large)
    # Then four times the mail costs about four times the work, never the sixteen of a quadratic pattern
    # (with slack for timer noise at a few milliseconds), and the mail is still read, not given up on
    assert large_seconds < 8 * small_seconds + 0.03, (unit, container.__name__, small_seconds, large_seconds)
    assert "unreadable" not in parse_mail(large).limits


def test_the_quoted_attribution_attack_is_linear_and_fast():
    # Given the review's own shape: a one-line body "Am" + " schrieb" * N + " x", at 640 KB (17.5 s before)
    raw = plain(b"Am" + b" schrieb" * (640 * 1024 // 8) + b" x")
    # When the intake reads it
    # Then it takes a fraction of a second, and the reply text is the line itself, cut to the limit
    assert intake_seconds(raw) < 1.0
    assert parse_mail(raw).reply_text.startswith("Am schrieb")


@settings(max_examples=25, deadline=None)
@given(
    parts=st.integers(0, 3 * MAX_PARTS),
    depth=st.integers(0, 3 * MAX_DEPTH),
    noise=st.sampled_from([b"", b"--b\r\n", b"--not-a-boundary\r\n", b"x\r\n"]),
)
def test_parts_and_nesting_are_counted_before_the_stdlib_parser_reads_them(parts, depth, noise):
    # Given a mail nesting `depth` multiparts, the innermost holding `parts` empty parts among noise lines
    raw = HEAD
    for level in range(depth):
        raw += b'Content-Type: multipart/mixed; boundary="n%d"\r\n\r\n--n%d\r\n' % (level, level)
    raw += b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n' + (b"--b\r\n\r\n" + noise) * parts + b"--b--\r\n"
    # When the pre-scan bounds it
    bounded = bound(raw)
    read = b"".join(bounded.chunks(raw, 1 << 16))
    # Then what the stdlib parser is given opens at most MAX_PARTS parts and one level beyond MAX_DEPTH,
    delimiters = sum(read.count(b"\n--n%d\r\n" % level) for level in range(depth)) + read.count(b"\n--b\r\n")
    assert delimiters + 1 <= MAX_PARTS
    assert sum(1 for level in range(depth) if b"\n--n%d\r\n" % level in read) <= MAX_DEPTH + 1
    # and the parse names what was cut
    limits = parse_mail(raw).limits
    opened = 1 + depth + parts * (2 if noise == b"--b\r\n" else 1)  # the noise "--b" opens a part too
    assert ("mime_parts" in limits) == (opened > MAX_PARTS and depth <= MAX_DEPTH)
    assert ("mime_depth" in limits) == (depth + 1 > MAX_DEPTH)


def test_a_huge_header_block_keeps_the_fields_the_intake_reads():
    # Given a mail whose trace headers fill 3 MB before its From, To, Subject and Content-Type
    raw = (
        b"Received: from relay.example.com\r\n" * 90_000
        + b"From: Kim <minjun@example.com>\r\nTo: support@shop.example\r\nSubject: =?utf-8?b?67Cw7IahIOusuOydmA==?=\r\n"
        + b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
        + "배송 문의드립니다.".encode()
    )
    # When it is parsed
    parsed = parse_mail(raw)
    # Then the excess trace is left out and named, and the mail still reads as its sender wrote it
    assert parsed.limits == ("header_size",)
    assert (parsed.sender.address, parsed.subject, parsed.text) == (
        "minjun@example.com",
        "배송 문의",
        "배송 문의드립니다.",
    )


@settings(max_examples=50, deadline=None)
@given(
    lengths=st.lists(st.integers(0, 3000), min_size=6, max_size=6),
    count=st.integers(0, 300),
)
def test_email_details_cut_every_bounded_value_and_never_refuse_it(lengths, count):
    # Given values of any length for every bounded field
    mailbox, sender, subject, reason, key, provider_id = ("x" * n for n in lengths)
    # When the details are built
    details = EmailDetails(
        mailbox="abc" + mailbox,
        from_address="a" + sender,
        to=("t@example.com",) * count,
        cc=("c@example.com",) * count,
        participants=("p@example.com",) * count,
        subject=subject,
        in_reply_to=("i@m",) * count,
        references=("r@m",) * count,
        handling_reason=reason,
        decoding_problems=("problem",) * count,
        parse_limits=("mime_parts",) * count,
        raw_mail_key="k" + key,
        provider="ses" + provider_id,
        provider_id=provider_id,
    )
    # Then each value is within its field's bound
    for name, field in EmailDetails.model_fields.items():
        bound_ = next((m.max_length for m in field.metadata if getattr(m, "max_length", None) is not None), None)
        value = getattr(details, name)
        if bound_ is not None and value is not None:
            assert len(value) <= bound_, name


@settings(max_examples=40, deadline=None)
@given(
    local_lengths=st.lists(st.integers(1, 1200), min_size=1, max_size=5),
    name_length=st.integers(0, 2000),
    ours=st.booleans(),
)
def test_any_address_lengths_make_a_message(local_lengths, name_length, ours):
    # Given a mail To: and From: addresses of any length, at our domain or another
    domain = "shop.example" if ours else "example.com"
    recipients = tuple(MailAddress(address=f"{'s' * n}@{domain}", name="김" * name_length) for n in local_lengths)
    parsed = ParsedMail(
        message_id="long@example.com",
        sender=MailAddress(address="f" * local_lengths[0] + "@example.com", name="민" * name_length),
        to=recipients,
        cc=recipients,
    )
    stored = StoredMail(key="inbound/ses/x", provider="ses", provider_id="x", raw=b"", stored_at=NOW)
    # When it becomes a message
    message = inbound_message(stored, parsed, mailboxes=MAILBOXES, reply_token_keys=lambda: ["k"], received_at=NOW)
    # Then it is filed under one of our real mailboxes, marked when an address was too long to keep
    assert len(message.email.mailbox) <= 254 and message.email.mailbox.endswith("@shop.example")
    assert ("addresses" in message.email.parse_limits) == any(n + 1 + len(domain) > 254 for n in local_lengths)
    assert message.email.handling is MailHandling.CUSTOMER


def test_an_attached_mails_huge_header_and_many_part_headers_are_bounded():
    # Given a forwarded mail whose own header block is 4 MB of trace fields, and a mail of 500 parts each
    # with 20 KB of header fields (10 MB of part headers in all)
    forwarded = multipart(
        b"Content-Type: message/rfc822\r\n\r\n" + b"X-Trace: relay\r\n" * 250_000 + b"Subject: inner\r\n\r\nbody"
    )
    parts = (
        HEAD
        + b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        + (b"--b\r\n" + b"X-A: b\r\n" * 2500 + b"\r\nx\r\n") * 500
    )
    # When the intake reads each
    # Then the excess header fields are left out and named, and the work is a fraction of a second per MB
    for raw in (forwarded, parts):
        assert parse_mail(raw).limits == ("header_size",)
        assert intake_seconds(raw) < 0.5 * len(raw) / 1024 / 1024 + 0.5
