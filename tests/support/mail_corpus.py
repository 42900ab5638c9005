"""Mails too big to keep in git, built at test time, and the email corpus on disk.

`big_mail(total_bytes)` is a customer's Gmail message with several large attachments (a scanned PDF, phone
photos, a zipped folder) whose base64 bodies fill it to about `total_bytes` (never more): SES accepts mails up
to 40 MB and customers do send 10-25 MB. The content is deterministic, so `big_mail_files` can say what the
parser must recover.
"""

from __future__ import annotations

import base64
import json
import random
from dataclasses import dataclass
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "email" / "corpus"

_BOUNDARY = "000000000000f3a9c10637b2e4d5"
_LINE = 76
_ENCODED_PER_RAW = (_LINE + 2) / (_LINE * 3 / 4)  # base64 at 76 columns with CRLF: 78 bytes per 57
_SHARES = (  # (file name, content type, share of the attachment budget)
    ("스캔_계약서_전체.pdf", "application/pdf", 0.40),
    ("IMG_20250609_101512.jpg", "image/jpeg", 0.25),
    ("IMG_20250609_101530.jpg", "image/jpeg", 0.20),
    ("현장사진_모음.zip", "application/zip", 0.15),
)
_TEXT = "안녕하세요. 설치 현장 사진과 계약서 스캔본을 보내드립니다. 확인 부탁드립니다.\r\n\r\n김민준\r\n"


@dataclass(frozen=True)
class BigMailFile:
    filename: str
    content_type: str
    data: bytes


def big_mail_files(total_bytes: int) -> list[BigMailFile]:
    """The attachments `big_mail(total_bytes)` carries, in MIME order."""
    budget = max(0, total_bytes - len(_head()) - 4096)
    files = []
    for index, (filename, content_type, share) in enumerate(_SHARES):
        size = int(budget * share / _ENCODED_PER_RAW)
        data = random.Random(f"big-mail:{total_bytes}:{index}").randbytes(size)
        files.append(BigMailFile(filename, content_type, _magic(content_type) + data[len(_magic(content_type)) :]))
    return files


def big_mail(total_bytes: int) -> bytes:
    """Raw mail bytes (CRLF) of about `total_bytes`: a Gmail multipart/mixed with a text part and four
    base64 attachments whose Korean names are RFC 2047 encoded words in quotes, as Gmail writes them."""
    chunks = [_head(), _text_part()]
    for attachment in big_mail_files(total_bytes):
        chunks.append(_attachment_part(attachment))
    chunks.append(f"--{_BOUNDARY}--\r\n".encode())
    return b"".join(chunks)


def corpus_mails() -> list[Path]:
    return sorted(CORPUS.glob("*.eml"))


def golden(mail: Path) -> dict:
    return json.loads(mail.with_suffix(".json").read_text(encoding="utf-8"))


def _head() -> bytes:
    return (
        "Received: by mail-pj1-f41.google.com with SMTP id 98e67ed59e1d1-3132e7266d3so3120458a91.1\r\n"
        "        for <support@shop.example>; Mon, 09 Jun 2025 18:15:40 -0700 (PDT)\r\n"
        "MIME-Version: 1.0\r\n"
        "From: =?UTF-8?B?6rmA66+87KSA?= <minjun.kim@gmail.com>\r\n"
        "Date: Tue, 10 Jun 2025 10:15:30 +0900\r\n"
        "Message-ID: <CAJx9Lq2BigMail7Tn8Wb2Xe6Rf1Gh5Jk9Lm3Np7Qs0Uv4Yz8Ab@mail.gmail.com>\r\n"
        "Subject: =?UTF-8?B?7ISk7LmYIO2YhOyepSDsgqzsp4Qg67CPIOqzhOyVveyEnA==?=\r\n"
        "To: support@shop.example\r\n"
        f'Content-Type: multipart/mixed; boundary="{_BOUNDARY}"\r\n\r\n'
    ).encode()


def _text_part() -> bytes:
    body = base64.encodebytes(_TEXT.encode()).replace(b"\n", b"\r\n")
    return (
        (
            f'--{_BOUNDARY}\r\nContent-Type: text/plain; charset="UTF-8"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        ).encode()
        + body
        + b"\r\n"
    )


def _attachment_part(attachment: BigMailFile) -> bytes:
    name = base64.b64encode(attachment.filename.encode()).decode()
    head = (
        f"--{_BOUNDARY}\r\n"
        f'Content-Type: {attachment.content_type}; name="=?UTF-8?B?{name}?="\r\n'
        f'Content-Disposition: attachment; filename="=?UTF-8?B?{name}?="\r\n'
        "Content-Transfer-Encoding: base64\r\n"
        f"X-Attachment-Id: f_mbq{len(attachment.data) % 100000:05d}\r\n\r\n"
    ).encode()
    encoded = base64.b64encode(attachment.data)
    lines = b"\r\n".join(encoded[i : i + _LINE] for i in range(0, len(encoded), _LINE))
    return head + lines + b"\r\n"


def _magic(content_type: str) -> bytes:
    return {
        "application/pdf": b"%PDF-1.7\n",
        "image/jpeg": b"\xff\xd8\xff\xe1",
        "application/zip": b"PK\x03\x04",
    }.get(content_type, b"")
