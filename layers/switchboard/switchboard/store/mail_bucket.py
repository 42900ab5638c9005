"""The mail bucket: every received mail, raw, exactly as it arrived. Its object-created notifications feed
the email intake (bucket -> SQS -> email_inbound), whichever way the mail came in.

| object                                   | written by                           | holds                       |
|------------------------------------------|--------------------------------------|-----------------------------|
| inbound/ses/<SES message id>             | SES's receipt rule (S3 action)       | the raw mail, SES headers on top |
| inbound/<provider>/<sha256 of the mail>  | the mailgun/postmark/sendgrid webhook | the raw (or rebuilt) MIME   |
| inbound/released/<sha256 of its id>      | the held-mail release (an agent)     | a copy of a held mail, to become a customer mail |

A webhook's key is derived from the mail's bytes: a provider's retry overwrites the same object and the
intake deduplicates by Message-ID anyway. The provider's own id travels as object metadata, and so do a
released copy's first provider and the agent who released it. The bucket
encrypts, blocks public access and expires mail after the configured retention (template.yaml).
Mirrored in docs/data-model.md.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

INBOUND_PREFIX = "inbound/"
RELEASED_PREFIX = f"{INBOUND_PREFIX}released/"
WEBHOOK_PROVIDERS = ("mailgun", "postmark", "sendgrid")
# SES writes this object when a rule with an S3 action is created, to check it may write: not a mail.
SES_SETUP_OBJECT = "AMAZON_SES_SETUP_NOTIFICATION"
_PROVIDER_ID_METADATA = "provider-id"
_RELEASED_BY_METADATA = "released-by"
_RELEASED_FROM_METADATA = "released-from"


class RawMailGone(Exception):
    """The raw mail is no longer in the bucket (its retention ran out)."""


@dataclass(frozen=True)
class StoredMail:
    key: str
    provider: str
    provider_id: str | None
    raw: bytes
    stored_at: datetime
    # Who released it, for a copy of a held mail an agent released into the tickets.
    released_by: str | None = None


class MailBucket:
    def __init__(self, s3_client, bucket_name: str) -> None:
        self._s3 = s3_client
        self._bucket = bucket_name

    def put_delivery(self, provider: str, raw_mime: bytes, provider_id: str | None) -> str:
        key = f"{INBOUND_PREFIX}{provider}/{hashlib.sha256(raw_mime).hexdigest()}"
        metadata = {_PROVIDER_ID_METADATA: provider_id} if provider_id and provider_id.isascii() else {}
        self._s3.put_object(
            Bucket=self._bucket, Key=key, Body=raw_mime, ContentType="message/rfc822", Metadata=metadata
        )
        return key

    def copy_for_release(self, raw_mail_key: str, external_id: str, released_by: str) -> str:
        """Copies a held mail's raw mail to inbound/released/, whose notification takes it through the intake
        again as a customer mail. The key derives from the mail's id, so a repeated release rewrites it."""
        provider = _provider_of(raw_mail_key)
        key = f"{RELEASED_PREFIX}{hashlib.sha256(external_id.encode('utf-8', 'surrogatepass')).hexdigest()}"
        try:
            self._s3.copy_object(
                Bucket=self._bucket,
                Key=key,
                CopySource={"Bucket": self._bucket, "Key": raw_mail_key},
                ContentType="message/rfc822",
                MetadataDirective="REPLACE",
                Metadata={_RELEASED_FROM_METADATA: provider, _RELEASED_BY_METADATA: released_by},
            )
        except self._s3.exceptions.ClientError as error:
            if error.response["Error"]["Code"] in ("NoSuchKey", "404"):
                raise RawMailGone(raw_mail_key) from error
            raise
        return key

    def read(self, key: str) -> StoredMail:
        found = self._s3.get_object(Bucket=self._bucket, Key=key)
        metadata = found.get("Metadata", {})
        # Only SES writes under inbound/ses/ (the bucket policy), so only there are SES's verdict headers
        # trusted; the SES object is named after its message id, a webhook's provider id rides in metadata.
        # A released copy keeps its first provider's name but none of its trust: it is judged by an agent.
        provider = _provider_of(key)
        provider_id = metadata.get(_PROVIDER_ID_METADATA)
        released_by = None
        if key.startswith(RELEASED_PREFIX):
            released_by = metadata.get(_RELEASED_BY_METADATA) or "an agent"
            provider = metadata.get(_RELEASED_FROM_METADATA) or "s3"
            provider_id = None
        elif provider == "ses":
            provider_id = key.rsplit("/", 1)[-1]
        stored_at = found["LastModified"].astimezone(UTC)
        return StoredMail(
            key=key,
            provider=provider,
            provider_id=provider_id,
            raw=found["Body"].read(),
            stored_at=stored_at,
            released_by=released_by,
        )

    @property
    def name(self) -> str:
        return self._bucket


def _provider_of(key: str) -> str:
    """The path a mail came by, from its key: ses, mailgun, postmark or sendgrid, else s3 (put by hand)."""
    provider = key[len(INBOUND_PREFIX) :].split("/", 1)[0] if key.startswith(INBOUND_PREFIX) else ""
    return provider if provider in ("ses", *WEBHOOK_PROVIDERS) else "s3"
