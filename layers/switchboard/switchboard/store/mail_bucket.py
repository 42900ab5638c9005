"""The mail bucket: every received mail, raw, exactly as it arrived. Its object-created notifications feed
the email intake (bucket -> SQS -> email_inbound), whichever way the mail came in.

| object                                   | written by                           | holds                       |
|------------------------------------------|--------------------------------------|-----------------------------|
| inbound/ses/<SES message id>             | SES's receipt rule (S3 action)       | the raw mail, SES headers on top |
| inbound/<provider>/<sha256 of the mail>  | the mailgun/postmark/sendgrid webhook | the raw (or rebuilt) MIME   |

A webhook's key is derived from the mail's bytes: a provider's retry overwrites the same object and the
intake deduplicates by Message-ID anyway. The provider's own id travels as object metadata. The bucket
encrypts, blocks public access and expires mail after the configured retention (template.yaml).
Mirrored in docs/data-model.md.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

INBOUND_PREFIX = "inbound/"
WEBHOOK_PROVIDERS = ("mailgun", "postmark", "sendgrid")
# SES writes this object when a rule with an S3 action is created, to check it may write: not a mail.
SES_SETUP_OBJECT = "AMAZON_SES_SETUP_NOTIFICATION"
_PROVIDER_ID_METADATA = "provider-id"


@dataclass(frozen=True)
class StoredMail:
    key: str
    provider: str
    provider_id: str | None
    raw: bytes
    stored_at: datetime


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

    def read(self, key: str) -> StoredMail:
        found = self._s3.get_object(Bucket=self._bucket, Key=key)
        # Only SES writes under inbound/ses/ (the bucket policy), so only there are SES's verdict headers
        # trusted; the SES object is named after its message id, a webhook's provider id rides in metadata.
        provider = key[len(INBOUND_PREFIX) :].split("/", 1)[0] if key.startswith(INBOUND_PREFIX) else ""
        provider_id = found.get("Metadata", {}).get(_PROVIDER_ID_METADATA)
        if provider == "ses":
            provider_id = key.rsplit("/", 1)[-1]
        elif provider not in WEBHOOK_PROVIDERS:
            provider = "s3"
        stored_at = found["LastModified"].astimezone(UTC)
        return StoredMail(key=key, provider=provider, provider_id=provider_id, raw=found["Body"].read(), stored_at=stored_at)

    @property
    def name(self) -> str:
        return self._bucket
