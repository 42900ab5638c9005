"""The traffic every benchmark replays and the harness around the functions.

Webhooks come from the WhatsApp test driver (Meta's payload shape and signature, tests/support/drivers),
and the events Lambda hands the functions from tests/support/lambda_events, so the bench measures
exactly the shapes the tests exercise. Mail is a customer's mail as their client and the hops on the way
put it on the wire (customer_mail), or tests/support/mail_corpus's big mails with attachments.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from typing import Any

from infra.template import FunctionSpec, functions
from tests.support.drivers.whatsapp import WhatsAppDriver
from tests.support.lambda_events import http_api_event, sqs_event, sqs_record

WHATSAPP = WhatsAppDriver()
FIRST_SENT_AT = datetime(2025, 6, 8, 21, 0, 0, tzinfo=UTC)
WEBHOOK = "WhatsAppWebhookFunction"
WRITER = "TicketWriterFunction"
EMAIL_INBOUND = "EmailInboundFunction"
SUPPORT_MAILBOX = "support@shop.example"

# What a customer writes back to an agent's answer: a few lines, then the answer quoted below the client's
# attribution line, as Naver Mail and Gmail quote in Korean.
CUSTOMER_REPLY = """안녕하세요, 고객센터 담당자님.

지난주 금요일(6월 6일)에 주문한 러닝화(주문번호 2025060612345)가 아직 도착하지 않았습니다.
배송 조회를 해 보면 '배송 준비 중'에서 사흘째 바뀌지 않고 있어요. 이번 주말에 마라톤 대회가 있어서
그 전에 꼭 받아야 합니다. 혹시 재고 문제라면 같은 모델의 다른 색상(네이비, 270mm)으로 바꿔 주셔도
괜찮습니다. 어렵다면 주문을 취소하고 환불 부탁드립니다. 결제는 신용카드(일시불)로 했습니다.

확인 부탁드립니다. 감사합니다.

김민준 드림
010-1234-5678
"""
AGENT_ANSWER = """김민준 고객님, 안녕하세요. 쇼핑몰 고객센터입니다.

문의하신 주문(2025060612345)은 현재 물류센터에서 출고 준비 중이며, 택배사 사정으로 출고가 하루
늦어지고 있습니다. 내일 오전 중 출고 예정이며 출고 후 송장번호를 문자로 안내해 드리겠습니다.
불편을 드려 죄송합니다. 추가로 궁금하신 점이 있으시면 이 메일에 회신해 주세요.

쇼핑몰 고객센터 드림
평일 09:00-18:00 / 1588-0000
"""


def customer_mail(
    customer: int,
    *,
    message_id: str,
    sent_at: datetime,
    text: str = CUSTOMER_REPLY,
    quoted: str | None = AGENT_ANSWER,
    subject: str = "Re: 배송 문의드립니다",
    in_reply_to: str | None = None,
    extra_headers: tuple[tuple[str, str], ...] = (),
    attachments: tuple[tuple[str, str, bytes], ...] = (),
) -> bytes:
    """Customer number `customer`'s mail to support as it arrives: the hops' trace and authentication headers
    on top, the client's headers, a UTF-8 text body in base64, the agent's answer quoted below when `quoted`,
    and (filename, content type, bytes) attachments. No In-Reply-To/References unless `in_reply_to`."""
    address = f"customer{customer}@naver.com"
    mail = EmailMessage(policy=SMTP)
    mail["Return-Path"] = f"<{address}>"
    mail["Received"] = (
        "from cvsmtppost05.nm.naver.com (cvsmtppost05.nm.naver.com [125.209.224.151]) by inbound-smtp.us-east-1"
        ".amazonaws.com with SMTP id 4ojvq0b3k9s1i7qf5ldusbl3ml7q1k2g0h8i9j0k for support@shop.example;"
        f" {format_datetime(sent_at)}"
    )
    mail["Received"] = (
        "from [10.113.24.72] by cvsmtppost05.nm.naver.com with ESMTP id o3Vx9kZqT5qkW0l0v1mNbQ;"
        f" {format_datetime(sent_at)}"
    )
    mail["X-SES-Spam-Verdict"] = "PASS"
    mail["X-SES-Virus-Verdict"] = "PASS"
    mail["Authentication-Results"] = (
        "amazonses.com; spf=pass (spf=pass) smtp.mailfrom=naver.com; dkim=pass header.i=@naver.com;"
        " dmarc=pass header.from=naver.com"
    )
    # Written as signers fold it: the signature's base64 broken over lines (whitespace in b= is ignored).
    mail.set_raw(
        "DKIM-Signature",
        "v=1; a=rsa-sha256; c=relaxed/relaxed; d=naver.com; s=s20171208;\r\n"
        "\tt=1749384000; bh=Yn2c3sQ0oS9rX1h8b5u6N3wq7v4Jb9kK2mZpL0aQ1c=;\r\n"
        "\th=Message-ID:Date:From:To:Subject;\r\n"
        "\tb=F0r6Kq2m1Jd7Tz9Yc3Lw8Hn5Rb4Vx1Ps6Ge2Qa0Uk7Mt9Di3Oj5Wf8Zc1Ny4Bh6Xs2L\r\n"
        "\t v0Ep7Ru3Ik9Ga5Td1Qm8Hw4Cz6Jo2Fn0Yb3Ks7Vr5Ux1Pe9Lg6Mi4Da2Sj8Wt0Oc3N\r\n"
        "\t h9Xq5Bv7Ly1Kw3Zs0Gu4Pf2Ri8Dm6Tc1Ea9Jn5Ho7Ob3Iv0Ql==",
    )
    mail["From"] = Address("김민준", addr_spec=address)
    mail["To"] = SUPPORT_MAILBOX
    mail["Subject"] = subject
    mail["Date"] = format_datetime(sent_at)
    mail["Message-ID"] = f"<{message_id}>"
    if in_reply_to:
        mail["In-Reply-To"] = f"<{in_reply_to}>"
        mail["References"] = f"<{in_reply_to}>"
    mail["X-Mailer"] = "Naver Mail Web"
    for name, value in extra_headers:
        mail[name] = value
    mail["MIME-Version"] = "1.0"
    body = text
    if quoted:
        attribution = (
            "-----Original Message-----\nFrom: 쇼핑몰 고객센터 <support@shop.example>\nSubject: 배송 문의드립니다\n\n"
        )
        body += "\n" + attribution + "".join(f"> {line}\n" for line in quoted.splitlines())
    mail.set_content(body, charset="utf-8", cte="base64")
    for filename, content_type, data in attachments:
        maintype, _, subtype = content_type.partition("/")
        mail.add_attachment(data, maintype, subtype, filename=filename)
    # Headers set raw are written as folded above, as the signer and the hops wrote them.
    return mail.as_bytes(policy=SMTP.clone(refold_source="none"))


def function_spec(stack, logical_id: str) -> FunctionSpec:
    return next(spec for spec in functions(stack.template) if spec.logical_id == logical_id)


def text_webhook(customer: int, sequence: int) -> bytes:
    """The body Meta posts when customer number `customer` sends their message number `sequence`."""
    return WHATSAPP.text_message(
        WHATSAPP.customer(customer, f"Customer {customer}"),
        message_id=WHATSAPP.message_id(f"bench:{customer}:{sequence}"),
        text=f"Hi, my order #{4000 + customer} has not arrived yet. Could you check? ({sequence})",
        sent_at=FIRST_SENT_AT + timedelta(seconds=sequence),
    )


def webhook_delivery(body: bytes) -> dict[str, Any]:
    """Meta's signed POST of `body`, as API Gateway passes it to the webhook function."""
    path = WHATSAPP.webhook_path
    return http_api_event(method="POST", path=path, route_key=f"POST {path}", headers=WHATSAPP.headers(body), body=body)


def inbound_events(customers: int, messages_per_customer: int, first_customer: int = 0) -> list:
    """Normalized events, through the real WhatsApp adapter, interleaved across customers as traffic is."""
    from switchboard.channels.whatsapp import ADAPTER

    received_at = datetime.now(UTC)
    events = []
    for sequence in range(messages_per_customer):
        for customer in range(first_customer, first_customer + customers):
            events.extend(ADAPTER.parse(text_webhook(customer, sequence), received_at=received_at))
    return events


def writer_batch(events: list, queue_arn: str) -> dict[str, Any]:
    """The event Lambda's SQS FIFO event source passes the writer for one batch of queued events."""
    from switchboard import queue

    records = []
    for event in events:
        body = queue.encode(event)
        attributes = {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": str(int(time.time() * 1000)),
            "MessageGroupId": queue.message_group_id(event),
            "MessageDeduplicationId": queue.deduplication_id(event),
        }
        message_id = hashlib.sha256(body.encode()).hexdigest()[:32]
        records.append(
            sqs_record(
                message_id=message_id, receipt_handle=message_id, body=body, attributes=attributes, queue_arn=queue_arn
            )
        )
    return sqs_event(records)


@contextlib.contextmanager
def hooked_default_session(handlers: dict[str, Callable[..., None]]) -> Iterator[None]:
    """A fresh boto3 default session with botocore event handlers registered. The functions' clients are
    created from it (switchboard.runtime calls boto3.client), so the handlers see exactly their calls."""
    import boto3

    boto3.setup_default_session(region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    for event_name, handler in handlers.items():
        boto3.DEFAULT_SESSION.events.register(event_name, handler)
    try:
        yield
    finally:
        boto3.DEFAULT_SESSION = None


@contextlib.contextmanager
def function_environment(variables: dict[str, str]) -> Iterator[None]:
    """Sets a function's template environment and forgets the per-container wiring built under another one."""
    from switchboard import runtime

    saved = dict(os.environ)
    os.environ.update(variables)
    runtime.reset()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        runtime.reset()


@contextlib.contextmanager
def logs_discarded() -> Iterator[None]:
    """Functions log and emit metrics to stdout as in Lambda (so the cost is measured); nobody reads them here."""
    from switchboard.observability import logger

    handler = logger.registered_handler
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        previous = handler.setStream(devnull)
        try:
            yield
        finally:
            handler.setStream(previous)


@dataclass(frozen=True)
class Percentiles:
    p50_us: float
    p99_us: float


def percentiles(samples_ns: list[int]) -> Percentiles:
    ordered = sorted(samples_ns)

    def microseconds_at(quantile: float) -> float:
        return ordered[round(quantile * (len(ordered) - 1))] / 1000

    return Percentiles(microseconds_at(0.50), microseconds_at(0.99))


def interleaved_cpu(runs: dict[str, Callable[[], object]], requests: int, warm_up: int) -> dict[str, Percentiles]:
    """CPU time per call of each run, the runs taking turns call by call so that they share whatever the
    machine is doing meanwhile (the figures are ratios between them); the first `warm_up` rounds are dropped."""
    samples: dict[str, list[int]] = {name: [] for name in runs}
    for round_number in range(warm_up + requests):
        for name, run in runs.items():
            started = time.process_time_ns()
            run()
            elapsed = time.process_time_ns() - started
            if round_number >= warm_up:
                samples[name].append(elapsed)
    return {name: percentiles(taken) for name, taken in samples.items()}
