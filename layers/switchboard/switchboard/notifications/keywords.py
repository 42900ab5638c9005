"""Opt-out and opt-in keywords, and the one confirmation each gets: what the ticket writer checks on every inbound
message and a Kakao chatbot's answer shows, so it imports nothing beyond the standard library (a Lambda cold start
pays for every import; consent.py, with the rules' models, is for deciding sends)."""

from __future__ import annotations

import unicodedata
from typing import Literal

KeywordAction = Literal["opt_out", "opt_in"]

MAX_KEYWORD_MESSAGE_CHARS = 64  # a longer message is a sentence, never a keyword (and costs nothing to refuse)

# Twilio handles STOP, UNSUBSCRIBE, END, QUIT, STOPALL, REVOKE, OPTOUT and CANCEL on long codes by default, and
# START/UNSTOP opt back in (Twilio, "Customize users' opt-in and opt-out experience with Advanced Opt-Out"); the
# issue adds 수신거부 and 配信停止, and 재수신 and 수신동의. Twilio's YES also opts in there, but in a support
# conversation "yes" answers an agent: it is no keyword here.
_OPT_OUT = ("STOP", "UNSUBSCRIBE", "END", "QUIT", "STOPALL", "REVOKE", "OPTOUT", "CANCEL", "수신거부", "配信停止")
_OPT_IN = ("START", "UNSTOP", "재수신", "수신동의", "配信再開")
_KEYWORDS: dict[str, tuple[KeywordAction, str]] = {
    **{word.casefold(): ("opt_out", word) for word in _OPT_OUT},
    **{word.casefold(): ("opt_in", word) for word in _OPT_IN},
}


def keyword_in(text: str | None) -> tuple[KeywordAction, str] | None:
    """The opt-out or opt-in keyword a whole inbound message is, with the keyword as listed (e.g. "STOP"), or None.

    The whole message must be the keyword: surrounding spaces, spaces inside it ("수신 거부", "STOP ALL") and
    trailing punctuation ("Stop!", "配信停止。") are ignored, case and width too ("ｓｔｏｐ"); "stop sending me
    ads" is a sentence for an agent, not a keyword. Texts over MAX_KEYWORD_MESSAGE_CHARS are never a keyword."""
    if text is None or len(text) > MAX_KEYWORD_MESSAGE_CHARS:
        return None
    word = unicodedata.normalize("NFKC", text)
    word = "".join(character for character in word if not character.isspace())
    end = len(word)
    while end > 0 and unicodedata.category(word[end - 1]).startswith("P"):
        end -= 1
    return _KEYWORDS.get(word[:end].casefold())


Language = Literal["ko", "en", "ja"]

_CONFIRMATIONS: dict[tuple[Language, bool], str] = {
    ("ko", True): "수신거부가 처리되었습니다. 다시 받으시려면 '재수신'을 보내 주세요.",
    ("ko", False): "알림 수신이 다시 시작되었습니다. 받지 않으시려면 '수신거부'를 보내 주세요.",
    ("en", True): "You have been unsubscribed from notifications. Reply START to subscribe again.",
    ("en", False): "You are subscribed to notifications again. Reply STOP to unsubscribe.",
    ("ja", True): "配信を停止しました。再開するには「START」と送信してください。",
    ("ja", False): "配信を再開しました。停止するには「配信停止」と送信してください。",
}


def language_of(word: str) -> Language:
    """The language a keyword is in: Hangul is Korean, kana or kanji Japanese, anything else English."""
    if any("\uac00" <= character <= "\ud7a3" or "\u3131" <= character <= "\u318e" for character in word):
        return "ko"
    if any("\u3040" <= character <= "\u30ff" or "\u4e00" <= character <= "\u9fff" for character in word):
        return "ja"
    return "en"


def confirmation_for(word: str, opted_out: bool) -> str:
    """What the customer is told after their keyword, in the keyword's language."""
    return _CONFIRMATIONS[(language_of(word), opted_out)]
