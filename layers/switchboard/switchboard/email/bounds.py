"""What of a raw mail the standard library's parser is given: a linear pre-scan that bounds its work.

The stdlib parser builds a Message object for every MIME part and recurses once per nesting level before
any of our limits could look at the result, and it reads header blocks of any size: 200,000 empty parts
(1.8 MB) took 12.6 s. This scan runs first, in time linear in the mail, with regular expressions that
never backtrack over what they already passed, and returns the byte ranges the parser may read:

- header blocks (the mail's, each part's and each attached message's) beyond HEADER_BLOCK_LIMIT bytes, or
  beyond SMALL_HEADER_BLOCK_LIMIT once all blocks took HEADERS_TOTAL_LIMIT, lose their excess fields,
  except the first occurrence of each field the intake reads (From, Content-Type ...), each cut to
  FIELD_LIMIT bytes, as Postfix discards a header's excess beyond its header_size_limit;
- each block's first Content-Type and Content-Disposition (the ones read) are cut to PARAMETER_FIELD_LIMIT:
  the stdlib's parameter parsing copies the rest of the value once per parameter;
- the mail is cut before the MIME delimiter line that would open part MAX_PARTS + 1, nest multiparts
  deeper than MAX_DEPTH, or attach message MAX_ATTACHED_MESSAGES + 1.

Every cut is named in `limits` (a code for the message's marker) and in `problems` (for decoding_problems);
the raw mail in the mail bucket keeps everything.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import pairwise

MAX_PARTS = 1000
MAX_DEPTH = 20
MAX_ATTACHED_MESSAGES = 100
# Real header blocks, long trace and ARC chains included, stay far below this; Postfix's default
# header_size_limit is 102,400 bytes for one header.
HEADER_BLOCK_LIMIT = 256 * 1024
FIELD_LIMIT = 64 * 1024
# All header blocks together (the stdlib reads a header field at ~0.4 us a byte, and we walk each one):
# once a mail's headers reached this, each further block keeps SMALL_HEADER_BLOCK_LIMIT (a real part's
# header block is well under 1 KB).
HEADERS_TOTAL_LIMIT = 1024 * 1024
SMALL_HEADER_BLOCK_LIMIT = 4 * 1024
# Real ones, RFC 2231 file names in many continuations included, are a few hundred bytes.
PARAMETER_FIELD_LIMIT = 8 * 1024
MAX_BOUNDARIES = 200

# The fields the intake reads, kept from an over-long header block (their first occurrence).
KEPT_FIELDS = (
    "from", "to", "cc", "reply-to", "subject", "date", "message-id", "in-reply-to", "references",
    "mime-version", "content-type", "content-transfer-encoding", "content-disposition", "content-id",
    "auto-submitted", "precedence", "list-id", "return-path", "x-autoreply", "x-autorespond",
    "x-ses-spam-verdict", "x-ses-virus-verdict",
)  # fmt: skip

_EMPTY_LINE = re.compile(rb"(?m)^\r?\n")
_FIELD_START = re.compile(rb"(?im)^(" + b"|".join(re.escape(name.encode()) for name in KEPT_FIELDS) + rb")[ \t]*:")
_FIELD_END = re.compile(rb"\n(?![ \t])")
_PARAMETER_FIELDS = (
    re.compile(rb"(?im)^content-type[ \t]*:"),
    re.compile(rb"(?im)^content-disposition[ \t]*:"),
)
# RFC 2046 5.1.1: 1 to 70 characters; the stdlib takes what it is given, so a little more is allowed here.
_BOUNDARY_PARAMETER = re.compile(rb"""(?i)\bboundary[ \t]*=[ \t]*(?:"([^"\r\n]{1,200})"|([^\s;"]{1,200}))""")
# Any line starting "--" (bounded length): a delimiter when the rest is a declared boundary. One pattern for
# all boundaries, then a set lookup: an alternation of many boundaries would retry each one on every line.
_DASH_LINE = re.compile(rb"(?m)^--([^\r\n]{1,210})\r?$")
_ATTACHED_MESSAGE = re.compile(rb"(?im)^content-type:[ \t]*(?:\r?\n[ \t]+)?message/")


@dataclass
class BoundedMail:
    """The byte ranges of `raw` (and the few bytes written in between) the parser reads, and what was cut."""

    pieces: list[bytes | tuple[int, int]] = field(default_factory=list)
    limits: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def chunks(self, raw: bytes, size: int) -> Iterator[bytes]:
        view = memoryview(raw)
        for piece in self.pieces:
            if isinstance(piece, bytes):
                yield piece
                continue
            start, end = piece
            for chunk_start in range(start, end, size):
                yield bytes(view[chunk_start : min(chunk_start + size, end)])

    def _cut(self, limit: str, problem: str) -> None:
        if limit not in self.limits:
            self.limits.append(limit)
            self.problems.append(problem)


def bound(raw: bytes) -> BoundedMail:
    """The parts of `raw` within the limits above; linear in len(raw) whatever its shape."""
    bounded = BoundedMail()
    delimiters = _Delimiters(raw)
    end = _structure_end(raw, delimiters, bounded)
    position = 0
    header_bytes = 0
    for header_start, header_end in _header_blocks(raw, delimiters, end):
        bounded.pieces.append((position, header_start))
        limit = max(SMALL_HEADER_BLOCK_LIMIT, min(HEADER_BLOCK_LIMIT, HEADERS_TOTAL_LIMIT - header_bytes))
        position = _bounded_header(raw, header_start, header_end, limit, bounded)
        header_bytes += min(header_end - header_start, limit)
    bounded.pieces.append((position, end))
    bounded.pieces = [piece for piece in bounded.pieces if isinstance(piece, bytes) or piece[0] < piece[1]]
    return bounded


class _Delimiters:
    """Delimiter lines of every boundary the mail declares (`--boundary`, `--boundary--`, then spaces or
    tabs, as the stdlib reads them), in order: (start, end of line, boundary, closing)."""

    def __init__(self, raw: bytes) -> None:
        self._raw = raw
        self._declared: set[bytes] = set()
        for found in _BOUNDARY_PARAMETER.finditer(raw):
            self._declared.add(found.group(1) or found.group(2))
            if len(self._declared) >= MAX_BOUNDARIES:
                break

    def lines(self, end: int) -> Iterator[tuple[int, int, bytes, bool]]:
        if not self._declared:
            return
        for found in _DASH_LINE.finditer(self._raw, 0, end):
            candidate = found.group(1).rstrip(b" \t")
            if candidate in self._declared:
                yield found.start(), found.end(), candidate, False
            elif candidate.endswith(b"--") and candidate[:-2] in self._declared:
                yield found.start(), found.end(), candidate[:-2], True


def _structure_end(raw: bytes, delimiters: _Delimiters, bounded: BoundedMail) -> int:
    """Where the parser must stop reading: before the part over MAX_PARTS, the nesting over MAX_DEPTH, or
    the attached message over MAX_ATTACHED_MESSAGES; else the end of the mail."""
    end = len(raw)
    attached = 0
    for found in _ATTACHED_MESSAGE.finditer(raw):
        attached += 1
        if attached > MAX_ATTACHED_MESSAGES:
            end = found.start()
            bounded._cut(
                "attached_messages", f"mail: more than {MAX_ATTACHED_MESSAGES} attached messages; the rest left out"
            )
            break
    parts = 1
    open_boundaries: list[bytes] = []
    for start, _, boundary, closing in delimiters.lines(end):
        if boundary in open_boundaries:
            del open_boundaries[open_boundaries.index(boundary) + (0 if closing else 1) :]
        elif not closing:
            open_boundaries.append(boundary)
        if closing:
            continue
        parts += 1
        if parts > MAX_PARTS:
            bounded._cut("mime_parts", f"mail: more than {MAX_PARTS} MIME parts; the rest left out")
            return start
        # One level more than the reader walks, so it still sees the multipart at which it stops.
        if len(open_boundaries) > MAX_DEPTH + 1:
            bounded._cut("mime_depth", f"mail: MIME parts nested deeper than {MAX_DEPTH}; the deeper ones left out")
            return start
    return end


def _header_blocks(raw: bytes, delimiters: _Delimiters, end: int) -> Iterator[tuple[int, int]]:
    """(start, end) of the mail's header block, each part's and each attached message's, in order; each
    ends before its empty line, at the next block's start, or at `end`. Disjoint, so finding them all
    reads the mail once."""
    starts = [0]
    starts.extend(min(line_end + 1, end) for _, line_end, _, closing in delimiters.lines(end) if not closing)
    # An attached message's own headers follow the empty line that ends its part's header block.
    for declared in _ATTACHED_MESSAGE.finditer(raw, 0, end):
        empty = _EMPTY_LINE.search(raw, declared.end(), end)
        if empty:
            starts.append(empty.end())
    starts = sorted(set(starts))
    starts.append(end)
    for start, next_start in pairwise(starts):
        empty = _EMPTY_LINE.search(raw, start, next_start)
        yield start, (empty.start() if empty else next_start)


def _bounded_header(raw: bytes, start: int, end: int, limit: int, bounded: BoundedMail) -> int:
    """Adds the header block [start, end) to the pieces, cut to `limit` bytes; returns where the pieces go
    on (the block's end)."""
    if end - start <= limit:
        _add_with_parameter_fields_cut(raw, start, end, bounded)
        return end
    cut = raw.rfind(b"\n", start, start + limit)
    while cut > start and raw[cut + 1 : cut + 2] in (b" ", b"\t"):  # never split a folded field
        cut = raw.rfind(b"\n", start, cut)
    kept_end = cut + 1 if cut > start else start
    _add_with_parameter_fields_cut(raw, start, kept_end, bounded)
    kept = raw[start:kept_end]
    seen = {name for name in KEPT_FIELDS if re.search(rb"(?im)^" + re.escape(name.encode()) + rb"[ \t]*:", kept)}
    for found in _FIELD_START.finditer(raw, kept_end, end):
        name = found.group(1).lower().decode("ascii")
        if name in seen:
            continue
        seen.add(name)
        limit = min(end, found.start() + FIELD_LIMIT)
        field_end = _FIELD_END.search(raw, found.start(), limit)
        value = raw[found.start() : field_end.start() if field_end else limit]
        if name in ("content-type", "content-disposition"):
            value = value[:PARAMETER_FIELD_LIMIT]
        bounded.pieces.append(value.rstrip(b"\r\n") + b"\r\n")
        if len(seen) == len(KEPT_FIELDS):
            break
    bounded._cut("header_size", "mail: a header block over its size limit; its excess fields left out")
    return end


def _add_with_parameter_fields_cut(raw: bytes, start: int, end: int, bounded: BoundedMail) -> None:
    """Adds [start, end) to the pieces, the first Content-Type and Content-Disposition within it cut to
    PARAMETER_FIELD_LIMIT (their continuation lines beyond it left out)."""
    cuts: list[tuple[int, int]] = []
    for field_start in _PARAMETER_FIELDS:
        found = field_start.search(raw, start, end)
        if found is None:
            continue
        field_end = _FIELD_END.search(raw, found.start(), end)
        stop = field_end.start() if field_end else end
        if stop - found.start() > PARAMETER_FIELD_LIMIT:
            cuts.append((found.start() + PARAMETER_FIELD_LIMIT, stop))
    position = start
    for cut_start, cut_end in sorted(cuts):
        bounded.pieces.append((position, cut_start))
        bounded.pieces.append(b"\r")
        position = cut_end
        bounded._cut(
            "parameter_size", f"mail: a Content-Type or Content-Disposition over {PARAMETER_FIELD_LIMIT} bytes; cut"
        )
    bounded.pieces.append((position, end))
