"""The intake's bounds and decisions on one parsed mail, without AWS: whatever a mail holds, its message fits
the queue and a table item, and the reply-address token is trusted only when its MAC verifies."""

from datetime import UTC, datetime

from switchboard.email.intake import Mailboxes, bounded_filename, inbound_message
from switchboard.email.parsed import MailAddress, MailFile, ParsedMail
from switchboard.email.reply_address import reply_address
from switchboard.models import Attachment, AttachmentFetchStatus, MailHandling
from switchboard.queue import encode
from switchboard.store.mail_bucket import StoredMail

NOW = datetime(2025, 6, 8, 12, 0, tzinfo=UTC)
MAILBOXES = Mailboxes(domains=frozenset({"shop.example"}), default_mailbox="support@shop.example")
KEY = "reply-token-key"
SQS_MAX_BYTES = 256 * 1024
DYNAMODB_ITEM_MAX_BYTES = 400 * 1024


def stored(provider: str = "ses") -> StoredMail:
    return StoredMail(key=f"inbound/{provider}/abc", provider=provider, provider_id="abc", raw=b"", stored_at=NOW)


def message_for(parsed: ParsedMail, provider: str = "ses"):
    return inbound_message(
        stored(provider), parsed, mailboxes=MAILBOXES, reply_token_keys=lambda: [KEY], received_at=NOW
    )


def test_the_largest_mail_we_accept_still_fits_the_queue_and_a_table_item():
    # Given a mail at every bound at once: 300 long addresses, a 60,000-character Korean body whose reply
    # part is as long, 500 references and 150 attachments with long names
    long_local = "가" * 60
    addresses = tuple(MailAddress(address=f"{long_local}{n}@{'x' * 180}.example", name="김" * 200) for n in range(150))
    text = "한글 본문입니다. " * 6_000
    parsed = ParsedMail(
        message_id="big@mail.example.com",
        references=tuple(f"ref-{n}-{'r' * 900}@mail.example.com" for n in range(500)),
        in_reply_to=tuple(f"irt-{n}-{'r' * 900}@mail.example.com" for n in range(30)),
        subject="제목" * 2000,
        sender=MailAddress(address="minjun.kim@example.com", name="김민준"),
        to=addresses,
        cc=addresses,
        text=text + "\n> 인용\n" * 2000,
        reply_text=text,
        decoding_problems=tuple("problem " * 40 for _ in range(50)),
    )
    # When it becomes a message with its attachments recorded
    message = message_for(parsed)
    stored_files = tuple(
        Attachment(
            kind="file",
            mime_type="application/octet-stream",
            filename=bounded_filename("파" * 300 + ".pdf"),
            sha256="0" * 64,
            size_bytes=1,
            storage_key=f"attachments/email/{'0' * 64}/{n}.pdf",
            fetch_status=AttachmentFetchStatus.STORED,
        )
        for n in range(101)
    )
    message = message.model_copy(update={"attachments": stored_files})
    # Then its queue body fits SQS with room to spare, so a table item (the same fields) is far below 400 KB
    size = len(encode(message).encode())
    assert size < SQS_MAX_BYTES, size
    assert size < DYNAMODB_ITEM_MAX_BYTES * 0.65, size


def test_a_reply_address_token_is_trusted_only_when_its_mac_verifies():
    # Given a mail to a genuine reply address and one to an address with a made-up token
    genuine = reply_address("support@shop.example", "t_0123456789abcdef01234567", KEY)
    forged = reply_address("support@shop.example", "t_0123456789abcdef01234567", "guessed")

    def to(address):
        return ParsedMail(
            message_id=f"{address}@m", sender=MailAddress(address="a@example.com"), to=(MailAddress(address=address),)
        )

    # When each becomes a message
    # Then only the genuine one names the ticket, and both are filed under the mailbox without its tag
    assert message_for(to(genuine)).email.reply_ticket_id == "t_0123456789abcdef01234567"
    assert message_for(to(forged)).email.reply_ticket_id is None
    assert message_for(to(forged)).email.mailbox == "support@shop.example"


def test_ses_verdicts_quarantine_only_mail_that_ses_stored():
    # Given a mail whose headers say SES found a virus
    parsed = ParsedMail(message_id="v@m", sender=MailAddress(address="a@example.com"), virus_verdict="FAIL")
    # When SES stored it, and when a webhook provider passed it on
    # Then only the SES copy is quarantined
    assert message_for(parsed, "ses").email.handling is MailHandling.QUARANTINED
    assert message_for(parsed, "mailgun").email.handling is MailHandling.CUSTOMER


def test_mail_without_a_message_id_is_identified_by_what_it_says():
    # Given the same mail without a Message-ID, delivered twice, and a different one
    def mail(text):
        return ParsedMail(
            message_id=None, sender=MailAddress(address="a@example.com"), subject="문의", text=text, reply_text=text
        )

    # Then the same content has the same id, and other content another
    assert message_for(mail("안녕하세요")).external_id == message_for(mail("안녕하세요")).external_id
    assert message_for(mail("안녕하세요")).external_id != message_for(mail("감사합니다")).external_id
    assert message_for(mail("안녕하세요")).external_id.startswith("sha256:")


def test_a_reply_to_a_thread_and_its_root_share_one_conversation_per_sender():
    # Given a customer's first mail, their reply naming it as root, and another customer's reply to the same root
    def mail(message_id, sender, references=()):
        return ParsedMail(message_id=message_id, sender=MailAddress(address=sender), references=references)

    first = message_for(mail("root@m", "a@example.com"))
    reply = message_for(mail("r1@m", "a@example.com", ("root@m",)))
    other = message_for(mail("r2@m", "b@example.com", ("root@m",)))
    # Then the customer's reply meets their first mail, and the other customer's does not
    assert first.conversation_key == reply.conversation_key != other.conversation_key


def test_attachments_are_not_part_of_the_message_before_they_are_stored():
    parsed = ParsedMail(
        message_id="f@m",
        sender=MailAddress(address="a@example.com"),
        attachments=(MailFile(content_type="image/png", data=b"x"),),
    )
    assert message_for(parsed).attachments == ()
