"""What a message costs in CloudWatch Logs: at the deployed LogLevel (INFO) a message that goes through writes
only its metric blobs; the per-message lines are DEBUG, there for an operator who sets LogLevel=DEBUG."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime

from switchboard.observability import logger
from tests.support.drivers.whatsapp import contact, encode, message_item, messages_value, wamid, webhook

SENT_AT = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
MEDIA_ID = "1003383421387256"
PHOTO = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 16


@contextlib.contextmanager
def function_output(level: str) -> Iterator[io.StringIO]:
    """Everything the functions write to their log streams (Powertools lines and metric blobs) at `level`."""
    captured = io.StringIO()
    handler = logger.registered_handler
    previous_level = logger.log_level
    logger.setLevel(level)
    previous_stream = handler.setStream(captured)
    try:
        with contextlib.redirect_stdout(captured):
            yield captured
    finally:
        handler.setStream(previous_stream)
        logger.setLevel(previous_level)


def _records(captured: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in captured.getvalue().splitlines() if line.strip()]


def _customer_text(driver, name: str) -> bytes:
    return driver.text_message(
        driver.customer(1, "김민준"),
        message_id=driver.message_id(name),
        text="주문한 상품이 아직 안 왔어요",
        sent_at=SENT_AT,
    )


def test_a_message_that_goes_through_writes_only_its_metrics_at_info(stack, channel):
    # Given the deployed log level, INFO, and a customer's text in the channel's own shape
    message = _customer_text(channel.driver, "log-volume")
    with function_output("INFO") as captured:
        # When the provider delivers it and the writer records it
        response = channel.deliver(message)
        report = stack.drain_queue()
    # Then it is stored, and every record written is a metric blob (EMF), no per-message log line
    assert response.status == 200
    assert (report.records, report.failed_records) == (1, 0)
    records = _records(captured)
    assert records
    assert [record.get("message") for record in records if "_aws" not in record] == []


def test_an_attachment_fetched_writes_only_its_metrics_at_info(stack, whatsapp, fake_providers):
    # Given the Graph API holds the customer's photo, and the deployed log level, INFO
    fake_providers.add_whatsapp_media(MEDIA_ID, PHOTO, "image/jpeg")
    image = {"caption": "상자가 파손되어 도착했어요", "mime_type": "image/jpeg", "id": MEDIA_ID}
    item = message_item(
        "image", wamid=wamid("log-volume-photo"), sender="821012345678", timestamp=1749416400, content=image
    )
    with function_output("INFO") as captured:
        # When the image message is delivered, recorded and its photo fetched
        whatsapp.deliver(encode(webhook(messages_value([item], contacts=[contact("821012345678", "김민준")]))))
        stack.drain_queue()
        report = stack.drain_media_queue()
    # Then the photo is fetched, and the media fetcher too wrote metric blobs only
    assert (report.records, report.failed_records) == (1, 0)
    assert [record.get("message") for record in _records(captured) if "_aws" not in record] == []


def test_the_per_message_lines_are_written_for_an_operator_who_sets_debug(stack, whatsapp):
    # Given an operator who deployed with LogLevel=DEBUG
    message = _customer_text(whatsapp.driver, "log-volume-debug")
    with function_output("DEBUG") as captured:
        # When a customer's text is delivered and recorded
        whatsapp.deliver(message)
        stack.drain_queue()
    # Then the webhook's and the writer's lines for that message are there, the customer masked
    lines = {record["message"]: record for record in _records(captured) if "message" in record}
    assert {"webhook accepted", "inbound event recorded"} <= lines.keys()
    assert lines["inbound event recorded"]["outcome"] == "opened"
    assert "*" in lines["inbound event recorded"]["customer"]
