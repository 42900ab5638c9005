"""AWS requests per inbound mail: the ticket writer's DynamoDB requests and units, and the requests of the
functions before it (email_inbound, and the mail webhooks for mail that does not come through SES).

Each mail takes the deployed path: the harness writes it into the mail bucket as SES's receipt rule does,
the bucket's own notification (moto delivers it to the mail queue) is handed to email_inbound, and the
message email_inbound puts on the inbound queue is handed to the ticket writer. The writer's DynamoDB
requests and units are metered as in dynamodb_cost (a botocore before-call hook on its own client, units
by DynamoDB's sizing rules); the other functions' requests to every service are counted by the same kind
of hook. One unmeasured mail goes first through each function. The mail webhooks keep their container
between deliveries, so their secret (cached five minutes) is read for the unmeasured one only; email_inbound
and the writer read no secret for these mails (email_inbound does only for a +token reply address), so
their counts are a warm container's too, though the harness wires each call afresh.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

import boto3

from bench.dynamodb_cost import CostMeter, CostRow
from bench.workload import (
    EMAIL_INBOUND,
    FIRST_SENT_AT,
    WRITER,
    customer_mail,
    function_environment,
    function_spec,
    hooked_default_session,
    logs_discarded,
    writer_batch,
)
from infra.functions import LambdaContext, load_function
from infra.provision import REGION
from tests.support.drivers.email import EMAIL_DRIVERS
from tests.support.lambda_events import http_api_event, sqs_event, sqs_record

# A phone photo and a scanned receipt: sizes as customers' attachments commonly are, below the 8 MB at
# which boto3's upload_fileobj switches to a multipart upload.
PHOTO = ("IMG_4921.jpg", "image/jpeg", bytes(range(256)) * 720)
RECEIPT = ("영수증.pdf", "application/pdf", b"%PDF-1.7\n" + bytes(range(256)) * 240)


class RequestCounter:
    """Counts every AWS request a function's clients make, by service and operation."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    @property
    def hooks(self) -> dict:
        return {"before-call": self._before}

    def _before(self, model, **_) -> None:
        self.calls[f"{model.service_model.service_id} {model.name}"] += 1

    def reset(self) -> Counter[str]:
        calls, self.calls = self.calls, Counter()
        return calls


@dataclass(frozen=True)
class RequestRow:
    case: str
    calls: Counter[str]

    @property
    def requests(self) -> int:
        return sum(self.calls.values())


@dataclass(frozen=True)
class EmailCosts:
    writer: list[CostRow]
    intake: list[RequestRow]
    webhooks: list[RequestRow]


class _Pipeline:
    """The mail bucket, email_inbound and the writer of one stack, each function under its own hook."""

    def __init__(self, stack) -> None:
        session = boto3.Session(region_name=REGION)
        self._s3 = session.client("s3")
        self._sqs = session.client("sqs")
        self._stack = stack
        self._mail_bucket = stack.ref("MailBucket")
        self._mail_queue = stack.ref("MailQueue")
        self._mail_queue_arn = stack.attribute("MailQueue", "Arn")
        self._inbound_queue = stack.ref("InboundQueue")
        self._inbound_queue_arn = stack.attribute("InboundQueue", "Arn")
        table_properties = stack.resolver.resolve(stack.template["Resources"]["TicketsTable"]["Properties"])
        self.meter = CostMeter(stack.ref("TicketsTable"), table_properties, session.client("dynamodb"))
        self.counter = RequestCounter()

    def arrive(self, raw: bytes) -> dict:
        """Stores `raw` as SES does; returns the notification its bucket sent, as an SQS event."""
        ses_message_id = uuid.uuid4().hex
        self._s3.put_object(Bucket=self._mail_bucket, Key=f"inbound/ses/{ses_message_id}", Body=raw)
        # The queue may also hold S3's test event from when the notification was configured.
        messages = self._sqs.receive_message(QueueUrl=self._mail_queue, MaxNumberOfMessages=10).get("Messages", [])
        for message in messages:
            self._sqs.delete_message(QueueUrl=self._mail_queue, ReceiptHandle=message["ReceiptHandle"])
        (message,) = (message for message in messages if ses_message_id in message["Body"])
        record = sqs_record(
            message_id=message["MessageId"],
            receipt_handle=message["ReceiptHandle"],
            body=message["Body"],
            attributes={},
            queue_arn=self._mail_queue_arn,
        )
        return sqs_event([record])

    def email_inbound(self, notification: dict) -> Counter[str]:
        spec = function_spec(self._stack, EMAIL_INBOUND)
        with (
            function_environment(self._stack.environment_of(EMAIL_INBOUND)),
            logs_discarded(),
            hooked_default_session(self.counter.hooks),
        ):
            self.counter.reset()
            result = load_function(spec)(notification, LambdaContext(EMAIL_INBOUND, "bench-mail", spec.timeout))
            calls = self.counter.reset()
        if result["batchItemFailures"]:
            raise RuntimeError(f"email_inbound failed on a benchmark mail: {result}")
        return calls

    def queued_event(self):
        """The message email_inbound put on the inbound queue, as the writer will decode it."""
        from switchboard import queue

        (message,) = self._sqs.receive_message(QueueUrl=self._inbound_queue, MaxNumberOfMessages=10).get("Messages", [])
        self._sqs.delete_message(QueueUrl=self._inbound_queue, ReceiptHandle=message["ReceiptHandle"])
        return queue.decode(message["Body"])

    def write(self, case: str, event) -> CostRow:
        spec = function_spec(self._stack, WRITER)
        batch = writer_batch([event], self._inbound_queue_arn)
        with (
            function_environment(self._stack.environment_of(WRITER)),
            logs_discarded(),
            hooked_default_session(self.meter.hooks),
        ):
            self.meter.reset()
            result = load_function(spec)(batch, LambdaContext(WRITER, "bench-mail", spec.timeout))
            cost = self.meter.reset()
        if result["batchItemFailures"]:
            raise RuntimeError(f"the writer failed on '{case}': {result}")
        return CostRow(case, cost)


def _webhook_requests(stack, raw_mails: list[bytes]) -> list[RequestRow]:
    """Each mail webhook's requests for one delivery, the container warmed by an earlier one."""
    from infra.template import functions

    counter = RequestCounter()
    rows = []
    for driver in (driver for driver in EMAIL_DRIVERS if driver.has_webhook):
        spec = next(s for s in functions(stack.template) if any(r.path == driver.webhook_path for r in s.routes))
        with (
            function_environment(stack.environment_of(spec.logical_id)),
            logs_discarded(),
            hooked_default_session(counter.hooks),
        ):
            handler = load_function(spec)
            for raw in raw_mails:
                counter.reset()
                headers, body = driver.request(driver.wrap(raw))
                path = driver.webhook_path
                event = http_api_event(method="POST", path=path, route_key=f"POST {path}", headers=headers, body=body)
                response = handler(event, LambdaContext(spec.logical_id, "bench-mail", spec.timeout))
                if response["statusCode"] != 200:
                    raise RuntimeError(f"{driver.provider} refused a benchmark mail: {response}")
            rows.append(RequestRow(driver.provider, counter.reset()))
    return rows


def measure(stack) -> EmailCosts:
    pipeline = _Pipeline(stack)
    sent_at = FIRST_SENT_AT
    # Customer 1's mail goes first, unmeasured: the first mail of a new stack is no typical one.
    warm_up = customer_mail(1, message_id="warm-up.1@naver.com", sent_at=sent_at, quoted=None)
    pipeline.email_inbound(pipeline.arrive(warm_up))
    pipeline.write("warm-up", pipeline.queued_event())

    new_mail = customer_mail(2, message_id="new.2@naver.com", sent_at=sent_at, quoted=None, subject="배송 문의드립니다")
    reply = customer_mail(
        2,
        message_id="reply.2@naver.com",
        sent_at=sent_at + timedelta(hours=1),
        in_reply_to="new.2@naver.com",
        text="추가로 말씀드리면, 주소는 서울시 마포구 월드컵로 12, 3층입니다.\n",
        quoted=None,
    )
    auto_reply = customer_mail(
        3,
        message_id="ooo.3@naver.com",
        sent_at=sent_at,
        quoted=None,
        subject="자동 회신: 배송 문의드립니다",
        text="부재중입니다. 6월 10일에 복귀합니다.\n",
        extra_headers=(("Auto-Submitted", "auto-replied"), ("X-Autoreply", "yes")),
    )
    with_files = customer_mail(
        4,
        message_id="files.4@naver.com",
        sent_at=sent_at,
        quoted=None,
        subject="교환 요청 (사진 첨부)",
        text="받은 신발 밑창이 떨어져 있어요. 사진과 영수증 첨부합니다.\n",
        attachments=(PHOTO, RECEIPT),
    )
    writer_rows, intake_rows, events = [], [], {}
    for case, raw in (
        ("new mail, new customer", new_mail),
        ("reply In-Reply-To a stored mail", reply),
        ("auto-reply, no ticket: held", auto_reply),
        ("new mail with 2 attachments", with_files),
    ):
        intake_rows.append(RequestRow(case, pipeline.email_inbound(pipeline.arrive(raw))))
        events[case] = pipeline.queued_event()
        writer_rows.append(pipeline.write(case, events[case]))
    # A second delivery of a stored mail (SES and a forwarding provider both delivering it) reaches the
    # writer as the same message; email_inbound's part is the same as for the first.
    writer_rows.append(pipeline.write("redelivery of a stored mail", events["new mail, new customer"]))

    hook_mails = [customer_mail(5, message_id=f"hook.{n}@naver.com", sent_at=sent_at, quoted=None) for n in (1, 2)]
    webhooks = _webhook_requests(stack, hook_mails)
    return EmailCosts(writer=writer_rows, intake=intake_rows, webhooks=webhooks)
