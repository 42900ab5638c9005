"""The media job: download one attachment from its provider into the attachments bucket and record it on
its message. Runs off the media queue, never in the webhook path.

Repeats are harmless: an attachment already recorded is not fetched again, the object key is derived from
the message (a second upload rewrites the same bytes), and the record is a conditional update. Failures
the provider may recover from go back to the queue (redelivered, then dead-lettered for a redrive); media
that is gone or over the size limit is recorded as such and not retried.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from typing import Any

from switchboard.media import jobs
from switchboard.media.download import MediaGone, MediaTooLarge, MeteredBody, ProviderHttp, ProviderUnavailable
from switchboard.media.jobs import MediaJob
from switchboard.media.providers import ChannelSecretsOf, MediaSource, ProviderEndpoints, locate, sha256_matches
from switchboard.models import Attachment, AttachmentFetchStatus
from switchboard.observability import logger, metrics
from switchboard.store.attachments_bucket import AttachmentBucket, attachment_key
from switchboard.store.tickets_table import TicketStore


class FetchOutcome(StrEnum):
    STORED = "stored"
    ALREADY_RECORDED = "already_recorded"
    TOO_LARGE = "too_large"
    GONE = "gone"
    NO_SUCH_MESSAGE = "no_such_message"


@dataclass(frozen=True)
class MediaFetcher:
    store: TicketStore
    bucket: AttachmentBucket
    http: ProviderHttp
    endpoints: ProviderEndpoints
    secrets_of: ChannelSecretsOf
    max_bytes: int

    def fetch(self, job: MediaJob) -> FetchOutcome:
        ref = self.store.message_ref(job.channel.value, job.message_external_id)
        recorded = self.store.attachment(ref, job.attachment_index) if ref else None
        if ref is None or recorded is None or recorded.kind != job.attachment.kind:
            # The writer stores a message before asking for its media, so it was removed since: nothing to attach to.
            return FetchOutcome.NO_SUCH_MESSAGE
        if recorded.fetch_status is not None:
            return FetchOutcome.ALREADY_RECORDED
        key = attachment_key(job.channel, job.message_external_id, job.attachment_index, job.attachment.filename)
        try:
            fetched = self._download(job, key)
        except MediaTooLarge as too_large:
            fetched = job.attachment.model_copy(
                update={"fetch_status": AttachmentFetchStatus.TOO_LARGE, "size_bytes": too_large.size_bytes}
            )
        except MediaGone:
            fetched = job.attachment.model_copy(update={"fetch_status": AttachmentFetchStatus.FAILED})
        self.store.record_attachment(ref, job.attachment_index, fetched)
        return {
            AttachmentFetchStatus.STORED: FetchOutcome.STORED,
            AttachmentFetchStatus.TOO_LARGE: FetchOutcome.TOO_LARGE,
            AttachmentFetchStatus.FAILED: FetchOutcome.GONE,
        }[fetched.fetch_status]

    def _download(self, job: MediaJob, key: str) -> Attachment:
        source = locate(
            job.channel,
            job.channel_account_id,
            job.attachment,
            endpoints=self.endpoints,
            secrets_of=self.secrets_of,
            http=self.http,
        )
        if source.size_bytes is not None and source.size_bytes > self.max_bytes:
            raise MediaTooLarge(source.size_bytes)
        response = self.http.open(source.url, source.headers)
        try:
            declared_length = response.headers.get("Content-Length")
            if declared_length and declared_length.isdigit() and int(declared_length) > self.max_bytes:
                raise MediaTooLarge(int(declared_length))
            mime_type = source.mime_type or _media_type(response.headers.get("Content-Type")) or job.attachment.mime_type
            body = MeteredBody(response, self.max_bytes)
            self.bucket.put(key, body, mime_type)
        finally:
            response.release_conn()
        _check_declared_hashes(source, job.attachment, body.sha256)
        return job.attachment.model_copy(
            update={
                "fetch_status": AttachmentFetchStatus.STORED,
                "storage_key": key,
                "sha256": body.sha256,
                "size_bytes": body.size_bytes,
                "mime_type": mime_type,
            }
        )


def _media_type(content_type: str | None) -> str | None:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    # A CDN's catch-all type says nothing the webhook's own mime_type would not say better.
    return media_type if media_type and media_type != "application/octet-stream" else None


def _check_declared_hashes(source: MediaSource, attachment: Attachment, actual_sha256: str) -> None:
    for declared in (source.sha256, attachment.sha256):
        if declared and not sha256_matches(declared, actual_sha256):
            # Corrupted or substituted in transit: not recorded; the retry overwrites the object.
            raise ProviderUnavailable("downloaded media does not match the sha256 the provider declared")


def fetch_queued_job(body: str, fetcher: MediaFetcher) -> FetchOutcome:
    job = jobs.decode(body)
    outcome = fetcher.fetch(job)
    logger.debug(
        "media job done",
        extra={"channel": job.channel.value, "kind": job.attachment.kind, "outcome": outcome.value},
    )
    metrics.add_metric(name=f"Media_{outcome.value}", unit="Count", value=1)
    return outcome


def fetch_batch(event: dict[str, Any], context: Any, fetcher: MediaFetcher) -> dict[str, Any]:
    """Processes a standard SQS batch; failed jobs alone return to the queue (ReportBatchItemFailures)."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    return process_partial_response(
        event=event,
        record_handler=partial(_fetch_record, fetcher=fetcher),
        processor=BatchProcessor(event_type=EventType.SQS),
        context=context,
    )


def _fetch_record(record, fetcher: MediaFetcher) -> FetchOutcome:
    return fetch_queued_job(record.body, fetcher)
