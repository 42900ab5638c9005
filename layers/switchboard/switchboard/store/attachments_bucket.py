"""The attachments bucket: media bytes the media job fetched, one object per attachment of a message.

| object                                                          | holds                                      |
|-----------------------------------------------------------------|--------------------------------------------|
| attachments/<channel>/<sha256(channel:external id)>/<i>[.ext]   | attachment i of that message, as received  |

The key is derived from the message, not from the bytes: a repeated job overwrites the same object with the
same bytes, and neither a phone number, a message id nor a file name appears in a key or an access log:
customers name files after themselves ("김민준_주민등록증.jpg"), so only the extension is kept; the full
name stays on the message. The
bucket itself encrypts, blocks public access and expires objects (template.yaml). Mirrored in docs/data-model.md.
"""

from __future__ import annotations

import hashlib
import re
from typing import Protocol

from switchboard.models import Channel

KEY_PREFIX = "attachments/"
_EXTENSION = re.compile(r"\.([A-Za-z0-9]{1,10})$")


def attachment_key(channel: Channel, message_external_id: str, index: int, filename: str | None = None) -> str:
    message = hashlib.sha256(f"{channel.value}:{message_external_id}".encode("utf-8", "surrogatepass")).hexdigest()
    key = f"{KEY_PREFIX}{channel.value}/{message}/{index}"
    extension = _EXTENSION.search(filename or "")
    return f"{key}.{extension.group(1).lower()}" if extension else key


class Readable(Protocol):
    """What an upload reads from: a file, or a download being metered as it streams."""

    def read(self, amount: int = -1, /) -> bytes: ...


class AttachmentBucket:
    def __init__(self, s3_client, bucket_name: str) -> None:
        self._s3 = s3_client
        self._bucket = bucket_name

    def put_bytes(self, key: str, data: bytes, content_type: str | None) -> None:
        """Stores bytes already in memory (a mail's parts) in one PutObject."""
        extra = {"ContentType": content_type} if content_type else {}
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=data, **extra)

    def put(self, key: str, body: Readable, content_type: str | None, *, download_only: bool = False) -> None:
        """Streams `body` into the object: small media in one PutObject, large media in parts; an exception
        from `body` aborts the upload, leaving no partial object. `download_only` objects are served with
        Content-Disposition: attachment, so a browser saves them and never renders them."""
        from boto3.s3.transfer import TransferConfig

        extra = {"ContentType": content_type} if content_type else {}
        if download_only:
            extra["ContentDisposition"] = "attachment"
        # One thread: the body is a single HTTP stream, read in order, and Lambda has little to gain from more.
        self._s3.upload_fileobj(body, self._bucket, key, ExtraArgs=extra, Config=TransferConfig(use_threads=False))

    def presigned_url(self, key: str, *, expires_in_seconds: int = 3600) -> str:
        """A GET URL a provider downloads an agent's attachment from; an hour covers its retries, and the
        signature needs no call to S3 (it is computed locally)."""
        return self._s3.generate_presigned_url(
            "get_object", Params={"Bucket": self._bucket, "Key": key}, ExpiresIn=expires_in_seconds
        )

    def read(self, key: str, *, max_bytes: int) -> bytes | None:
        """An object's bytes, up to `max_bytes` (a mail attachment is embedded, not linked); None when there is
        no such object (expired after AttachmentRetentionDays, or never uploaded)."""
        from botocore.exceptions import ClientError

        try:
            response = self._s3.get_object(Bucket=self._bucket, Key=key, Range=f"bytes=0-{max_bytes - 1}")
        except ClientError as error:
            if error.response["Error"]["Code"] in ("NoSuchKey", "404"):
                return None
            raise
        return response["Body"].read(max_bytes)
