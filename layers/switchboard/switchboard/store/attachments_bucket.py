"""The attachments bucket: media bytes the media job fetched, one object per attachment of a message.

| object                                                          | holds                                      |
|-----------------------------------------------------------------|--------------------------------------------|
| attachments/<channel>/<sha256(channel:external id)>/<i>[-name]  | attachment i of that message, as received  |

The key is derived from the message, not from the bytes: a repeated job overwrites the same object with the
same bytes, and neither a phone number nor a message id appears in a key or an access log. The
bucket itself encrypts, blocks public access and expires objects (template.yaml). Mirrored in docs/data-model.md.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import BinaryIO

from switchboard.models import Channel

KEY_PREFIX = "attachments/"
_MAX_FILENAME_CHARS = 100
# Letters and digits of any script (Korean file names stay readable), and a few safe separators.
_UNSAFE = re.compile(r"[^\w.\-]+")


def attachment_key(channel: Channel, message_external_id: str, index: int, filename: str | None = None) -> str:
    message = hashlib.sha256(f"{channel.value}:{message_external_id}".encode("utf-8", "surrogatepass")).hexdigest()
    key = f"{KEY_PREFIX}{channel.value}/{message}/{index}"
    name = _safe_filename(filename)
    return f"{key}-{name}" if name else key


def _safe_filename(filename: str | None) -> str:
    if not filename:
        return ""
    name = _UNSAFE.sub("_", unicodedata.normalize("NFC", filename)).strip("._")
    return name[-_MAX_FILENAME_CHARS:].lstrip("._")


class AttachmentBucket:
    def __init__(self, s3_client, bucket_name: str) -> None:
        self._s3 = s3_client
        self._bucket = bucket_name

    def put(self, key: str, body: BinaryIO, content_type: str | None) -> None:
        """Streams `body` into the object: small media in one PutObject, large media in parts; an exception
        from `body` aborts the upload, leaving no partial object."""
        from boto3.s3.transfer import TransferConfig

        extra = {"ContentType": content_type} if content_type else {}
        # One thread: the body is a single HTTP stream, read in order, and Lambda has little to gain from more.
        self._s3.upload_fileobj(body, self._bucket, key, ExtraArgs=extra, Config=TransferConfig(use_threads=False))
