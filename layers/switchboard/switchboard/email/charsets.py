"""Text from mail bytes the way real mail needs it, not the way the RFCs hope it arrives.

Korean, Japanese and Chinese mail routinely declares a charset narrower than the bytes it carries (EUC-KR
for text written in CP949, GB2312 for GBK, Shift_JIS for CP932), declares UTF-8 over EUC-KR bytes, or
sends 8-bit EUC-KR straight in headers. Decoding therefore reads every declared charset as its widest
superset, and when the declaration is plainly wrong tries what such mail turns out to be: UTF-8, then CP949.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re

# Declared name (lower case) -> codecs to try in order. Supersets first: the narrow codec never decodes
# more, and mail labelled with the narrow name is in practice written with the wide one.
_ALIASES: dict[str, tuple[str, ...]] = {
    "x-windows-949": ("cp949",),
    "windows-949": ("cp949",),
    "x-euc-kr": ("cp949",),
    "x-gbk": ("gb18030",),
    "x-sjis": ("cp932",),
    "x-mac-korean": ("cp949",),
}
# Python's canonical codec name -> what to decode with instead.
_SUPERSETS: dict[str, tuple[str, ...]] = {
    "euc_kr": ("cp949",),
    "gb2312": ("gb18030",),
    "gbk": ("gb18030",),
    "shift_jis": ("cp932",),
    "euc_jp": ("euc_jis_2004", "euc_jp"),
    # iso2022_jp_2 adds JIS X 0212 and Latin/Greek; iso2022_jp_ext adds half-width katakana (ESC ( I).
    "iso2022_jp": ("iso2022_jp_2", "iso2022_jp_ext"),
    "big5": ("big5hkscs",),
    # The WHATWG rule browsers follow: a Latin-1 or ASCII label means windows-1252.
    "iso8859-1": ("cp1252",),
    "ascii": ("cp1252",),
}
# Text codecs that are not charsets: a sender must not get to run Python's escape decoders on our text.
_NOT_CHARSETS = frozenset({"unicode-escape", "raw-unicode-escape", "punycode", "idna", "undefined", "mbcs", "oem"})
_LATIN = frozenset({"cp1252"})
_GUESSES = ("utf-8", "cp949")
_CHARSET_NAME = re.compile(r"[A-Za-z0-9._:+-]{1,40}")
_HANGUL_SYLLABLE = re.compile(r"[\uac00-\ud7a3]")


def decoders_for(declared: str | None) -> tuple[str, ...] | None:
    """The codecs to read text declared in `declared` with, widest first; None when the name is unknown."""
    if not declared:
        return None
    name = declared.strip().strip("\"'").strip().lower()
    name = name.split("*", 1)[0]  # RFC 2231 allows a language suffix: utf-8*ko
    if not _CHARSET_NAME.fullmatch(name):
        return None
    if name in _ALIASES:
        return _ALIASES[name]
    try:
        info = codecs.lookup(name)
    except LookupError:
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_CHARSETS:
        return None
    return _SUPERSETS.get(info.name, (info.name,))


def decode_bytes(data: bytes, declared: str | None) -> tuple[str, str | None]:
    """`data` as text, and what went wrong when the declared charset was unknown or did not fit the bytes.

    The problem says which charset was declared and what was used; it never quotes the text. Never raises.
    """
    if not data:
        return "", None
    label = _printable(declared)
    candidates = decoders_for(declared)
    if declared and candidates is None:
        text, used = _guess(data)
        return text, f"declared unknown charset {label}; decoded as {used}"
    if candidates is None:
        if data.isascii():
            return data.decode("ascii"), None
        text, used = _guess(data)
        return text, f"no charset declared for 8-bit text; decoded as {used}"
    for codec in candidates:
        strict = _strict(data, codec)
        if strict is None:
            continue
        if codec in _LATIN and not data.isascii():
            guessed = _misdeclared_latin(data)
            if guessed is not None:
                return guessed[0], f"declared {label}, but the text is {guessed[1]}; decoded as {guessed[1]}"
        return _without_lone_surrogates(strict), None
    for codec in _GUESSES:
        if codec in candidates:
            continue
        guess = _strict(data, codec)
        if guess is not None:
            return guess, f"declared {label}, not valid in it; decoded as {codec}"
    replaced = data.decode(candidates[0], errors="replace")
    return _without_lone_surrogates(replaced), f"declared {label}, not valid in it; decoded with replacement"


def decode_unlabelled(data: bytes) -> str:
    """8-bit text that came with no charset at all (raw header bytes, bare file names): UTF-8, CP949, windows-1252."""
    if data.isascii():
        return data.decode("ascii")
    return _guess(data)[0]


def decode_header_value(raw: str | bytes) -> str:
    """A header value as the sender meant it: RFC 2047 encoded-words and raw 8-bit bytes decoded, unfolded.

    Tolerates what real clients send: encoded-words split in the middle of a character (their bytes are
    joined before decoding), words without the whitespace between them, a lower-case 'b'/'q', unknown or
    wrong charsets, and EUC-KR or UTF-8 bytes with no encoding at all. `raw` is bytes, or the str the
    stdlib parser keeps (8-bit bytes as surrogate escapes). Never raises.
    """
    data = _as_bytes(raw)
    data = re.sub(rb"\r?\n(?=[ \t])", b"", data).replace(b"\r", b"").replace(b"\n", b"")
    pieces: list[str] = []
    pending: list[bytes] = []
    pending_charset: str | None = None
    position = 0
    for word in _ENCODED_WORD.finditer(data):
        between = data[position : word.start()]
        position = word.end()
        # RFC 2047 6.2: whitespace between two adjacent encoded-words is not part of the text.
        if between.strip(b" \t") or not pending:
            if pending:
                pieces.append(_decode_charset_run(b"".join(pending), pending_charset))
                pending = []
            pieces.append(decode_unlabelled(between))
        charset = word.group(1).decode("ascii", "replace").split("*", 1)[0].lower()
        chunk = _decode_word_text(word.group(2), word.group(3))
        if pending and charset != pending_charset:
            pieces.append(_decode_charset_run(b"".join(pending), pending_charset))
            pending = []
        pending.append(chunk)
        pending_charset = charset
    if pending:
        pieces.append(_decode_charset_run(b"".join(pending), pending_charset))
    pieces.append(decode_unlabelled(data[position:]))
    # An encoded-word may carry CR/LF (=0D=0A); a decoded header value is one line wherever it goes next.
    return _LINE_BREAKS.sub(" ", "".join(pieces)).strip()


_LINE_BREAKS = re.compile(r"[\r\n]+")
_ENCODED_WORD = re.compile(rb"=\?([^?\s]{1,75})\?([bBqQ])\?([^?]*?)\?=")


def _decode_charset_run(data: bytes, charset: str | None) -> str:
    return decode_bytes(data, charset)[0]


def _decode_word_text(encoding: bytes, text: bytes) -> bytes:
    if encoding in b"qQ":
        return binascii.a2b_qp(text, header=True)
    return _lenient_b64(text)


def _lenient_b64(text: bytes) -> bytes:
    letters = re.sub(rb"[^A-Za-z0-9+/]", b"", text)
    if len(letters) % 4 == 1:  # one stray letter cannot carry a byte
        letters = letters[:-1]
    return base64.b64decode(letters + b"=" * (-len(letters) % 4))


def _as_bytes(raw: str | bytes) -> bytes:
    if isinstance(raw, bytes):
        return raw
    try:
        return raw.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return raw.encode("utf-8", "replace")


def _strict(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError, ValueError):
        return None


def _guess(data: bytes) -> tuple[str, str]:
    for codec in _GUESSES:
        text = _strict(data, codec)
        if text is not None:
            return text, codec
    return data.decode("cp1252", errors="replace"), "cp1252 with replacement"


def _misdeclared_latin(data: bytes) -> tuple[str, str] | None:
    """Text labelled Latin-1/ASCII that is really UTF-8 or EUC-KR (old Korean clients label everything Latin-1).

    Multi-byte UTF-8 sequences practically never occur in real Latin-1 text. EUC-KR is accepted only when
    its decoding is mostly Hangul syllables, so accented Latin text that happens to pair up stays Latin.
    """
    text = _strict(data, "utf-8")
    if text is not None:
        return text, "utf-8"
    text = _strict(data, "euc_kr")
    if text is None:
        return None
    wide = sum(1 for c in text if not c.isascii())
    hangul = len(_HANGUL_SYLLABLE.findall(text))
    if hangul >= 2 and hangul * 2 >= wide:
        return data.decode("cp949", errors="replace"), "cp949"
    return None


def _without_lone_surrogates(text: str) -> str:
    # utf-7 and utf-16 will decode a lone surrogate, which no JSON encoder or store accepts later.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def _printable(declared: str | None) -> str:
    if declared is None:
        return "no charset"
    shown = "".join(c if c.isascii() and c.isprintable() else "?" for c in declared.strip()[:40])
    return f"'{shown}'"
