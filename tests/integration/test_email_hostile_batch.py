"""Hostile mail in a batch of the mail queue: each mail is filed on its own, the hostile one kept with a marker
or held as quarantined, and nothing is retried into the dead-letter queue."""

from datetime import UTC, datetime

import pytest

from switchboard.email import intake
from switchboard.email.bounds import MAX_PARTS

pytestmark = pytest.mark.slow

SENT_AT = datetime(2025, 6, 8, 21, 0, tzinfo=UTC)
HEAD = "From: Kim Minjun <minjun.kim@example.com>\r\nSubject: {subject}\r\nDate: Sun, 08 Jun 2025 21:00:00 +0900\r\nMessage-ID: <{message_id}>\r\n"


def mail(message_id: str, *, to: str = "support@shop.example", extra: str = "", body: bytes = b"") -> bytes:
    head = HEAD.format(subject=f"문의 {message_id}", message_id=message_id) + f"To: {to}\r\n{extra}"
    return head.encode() + (body or "Content-Type: text/plain; charset=utf-8\r\n\r\n배송 문의드립니다.\r\n".encode())


def test_hostile_mail_in_a_batch_is_kept_and_its_batch_mates_are_written(stack, monkeypatch):
    # Given one batch of the mail queue: two customers' ordinary mails, a mail whose To: names a 400-character
    # mailbox (once a ValidationError on every try), one with 200,000 empty MIME parts (1.8 MB), and one the
    # intake fails on for a reason no retry can fix (injected: its parse raises)
    real_parse = intake.parse_mail

    def choking_parse(raw: bytes):
        if b"X-Chokes: yes" in raw:
            raise ValueError("a parser bug on this mail")
        return real_parse(raw)

    monkeypatch.setattr(intake, "parse_mail", choking_parse)
    many_parts = b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n' + b"--b\r\n\r\n" * 200_000 + b"--b--\r\n"
    mails = {
        "good-1@example.com": mail("good-1@example.com"),
        "good-2@example.com": mail("good-2@example.com"),
        "long-mailbox@example.com": mail(
            "long-mailbox@example.com", to="s" * 400 + "@shop.example, support@shop.example"
        ),
        "many-parts@example.com": mail("many-parts@example.com", body=many_parts),
        "chokes@example.com": mail("chokes@example.com", extra="X-Chokes: yes\r\n"),
    }
    assert len(mails) <= stack.mail_batch_size
    stack.drain_mail_queue()  # S3's test event of the bucket's notification setup
    for raw in mails.values():
        stack.put_mail(raw)
    # When the intake takes the batch and the writer runs
    report = stack.drain_mail_queue()
    stack.drain_queue()
    # Then the batch was taken once, nothing given back, nothing dead-lettered
    assert (report.batches, report.records, report.failed_records) == (1, 5, 0), report
    assert stack.dead_lettered_mail() == 0 and stack.dead_lettered_count() == 0
    # And the good and the bounded mails are ticket messages, the cut ones marked with what was cut
    messages = {m["external_id"]: m for t in stack.tickets() for m in stack.ticket(t["id"])["messages"]}
    assert set(messages) == {
        "good-1@example.com",
        "good-2@example.com",
        "long-mailbox@example.com",
        "many-parts@example.com",
    }
    assert messages["good-1@example.com"]["email"]["parse_limits"] == []
    assert messages["long-mailbox@example.com"]["email"]["mailbox"] == "support@shop.example"
    assert "addresses" in messages["long-mailbox@example.com"]["email"]["parse_limits"]
    assert messages["many-parts@example.com"]["email"]["parse_limits"] == ["mime_parts"]
    assert f"more than {MAX_PARTS} MIME parts" in messages["many-parts@example.com"]["email"]["decoding_problems"][0]
    # And the mail the intake could not read is held as quarantined for an agent, its raw mail named
    held = stack.api_get("/mail/held", {"reason": "quarantined"}).json()["held"]
    assert [(h["from_address"], h["reason"]) for h in held] == [
        ("unknown@invalid", "the intake could not read this mail (ValueError)")
    ]
    assert held[0]["raw_mail_key"] in stack.mail_keys()


def test_a_secrets_failure_while_reading_a_mail_is_retried_not_quarantined(stack):
    # Given a reply to a +token address (its check reads the reply-token key from Secrets Manager), and
    # Secrets Manager failing for the intake
    from tests.support.faults import Fault, FaultyClient

    secrets = stack.wrap_runtime_client("secretsmanager", FaultyClient)
    secrets.arm(1, next(iter(Fault)))
    stack.drain_mail_queue()  # S3's test event of the bucket's notification setup
    stack.put_mail(mail("token-reply@example.com", to="support+0123456789abcdef01234567abcdefghabcdefgh@shop.example"))
    # When the intake takes it
    report = stack.drain_mail_queue()
    stack.drain_queue()
    # Then the first try is given back for a retry, the retry files it as the customer's, and nothing is held
    assert report.failed_records == 1 and report.records == 2, report
    assert [m["external_id"] for t in stack.tickets() for m in stack.ticket(t["id"])["messages"]] == [
        "token-reply@example.com"
    ]
    assert stack.api_get("/mail/held", {"reason": "quarantined"}).json()["held"] == []
