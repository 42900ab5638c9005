"""Where a customer's reply ends: the newly written text, apart from the quoted mail and the signature below it.

Mail clients mark the quoted part in their own ways, in the sender's language: an attribution line ("On …
wrote:"), a separator ("-----Original Message-----"), a block of the quoted mail's headers (Outlook's
"From: … Sent: … To: … Subject:"), `>`-prefixed lines, or a signature ("-- ", "Sent from my iPhone").
`split_reply` cuts at the first such mark that is really followed by quoted or signature matter, so a reply
written between quoted lines stays whole.
"""

from __future__ import annotations

import re

# Work on any text stays linear: marks are looked for in the first SCAN_LIMIT characters only (a message
# keeps far less of the reply), and a line longer than LINE_LIMIT is never a mark (attributions, separators
# and signatures are short), so no pattern runs over more than a few lines' worth of text. No pattern below
# has two unbounded quantifiers that can match the same characters.
SCAN_LIMIT = 100_000
LINE_LIMIT = 1_000

# An attribution names when the quoted mail was sent; a customer's own line ending in "작성:" does not.
_DATE_HINT = re.compile(r"\d{4}|\d{1,2}:\d{2}")

# Attribution lines: what the quoting client writes above the quote, in the user's language.
_ATTRIBUTION = re.compile(
    r"""^(?:
        On\s.+\swrote\s?:                                # Gmail, Apple Mail, Thunderbird (English)
      | Am\s(?>.+?\sschrieb\s).+:                       # German (atomic: one "schrieb" is tried, not each)
      | Le\s.+\sa\s[ée]crit\s?:                          # French (with the French space before the colon)
      | El\s.+\sescribi[óo]\s?:                          # Spanish
      | .+님이\s?작성(?:함)?\s?:                          # Korean Gmail: "…, 김민준 <a@b.com>님이 작성:"
      | .+\s작성\s?:                                      # Korean Apple Mail: "2025. 6. 8. 오후 9:00, 김민준 <a@b.com> 작성:"
      | .+の(?:メッセージ|メール)\s?[:：]                  # Japanese
      | .+[写寫]道\s?[:：]                                 # Chinese (simplified, traditional)
    )$""",
    re.VERBOSE | re.IGNORECASE,
)

# Clients wrap a long attribution before the address or before "wrote:"; the first half starts like this.
_ATTRIBUTION_START = re.compile(r"^(?:On|Am|Le|El)\s|^\d{4}[년年./-]", re.IGNORECASE)

_SEPARATOR = re.compile(
    r"""^[-=]{2,}\s*(?:
        Original\sMessage | 원본\s?메시지 | 원본\s?메일 | Message\sd['’]origine | Ursprüngliche\sNachricht
      | Mensaje\soriginal | Forwarded\smessage | 전달된\s?메시지 | 전달\s?메일 | 原始邮件 | 元のメッセージ
    )\s*[-=]{2,}$""",
    re.VERBOSE | re.IGNORECASE,
)

# Outlook draws this line above the quoted header block, in plain text and in its HTML.
_UNDERSCORES = re.compile(r"^_{10,}$")

_HEADER_LABEL = re.compile(r"^\*?\s{0,3}([^:：*]{1,20}?)\s{0,3}\*?\s{0,3}[:：]")
_FROM_LABELS = frozenset({"from", "보낸 사람", "보낸사람", "발신", "de", "von", "差出人", "发件人", "寄件者"})
_OTHER_LABELS = frozenset(
    {
        "sent", "date", "to", "cc", "subject",
        "보낸 날짜", "날짜", "받는 사람", "받는사람", "참조", "제목", "수신", "발신 날짜",
        "envoyé", "date d'envoi", "à", "objet",
        "gesendet", "an", "betreff",
        "送信日時", "宛先", "件名",
        "发送时间", "收件人", "主题", "日期",
    }
)  # fmt: skip
# A quoted header block shows From plus at least two of these within a few lines; a sentence starting
# "From:" in the customer's own text does not.
_HEADER_BLOCK_REACH = 6
_HEADER_BLOCK_MIN_OTHERS = 2

_SIGNATURE = re.compile(
    r"""^(?:
        --\s?                                              # RFC 3676 delimiter ("-- "; some clients drop the space)
      | Sent\sfrom\smy\s.{1,60}
      | Sent\sfrom\s(?:Mail|Outlook|Yahoo\sMail).{0,60}
      | Get\sOutlook\sfor\s(?:iOS|Android).{0,20}
      | (?:Galaxy|iPhone|iPad|Android)에서\s보냄
      | Samsung\sGalaxy\s스마트폰에서\s보냈습니다\.?
      | 삼성\s갤럭시.{0,20}에서\s보냄
      | iPhoneから送信 | 从我的\s?iPhone\s?发送 | Von\smeinem\siPhone\sgesendet | Envoyé\sde\smon\siPhone
    )$""",
    re.VERBOSE | re.IGNORECASE,
)


def split_reply(text: str) -> tuple[str, str]:
    """(what the sender newly wrote, the quoted reply and signature after it); `new + rest == text`.

    The new part never comes back empty when the text has content: a mail that is only a forward or that
    starts with the quote keeps all of it as new. Trailing blank lines of the new part go to the rest.
    """
    scanned = text if len(text) <= SCAN_LIMIT else text[: text.rfind("\n", 0, SCAN_LIMIT) + 1]
    lines = [_bounded_line(line.rstrip("\r")) for line in scanned.split("\n")]
    starts = _line_starts(scanned)
    cut = _first_cut(lines)
    new = text if cut is None else text[: starts[cut]]
    if not new.strip():
        new = text
    new = new.rstrip()
    return new, text[len(new) :]


def _bounded_line(line: str) -> str:
    """A line too long to be a mark stands for a quoted or an ordinary line of text, as it was."""
    if len(line) <= LINE_LIMIT:
        return line
    return "> …" if _is_quoted(line) else "…"


def _line_starts(text: str) -> list[int]:
    starts = [0]
    for index, char in enumerate(text):
        if char == "\n":
            starts.append(index + 1)
    return starts


def _first_cut(lines: list[str]) -> int | None:
    trailing_quote = _trailing_quote_start(lines)
    for index, line in enumerate(lines):
        if _is_quoted(line):
            if index == trailing_quote:
                return index
            continue
        stripped = line.strip()
        if not stripped:
            continue
        if _SIGNATURE.match(stripped):
            return index
        if _SEPARATOR.match(stripped) or _starts_header_block(lines, index) or _underscores_over_header(lines, index):
            return index
        if _attribution_at(lines, index) and not _interleaved_after(lines, index):
            return index
    return None


def _is_quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


def _trailing_quote_start(lines: list[str]) -> int | None:
    """The first line of the `>` block that runs to the end of the text (blank lines allowed), if any."""
    start = None
    for index in range(len(lines) - 1, -1, -1):
        if _is_quoted(lines[index]):
            start = index
        elif lines[index].strip():
            break
    return start


def _attribution_at(lines: list[str], index: int) -> bool:
    line = lines[index].strip()
    if _ATTRIBUTION.match(line) and _DATE_HINT.search(line):
        return True
    if index + 1 < len(lines) and _ATTRIBUTION_START.match(line):
        joined = f"{line} {lines[index + 1].strip()}"
        return bool(_ATTRIBUTION.match(joined) and _DATE_HINT.search(joined))
    return False


def _interleaved_after(lines: list[str], index: int) -> bool:
    """True when the `>` quote under an attribution is followed by the sender's own lines (a reply written
    between the quoted ones): cutting there would throw the answers away."""
    following = index + 1
    if following < len(lines) and not _is_quoted(lines[following]) and not _ATTRIBUTION.match(lines[index].strip()):
        following += 1  # the second half of a wrapped attribution
    seen_quote = False
    for line in lines[following:]:
        if _is_quoted(line):
            seen_quote = True
            continue
        stripped = line.strip()
        if not stripped:
            continue
        if not seen_quote:
            # The quote is pasted without `>` (HTML rendered to text, some mobile clients): all of it is quote.
            return False
        return not (_SIGNATURE.match(stripped) or _SEPARATOR.match(stripped))
    return False


def _label(line: str) -> str | None:
    found = _HEADER_LABEL.match(line.strip())
    return found.group(1).strip().lower() if found else None


def _starts_header_block(lines: list[str], index: int) -> bool:
    if _label(lines[index]) not in _FROM_LABELS:
        return False
    others = {
        label for line in lines[index + 1 : index + 1 + _HEADER_BLOCK_REACH] if (label := _label(line)) in _OTHER_LABELS
    }
    return len(others) >= _HEADER_BLOCK_MIN_OTHERS


def _underscores_over_header(lines: list[str], index: int) -> bool:
    if not _UNDERSCORES.match(lines[index].strip()):
        return False
    for following in range(index + 1, min(len(lines), index + 4)):
        if lines[following].strip():
            return _starts_header_block(lines, following)
    return False
