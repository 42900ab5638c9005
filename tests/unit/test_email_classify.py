"""classify: bounce, auto-reply, bulk or ordinary, with the deciding header and the bounced Message-ID."""

from email import message_from_bytes, policy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchboard.email.classify import classify
from switchboard.email.parsed import MailKind

OUR_REPLY_ID = "<0100019750a1b2c3-d4e5f6a7-b8c9-4d0e-9f1a-2b3c4d5e6f70-000000@email.amazonses.com>"
BOUNCED = "0100019750a1b2c3-d4e5f6a7-b8c9-4d0e-9f1a-2b3c4d5e6f70-000000@email.amazonses.com"


def mail(headers: str, body: str = "안녕하세요.\n") -> object:
    raw = (headers.strip("\n") + "\n\n" + body).replace("\n", "\r\n").encode()
    return message_from_bytes(raw, policy=policy.default)


CUSTOMER = "From: 김민준 <minjun.kim@gmail.com>\nTo: support@shop.example\nSubject: Re: 배송 문의\n"


def test_ordinary_mail():
    assert classify(mail(CUSTOMER + "Content-Type: text/plain; charset=utf-8")) == (MailKind.ORDINARY, None, None)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("Auto-Submitted: auto-replied", "Auto-Submitted: auto-replied"),
        ("auto-submitted: auto-generated", "Auto-Submitted: auto-generated"),
        ("Auto-Submitted: auto-replied (vacation)", "Auto-Submitted: auto-replied (vacation)"),
        ("X-Autoreply: yes", "X-Autoreply: yes"),
        ("X-Autorespond: Out of office", "X-Autorespond: Out of office"),
        ("Precedence: auto_reply", "Precedence: auto_reply"),
    ],
)
def test_auto_replies(header, reason):
    # Given an out-of-office answer marked the way its system marks it
    kind, why, bounced = classify(mail(CUSTOMER + header))
    # Then it is an auto-reply and the header that said so is named
    assert (kind, why, bounced) == (MailKind.AUTO_REPLY, reason, None)


def test_auto_submitted_no_is_a_person():
    # Given Google Calendar's invitation, which says explicitly it was sent on a person's behalf
    assert classify(mail(CUSTOMER + "Auto-Submitted: no"))[0] is MailKind.ORDINARY


def test_x_auto_response_suppress_alone_is_ordinary():
    # Given Outlook's ordinary reply asking us not to send out-of-office notes back
    message = mail(CUSTOMER + "X-Auto-Response-Suppress: RN, NRN, OOF\nX-Mailer: Microsoft Outlook 16.0")
    # Then it is still the customer writing
    assert classify(message)[0] is MailKind.ORDINARY


def test_exchange_out_of_office_is_an_auto_reply_by_auto_submitted():
    message = mail(
        CUSTOMER + "X-Auto-Response-Suppress: All\nX-MS-Exchange-Inbox-Rules-Loop: yuna.choi@example.com\n"
        "auto-submitted: auto-generated\nReturn-Path: <>"
    )
    # The null return path RFC 3834 asks of auto-responders does not make it a bounce
    assert classify(message)[:2] == (MailKind.AUTO_REPLY, "Auto-Submitted: auto-generated")


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("Precedence: bulk", "Precedence: bulk"),
        ("Precedence: junk", "Precedence: junk"),
        ("Precedence: list", "Precedence: list"),
        ("List-Id: Sellers <sellers.lists.example.net>", "List-Id: Sellers <sellers.lists.example.net>"),
    ],
)
def test_bulk_and_list_mail(header, reason):
    assert classify(mail(CUSTOMER + header)) == (MailKind.BULK, reason, None)


def test_list_unsubscribe_alone_is_not_bulk():
    # Given a partner's order system relaying through an ESP that adds List-Unsubscribe to everything
    message = mail(CUSTOMER + "List-Unsubscribe: <https://em.example.net/asm/unsubscribe/?user_id=1>")
    # Then the mail still reaches a ticket
    assert classify(message)[0] is MailKind.ORDINARY


def test_auto_reply_wins_over_bulk():
    # Given the vacation program's reply, which also carries its old "Precedence: junk"
    message = mail(CUSTOMER + "Auto-Submitted: auto-replied\nPrecedence: junk")
    assert classify(message)[0] is MailKind.AUTO_REPLY


def dsn(returned_part: str, *, status_extra: str = "", sender: str = "MAILER-DAEMON@mail.example.net") -> object:
    return mail(
        f"From: {sender}\nTo: support@shop.example\nSubject: Undelivered Mail Returned to Sender\n"
        "Auto-Submitted: auto-replied\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"',
        "--b1\nContent-Type: text/plain\n\nYour message could not be delivered.\n\n"
        "--b1\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mail.example.net\n"
        f"{status_extra}\nFinal-Recipient: rfc822; sungho.yoon@example.net\nAction: failed\nStatus: 5.1.1\n\n"
        f"{returned_part}--b1--\n",
    )


def test_dsn_with_returned_message():
    # Given Postfix's DSN returning our whole reply as message/rfc822
    returned = f"--b1\nContent-Type: message/rfc822\n\nFrom: support@shop.example\nMessage-ID: {OUR_REPLY_ID}\n\nhi\n"
    # Then it is a bounce of our reply, even though it also says auto-replied
    assert classify(dsn(returned)) == (
        MailKind.BOUNCE,
        "Content-Type: multipart/report; report-type=delivery-status",
        BOUNCED,
    )


def test_dsn_with_returned_headers_only():
    returned = (
        f"--b1\nContent-Type: text/rfc822-headers\n\nFrom: support@shop.example\nMessage-ID:\n {OUR_REPLY_ID}\n\n"
    )
    assert classify(dsn(returned))[2] == BOUNCED


def test_dsn_with_only_original_message_id_in_status_fields():
    assert classify(dsn("", status_extra=f"X-Original-Message-ID: {OUR_REPLY_ID}\n"))[2] == BOUNCED


def test_exchange_ndr_is_known_by_its_report_type_not_its_sender():
    # Given Exchange Online's NDR, signed by a MicrosoftExchange<guid> mailbox
    message = dsn("", sender="Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@example.com>")
    assert classify(message)[0] is MailKind.BOUNCE


def test_dsn_domain_of_bounced_id_is_normalized():
    returned = "--b1\nContent-Type: message/rfc822\n\nMessage-ID: <Abc.123@MAIL.Example.NET>\n\nhi\n"
    assert classify(dsn(returned))[2] == "Abc.123@mail.example.net"


def test_plain_bounce_from_mailer_daemon_finds_the_id_in_the_text():
    # Given qmail's bounce: no DSN, the returned mail pasted below a marker line
    message = mail(
        "From: MAILER-DAEMON@mx.example.net\nTo: support@shop.example\nSubject: failure notice",
        "Hi. This is the qmail-send program at mx.example.net.\n\n--- Below this line is a copy of the message.\n\n"
        f"Return-Path: <x@amazonses.com>\nMessage-ID: {OUR_REPLY_ID}\nSubject: hi\n",
    )
    assert classify(message) == (MailKind.BOUNCE, "From: mailer-daemon", BOUNCED)


def test_postmaster_bounce_with_attached_message():
    message = mail(
        "From: Postmaster <postmaster@example.com>\nSubject: Delivery failure\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="m"',
        f"--m\nContent-Type: text/plain\n\nUser unknown.\n--m\nContent-Type: message/rfc822\n\nMessage-ID: {OUR_REPLY_ID}\n\nx\n--m--\n",
    )
    assert classify(message) == (MailKind.BOUNCE, "From: postmaster", BOUNCED)


def test_null_return_path_without_auto_reply_marks_is_a_bounce():
    message = mail(
        "Return-Path: <>\nFrom: Mail Gateway <gateway@example.com>\nSubject: Returned mail",
        f"The message could not be delivered.\n\n   Message-ID: {OUR_REPLY_ID}\n",
    )
    assert classify(message) == (MailKind.BOUNCE, "Return-Path: <>", BOUNCED)


def test_bounce_without_any_message_id():
    message = mail("From: MAILER-DAEMON@mx.example.net\nSubject: failure notice", "User unknown.\n")
    assert classify(message) == (MailKind.BOUNCE, "From: mailer-daemon", None)


def test_read_receipt_is_an_auto_reply():
    message = mail(
        CUSTOMER
        + 'MIME-Version: 1.0\nContent-Type: multipart/report; report-type=disposition-notification; boundary="r"',
        "--r\nContent-Type: text/plain\n\nRead.\n--r--\n",
    )
    assert classify(message)[0] is MailKind.AUTO_REPLY


@given(st.binary(max_size=2000))
def test_never_raises_on_arbitrary_bytes(raw):
    kind, _, _ = classify(message_from_bytes(raw, policy=policy.default))
    assert kind in MailKind


@given(
    st.sampled_from(["multipart/report; report-type=delivery-status", "message/rfc822", "text/rfc822-headers"]),
    st.binary(max_size=500),
)
def test_never_raises_on_malformed_report_parts(content_type, payload):
    raw = (
        b"From: MAILER-DAEMON@x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status;"
        b' boundary="q"\r\n\r\n--q\r\nContent-Type: '
        + content_type.encode()
        + b"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + payload
        + b"\r\n--q--\r\n"
    )
    assert classify(message_from_bytes(raw, policy=policy.default))[0] is MailKind.BOUNCE
