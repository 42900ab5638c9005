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

INBOUND_PREFIX = "inbound/"
_PROVIDER_ID_METADATA = "provider-id"


@dataclass(frozen=True)
class StoredMail:
    key: str
    provider: str
    provider_id: str | None
    raw: bytes


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
        provider = key[len(INBOUND_PREFIX) :].split("/", 1)[0] if key.startswith(INBOUND_PREFIX) else ""
        # SES names the object after its message id; a webhook's provider id rides in the metadata.
        provider_id = found.get("Metadata", {}).get(_PROVIDER_ID_METADATA)
        if provider in ("", "ses") or "/" not in key[len(INBOUND_PREFIX) :]:
            provider, provider_id = "ses", key.rsplit("/", 1)[-1]
        return StoredMail(key=key, provider=provider, provider_id=provider_id, raw=found["Body"].read())

    @property
    def name(self) -> str:
        return self._bucket
