"""The Content-Type an attachment is stored with: only media types a browser shows as inert content.

Agents open attachments from the bucket (presigned links), so a stored type decides what their browser does
with the bytes. A sender, or a CDN, that labels an upload `text/html` or `image/svg+xml` would otherwise have
script run in the agent's browser. So:

- a type the provider (or the webhook) declares is kept only when it is on `MEDIA_TYPES`;
- a missing or generic type (`application/octet-stream`, `binary/octet-stream`) is sniffed from the first
  bytes (`sniff`), and kept when the bytes are a known media format;
- anything else, `text/html`, SVG, XML, scripts and types we do not know, is stored as
  `application/octet-stream` with `Content-Disposition: attachment`: a browser saves it, never renders it.
  The bytes are kept unchanged (an agent may still need the file), and the record says what was declared.
"""

from __future__ import annotations

from dataclasses import dataclass

OPAQUE = "application/octet-stream"
GENERIC_TYPES = frozenset({"", OPAQUE, "binary/octet-stream", "application/binary", "application/unknown"})
SNIFF_BYTES = 64

MEDIA_TYPES = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "image/heic",
        "image/heif",
        "image/avif",
        "image/bmp",
        "image/tiff",
        "audio/mpeg",
        "audio/mp4",
        "audio/aac",
        "audio/ogg",
        "audio/opus",
        "audio/amr",
        "audio/wav",
        "audio/x-wav",
        "audio/webm",
        "audio/3gpp",
        "audio/x-m4a",
        "audio/flac",
        "video/mp4",
        "video/quicktime",
        "video/3gpp",
        "video/3gpp2",
        "video/webm",
        "video/mpeg",
        "video/x-msvideo",
        "application/pdf",
        "application/zip",
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        # Hangul (HWP/HWPX), the document format of Korean public offices and many Korean businesses.
        "application/x-hwp",
        "application/haansofthwp",
        "application/vnd.hancom.hwp",
        "application/vnd.hancom.hwpx",
        "text/plain",
        "text/csv",
    }
)

# ISO base media (MP4 family) files name their brand at bytes 8-12, after the size and "ftyp".
_FTYP_BRANDS = {
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"mif1": "image/heif",
    b"msf1": "image/heif",
    b"avif": "image/avif",
    b"M4A ": "audio/mp4",
    b"qt  ": "video/quicktime",
    b"3gp4": "video/3gpp",
    b"3gp5": "video/3gpp",
    b"3g2a": "video/3gpp2",
}


@dataclass(frozen=True)
class StoredType:
    content_type: str
    # True when the bytes must be downloaded, never displayed (the declared type was not an inert media type).
    download_only: bool


def media_type(content_type: str | None) -> str:
    """The bare media type of a Content-Type value, lower-case, without parameters."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def stored_type(declared: tuple[str | None, ...], first_bytes: bytes) -> StoredType:
    """The type to store, from the declared types in order of trust (the provider's API, the CDN's header,
    the webhook's mime_type) and the first bytes of the media."""
    specific = next((kind for kind in map(media_type, declared) if kind not in GENERIC_TYPES), None)
    if specific is None:
        sniffed = sniff(first_bytes)
        return StoredType(sniffed, False) if sniffed else StoredType(OPAQUE, True)
    if specific in MEDIA_TYPES:
        return StoredType(specific, False)
    return StoredType(OPAQUE, True)


def _is_ftyp_box_size(size: bytes) -> bool:
    """WHATWG MIME Sniffing, "matches the signature for MP4": the first box's size is a multiple of 4. An
    ftyp box names a brand and a few compatible ones, so it is also small; "ID3\x04" followed by "ftyp"
    is an MP3's ID3 tag, whose first four bytes read as a size of 1.2 GB."""
    box_size = int.from_bytes(size, "big")
    return box_size % 4 == 0 and 8 <= box_size <= 4096


def sniff(first_bytes: bytes) -> str | None:
    """A media type recognised from magic bytes, or None."""
    head = first_bytes[:SNIFF_BYTES]
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "video/x-msvideo"
    if head[4:8] == b"ftyp" and _is_ftyp_box_size(head[:4]):
        brand = head[8:12]
        return _FTYP_BRANDS.get(brand) or ("video/3gpp" if brand.startswith(b"3gp") else "video/mp4")
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "audio/mpeg"
    if head.startswith(b"#!AMR"):
        return "audio/amr"
    if head.startswith(b"fLaC"):
        return "audio/flac"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    if head.startswith(b"PK\x03\x04"):
        return "application/zip"
    return None
