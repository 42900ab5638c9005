"""An agent's reply as a mail (switchboard/email/outgoing.py): its subject, its Message-ID, the threading
headers, the quoted history, Korean text in both parts, and SES's limits. Each mail is read back from its bytes
with the standard library's parser, as a recipient's client would."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta, timezone
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchboard.channels.sending import OutboundAttachment, OutboundEmail, OutboundRequest
from switchboard.email.intake import OUR_MESSAGE_ID_PREFIX
from switchboard.email.outgoing import (
    QUOTED_MESSAGES_LIMIT,
    QUOTED_TEXT_BYTES_LIMIT,
    SES_MAX_ENCODED_BYTES,
    UnsendableMail,
    build_reply,
    new_message_id,
    quoted_history,
    reply_references,
    reply_subject,
)
from switchboard.models import Channel

NOW = datetime(2025, 6, 9, 12, 0, tzinfo=UTC)
MAILBOX = "support@help.shop.example"
CUSTOMER = "kim.minjun@example.com"
REPLY_TO = "support+0123456789abcdef01234567abcdefghijklmnop@help.shop.example"
KOREAN_REPLY = "안녕하세요 김민준 고객님,\n주문하신 상품은 내일 도착합니다.\n감사합니다."


def email_reply(
    text: str | None = KOREAN_REPLY, attachments: tuple[OutboundAttachment, ...] = (), **email: object
) -> OutboundRequest:
    fields: dict[str, object] = {
        "mailbox": MAILBOX,
        "to": (CUSTOMER,),
        "reply_to": REPLY_TO,
        "subject": reply_subject("배송 문의", 1042),
        "message_id": new_message_id("attempt-1", "help.shop.example"),
        "in_reply_to": "CAF=customer-2@mail.gmail.com",
        "references": ("root-1@mail.gmail.com",),
    }
    fields.update(email)
    return OutboundRequest(
        attempt_id="attempt-1",
        message_id="m_1",
        ticket_id="t_0123456789abcdef01234567",
        channel=Channel.EMAIL,
        channel_account_id=MAILBOX,
        recipient_id=CUSTOMER,
        text=text,
        attachments=attachments,
        email=OutboundEmail.model_validate(fields),
        now=NOW,
    )


def parsed(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, policy=default)
    assert isinstance(message, EmailMessage)
    return message


def body_of(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None
    return part.get_content()


# -- subject ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Damaged parcel", "Re: Damaged parcel [#1042]"),
        ("Re: Damaged parcel", "Re: Damaged parcel [#1042]"),
        ("RE: re: Re:Damaged parcel", "Re: Damaged parcel [#1042]"),
        ("Fwd: FW: Damaged parcel", "Re: Damaged parcel [#1042]"),
        ("RE[2]: Damaged parcel", "Re: Damaged parcel [#1042]"),
        ("Re: [#1042] Damaged parcel", "Re: Damaged parcel [#1042]"),
        ("Re: Damaged parcel [#1042]", "Re: Damaged parcel [#1042]"),
        ("Re: Damaged parcel [#77] [#1042]", "Re: Damaged parcel [#1042]"),
        ("회신: 답장: 배송 문의", "Re: 배송 문의 [#1042]"),
        ("RE: 전달: 배송 문의 [#1042]", "Re: 배송 문의 [#1042]"),
        ("AW: WG: Lieferung", "Re: Lieferung [#1042]"),
        ("Report: March", "Re: Report: March [#1042]"),
        ("Re: Re:", "Re: [#1042]"),
        ("", "Re: [#1042]"),
        ("  Order\r\n  problem  ", "Re: Order problem [#1042]"),
        ("Re: [#abc] list", "Re: [#abc] list [#1042]"),
    ],
)
def test_reply_subject(subject: str, expected: str) -> None:
    # Given a customer's subject, whatever prefixes and ticket tokens it gathered on the way
    # Then the reply's subject has one "Re:" and the ticket's token once, at the end
    assert reply_subject(subject, 1042) == expected


def test_reply_subject_is_stable_over_a_thread() -> None:
    # Given a subject answered back and forth many times
    subject = "배송 문의"
    for _ in range(5):
        subject = "RE: " + reply_subject(subject, 1042)
    # Then it never grows
    assert reply_subject(subject, 1042) == "Re: 배송 문의 [#1042]"


@pytest.mark.parametrize(
    "hostile", ["re " * 100_000, " " * 300_000 + "x", "[#" * 150_000, "Re:" * 100_000 + "x", "[#1]" * 80_000]
)
def test_reply_subject_takes_linear_time(hostile: str) -> None:
    # Given a hostile subject that would make a backtracking pattern quadratic
    started = time.monotonic()
    # When it is answered
    subject = reply_subject(hostile, 7)
    # Then the answer is immediate and bounded
    assert time.monotonic() - started < 1
    assert subject.startswith("Re: ") and subject.endswith(" [#7]") and len(subject) < 250


@given(st.text(max_size=300), st.integers(min_value=1, max_value=999_999_999))
def test_reply_subject_always_carries_its_token_once(subject: str, number: int) -> None:
    result = reply_subject(subject, number)
    assert result.startswith("Re: ") and result.endswith(f"[#{number}]")
    assert re.findall(r"\[#\d{1,9}\]", result) == [f"[#{number}]"]
    assert "\n" not in result and "\r" not in result


def test_korean_subject_is_encoded_and_reads_back() -> None:
    # Given a reply whose subject is Korean
    mail = build_reply(email_reply())
    # Then the header is RFC 2047 encoded in the bytes, and reads back as written
    header = mail.raw.split(b"\r\n\r\n", 1)[0]
    assert b"=?utf-8?" in header
    assert parsed(mail.raw)["Subject"] == "Re: 배송 문의 [#1042]"


# -- Message-ID and threading -----------------------------------------------------------------------


def test_message_id_is_deterministic_per_attempt() -> None:
    # Given two attempts of one reply
    first, again, other = (
        new_message_id("attempt-1", "help.shop.example"),
        new_message_id("attempt-1", "help.shop.example"),
        new_message_id("attempt-2", "help.shop.example"),
    )
    # Then the same attempt keeps its id, another attempt gets another, and both are ours for the intake
    assert first == again != other
    assert re.fullmatch(r"<sb\.[a-z2-7]{26}@help\.shop\.example>", first)
    assert first[1:].startswith(OUR_MESSAGE_ID_PREFIX)


@pytest.mark.parametrize("attempt_id", ["a b<c>@d", "회신-1", "x" * 64])
def test_message_id_is_a_dot_atom_whatever_the_attempt_id(attempt_id: str) -> None:
    message_id = new_message_id(attempt_id, "Help.Shop.Example")
    assert re.fullmatch(r"<sb\.[a-z2-7]{26}@help\.shop\.example>", message_id)


def test_message_id_domain_in_punycode() -> None:
    # Given a mailbox at an internationalized domain
    domain = new_message_id("a", "고객센터.한국").rsplit("@", 1)[1].rstrip(">")
    # Then the id carries it in Punycode (RFC 3492), which reads back as the domain
    assert domain.isascii() and domain.startswith("xn--")
    assert domain.encode().decode("idna") == "고객센터.한국"


def test_threading_headers() -> None:
    # Given a reply to the customer's second mail, whose References name the thread's root
    mail = build_reply(email_reply())
    message = parsed(mail.raw)
    # Then it names our Message-ID, the parent, and the thread (parent's References + parent's Message-ID)
    assert message["Message-ID"] == new_message_id("attempt-1", "help.shop.example") == mail.message_id
    assert message["In-Reply-To"] == "<CAF=customer-2@mail.gmail.com>"
    assert message["References"].split() == ["<root-1@mail.gmail.com>", "<CAF=customer-2@mail.gmail.com>"]


def test_references_keep_the_root_and_the_newest() -> None:
    # Given a thread of 30 mails
    ancestors = tuple(f"<m{number}@example.com>" for number in range(30))
    # When the reply's References are built
    references = reply_references(ancestors[:-1], ancestors[-1])
    # Then the root and the 19 newest are kept, in order
    assert references == (ancestors[0], *ancestors[-19:])


def test_references_drop_duplicates_and_unusable_ids() -> None:
    references = reply_references(
        ("<a@example.com>", "a@EXAMPLE.com", "no-at-sign", "<" + "x" * 300 + "@example.com>", "<b@example.com>"),
        "b@example.com",
    )
    assert references == ("<a@example.com>", "<b@example.com>")


def test_long_message_ids_are_folded_between_ids_never_inside() -> None:
    # Given a thread whose ids are long (some clients write 200-character ids)
    ids = tuple(f"<{'x' * 200}.{number}@example.com>" for number in range(20))
    mail = build_reply(email_reply(references=ids[:-1], in_reply_to=ids[-1]))
    # Then every id reads back whole, and no line reaches SES's 1,000-character limit
    assert tuple(parsed(mail.raw)["References"].split()) == reply_references(ids[:-1], ids[-1])
    assert b"=?" not in mail.raw.split(b"\r\nReferences:", 1)[1].split(b"\r\nMIME-Version", 1)[0]
    assert max(len(line) for line in mail.raw.split(b"\r\n")) <= 998


def test_first_reply_without_parent_has_no_threading_headers() -> None:
    mail = build_reply(email_reply(in_reply_to=None, references=()))
    message = parsed(mail.raw)
    assert message["In-Reply-To"] is None and message["References"] is None


# -- addresses ----------------------------------------------------------------------------------------


def test_from_to_cc_and_reply_to() -> None:
    # Given a reply to a customer who copied two colleagues (one twice) and our own mailbox
    mail = build_reply(
        email_reply(cc=("lee@example.com", "Lee@Example.com", MAILBOX, "park@example.com", CUSTOMER.upper()))
    )
    message = parsed(mail.raw)
    # Then it comes from the mailbox they wrote to, replies go to the ticket's address, and each person
    # the customer let see the thread is copied once
    assert message["From"] == MAILBOX
    assert message["To"] == CUSTOMER
    assert message["Cc"] == "lee@example.com, park@example.com"
    assert message["Reply-To"] == REPLY_TO
    assert (mail.from_address, mail.to, mail.cc) == (MAILBOX, (CUSTOMER,), ("lee@example.com", "park@example.com"))
    # And nothing marks it automatic: a person wrote it
    assert message["Auto-Submitted"] is None and message["Precedence"] is None


def test_non_ascii_domain_goes_as_punycode() -> None:
    # Given a customer at an internationalized domain
    mail = build_reply(email_reply(to=("kim@고객.한국",)))
    # Then SES gets the domain in Punycode, in the envelope and the header alike
    (address,) = mail.to
    local, _, domain = address.partition("@")
    assert local == "kim" and domain.isascii() and domain.encode().decode("idna") == "고객.한국"
    assert parsed(mail.raw)["To"] == address


def test_non_ascii_local_part_is_unsendable_without_naming_it() -> None:
    # Given a customer whose address's local part is Korean (SES has no SMTPUTF8)
    with pytest.raises(UnsendableMail) as refused:
        build_reply(email_reply(to=("김민준@example.com",)))
    # Then the reply is refused with a reason that does not repeat the address
    assert refused.value.code == "invalid_address"
    assert "김민준" not in refused.value.reason


def test_more_than_fifty_recipients_is_unsendable() -> None:
    # Given a reply copied to 50 people besides the customer
    cc = tuple(f"person{number}@example.com" for number in range(50))
    with pytest.raises(UnsendableMail) as refused:
        build_reply(email_reply(cc=cc))
    # Then SES's limit is named
    assert refused.value.code == "too_many_recipients"
    assert "50" in refused.value.reason and "example.com" not in refused.value.reason


def test_header_injection_is_impossible() -> None:
    # Given a subject with line breaks in it
    mail = build_reply(email_reply(subject="Re: hello\r\nBcc: victim@example.com [#1]"))
    # Then it stays one header
    message = parsed(mail.raw)
    assert message["Bcc"] is None
    assert message["Subject"] == "Re: hello Bcc: victim@example.com [#1]"


# -- bodies -------------------------------------------------------------------------------------------


def test_korean_reply_round_trips_in_both_parts() -> None:
    # Given a Korean reply with some markup-like text in it
    text = KOREAN_REPLY + "\n<b>굵게</b> & 끝"
    mail = build_reply(email_reply(text=text))
    message = parsed(mail.raw)
    # Then it is multipart/alternative, UTF-8, never 8bit on the wire
    assert message.get_content_type() == "multipart/alternative"
    assert mail.raw.isascii()
    plain, rich = body_of(message, "plain"), body_of(message, "html")
    # And the text reads back as written; the HTML shows it escaped, line by line
    assert plain.replace("\r\n", "\n").rstrip("\n") == text
    assert "&lt;b&gt;굵게&lt;/b&gt; &amp; 끝" in rich
    assert "안녕하세요 김민준 고객님,<br>" in rich
    assert "<b>" not in rich


def test_ascii_reply_stays_readable_on_the_wire() -> None:
    mail = build_reply(email_reply(text="Hello Kim,\nyour parcel ships tomorrow.", subject="Re: Parcel [#1]"))
    assert b"your parcel ships tomorrow." in mail.raw
    assert b"Content-Transfer-Encoding: quoted-printable" in mail.raw


def test_long_lines_are_wrapped_for_ses() -> None:
    # Given a reply written as one 5,000-character line
    mail = build_reply(email_reply(text="a" * 5000))
    # Then no line of the mail passes RFC 5321's limit, and the text reads back whole
    assert max(len(line) for line in mail.raw.split(b"\r\n")) <= 998
    assert body_of(parsed(mail.raw), "plain").strip() == "a" * 5000


def test_reply_on_top_of_the_quoted_history() -> None:
    # Given the thread so far
    text_history, html_history = quoted_history(
        [
            ("김민준", datetime(2025, 6, 9, 9, 30, tzinfo=UTC), "아직 안 왔어요 <급함>"),
            ("Support", datetime(2025, 6, 8, 18, 0, tzinfo=UTC), "Your parcel is on its way."),
        ]
    )
    mail = build_reply(email_reply(text="내일 도착합니다.", quoted_text=text_history, quoted_html=html_history))
    message = parsed(mail.raw)
    plain, rich = body_of(message, "plain"), body_of(message, "html")
    # Then the reply comes first, then the newest message, then the older one, in both parts
    assert plain.index("내일 도착합니다.") < plain.index("> 아직 안 왔어요") < plain.index("> Your parcel")
    assert rich.index("내일 도착합니다.") < rich.index("아직 안 왔어요 &lt;급함&gt;") < rich.index("Your parcel")
    assert "<급함>" not in rich


def test_quoted_history_attribution_and_quoting() -> None:
    # Given one message from a customer, written with a time zone of its own
    seoul = timezone(timedelta(hours=9))
    text, rich = quoted_history(
        [("김민준\n<kim@example.com>", datetime(2025, 6, 9, 18, 30, tzinfo=seoul), "첫 줄\n\n둘째 줄")]
    )
    # Then it is introduced in UTC, on one line, and quoted line by line
    assert text == "On Mon, 9 Jun 2025 at 09:30 UTC, 김민준 <kim@example.com> wrote:\n> 첫 줄\n>\n> 둘째 줄"
    # And the HTML escapes the author and the text inside a blockquote
    assert "김민준 &lt;kim@example.com&gt; wrote:" in rich
    assert re.search(r"<blockquote[^>]*>첫 줄<br>\n<br>\n둘째 줄</blockquote>", rich)


def test_quoted_history_keeps_the_ten_newest() -> None:
    # Given a thread of 15 messages, newest first
    thread = [("Kim", NOW - timedelta(hours=number), f"message {number}") for number in range(15)]
    text, rich = quoted_history(thread)
    # Then the 10 newest are quoted, in order, and nothing older
    assert [int(n) for n in re.findall(r"> message (\d+)", text)] == list(range(QUOTED_MESSAGES_LIMIT))
    assert "message 10" not in rich


def test_quoted_history_is_bounded_in_size() -> None:
    # Given a thread whose newest message alone is 200 KB of Korean
    huge = "가나다라마바사아자차카타파하\n" * 5000
    text, rich = quoted_history([("Kim", NOW, huge), ("Kim", NOW - timedelta(days=1), "older")])
    # Then the quote stays near 64 KiB, says it was cut, and leaves the older message out
    assert len(text.encode()) <= QUOTED_TEXT_BYTES_LIMIT + 100
    assert text.endswith("> […]") and "older" not in text
    assert len(rich.encode()) < 2 * QUOTED_TEXT_BYTES_LIMIT


def test_quoted_history_of_nothing_is_empty() -> None:
    assert quoted_history([]) == ("", "")


# -- attachments and size -----------------------------------------------------------------------------


def test_attachments_make_multipart_mixed() -> None:
    # Given a reply with a PDF whose name is Korean
    files = {"attachments/t_1/m_1/0": b"%PDF-1.7 invoice"}
    attachment = OutboundAttachment(
        kind="document",
        storage_key="attachments/t_1/m_1/0",
        filename="영수증.pdf",
        mime_type="application/pdf",
        url="https://bucket.example/presigned",
    )
    mail = build_reply(email_reply(attachments=(attachment,)), files.__getitem__)
    message = parsed(mail.raw)
    # Then the text and HTML stay alternatives, and the file travels with its name and type
    assert message.get_content_type() == "multipart/mixed"
    assert body_of(message, "plain").startswith("안녕하세요")
    (file,) = list(message.iter_attachments())
    assert (file.get_filename(), file.get_content_type(), file.get_content()) == (
        "영수증.pdf",
        "application/pdf",
        b"%PDF-1.7 invoice",
    )


def test_attachments_over_ses_size_are_unsendable_before_reading_the_rest() -> None:
    # Given two attachments of 20 MB each (over 40 MB once base64 encoded)
    read: list[str] = []

    def read_attachment(key: str) -> bytes:
        read.append(key)
        return b"\0" * 20_000_000

    attachments = tuple(
        OutboundAttachment(kind="document", storage_key=f"k{number}", url="https://bucket.example/x")
        for number in range(3)
    )
    # When the reply is built
    with pytest.raises(UnsendableMail) as refused:
        build_reply(email_reply(attachments=attachments), read_attachment)
    # Then it is refused, naming SES's limit, and the third file is never read
    assert refused.value.code == "message_too_large"
    assert f"{SES_MAX_ENCODED_BYTES // 1_000_000} MB" in refused.value.reason
    assert read == ["k0", "k1"]


def test_attachments_without_a_reader_are_our_fault() -> None:
    attachment = OutboundAttachment(kind="image", storage_key="k", url="https://bucket.example/x")
    with pytest.raises(ValueError):
        build_reply(email_reply(attachments=(attachment,)))
