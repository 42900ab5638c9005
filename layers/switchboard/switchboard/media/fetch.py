"""The media job: download one attachment from its provider into the attachments bucket and record it on
its message. Runs off the media queue, never in the webhook path.

Repeats are harmless: an attachment already recorded is not fetched again, the object key is derived from
the message (a second upload rewrites the same bytes), and the record is a conditional update. Failures
the provider may recover from go back to the queue (redelivered, then dead-lettered for a redrive); media
that is gone or over the size limit is recorded as such and not retried, and so is a URL the fetcher refuses
(outside the provider's allow-list or the public internet, media/egress.py): it is recorded `refused`, with
its URL kept for the agent, and never requested.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from typing import Any

from switchboard.media import jobs
from switchboard.media.content_types import SNIFF_BYTES, stored_type
from switchboard.media.download import MediaGone, MediaTooLarge, MeteredBody, ProviderHttp, ProviderUnavailable
from switchboard.media.egress import MediaOrigins, RefusedDestination
from switchboard.media.jobs import MediaJob
from switchboard.media.providers import (
    ChannelSecretsOf,
    MediaProvider,
    MediaSource,
    ProviderEndpoints,
    locate,
    provider_of,
    sha256_matches,
)
from switchboard.models import Attachment, AttachmentFetchStatus
from switchboard.observability import logger, metrics
from switchboard.store.attachments_bucket import AttachmentBucket, attachment_key
from switchboard.store.messages import MessageRepository


class FetchOutcome(StrEnum):
    STORED = "stored"
    ALREADY_RECORDED = "already_recorded"
    TOO_LARGE = "too_large"
    GONE = "gone"
    REFUSED = "refused"
    NO_SUCH_MESSAGE = "no_such_message"


@dataclass(frozen=True)
class MediaFetcher:
    store: MessageRepository
    bucket: AttachmentBucket
    http: ProviderHttp
    endpoints: ProviderEndpoints
    secrets_of: ChannelSecretsOf
    max_bytes: int
    # Each provider's allow-list; a provider without one has all its media refused.
    origins: Mapping[MediaProvider, MediaOrigins]

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
        except RefusedDestination as refused:
            # The host is named (never the URL: tokens and signatures live in paths and queries).
            logger.warning("media location refused", extra={"channel": job.channel.value, "reason": str(refused)[:200]})
            fetched = job.attachment.model_copy(update={"fetch_status": AttachmentFetchStatus.REFUSED})
        self.store.record_attachment(ref, job.attachment_index, fetched)
        return {
            AttachmentFetchStatus.STORED: FetchOutcome.STORED,
            AttachmentFetchStatus.TOO_LARGE: FetchOutcome.TOO_LARGE,
            AttachmentFetchStatus.FAILED: FetchOutcome.GONE,
            AttachmentFetchStatus.REFUSED: FetchOutcome.REFUSED,
        }[fetched.fetch_status or AttachmentFetchStatus.FAILED]

    def _download(self, job: MediaJob, key: str) -> Attachment:
        origins = self.origins.get(provider_of(job.channel, job.attachment)) or MediaOrigins()
        source = locate(
            job.channel,
            job.channel_account_id,
            job.attachment,
            endpoints=self.endpoints,
            secrets_of=self.secrets_of,
            http=self.http,
            origins=origins,
        )
        if source.size_bytes is not None and source.size_bytes > self.max_bytes:
            raise MediaTooLarge(source.size_bytes)
        response = self.http.open(source.url, source.headers, origins=origins)
        try:
            declared_length = response.headers.get("Content-Length")
            if declared_length and declared_length.isdigit() and int(declared_length) > self.max_bytes:
                raise MediaTooLarge(int(declared_length))
            body = MeteredBody(response, self.max_bytes)
            stored = stored_type(
                (source.mime_type, response.headers.get("Content-Type"), job.attachment.mime_type),
                body.head(SNIFF_BYTES),
            )
            self.bucket.put(key, body, stored.content_type, download_only=stored.download_only)
        finally:
            response.release_conn()
        _check_declared_hashes(source, job.attachment, body.sha256)
        return job.attachment.model_copy(
            update={
                "fetch_status": AttachmentFetchStatus.STORED,
                "storage_key": key,
                "sha256": body.sha256,
                "size_bytes": body.size_bytes,
                "mime_type": stored.content_type,
            }
        )


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

    # A plain dict, as the handler declares: Powertools types it as its own TypedDict.
    return dict(
        process_partial_response(
            event=event,
            record_handler=partial(_fetch_record, fetcher=fetcher),
            processor=BatchProcessor(event_type=EventType.SQS),
            context=context,
        )
    )


def _fetch_record(record, fetcher: MediaFetcher) -> FetchOutcome:
    return fetch_queued_job(record.body, fetcher)
