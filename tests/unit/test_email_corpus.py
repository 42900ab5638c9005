"""Every corpus mail parses to its golden expectation; big mails keep every attachment byte."""

import hashlib

import pytest

from switchboard.email.mime import parse_mail
from tests.support.mail_corpus import big_mail, big_mail_files, corpus_mails, golden

MAILS = corpus_mails()


def observed(mail, expected: dict) -> dict:
    """The parsed mail in the golden's shape; "thread" is for the intake suite, which sees the whole corpus."""
    found = {
        "subject": mail.subject,
        "from": None if mail.sender is None else {"address": mail.sender.address, "name": mail.sender.name},
        "message_id": mail.message_id,
        "reply_text": mail.reply_text,
        "attachments": [
            {
                "filename": f.filename,
                "content_type": f.content_type,
                "size": f.size,
                "sha256": f.sha256,
                "inline": f.inline,
            }
            for f in mail.attachments
        ],
        "kind": mail.kind.value,
        "bounced_message_id": mail.bounced_message_id,
        "decoding_problems": bool(mail.decoding_problems),
        "spam_verdict": mail.spam_verdict,
        "virus_verdict": mail.virus_verdict,
    }
    if "text" in expected:
        found["text"] = mail.text
    else:
        found["text_starts_with"] = mail.text[: len(expected["text_starts_with"])]
    return found


def test_corpus_is_large_enough_and_every_mail_has_a_golden():
    # Given the checked-in corpus
    # Then it covers at least 40 mails, each with its expectation beside it
    assert len(MAILS) >= 40
    assert all(mail.with_suffix(".json").exists() for mail in MAILS)


def test_corpus_files_stay_small():
    # Big mails are generated at test time (big_mail), never committed
    assert max(mail.stat().st_size for mail in MAILS) < 200 * 1024


@pytest.mark.parametrize("path", MAILS, ids=[mail.stem for mail in MAILS])
def test_corpus_mail_matches_golden(path):
    # Given a mail as it lies in the SES bucket and its hand-checked expectation
    expected = golden(path)
    # When the parser reads it
    mail = parse_mail(path.read_bytes())
    # Then every field the golden names comes out as expected
    assert observed(mail, expected) == {key: value for key, value in expected.items() if key != "thread"}


def test_25_mb_mail_keeps_every_attachment_intact():
    # Given a 25 MB Gmail message with four large attachments
    size = 25 * 1024 * 1024
    raw = big_mail(size)
    assert size - 64 * 1024 < len(raw) <= size
    # When it is parsed
    mail = parse_mail(raw)
    # Then each attachment comes back whole, under its decoded Korean name
    expected = big_mail_files(size)
    assert [(f.filename, f.content_type, f.size, f.sha256) for f in mail.attachments] == [
        (f.filename, f.content_type, len(f.data), hashlib.sha256(f.data).hexdigest()) for f in expected
    ]
    assert mail.reply_text.startswith("안녕하세요. 설치 현장 사진과 계약서 스캔본을 보내드립니다.")
