"""Raw mail bytes -> ParsedMail: bodies, headers, attachments and whatever broken mail the world sends."""

import base64
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchboard.email.mime import MAX_DEPTH, MAX_PARTS, parse_mail
from switchboard.email.parsed import MailAddress, MailFile, MailKind

KOREAN = "주문한 상품이 아직 도착하지 않았습니다."
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def mail(*headers: str | bytes, body: str | bytes = b"") -> bytes:
    """A mail as it arrives over SMTP: CRLF line ends, headers, a blank line, the body."""
    lines = [h.encode() if isinstance(h, str) else h for h in headers]
    data = body.encode() if isinstance(body, str) else body
    return b"\r\n".join(lines) + b"\r\n\r\n" + data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def b64(data: bytes) -> str:
    return base64.encodebytes(data).decode()


def encoded_word(text: str, charset: str = "utf-8", codec: str | None = None) -> str:
    return f"=?{charset}?B?{base64.b64encode(text.encode(codec or charset)).decode()}?="


CUSTOMER_HEADERS = (
    "Message-ID: <CAF=abc123@Mail.Gmail.COM>",
    "From: Kim Minjun <kim.minjun@example.com>",
    "To: support@shop.example.com",
    "Date: Mon, 9 Jun 2025 10:05:00 +0900",
    "MIME-Version: 1.0",
)


def test_alternative_prefers_plain_text_and_keeps_the_html_sanitized():
    # Given a Gmail-style multipart/alternative reply
    raw = mail(
        *CUSTOMER_HEADERS,
        "Subject: Re: order",
        'Content-Type: multipart/alternative; boundary="alt"',
        body=(
            "--alt\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: base64\n\n"
            + b64(
                f"{KOREAN}\n\nOn Mon, Jun 9, 2025 at 9:00 AM Support <help@shop.example> wrote:\n> 안녕하세요\n".encode()
            )
            + "--alt\nContent-Type: text/html; charset=UTF-8\nContent-Transfer-Encoding: quoted-printable\n\n"
            + '<div dir=3D"ltr" onclick=3D"x()">=EC=A3=BC=EB=AC=B8</div><script>x()</script>\n'
            + "--alt--\n"
        ),
    )

    # When it is parsed
    parsed = parse_mail(raw)

    # Then the text comes from text/plain, the reply part stops at the attribution, and the HTML is safe
    assert (parsed.body_source, parsed.text.splitlines()[0]) == ("plain", KOREAN)
    assert parsed.reply_text == KOREAN
    assert parsed.html == '<div dir="ltr">주문</div>'
    assert (parsed.attachments, parsed.decoding_problems) == ((), ())


def test_html_only_mail_is_converted_to_text_without_scripts_or_remote_images():
    # Given an HTML-only mail with a script and a tracking pixel
    html = (
        "<html><head><title>t</title></head><body><p>환불 요청합니다.</p><script>steal()</script>"
        '<img src="https://tracker.example.com/p.gif?u=1"></body></html>'
    )
    raw = mail(*CUSTOMER_HEADERS, "Subject: refund", "Content-Type: text/html; charset=utf-8", body=html)

    # When it is parsed
    parsed = parse_mail(raw)

    # Then the text is what a reader sees and the kept HTML loads nothing
    assert (parsed.text, parsed.body_source) == ("환불 요청합니다.", "html")
    assert parsed.html is not None and "script" not in parsed.html and "tracker" not in parsed.html


def test_html_without_a_mime_charset_uses_its_meta_charset():
    # Given an old Korean HTML mail whose charset is only in a <meta> tag
    html = '<html><head><meta http-equiv="Content-Type" content="text/html; charset=euc-kr"></head><body>'
    raw = mail("From: a@example.com", "Content-Type: text/html", body=html.encode() + KOREAN.encode("cp949"))

    # When it is parsed
    parsed = parse_mail(raw)

    # Then the meta charset decodes it
    assert parsed.text == KOREAN


def test_korean_headers_encoded_and_raw_8bit():
    # Given an Outlook subject in ks_c_5601-1987 and an old client's raw EUC-KR display name
    raw = mail(
        "Subject: " + encoded_word("[긴급] 배송 문의", "ks_c_5601-1987", "cp949"),
        b"From: " + "김민준".encode("cp949") + b" <kim@example.co.kr>",
        'To: =?utf-8?B?6rOg6rCd7IS87YSw?= <help@shop.example.com>, "Team, Support" <team@shop.example.com>',
        b'Cc: "' + "이서연".encode("cp949") + b'" <seoyeon@example.co.kr>, not-an-address, undisclosed-recipients:;',
        "Content-Type: text/plain; charset=euc-kr",
        body=KOREAN.encode("cp949"),
    )

    # When it is parsed
    parsed = parse_mail(raw)

    # Then every name and the subject read right, and entries without an address are left out
    assert parsed.subject == "[긴급] 배송 문의"
    assert parsed.sender == MailAddress(address="kim@example.co.kr", name="김민준")
    assert parsed.to == (
        MailAddress(address="help@shop.example.com", name="고객센터"),
        MailAddress(address="team@shop.example.com", name="Team, Support"),
    )
    assert parsed.cc == (MailAddress(address="seoyeon@example.co.kr", name="이서연"),)
    assert parsed.text == KOREAN


def test_raw_8bit_euc_kr_subject():
    # Given a subject sent as bare EUC-KR bytes
    raw = mail(b"Subject: " + "RE: 환불 문의".encode("cp949"), "From: a@example.com", body="x")

    # When it is parsed
    parsed = parse_mail(raw)

    # Then it is decoded as Korean, not as replacement characters
    assert parsed.subject == "RE: 환불 문의"


def test_utf8_declared_body_that_is_really_euc_kr_is_decoded_and_flagged():
    # Given a body labelled UTF-8 whose bytes are EUC-KR
    raw = mail("From: a@example.com", "Content-Type: text/plain; charset=utf-8", body=KOREAN.encode("cp949"))

    # When it is parsed
    parsed = parse_mail(raw)

    # Then the text is right and the problem says so without quoting it
    assert parsed.text == KOREAN
    assert parsed.decoding_problems == ("part 1 (text/plain): declared 'utf-8', not valid in it; decoded as cp949",)


@pytest.mark.parametrize(
    ("charset", "codec", "text"),
    [
        ("ISO-2022-KR", "iso2022_kr", "안녕하세요, 주문 문의드립니다."),
        ("ISO-2022-JP", "iso2022_jp", "ご注文ありがとうございます。"),
        ("Shift_JIS", "cp932", "①番の商品が届きません。"),
        ("GB2312", "gbk", "我的订单镕还没有到。"),
        ("Big5", "big5hkscs", "我嘅訂單仲未到。"),
        ("windows-1252", "cp1252", "Commande nº 42 – reçue, merci €"),
    ],
)
def test_asian_and_western_charsets_in_bodies(charset, codec, text):
    # Given a body in a legacy charset (written with the superset codec clients really use)
    raw = mail("From: a@example.com", f'Content-Type: text/plain; charset="{charset}"', body=text.encode(codec))

    # When it is parsed
    parsed = parse_mail(raw)

    # Then it decodes cleanly
    assert (parsed.text, parsed.decoding_problems) == (text, ())


def test_attachment_file_names_in_every_encoding_clients_use():
    # Given attachments named by RFC 2231 (one continued), RFC 2047 in quotes, raw EUC-KR and a Windows path
    rfc2231 = "".join(f"%{byte:02X}" for byte in "견적서.pdf".encode())
    part = "--m\n{headers}\nContent-Transfer-Encoding: base64\n\n{data}"
    octets = "Content-Type: application/octet-stream\n"
    headers = [
        octets + f"Content-Disposition: attachment; filename*=UTF-8''{rfc2231}",
        octets + "Content-Disposition: attachment;\n filename*0*=UTF-8''%EC%98%81%EC%88%98;\n"
        " filename*1*=%EC%A6%9D.jpg",
        octets + f'Content-Disposition: attachment; filename="{encoded_word("주문 내역.xlsx")}"',
        octets + 'Content-Disposition: attachment; filename="' + "사진.png".encode("cp949").decode("latin-1") + '"',
        octets + 'Content-Disposition: attachment; filename="C:\\Users\\kim\\Desktop\\report.txt"',
        f'Content-Type: application/pdf; name="{encoded_word("계약서.pdf", "ks_c_5601-1987", "cp949")}"',
    ]
    body = "".join(part.format(headers=h, data=b64(b"file %d" % i)) for i, h in enumerate(headers)) + "--m--"
    raw = mail("From: a@example.com", "Content-Type: multipart/mixed; boundary=m", body=body.encode("latin-1"))

    # When it is parsed
    parsed = parse_mail(raw)

    # Then each name is decoded, paths removed, and the bytes decoded from base64
    assert [f.filename for f in parsed.attachments] == [
        "견적서.pdf", "영수증.jpg", "주문 내역.xlsx", "사진.png", "report.txt", "계약서.pdf"
    ]  # fmt: skip
    assert [f.data for f in parsed.attachments] == [b"file %d" % i for i in range(6)]


def test_inline_cid_image_is_an_inline_attachment_and_the_html_keeps_its_reference():
    # Given an Outlook HTML mail with an image inside multipart/related
    raw = mail(
        "From: a@example.com",
        'Content-Type: multipart/related; boundary="rel"; type="text/html"',
        body=(
            "--rel\nContent-Type: text/html; charset=utf-8\n\n"
            '<p>사진 첨부합니다</p><img src="cid:image001.png@01DB1234.5678" alt="">\n'
            "--rel\nContent-Type: IMAGE/PNG; name=image001.png\nContent-Transfer-Encoding: base64\n"
            "Content-ID: <image001.png@01DB1234.5678>\n\n" + b64(PNG) + "--rel--\n"
        ),
    )

    # When it is parsed
    parsed = parse_mail(raw)

    # Then the image is an inline part found by its Content-ID, and the HTML still points at it
    content_id = "image001.png@01DB1234.5678"
    assert parsed.attachments == (
        MailFile(filename="image001.png", content_type="image/png", content_id=content_id, inline=True, data=PNG),
    )
    assert parsed.html is not None and 'src="cid:image001.png@01DB1234.5678"' in parsed.html


def test_apple_mail_body_split_around_an_inline_image_is_one_text():
    # Given Apple Mail's layout: text, inline image, more text, all in multipart/mixed
    raw = mail(
        "From: a@example.com",
        "Content-Type: multipart/mixed; boundary=apple",
        body=(
            "--apple\nContent-Type: text/plain; charset=us-ascii\n\nHere is the damage:\n"
            "--apple\nContent-Disposition: inline; filename=photo.jpg\nContent-Type: image/jpeg\n"
            "Content-Transfer-Encoding: base64\n\n"
            + b64(b"\xff\xd8jpeg")
            + "--apple\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
            "파손된 상품 사진입니다.\n--apple--\n"
        ),
    )

    # When it is parsed
    parsed = parse_mail(raw)

    # Then both text pieces make the body, a blank line apart, and the photo is an inline file
    assert parsed.text == "Here is the damage:\n\n파손된 상품 사진입니다."
    assert [(f.filename, f.inline) for f in parsed.attachments] == [("photo.jpg", True)]


def test_text_part_with_a_file_name_is_an_attachment_not_body():
    # Given a log file sent as text/plain with a name and no disposition
    raw = mail(
        "From: a@example.com",
        "Content-Type: multipart/mixed; boundary=m",
        body="--m\nContent-Type: text/plain\n\n본문\n--m\nContent-Type: text/plain; name=app.log\n\nERROR 42\n--m--\n",
    )

    # When it is parsed
    parsed = parse_mail(raw)

    # Then it is a file, not part of the text
    assert parsed.text == "본문"
    assert [(f.filename, f.data) for f in parsed.attachments] == [("app.log", b"ERROR 42")]


def test_forwarded_mail_and_calendar_invitation_become_files():
    # Given a forwarded message/rfc822 part and a bare text/calendar invitation
    inner = mail("From: b@example.com", "Subject: " + encoded_word("원본 메일"), "Message-ID: <inner@x>", body="원본")
    raw = mail(
        "From: a@example.com",
        "Content-Type: multipart/mixed; boundary=m",
        body=(
            b"--m\nContent-Type: text/plain\n\nFYI\n--m\nContent-Type: message/rfc822\n\n"
            + inner
            + b"\n--m\nContent-Type: text/calendar; method=REQUEST; charset=utf-8\n\n"
            + b"BEGIN:VCALENDAR\nEND:VCALENDAR\n--m--\n"
        ),
    )

    # When it is parsed
    parsed = parse_mail(raw)

    # Then the forwarded mail is an .eml named by its subject, the invitation an .ics file
    forwarded, invitation = parsed.attachments
    assert (forwarded.filename, forwarded.content_type) == ("원본 메일.eml", "message/rfc822")
    assert b"Message-ID: <inner@x>" in forwarded.data and forwarded.data.endswith("원본".encode())
    assert (invitation.filename, invitation.content_type) == ("invite.ics", "text/calendar")
    assert parsed.text == "FYI"


def test_broken_base64_is_decoded_as_far_as_possible_and_flagged():
    # Given an attachment whose base64 was cut off mid-quantum
    encoded = base64.b64encode(PNG).decode()[:-3]
    raw = mail(
        "From: a@example.com",
        "Content-Type: multipart/mixed; boundary=m",
        body=f"--m\nContent-Type: text/plain\n\nsee file\n--m\nContent-Type: image/png\n"
        f"Content-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=a.png\n\n{encoded}\n--m--\n",
    )

    # When it is parsed
    parsed = parse_mail(raw)

    # Then the readable bytes are kept and the damage is reported
    (image,) = parsed.attachments
    assert PNG.startswith(image.data) and len(image.data) >= len(PNG) - 3
    assert parsed.decoding_problems == ("part 3 (image/png): broken base64; decoded what could be read",)


def test_missing_closing_boundary_still_yields_body_and_attachment():
    # Given a truncated multipart: the last part has no closing boundary
    raw = mail(
        "From: a@example.com",
        "Content-Type: multipart/mixed; boundary=m",
        body="--m\nContent-Type: text/plain; charset=utf-8\n\n" + KOREAN + "\n--m\nContent-Type: application/pdf\n"
        "Content-Disposition: attachment; filename=a.pdf\nContent-Transfer-Encoding: base64\n\n" + b64(b"%PDF-1.7"),
    )

    # When it is parsed
    parsed = parse_mail(raw)

    # Then everything up to the cut is there
    assert parsed.text == KOREAN
    assert [(f.filename, f.data) for f in parsed.attachments] == [("a.pdf", b"%PDF-1.7")]


def test_multipart_without_boundary_is_read_as_text_and_flagged():
    # Given a multipart Content-Type with no boundary parameter
    raw = mail("From: a@example.com", "Content-Type: multipart/mixed", body="just text")

    # When it is parsed
    parsed = parse_mail(raw)

    # Then the body is still read, and the problem is recorded
    assert parsed.text == "just text"
    assert parsed.decoding_problems == ("part 1 (multipart/mixed): no usable boundary; read as text",)


def test_mail_without_headers_is_all_body():
    # Given bytes with no header block at all
    parsed = parse_mail("주문 취소해 주세요\n감사합니다".encode())

    # Then there is no sender or subject, and the text is the bytes
    assert (parsed.sender, parsed.subject, parsed.message_id) == (None, "", None)
    assert parsed.text == "주문 취소해 주세요\n감사합니다"


def test_line_endings_normalized_and_trailing_whitespace_stripped():
    # Given a body with CRLF, bare CR and trailing blank lines
    raw = b"From: a@example.com\r\n\r\nline one\r\nline two\rline three  \r\n\r\n\r\n"

    # When it is parsed
    parsed = parse_mail(raw)

    # Then lines end in "\n" and nothing trails the text
    assert parsed.text == "line one\nline two\nline three"


@pytest.mark.parametrize(
    ("parameters", "body", "expected"),
    [
        (
            "format=flowed",
            "배송이 \n늦어지고 있습니다.\n\n> Your order has \n> shipped.\n-- \n김민준",
            "배송이 늦어지고 있습니다.\n\n> Your order has shipped.\n-- \n김민준",
        ),
        # delsp=yes: the space before a soft break was only added for the break (RFC 3676 4.2), as in CJK text
        ("format=flowed; delsp=yes", "ご注文の \n商品が届きません。", "ご注文の商品が届きません。"),
    ],
)
def test_format_flowed_paragraphs_are_rejoined(parameters, body, expected):
    # Given a format=flowed body (Thunderbird, Apple Mail) with soft breaks, a quote and a signature separator
    raw = mail("From: a@example.com", f"Content-Type: text/plain; charset=utf-8; {parameters}", body=body)

    # When it is parsed
    parsed = parse_mail(raw)

    # Then soft breaks are gone, hard breaks and the signature separator stay
    assert parsed.text == expected


def test_threading_headers_are_normalized_ordered_and_deduplicated():
    # Given sloppy threading headers: missing brackets, commas, duplicates, comments, upper-case domains
    raw = mail(
        "Message-ID: <ABC.123@Mail.Example.COM>",
        "In-Reply-To: <sb.42@Support.Example.com> (Support's message of Mon, 9 Jun 2025)",
        "References: <root@x.example>\r\n <sb.41@Support.Example.com>,bare@id.example <root@x.example>",
        "\t<sb.42@support.example.com>",
        body="x",
    )

    # When it is parsed
    parsed = parse_mail(raw)

    # Then every id is normalized, in header order, once
    assert parsed.message_id == "ABC.123@mail.example.com"
    assert parsed.in_reply_to == ("sb.42@support.example.com",)
    assert parsed.references == (
        "root@x.example", "sb.41@support.example.com", "bare@id.example", "sb.42@support.example.com"
    )  # fmt: skip


@pytest.mark.parametrize(
    ("date_header", "expected"),
    [
        ("Date: Mon, 9 Jun 2025 10:05:00 +0900", datetime(2025, 6, 9, 1, 5, tzinfo=UTC)),
        ("Date: Mon, 9 Jun 2025 10:05:00 -0000", datetime(2025, 6, 9, 10, 5, tzinfo=UTC)),
        ("Date: 9 Jun 2025 10:05:00 KST", datetime(2025, 6, 9, 10, 5, tzinfo=UTC)),
        ("Date: yesterday, around noon", None),
        ("Date: Mon, 9 Jun 99999 10:05:00 +0900", None),
        ("X-No-Date: 1", None),
    ],
)
def test_date_is_aware_utc_or_none(date_header, expected):
    # Given a Date header of some quality
    parsed = parse_mail(mail("From: a@example.com", date_header, body="x"))

    # Then it is UTC when readable, None when not
    assert parsed.date == expected


def test_ses_verdicts_come_from_the_first_header_only():
    # Given SES's own verdicts on top and a sender's forged ones below
    raw = mail(
        "X-SES-Spam-Verdict: FAIL",
        "X-SES-Virus-Verdict: PASS",
        "From: a@example.com",
        "X-SES-Spam-Verdict: PASS",
        "X-SES-Virus-Verdict: PASS",
        body="x",
    )

    # When it is parsed
    parsed = parse_mail(raw)

    # Then SES's verdicts are the ones reported
    assert (parsed.spam_verdict, parsed.virus_verdict) == ("FAIL", "PASS")


def test_delivery_status_notification_is_classified_as_a_bounce():
    # Given an SES bounce: multipart/report with the delivery status and the returned message headers
    raw = mail(
        "From: MAILER-DAEMON@amazonses.com",
        "Content-Type: multipart/report; report-type=delivery-status; boundary=dsn",
        body=(
            "--dsn\nContent-Type: text/plain\n\nAn error occurred while trying to deliver the mail.\n"
            "--dsn\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; a.example\n\n"
            "Final-Recipient: rfc822; gone@example.com\nAction: failed\nStatus: 5.1.1\n"
            "--dsn\nContent-Type: text/rfc822-headers\n\nMessage-ID: <sb.7@Support.Example.com>\nSubject: x\n"
            "--dsn--\n"
        ),
    )

    # When it is parsed
    parsed = parse_mail(raw)

    # Then it is a bounce of our mail, and the report parts are kept as files
    assert (parsed.kind, parsed.bounced_message_id) == (MailKind.BOUNCE, "sb.7@support.example.com")
    assert parsed.text == "An error occurred while trying to deliver the mail."
    assert [f.content_type for f in parsed.attachments] == ["message/delivery-status", "text/rfc822-headers"]


def test_auto_reply_is_classified():
    # Given an out-of-office reply
    raw = mail("From: a@example.com", "Auto-Submitted: auto-replied", "Subject: 부재중", body="휴가 중입니다.")

    # When it is parsed
    parsed = parse_mail(raw)

    # Then its kind and the deciding header are reported
    assert (parsed.kind, parsed.kind_reason) == (MailKind.AUTO_REPLY, "Auto-Submitted: auto-replied")


def test_nesting_and_part_count_are_capped():
    # Given one mail nested far too deep and one with far too many parts
    nested = b"From: a@example.com"
    for level in range(MAX_DEPTH + 5):
        nested += b"\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d" % (level, level)
    nested += b"\r\nContent-Type: text/plain\r\n\r\ndeep\r\n"
    many = b"".join(b"--m\r\nContent-Type: application/octet-stream\r\n\r\nx\r\n" for _ in range(MAX_PARTS + 50))
    crowded = mail("From: a@example.com", "Content-Type: multipart/mixed; boundary=m", body=many + b"--m--")

    # When they are parsed
    deep, wide = parse_mail(nested), parse_mail(crowded)

    # Then each stops at its limit and says so
    assert deep.decoding_problems == (f"mail: MIME parts nested deeper than {MAX_DEPTH}; the deeper ones left out",)
    assert len(wide.attachments) == MAX_PARTS - 1
    assert wide.decoding_problems == (f"mail: more than {MAX_PARTS} MIME parts; the rest left out",)


def test_nesting_beyond_the_stdlib_parser_keeps_the_headers():
    # Given attached messages nested deep enough to exhaust the stdlib parser's recursion
    nested = b"From: a@example.com\r\nSubject: deep"
    for _ in range(1500):
        nested += b"\r\nContent-Type: message/rfc822\r\n"
    nested += b"\r\nbody"

    # When it is parsed
    parsed = parse_mail(nested)

    # Then the headers are still read, and the cut is named before the stdlib recursed that deep
    assert (parsed.sender, parsed.subject) == (MailAddress(address="a@example.com"), "deep")
    assert parsed.decoding_problems == ("mail: more than 100 attached messages; the rest left out",)
    assert parsed.limits == ("attached_messages",)


def test_large_mail_parses_with_its_attachment_intact():
    # Given a 25 MB mail, almost all one base64 attachment
    blob = bytes(range(256)) * (18_000_000 // 256)
    raw = mail(
        "From: a@example.com",
        "Content-Type: multipart/mixed; boundary=m",
        body=b"--m\nContent-Type: text/plain\n\nsee attached\n--m\nContent-Type: application/zip\n"
        b"Content-Disposition: attachment; filename=logs.zip\nContent-Transfer-Encoding: base64\n\n"
        + base64.encodebytes(blob)
        + b"--m--\n",
    )
    assert len(raw) > 24_000_000

    # When it is parsed
    parsed = parse_mail(raw)

    # Then the attachment is byte-identical
    (archive,) = parsed.attachments
    assert (parsed.text, archive.size, archive.data == blob) == ("see attached", len(blob), True)


def _storable(parsed) -> None:
    parsed.model_dump_json(exclude={"attachments"})
    for attachment in parsed.attachments:
        f"{attachment.filename}{attachment.content_type}{attachment.content_id}".encode()


@pytest.mark.parametrize(
    "raw", [b"", b"\x00\xff" * 100, b"\r\n\r\n", b"--\r\n--", b"Content-Type: multipart/mixed; boundary=\r\n\r\n--\r\n"]
)
def test_degenerate_inputs_give_an_empty_parse(raw):
    # When nothing usable is parsed
    parsed = parse_mail(raw)

    # Then a ParsedMail still comes back
    _storable(parsed)
    assert parsed.sender is None


@given(raw=st.binary(max_size=2000))
def test_parse_mail_never_raises_on_arbitrary_bytes(raw):
    # When any bytes are parsed
    parsed = parse_mail(raw)

    # Then the parser itself handled them (its last-resort net was not needed) and the result is storable
    assert not any(problem.startswith("mail: unreadable") for problem in parsed.decoding_problems)
    _storable(parsed)


_MAIL_TEMPLATE = mail(
    *CUSTOMER_HEADERS,
    "Subject: " + encoded_word("배송 문의", "ks_c_5601-1987", "cp949"),
    "References: <a@b> <c@d>",
    'Content-Type: multipart/mixed; boundary="m"',
    body=(
        "--m\nContent-Type: multipart/alternative; boundary=a\n\n--a\nContent-Type: text/plain; charset=utf-8; "
        "format=flowed\n\n본문 \n입니다\n--a\nContent-Type: text/html; charset=euc-kr\n\n<p>본문</p>\n--a--\n"
        "--m\nContent-Type: image/png; name*=utf-8''%ED%95%9C.png\nContent-ID: <i@x>\n"
        "Content-Transfer-Encoding: base64\n\n" + b64(PNG[:60]) + "--m\nContent-Type: message/rfc822\n\n"
        "Subject: inner\n\ninner body\n--m--\n"
    ),
)


_EDIT = st.tuples(st.integers(0, len(_MAIL_TEMPLATE)), st.integers(0, 40), st.binary(max_size=12))


@given(edits=st.lists(_EDIT, max_size=8))
def test_parse_mail_never_raises_on_damaged_real_mail(edits):
    # Given a realistic mail with bytes cut out and garbage spliced in
    raw = bytearray(_MAIL_TEMPLATE)
    for position, cut, inserted in edits:
        raw[position : position + cut] = inserted

    # When it is parsed
    parsed = parse_mail(bytes(raw))

    # Then the parser coped on its own and the result is storable
    assert not any(problem.startswith("mail: unreadable") for problem in parsed.decoding_problems)
    _storable(parsed)
