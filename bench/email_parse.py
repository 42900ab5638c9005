"""Time and memory the MIME parser (switchboard.email.mime.parse_mail) spends per mail, small and large.

Three mails, parsed in the same rounds so their figures are comparable: a customer's plain text mail of a
few KB (Korean text in base64, the hops' trace and DKIM headers, the agent's answer quoted below; see
workload.customer_mail), and tests/support/mail_corpus's deterministic big mails with attachments at
10 MB and at 25 MB (SES's limit for a received mail). Each round parses the plain mail PLAIN_PER_ROUND
times and each big mail once, timed with time.process_time_ns; the figure is the median per mail over
ROUNDS rounds, after one unmeasured round.

Peak memory is tracemalloc's peak during one more parse of each mail (traced separately: tracing slows the
parse), counted from just before the call, so the raw mail already in memory is not in it and the parsed
result, attachments' bytes included, is. As a multiple of the mail's size it shows what a mail costs the
email_inbound function's memory beyond the mail itself.
"""

from __future__ import annotations

import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass

from bench.workload import FIRST_SENT_AT, customer_mail

ROUNDS = 7
PLAIN_PER_ROUND = 40
MB = 1024 * 1024


@dataclass(frozen=True)
class ParseFigures:
    mail: str
    size_bytes: int
    attachments: int
    median_ms: float
    peak_bytes: int

    @property
    def us_per_kb(self) -> float:
        return self.median_ms * 1000 / (self.size_bytes / 1024)

    @property
    def peak_per_size(self) -> float:
        return self.peak_bytes / self.size_bytes


def _peak_bytes(parse: Callable[[bytes], object], raw: bytes) -> int:
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        parsed = parse(raw)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    del parsed
    return peak


def _timed_ns(parse: Callable[[bytes], object], raw: bytes) -> int:
    started = time.process_time_ns()
    parse(raw)
    return time.process_time_ns() - started


def measure() -> list[ParseFigures]:
    from switchboard.email.mime import parse_mail
    from tests.support.mail_corpus import big_mail

    mails = {
        "plain text, Korean": customer_mail(1, message_id="plain.20250608210000@naver.com", sent_at=FIRST_SENT_AT),
        "10 MB with attachments": big_mail(10 * MB),
        "25 MB with attachments": big_mail(25 * MB),
    }
    samples: dict[str, list[int]] = {name: [] for name in mails}
    for round_number in range(ROUNDS + 1):
        for name, raw in mails.items():
            repeats = PLAIN_PER_ROUND if raw is mails["plain text, Korean"] else 1
            elapsed = [_timed_ns(parse_mail, raw) for _ in range(repeats)]
            if round_number:
                samples[name].extend(elapsed)
    return [
        ParseFigures(
            mail=name,
            size_bytes=len(raw),
            attachments=len(parse_mail(raw).attachments),
            median_ms=statistics.median(samples[name]) / 1e6,
            peak_bytes=_peak_bytes(parse_mail, raw),
        )
        for name, raw in mails.items()
    ]
