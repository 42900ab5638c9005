"""Media jobs: one per attachment of a stored message, on a standard SQS queue the media fetcher consumes.

The webhook never downloads (providers want an answer within seconds, and media can be megabytes); the
writer asks for each attachment once the message is stored, and again on every redelivery of it, so a
crash between the two never loses media. The fetcher makes repeated jobs harmless.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from switchboard.errors import EnqueueFailed
from switchboard.media.providers import has_bytes
from switchboard.models import Attachment, Channel, InboundMessage

SQS_BATCH_LIMIT = 10
# More attachments than any provider sends in one message (Twilio: 10 media, Kakao's picker: 30 photos).
# Attachments past it stay on the message, unfetched; a job for them would fail validation on every try.
MAX_ATTACHMENTS_FETCHED = 100


class MediaJob(BaseModel):
    """Fetch attachment `attachment_index` of message `message_external_id` and record it on that message."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    channel: Channel
    channel_account_id: str = Field(min_length=1, max_length=256)
    message_external_id: str = Field(min_length=1, max_length=512)
    attachment_index: int = Field(ge=0, lt=MAX_ATTACHMENTS_FETCHED)
    attachment: Attachment


class UndecodableJob(ValueError):
    """A queued body that is not a media job; its text stays out of the error (it may hold customer data)."""


def decode(body: str | bytes) -> MediaJob:
    try:
        return MediaJob.model_validate_json(body)
    except ValidationError as exc:
        fields = sorted({".".join(map(str, error["loc"])) for error in exc.errors()})[:5]
        raise UndecodableJob(f"queued media job does not decode ({exc.error_count()} errors at {fields})") from None


def jobs_for(message: InboundMessage) -> list[MediaJob]:
    """A job for each attachment that has bytes to fetch (a LINE sticker, for one, has none), for the first
    MAX_ATTACHMENTS_FETCHED attachments: a job past them could never be valid, and would be retried forever."""
    return [
        MediaJob(
            channel=message.channel,
            channel_account_id=message.channel_account_id,
            message_external_id=message.external_id,
            attachment_index=index,
            attachment=attachment,
        )
        for index, attachment in enumerate(message.attachments[:MAX_ATTACHMENTS_FETCHED])
        if has_bytes(message.channel, attachment)
    ]


class MediaJobQueue:
    """The writer's `AttachmentRequests`: sends a message's media jobs, or raises so the writer's record is retried."""

    def __init__(self, sqs_client, queue_url: str) -> None:
        self._sqs = sqs_client
        self._url = queue_url

    def request_attachments(self, message: InboundMessage) -> None:
        jobs = jobs_for(message)
        for start in range(0, len(jobs), SQS_BATCH_LIMIT):
            chunk = jobs[start : start + SQS_BATCH_LIMIT]
            response = self._sqs.send_message_batch(
                QueueUrl=self._url,
                Entries=[
                    {"Id": str(position), "MessageBody": job.model_dump_json()} for position, job in enumerate(chunk)
                ],
            )
            if response.get("Failed"):
                codes = sorted({failure.get("Code", "?") for failure in response["Failed"]})
                raise EnqueueFailed(f"{len(response['Failed'])} media jobs were not enqueued ({', '.join(codes)})")
