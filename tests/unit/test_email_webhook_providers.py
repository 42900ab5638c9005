"""Inbound-parse webhooks of the email channel: Mailgun, Postmark and SendGrid turn a verified delivery
into raw MIME.

Mailgun's signature is hex HMAC-SHA256(signing key, timestamp + token)
(https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/securing-webhooks). The page's own
example shows token, timestamp and a placeholder signature ("...baed12345") but no key, so it is no test
vector: expected signatures here are computed with hmac, independently of the module. Multipart bodies
are built by hand the way the providers send them: CRLF lines, one form-data part per field, files with
filename and Content-Type.
"""

import base64
import email
import email.policy
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, quote_from_bytes, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from switchboard.email.providers.base import MailFileSpec, check_basic_auth, compose_mime, form_fields
from switchboard.email.providers.mailgun import WEBHOOK as MAILGUN
from switchboard.email.providers.postmark import WEBHOOK as POSTMARK
from switchboard.email.providers.sendgrid import WEBHOOK as SENDGRID
from switchboard.errors import InvalidSignature, MalformedPayload
from switchboard.http_request import WebhookRequest
from tests.support.paths import provider_fixture

SIGNING_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
SECOND_KEY = "key-second-domain-0000000000000000"
MAILGUN_SECRETS = {"signing_key": SIGNING_KEY, "accounts": {"mg.second.example": {"signing_key": SECOND_KEY}}}
TOKEN = "e0b5477167110d68991efc6b9f89f0a11066af27834600e123"  # Mailgun's documentation sample token
SIGNED_AT = datetime(2026, 2, 12, 18, 26, 12, tzinfo=UTC)
TIMESTAMP = str(int(SIGNED_AT.timestamp()))
MAX_AGE = 300
BASIC_SECRETS = {
    "username": "switchboard",
    "password": "s3cret-pässword",
    "accounts": {"brand-b": {"username": "brand-b", "password": "other"}},
}
BOUNDARY = "----MailgunFormBoundary7MA4YWxkTrZu0gW"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\r\n--\xff\xfe"
RAW_MAIL = (
    b"Received: from mail.example.kr by mxa.mailgun.org\r\n"
    b"Message-ID: <CAF=raw.1@mail.example.kr>\r\n"
    b"From: =?UTF-8?B?6rmA66+87KSA?= <minjun@example.kr>\r\n"
    b"To: support@help.example.com\r\n"
    b"Subject: =?EUC-KR?B?ud7IryC5rsDH?=\r\n"
    b"Content-Type: text/plain; charset=euc-kr\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n" + "환불 문의드립니다.\r\n".encode("euc-kr")
)


def hex_hmac(key: str, timestamp: str, token: str) -> str:
    return hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()


def multipart(parts: list[tuple[str, bytes | str, str | None, str | None]], boundary: str = BOUNDARY) -> bytes:
    """A multipart/form-data body: (name, value, filename, content type) per part."""
    lines = []
    for name, value, filename, content_type in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
        head = f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
        if content_type:
            head += f"Content-Type: {content_type}\r\n"
        lines.append(
            head.encode("utf-8") + b"\r\n" + (value.encode("utf-8") if isinstance(value, str) else value) + b"\r\n"
        )
    return b"".join(lines) + f"--{boundary}--\r\n".encode()


def form_request(
    body: bytes, content_type: str = f"multipart/form-data; boundary={BOUNDARY}", **headers: str
) -> WebhookRequest:
    return WebhookRequest(
        method="POST",
        path="/webhooks/email/mailgun",
        headers={"content-type": content_type, **headers},
        query={},
        body=body,
    )


def json_request(body: bytes, **headers: str) -> WebhookRequest:
    return WebhookRequest(
        method="POST",
        path="/webhooks/email/postmark",
        headers={"content-type": "application/json", **headers},
        query={},
        body=body,
    )


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def signed_fields(timestamp: str = TIMESTAMP, token: str = TOKEN, key: str = SIGNING_KEY) -> list[tuple[str, str]]:
    return [("timestamp", timestamp), ("token", token), ("signature", hex_hmac(key, timestamp, token))]


def mailgun_verify(fields: list[tuple[str, str]], now: datetime = SIGNED_AT, secrets=MAILGUN_SECRETS):
    request = form_request(urlencode(fields).encode(), "application/x-www-form-urlencoded")
    return MAILGUN.verify(request, secrets, now, MAX_AGE)


def parsed(raw_mime: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw_mime, policy=email.policy.default)


# Mailgun: signature


def test_mailgun_signature_of_timestamp_and_token_is_accepted_and_its_token_returned_for_claiming():
    # Given a delivery signed with the domain's signing key
    fields = signed_fields()
    # When it is verified within the allowed age
    token = mailgun_verify(fields, now=SIGNED_AT + timedelta(seconds=30))
    # Then its token comes back, to be claimed once, until the signature itself would expire
    assert (token.value, token.expires_at) == (TOKEN, SIGNED_AT + timedelta(seconds=MAX_AGE))


def test_mailgun_signature_of_a_second_account_is_accepted():
    assert mailgun_verify(signed_fields(key=SECOND_KEY)).value == TOKEN


def test_mailgun_signature_in_multipart_body_is_accepted():
    # Given the signature fields inside a multipart body with an attachment, as Mailgun posts one
    body = multipart(
        [(name, value, None, None) for name, value in signed_fields()] + [("attachment-1", PNG, "a.png", "image/png")]
    )
    # When verified
    token = MAILGUN.verify(form_request(body), MAILGUN_SECRETS, SIGNED_AT, MAX_AGE)
    # Then the multipart fields were the ones checked
    assert token.value == TOKEN


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param(
            [("timestamp", TIMESTAMP), ("token", TOKEN + "x"), ("signature", hex_hmac(SIGNING_KEY, TIMESTAMP, TOKEN))],
            id="tampered-token",
        ),
        pytest.param(
            [
                ("timestamp", str(int(TIMESTAMP) + 1)),
                ("token", TOKEN),
                ("signature", hex_hmac(SIGNING_KEY, TIMESTAMP, TOKEN)),
            ],
            id="tampered-timestamp",
        ),
        pytest.param(signed_fields(key="key-someone-else"), id="other-key"),
        pytest.param(
            [("timestamp", TIMESTAMP), ("token", TOKEN), ("signature", hex_hmac(SIGNING_KEY, TIMESTAMP, TOKEN)[:-1])],
            id="short-signature",
        ),
        pytest.param([("timestamp", TIMESTAMP), ("token", TOKEN)], id="no-signature"),
        pytest.param([("token", TOKEN), ("signature", hex_hmac(SIGNING_KEY, "", TOKEN))], id="no-timestamp"),
        pytest.param(signed_fields() + [("token", "another-token")], id="token-twice"),
        pytest.param(signed_fields(timestamp="1770920772.5"), id="fractional-timestamp"),
        pytest.param(signed_fields(token=""), id="empty-token"),
        pytest.param(signed_fields(timestamp="999999999999"), id="timestamp-beyond-any-date"),
        pytest.param(signed_fields(timestamp="0"), id="timestamp-epoch"),
        pytest.param(signed_fields(timestamp="١٧٧٠٩٢٠٧٧٢"), id="timestamp-non-ascii-digits"),
    ],
)
def test_mailgun_delivery_not_signed_as_sent_is_refused(fields):
    with pytest.raises(InvalidSignature):
        mailgun_verify(fields)


@pytest.mark.parametrize(
    ("now", "accepted"),
    [
        pytest.param(SIGNED_AT + timedelta(seconds=MAX_AGE), True, id="at-max-age"),
        pytest.param(SIGNED_AT + timedelta(seconds=MAX_AGE + 1), False, id="expired"),
        pytest.param(SIGNED_AT - timedelta(seconds=MAX_AGE), True, id="clock-skew-within-max-age"),
        pytest.param(SIGNED_AT - timedelta(seconds=MAX_AGE + 1), False, id="from-the-future"),
    ],
)
def test_mailgun_timestamp_must_be_within_max_age_either_way(now, accepted):
    # Given a correctly signed delivery
    fields = signed_fields()
    # When verified at `now`
    if accepted:
        assert mailgun_verify(fields, now=now).value == TOKEN
    else:
        # Then a signature older, or newer, than the allowed age is refused however valid
        with pytest.raises(InvalidSignature, match="seconds from now"):
            mailgun_verify(fields, now=now)


def test_mailgun_without_a_configured_signing_key_refuses_everything():
    with pytest.raises(InvalidSignature, match="no Mailgun signing key"):
        mailgun_verify(signed_fields(key=""), secrets={"signing_key": ""})


def test_mailgun_error_messages_never_quote_the_key_or_the_presented_values():
    with pytest.raises(InvalidSignature) as refused:
        mailgun_verify(signed_fields(key="key-someone-else"))
    assert SIGNING_KEY not in refused.value.message and TOKEN not in refused.value.message


# Basic auth (Postmark, SendGrid)


@pytest.mark.parametrize("webhook", [POSTMARK, SENDGRID], ids=["postmark", "sendgrid"])
@pytest.mark.parametrize(
    ("username", "password", "account"), [("switchboard", "s3cret-pässword", None), ("brand-b", "other", "brand-b")]
)
def test_basic_auth_of_any_configured_account_is_accepted(webhook, username, password, account):
    request = json_request(b"{}", authorization=basic(username, password))

    assert webhook.verify(request, BASIC_SECRETS, SIGNED_AT, MAX_AGE) is None
    assert check_basic_auth(request, BASIC_SECRETS) == account


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
        pytest.param(basic("switchboard", "wrong"), id="wrong-password"),
        pytest.param(basic("wrong", "s3cret-pässword"), id="wrong-username"),
        pytest.param(basic("switchboard", "other"), id="password-of-another-account"),
        pytest.param(basic("SWITCHBOARD", "s3cret-pässword"), id="username-case"),
        pytest.param(basic("switchboard", "s3cret-pässword "), id="trailing-space"),
        pytest.param(basic("switchboard", ""), id="empty-password"),
        pytest.param(basic("", ""), id="empty-both"),
        pytest.param("Basic " + base64.b64encode(b"switchboard").decode(), id="no-colon"),
        pytest.param("Basic not*base64!", id="garbled-base64"),
        pytest.param("Basic " + base64.b64encode(b"switchboard:\xff\xfe").decode(), id="not-utf8"),
        pytest.param("Bearer " + base64.b64encode("switchboard:s3cret-pässword".encode()).decode(), id="bearer-scheme"),
        pytest.param("Basic", id="scheme-only"),
    ],
)
@pytest.mark.parametrize("webhook", [POSTMARK, SENDGRID], ids=["postmark", "sendgrid"])
def test_every_wrong_basic_auth_is_refused(webhook, authorization):
    headers = {"authorization": authorization} if authorization is not None else {}
    with pytest.raises(InvalidSignature) as refused:
        webhook.verify(json_request(b"{}", **headers), BASIC_SECRETS, SIGNED_AT, MAX_AGE)
    assert "s3cret" not in refused.value.message


def test_basic_auth_without_configured_credentials_refuses_even_empty_ones():
    with pytest.raises(InvalidSignature, match="no basic auth credentials"):
        check_basic_auth(json_request(b"{}", authorization=basic("", "")), {"username": "", "password": ""})


# Form bodies


def test_multipart_form_keeps_korean_text_and_binary_files_as_sent():
    # Given a multipart body with Korean UTF-8 fields and a binary attachment, as Mailgun posts it
    body = multipart(
        [
            ("subject", "환불 요청드립니다", None, None),
            ("body-plain", "안녕하세요,\r\n주문번호 2024-0042 환불 부탁드립니다.", None, None),
            ("attachment-1", PNG, "스크린샷.png", "image/png"),
        ]
    )
    # When its fields are read
    fields = form_fields(form_request(body))
    # Then text is text, and the file keeps its bytes, name and type
    assert fields[:2] == [
        ("subject", "환불 요청드립니다"),
        ("body-plain", "안녕하세요,\r\n주문번호 2024-0042 환불 부탁드립니다."),
    ]
    name, file = fields[2]
    assert (name, bytes(file), file.filename, file.content_type) == ("attachment-1", PNG, "스크린샷.png", "image/png")


def test_urlencoded_form_values_are_text_and_raw_bytes_on_request():
    # Given a urlencoded body: UTF-8 text, and a raw mail with 8-bit EUC-KR bytes
    body = f"subject={quote('문의')}&body-mime={quote_from_bytes(RAW_MAIL)}".encode()
    request = form_request(body, "application/x-www-form-urlencoded")
    # When read, then UTF-8 is text, bytes that are not stay bytes, and raw_text gives every value's exact bytes
    assert form_fields(request) == [("subject", "문의"), ("body-mime", RAW_MAIL)]
    assert form_fields(request, raw_text=True) == [("subject", "문의".encode()), ("body-mime", RAW_MAIL)]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param(
            multipart([("a", "b", None, None)])[:-12], f"multipart/form-data; boundary={BOUNDARY}", id="truncated"
        ),
        pytest.param(
            multipart([("a", "b", None, None)], boundary="other"),
            f"multipart/form-data; boundary={BOUNDARY}",
            id="wrong-boundary",
        ),
        pytest.param(b"a=b", "multipart/form-data", id="no-boundary"),
        pytest.param(
            b"--x\r\nContent-Type: text/plain\r\n\r\nb\r\n--x--\r\n",
            "multipart/form-data; boundary=x",
            id="no-disposition",
        ),
        pytest.param(
            b"--x\r\nContent-Disposition: form-data\r\n\r\nb\r\n--x--\r\n",
            "multipart/form-data; boundary=x",
            id="no-name",
        ),
        pytest.param(b"--x\r\n" * 1000, "multipart/form-data; boundary=x", id="too-many-parts"),
        pytest.param(b"a=1&b", "application/x-www-form-urlencoded", id="field-without-value"),
        pytest.param(b'{"a": 1}', "application/json", id="json"),
        pytest.param(b"a=1", "", id="no-content-type"),
    ],
)
def test_broken_form_bodies_are_malformed_and_never_quoted(body, content_type):
    with pytest.raises(MalformedPayload) as refused:
        form_fields(form_request(body, content_type))
    assert "b\r\n" not in refused.value.message


# Mailgun: extract


def test_mailgun_body_mime_passes_through_byte_for_byte():
    # Given a route whose URL ends in "mime": Mailgun posts the mail as received, here 8-bit EUC-KR
    body = multipart(
        [
            *((n, v, None, None) for n, v in signed_fields()),
            ("recipient", "support@help.example.com", None, None),
            ("body-mime", RAW_MAIL, None, None),
        ]
    )
    # When extracted
    delivery = MAILGUN.extract(form_request(body))
    # Then the exact bytes are kept, and Mailgun has no id of its own for the mail
    assert (delivery.provider, delivery.provider_id, delivery.raw_mime) == ("mailgun", None, RAW_MAIL)


def test_mailgun_body_mime_urlencoded_passes_through_byte_for_byte():
    body = urlencode([*signed_fields(), ("body-mime", RAW_MAIL.decode("latin-1"))], encoding="latin-1").encode()

    assert MAILGUN.extract(form_request(body, "application/x-www-form-urlencoded")).raw_mime == RAW_MAIL


def mailgun_parsed_body(**overrides) -> bytes:
    headers = [
        ["Received", "from mail.example.kr by mxa.mailgun.org"],
        ["Message-Id", "<CAF=parsed.7@mail.example.kr>"],
        ["In-Reply-To", "<ticket-41@help.example.com>"],
        ["References", "<ticket-40@help.example.com> <ticket-41@help.example.com>"],
        ["Date", "Thu, 12 Feb 2026 18:26:10 +0900"],
        ["From", "김민준 <minjun@example.kr>"],
        ["To", "Support <support@help.example.com>"],
        ["Cc", "Lee <lee@example.kr>"],
        ["Subject", "Re: 환불 요청드립니다"],
        ["Auto-Submitted", "no"],
        ["Content-Type", 'multipart/mixed; boundary="provider-boundary"'],
        ["Mime-Version", "1.0"],
    ]
    fields = {
        "message-headers": json.dumps(headers, ensure_ascii=False),
        "body-plain": "안녕하세요,\n환불 부탁드립니다.\n",
        "body-html": '<p>안녕하세요</p><img src="cid:logo@example.kr">',
        "attachment-count": "2",
        "content-id-map": json.dumps({"<logo@example.kr>": "attachment-2"}),
    } | overrides
    parts = [(n, v, None, None) for n, v in signed_fields()] + [
        (n, v, None, None) for n, v in fields.items() if v is not None
    ]
    parts += [
        ("attachment-1", b"%PDF-1.7\n\x00\xff binary", "견적서.pdf", "application/pdf"),
        ("attachment-2", PNG, "logo.png", "image/png"),
    ]
    return multipart(parts)


def test_mailgun_parsed_fields_compose_a_mime_message_with_headers_bodies_and_attachments():
    # Given Mailgun's parse of a Korean reply with a PDF attachment and an inline logo
    body = mailgun_parsed_body()
    # When extracted
    mail = parsed(MAILGUN.extract(form_request(body)).raw_mime)
    # Then the composed message carries the headers as given, both bodies and both files
    assert (mail["Message-Id"], mail["In-Reply-To"], mail["References"]) == (
        "<CAF=parsed.7@mail.example.kr>",
        "<ticket-41@help.example.com>",
        "<ticket-40@help.example.com> <ticket-41@help.example.com>",
    )
    assert (str(mail["From"]), str(mail["Subject"]), mail["Auto-Submitted"]) == (
        "김민준 <minjun@example.kr>",
        "Re: 환불 요청드립니다",
        "no",
    )
    assert mail.get_all("Content-Type") == [mail["Content-Type"]] and mail.get_content_type() == "multipart/mixed"
    # MIME text travels with CRLF line ends, whatever the provider sent
    assert mail.get_body(("plain",)).get_content() == "안녕하세요,\r\n환불 부탁드립니다.\r\n"
    assert mail.get_body(("html",)).get_content().startswith("<p>안녕하세요</p>")
    files = [
        (
            p.get_filename(),
            p.get_content_type(),
            p.get_payload(decode=True),
            p["Content-ID"],
            p.get_content_disposition(),
        )
        for p in mail.walk()
        if p.get_filename()
    ]
    assert files == [
        ("logo.png", "image/png", PNG, "<logo@example.kr>", "inline"),
        ("견적서.pdf", "application/pdf", b"%PDF-1.7\n\x00\xff binary", None, "attachment"),
    ]


def test_mailgun_raw_date_header_is_kept_as_given():
    body = mailgun_parsed_body(
        **{"message-headers": json.dumps([["Date", "Fri, 1 Aug 2014 16:45:32 -04:00"], ["From", "a@example.com"]])}
    )

    assert b"\r\nDate: Fri, 1 Aug 2014 16:45:32 -04:00\r\n" in b"\r\n" + MAILGUN.extract(form_request(body)).raw_mime


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"message-headers": None}, id="no-headers-no-body-mime"),
        pytest.param({"message-headers": "not json"}, id="headers-not-json"),
        pytest.param({"message-headers": '{"From": "a@b"}'}, id="headers-not-pairs"),
        pytest.param({"attachment-count": "3"}, id="attachment-missing"),
        pytest.param({"attachment-count": "many"}, id="attachment-count-not-a-number"),
        pytest.param({"content-id-map": "[1]"}, id="content-id-map-not-object"),
    ],
)
def test_mailgun_fields_missing_or_broken_are_malformed(overrides):
    with pytest.raises(MalformedPayload):
        MAILGUN.extract(form_request(mailgun_parsed_body(**overrides)))


# Postmark


def test_postmark_documentation_sample_composes_a_mime_message():
    # Given Postmark's documented inbound example
    body = provider_fixture("email", "postmark-inbound.json")
    # When extracted
    delivery = POSTMARK.extract(json_request(body))
    mail = parsed(delivery.raw_mime)
    # Then Postmark's MessageID is the provider id, never the RFC Message-ID (the sample's Headers have none)
    assert (delivery.provider, delivery.provider_id, mail["Message-ID"]) == (
        "postmark",
        "73e6d360-66eb-11e1-8e72-a8904824019b",
        None,
    )
    assert (str(mail["From"]), str(mail["To"]), str(mail["Reply-To"]), str(mail["Subject"]), mail["X-Spam-Status"]) == (
        "Postmarkapp Support <support@postmarkapp.com>",
        "Firstname Lastname <yourhash+SampleHash@inbound.postmarkapp.com>",
        "replyto@postmarkapp.com",
        "Test subject",
        "No",
    )
    assert b"\r\nDate: Fri, 1 Aug 2014 16:45:32 -04:00\r\n" in delivery.raw_mime
    assert mail.get_body(("plain",)).get_content() == "This is a test text body.\r\n"
    assert mail.get_body(("html",)).get_content() == "<html><body><p>This is a test html body.</p></body></html>\r\n"
    assert [(p.get_filename(), p.get_content_type(), p.get_payload(decode=True)) for p in mail.iter_attachments()] == [
        ("test.txt", "text/plain", b"This is attachment contents, base-64 encoded.")
    ]


def postmark_body(**changes) -> bytes:
    sample = json.loads(provider_fixture("email", "postmark-inbound.json"))
    return json.dumps(sample | changes, ensure_ascii=False).encode()


def test_postmark_rfc_message_id_comes_from_headers_and_korean_names_survive():
    # Given a Korean reply whose Message-ID Postmark left in Headers, with a CC and an inline image
    body = postmark_body(
        FromFull={"Email": "minjun@example.kr", "Name": "김민준", "MailboxHash": ""},
        CcFull=[{"Email": "lee@example.kr", "Name": "이서연", "MailboxHash": ""}],
        Subject="Re: 환불 요청",
        Headers=[
            {"Name": "Message-ID", "Value": "<CAF=pm.3@mail.example.kr>"},
            {"Name": "In-Reply-To", "Value": "<ticket-41@help.example.com>"},
            {"Name": "Precedence", "Value": "bulk"},
        ],
        HtmlBody='<p>환불</p><img src="cid:img1@example.kr">',
        Attachments=[
            {
                "Name": "사진.png",
                "Content": base64.b64encode(PNG).decode(),
                "ContentType": "image/png",
                "ContentLength": len(PNG),
                "ContentID": "img1@example.kr",
            }
        ],
    )
    # When extracted
    delivery = POSTMARK.extract(json_request(body))
    mail = parsed(delivery.raw_mime)
    # Then the header's Message-ID is the mail's, Postmark's MessageID only the provider id
    assert (mail["Message-ID"], mail["In-Reply-To"], mail["Precedence"], delivery.provider_id) == (
        "<CAF=pm.3@mail.example.kr>",
        "<ticket-41@help.example.com>",
        "bulk",
        "73e6d360-66eb-11e1-8e72-a8904824019b",
    )
    assert (str(mail["From"]), str(mail["Cc"]), str(mail["Subject"])) == (
        "김민준 <minjun@example.kr>",
        "이서연 <lee@example.kr>",
        "Re: 환불 요청",
    )
    [image] = [p for p in mail.walk() if p.get_filename()]
    assert (
        image.get_filename(),
        image["Content-ID"],
        image.get_content_disposition(),
        image.get_payload(decode=True),
    ) == (
        "사진.png",
        "<img1@example.kr>",
        "inline",
        PNG,
    )


def test_postmark_raw_email_passes_through_as_sent():
    raw = "Message-ID: <r@example.kr>\r\nFrom: a@example.kr\r\nSubject: =?UTF-8?B?7ZmY67aI?=\r\n\r\n본문\r\n"

    delivery = POSTMARK.extract(json_request(postmark_body(RawEmail=raw)))

    assert (delivery.raw_mime, delivery.provider_id) == (raw.encode("utf-8"), "73e6d360-66eb-11e1-8e72-a8904824019b")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"not json", id="not-json"),
        pytest.param(b"[]", id="not-an-object"),
        pytest.param(postmark_body(MessageID=None), id="no-message-id"),
        pytest.param(postmark_body(From="", FromFull=None), id="no-sender"),
        pytest.param(
            postmark_body(Attachments=[{"Name": "a", "Content": "**not base64**"}]), id="attachment-not-base64"
        ),
        pytest.param(postmark_body(Headers=[{"Name": "X"}]), id="header-without-value"),
        pytest.param(postmark_body(ToFull="someone"), id="tofull-not-a-list"),
    ],
)
def test_postmark_bodies_missing_or_broken_fields_are_malformed(body):
    with pytest.raises(MalformedPayload) as refused:
        POSTMARK.extract(json_request(body))
    assert "support@postmarkapp.com" not in refused.value.message


# SendGrid


def test_sendgrid_raw_full_mime_passes_through_byte_for_byte():
    # Given "POST the raw, full MIME message": the mail in the `email` field beside SendGrid's own fields
    body = multipart(
        [
            ("dkim", "{@example.kr : pass}", None, None),
            ("email", RAW_MAIL, None, None),
            ("to", "support@help.example.com", None, None),
            ("from", "김민준 <minjun@example.kr>", None, None),
            ("subject", "환불 문의", None, None),
            ("envelope", '{"to":["support@help.example.com"],"from":"minjun@example.kr"}', None, None),
            ("charsets", '{"to":"UTF-8","from":"UTF-8","subject":"UTF-8"}', None, None),
            ("SPF", "pass", None, None),
            ("spam_score", "0.1", None, None),
        ],
        boundary="xYzZY",
    )
    # When extracted
    delivery = SENDGRID.extract(form_request(body, "multipart/form-data; boundary=xYzZY"))
    # Then the raw mail is kept exactly
    assert (delivery.provider, delivery.provider_id, delivery.raw_mime) == ("sendgrid", None, RAW_MAIL)


def test_sendgrid_parsed_fields_are_decoded_by_their_own_charsets():
    # Given SendGrid's parse: the header block, text in EUC-KR, HTML in UTF-8, two files described by attachment-info
    header_block = (
        "Message-ID: <CAF=sg.9@mail.example.kr>\n"
        "References: <ticket-40@help.example.com>\n"
        "From: =?UTF-8?B?6rmA66+87KSA?= <minjun@example.kr>\n"
        "To: support@help.example.com\n"
        "Subject: =?UTF-8?B?7ZmY67aIIOusuOydmA==?=\n"
        "X-Autoreply: yes\n"
        "Content-Type: multipart/mixed; boundary=abc\n"
    )
    body = multipart(
        [
            ("headers", header_block, None, None),
            ("text", "주문 취소 요청합니다.\n".encode("euc-kr"), None, None),
            ("html", "<p>주문 취소</p>".encode(), None, None),
            ("charsets", json.dumps({"text": "euc-kr", "html": "UTF-8", "subject": "UTF-8"}), None, None),
            ("attachments", "2", None, None),
            (
                "attachment-info",
                json.dumps(
                    {
                        "attachment1": {"filename": "영수증.pdf", "type": "application/pdf"},
                        "attachment2": {"filename": "logo.png", "type": "image/png", "content-id": "ii_logo"},
                    },
                    ensure_ascii=False,
                ),
                None,
                None,
            ),
            ("attachment1", b"%PDF\x00\xff", "영수증.pdf", "application/pdf"),
            ("attachment2", PNG, "logo.png", "image/png"),
        ],
        boundary="xYzZY",
    )
    # When extracted
    mail = parsed(SENDGRID.extract(form_request(body, "multipart/form-data; boundary=xYzZY")).raw_mime)
    # Then headers are as given and each body was decoded by the charset SendGrid named for it
    assert (mail["Message-ID"], mail["References"], str(mail["From"]), str(mail["Subject"]), mail["X-Autoreply"]) == (
        "<CAF=sg.9@mail.example.kr>",
        "<ticket-40@help.example.com>",
        "김민준 <minjun@example.kr>",
        "환불 문의",
        "yes",
    )
    assert mail.get_body(("plain",)).get_content() == "주문 취소 요청합니다.\r\n"
    assert mail.get_body(("html",)).get_content() == "<p>주문 취소</p>\r\n"
    files = sorted(
        (p.get_filename(), p.get_payload(decode=True), p["Content-ID"]) for p in mail.walk() if p.get_filename()
    )
    assert files == [("logo.png", PNG, "<ii_logo>"), ("영수증.pdf", b"%PDF\x00\xff", None)]


@pytest.mark.parametrize(
    "parts",
    [
        pytest.param([("to", "a@b", None, None)], id="neither-email-nor-headers"),
        pytest.param(
            [("headers", "From: a@b\n", None, None), ("attachments", "1", None, None)], id="attachment-missing"
        ),
        pytest.param(
            [("headers", "From: a@b\n", None, None), ("charsets", "[]", None, None)], id="charsets-not-object"
        ),
        pytest.param([("email", b"", None, None)], id="empty-email"),
    ],
)
def test_sendgrid_bodies_missing_or_broken_fields_are_malformed(parts):
    with pytest.raises(MalformedPayload):
        SENDGRID.extract(form_request(multipart(parts)))


# compose_mime


def test_compose_mime_keeps_the_structure_when_the_stdlib_would_fold_a_header_badly():
    # Given a From the stdlib's folder breaks onto a line without leading white space (a group name, then
    # stray C1 and astral characters: found by the property test below)
    headers = [("From", "00000:\x80<\x80\x80\x80\x80\x80\x80\x80\x80𐀀𐀀𐀀")]
    # When composed with an attachment
    raw = compose_mime(headers, None, None, [MailFileSpec(filename=None, content_type="", data=b"")])
    # Then the header is one encoded text, the header section ends where it should, and the file is a part
    mail = parsed(raw)
    assert not mail.defects and mail.get_content_type() == "multipart/mixed"
    assert str(mail["From"]).strip('"') == headers[0][1]
    assert [part.get_content_disposition() for part in mail.iter_attachments()] == ["attachment"]


def test_compose_mime_drops_the_providers_body_structure_headers_and_keeps_the_rest_in_order():
    raw = compose_mime(
        [
            ("Content-Type", "multipart/mixed; boundary=x"),
            ("Content-Transfer-Encoding", "base64"),
            ("List-Id", "<news.example.com>"),
            ("Bad Name", "x"),
            ("X-A", "1"),
            ("X-A", "2"),
        ],
        "본문",
        None,
        [MailFileSpec(filename=None, content_type="not a type", data=b"\x00")],
    )
    mail = parsed(raw)

    assert (mail["List-Id"], mail.get_all("X-A"), mail.get_content_type()) == (
        "<news.example.com>",
        ["1", "2"],
        "multipart/mixed",
    )
    assert [p.get_content_type() for p in mail.iter_attachments()] == ["application/octet-stream"]
    assert b"Bad Name" not in raw and b"boundary=x\r\n" not in raw


# Hostile input


content_types = st.sampled_from(
    [
        "multipart/form-data; boundary=xYzZY",
        f"multipart/form-data; boundary={BOUNDARY}",
        "multipart/form-data",
        "application/x-www-form-urlencoded",
        "application/json",
        'multipart/form-data; boundary=""',
        "text/plain",
    ]
)
hostile_bodies = st.one_of(
    st.binary(max_size=2048),
    st.lists(
        st.tuples(
            st.sampled_from(
                ["body-mime", "email", "headers", "message-headers", "attachment-1", "attachment1", "charsets", "x"]
            ),
            st.binary(max_size=64),
            st.none() | st.text(max_size=8),
            st.none() | st.sampled_from(["image/png", "text/plain; charset=bogus", "x"]),
        ),
        max_size=6,
    ).map(lambda parts: multipart(parts, boundary="xYzZY")),
    st.binary(max_size=512).map(lambda b: b'--xYzZY\r\nContent-Disposition: form-data; name="headers"\r\n\r\n' + b),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda c: (
            st.lists(c, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    ["MessageID", "RawEmail", "Headers", "Attachments", "FromFull", "From", "Name", "Value", "Content"]
                ),
                c,
                max_size=5,
            )
        ),
        max_leaves=20,
    ).map(lambda v: json.dumps(v).encode()),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=hostile_bodies, content_type=content_types)
def test_any_body_given_to_extract_raises_only_malformed_payload(body, content_type):
    for webhook in (MAILGUN, POSTMARK, SENDGRID):
        try:
            delivery = webhook.extract(form_request(body, content_type))
        except MalformedPayload:
            continue
        assert delivery.raw_mime


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=hostile_bodies,
    content_type=content_types,
    authorization=st.none()
    | st.text(max_size=40)
    | st.binary(max_size=30).map(lambda b: "Basic " + base64.b64encode(b).decode()),
    now=st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)),
)
def test_any_request_given_to_verify_raises_only_invalid_signature_or_returns(body, content_type, authorization, now):
    headers = {"authorization": authorization} if authorization is not None else {}
    request = form_request(body, content_type, **headers)
    for webhook, secrets in ((MAILGUN, MAILGUN_SECRETS), (POSTMARK, BASIC_SECRETS), (SENDGRID, BASIC_SECRETS)):
        # Nothing drawn here knows the signing key or the password: every request must be refused.
        with pytest.raises(InvalidSignature):
            webhook.verify(request, secrets, now, MAX_AGE)


@settings(max_examples=300, deadline=None)
@given(timestamp=st.text(max_size=16), token=st.text(max_size=60), signature=st.text(max_size=70))
def test_any_mailgun_signature_fields_raise_only_invalid_signature(timestamp, token, signature):
    fields = [("timestamp", timestamp), ("token", token), ("signature", signature)]
    body = multipart([(name, value.encode("utf-8", "surrogatepass"), None, None) for name, value in fields])
    try:
        MAILGUN.verify(form_request(body), MAILGUN_SECRETS, SIGNED_AT, MAX_AGE)
    except InvalidSignature:
        return
    pytest.fail("a signature made without the signing key was accepted")


header_names = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=20)
header_values = st.text(alphabet=st.characters(codec="utf-8"), max_size=120)


@settings(max_examples=300, deadline=None)
@given(
    headers=st.lists(
        st.tuples(
            st.sampled_from(["From", "To", "Cc", "Date", "Message-ID", "References", "Subject", "Reply-To"])
            | header_names,
            header_values,
        ),
        max_size=8,
    ),
    text=st.none() | header_values,
    html=st.none() | header_values,
    files=st.lists(
        st.builds(
            MailFileSpec,
            filename=st.none() | header_values,
            content_type=st.text(max_size=30),
            data=st.binary(max_size=64),
            content_id=st.none() | header_values,
            inline=st.booleans(),
        ),
        max_size=3,
    ),
)
def test_compose_mime_of_any_fields_raises_only_malformed_payload_and_parses_back(headers, text, html, files):
    # Given any headers, bodies and files a provider could post; when composed
    try:
        raw = compose_mime(headers, text, html, files)
    except MalformedPayload:
        return
    # Then the header section is ASCII (non-ASCII went into encoded-words) and every file is a part of its own
    assert raw.split(b"\r\n\r\n", 1)[0].isascii()
    assert len([part for part in parsed(raw).walk() if part.get_content_disposition()]) == len(files)
