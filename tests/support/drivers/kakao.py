"""KakaoTalk skill requests as Kakao i Open Builder sends them, and the driver the channel-generic suites use.

Payloads follow Kakao's SkillPayload reference (userRequest.utterance/user/block, bot, action). Kakao
gives messages no id, and a customer-visible id is what the generic suites compare. So the driver
speaks as a block with Kakao's callback option: each request carries the one-time callbackUrl Kakao
issues per request, which the adapter keys the message on. The content-and-window key of ordinary
blocks is covered by tests/unit/test_kakao_skill.py, where the arrival time is given.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from hypothesis import strategies as st

from switchboard.models import Channel, DeliveryStatus
from tests.support import breakage as bad
from tests.support.drivers import SIGNED, ChannelDriver, Customer

SAMPLE_SKILL_TOKEN = "sample-skill-token"
TOKEN_HEADER = "x-switchboard-token"
BOT_ID = "5a548e36aea1a43fa851ecd9"
BLOCK_ID = "5a56ec0008cc1461d75291f6"
SKILL_ID = "5a56ebaa211ee046633e958d"


def bot_user_key(number: int) -> str:
    """A botUserKey shaped like Kakao's: 66 hex digits."""
    return hashlib.sha256(f"bot-user-{number}".encode()).hexdigest() + "28"


def plusfriend_user_key(number: int) -> str:
    return hashlib.sha256(f"plusfriend-{number}".encode()).hexdigest()[:12]


def skill_payload(
    *,
    user_id: str,
    utterance: str,
    plusfriend_key: str | None = None,
    block_id: str = BLOCK_ID,
    bot_id: str = BOT_ID,
    params: Mapping[str, Any] | None = None,
    action_params: Mapping[str, Any] | None = None,
    callback_url: str | None = None,
) -> dict[str, Any]:
    properties = {"botUserKey": user_id, "isFriend": True}
    if plusfriend_key is not None:
        properties["plusfriendUserKey"] = plusfriend_key
    user_request: dict[str, Any] = {
        "timezone": "Asia/Seoul",
        "params": {"surface": "Kakaotalk.plusfriend", **(params or {})},
        "block": {"id": block_id, "name": "상담 접수"},
        "utterance": utterance,
        "lang": "ko",
        "user": {"id": user_id, "type": "botUserKey", "properties": properties},
    }
    if callback_url is not None:
        user_request["callbackUrl"] = callback_url
    return {
        "intent": {"id": block_id, "name": "상담 접수"},
        "userRequest": user_request,
        "contexts": [],
        "bot": {"id": bot_id, "name": "스위치보드 상담"},
        "action": {
            "name": "switchboard",
            "clientExtra": None,
            "params": dict(action_params or {}),
            "id": SKILL_ID,
            "detailParams": {},
        },
    }


def encode(payload: Any) -> bytes:
    # Kakao's skill requests are JSON with Korean as UTF-8; escapes are tested too (ensure_ascii=True).
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def callback_url(label: str) -> str:
    token = hashlib.sha256(f"callback:{label}".encode("utf-8", "surrogatepass")).hexdigest()
    return f"https://bot-api.kakao.com/v1/bots/{BOT_ID}/callback/{token}"


def callback_message_key(url: str) -> str:
    """The adapter's key for a callback request, computed here independently: a hash of the URL."""
    return "kakao-callback:" + hashlib.sha256(url.encode()).hexdigest()[:40]


class KakaoDriver(ChannelDriver):
    channel = Channel.KAKAO
    webhook_path = "/webhooks/kakao"
    secrets = {"skill_token": SAMPLE_SKILL_TOKEN}
    signature_header = TOKEN_HEADER
    supports_receipts = False
    stamps_messages = False

    def __init__(self) -> None:
        self._callback_urls: dict[str, str] = {}

    def customer(self, number: int, display_name: str | None = None) -> Customer:
        # Kakao tells a skill no names: display_name is not sent.
        return Customer(external_id=bot_user_key(number), display_name=display_name)

    def message_id(self, label: str) -> str:
        url = callback_url(label)
        key = callback_message_key(url)
        self._callback_urls[key] = url
        return key

    def text_message(self, customer: Customer, *, message_id: str, text: str, sent_at: datetime) -> bytes:
        number = customer.external_id
        payload = skill_payload(
            user_id=number,
            utterance=text,
            plusfriend_key=hashlib.sha256(number.encode()).hexdigest()[:12],
            callback_url=self._callback_urls[message_id],
        )
        return json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode()

    def receipt(self, recipient: Customer, *, message_id: str, status: DeliveryStatus, at: datetime) -> bytes:
        raise NotImplementedError("Kakao reports no delivery status to a skill server")

    def headers(self, body: bytes, signature: object = SIGNED) -> dict[str, str]:
        headers = {
            "content-type": "application/json;charset=UTF-8",
            "accept": "application/json",
            "user-agent": "AHC/2.1",
        }
        if signature is SIGNED:
            headers[TOKEN_HEADER] = SAMPLE_SKILL_TOKEN
        elif signature is not None:
            headers[TOKEN_HEADER] = str(signature)
        return headers

    def forged_signatures(self) -> st.SearchStrategy[str | None]:
        return st.one_of(
            st.none(),
            st.just(""),
            st.text(max_size=80),
            st.just(SAMPLE_SKILL_TOKEN.upper()),
            st.just(SAMPLE_SKILL_TOKEN + " "),
            st.text(min_size=1, max_size=3).map(lambda extra: SAMPLE_SKILL_TOKEN + extra),
            st.integers(1, len(SAMPLE_SKILL_TOKEN)).map(lambda cut: SAMPLE_SKILL_TOKEN[:-cut]),
        )

    def malformed_bodies(self) -> st.SearchStrategy[bytes]:
        return st.sampled_from(_BREAKAGES).flatmap(_broken).map(encode)


_NOT_STR = st.one_of(
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
_NOT_DICT = st.one_of(st.integers(), st.booleans(), st.text(max_size=10), st.lists(st.integers(), max_size=2))
_EMPTY_OR_NOT_STR = st.one_of(st.just(""), _NOT_STR)

# (path, what to put there): fields the adapter relies on, each broken in turn.
_BREAKAGES: list[tuple[tuple, Any]] = [
    (("userRequest",), st.one_of(_NOT_DICT, st.none())),
    (("userRequest",), bad.DELETE),
    (("userRequest", "utterance"), _NOT_STR),
    (("userRequest", "utterance"), bad.DELETE),
    (("userRequest", "user"), st.one_of(_NOT_DICT, st.none())),
    (("userRequest", "user"), bad.DELETE),
    (("userRequest", "user", "id"), _EMPTY_OR_NOT_STR),
    (("userRequest", "user", "id"), st.text(min_size=257, max_size=300)),
    (("userRequest", "user", "id"), bad.DELETE),
    (("userRequest", "user", "properties"), _NOT_DICT),
    (("userRequest", "block"), st.one_of(_NOT_DICT, st.none())),
    (("userRequest", "block"), bad.DELETE),
    (("userRequest", "block", "id"), _EMPTY_OR_NOT_STR),
    (("userRequest", "params"), _NOT_DICT),
    (("userRequest", "callbackUrl"), st.one_of(st.integers(), st.booleans(), st.lists(st.integers(), max_size=2))),
    (("bot",), st.one_of(_NOT_DICT, st.none())),
    (("bot",), bad.DELETE),
    (("bot", "id"), _EMPTY_OR_NOT_STR),
    (("bot", "id"), bad.DELETE),
    (("action",), _NOT_DICT),
    (("action", "params"), _NOT_DICT),
]


def _broken(breakage: tuple[tuple, Any]) -> st.SearchStrategy[Any]:
    path, replacement = breakage
    if replacement is bad.DELETE:
        return st.just(bad.replaced(_delivery(), path, bad.DELETE))
    return replacement.map(lambda value: bad.replaced(_delivery(), path, value))


def _delivery() -> dict[str, Any]:
    return skill_payload(user_id=bot_user_key(9), utterance="환불 가능할까요?", plusfriend_key=plusfriend_user_key(9))
