"""Telegram Bot API updates as Telegram posts them to a webhook, and the driver the channel-generic suites use.

Payload builders follow the Bot API reference: one Update per POST, {"update_id": n, "message": {...}}
or another single kind. Telegram proves itself with the `secret_token` given to setWebhook, sent back
in X-Telegram-Bot-Api-Secret-Token; nothing signs the body.
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

BOT_ID = "7012345678"
SAMPLE_BOT_TOKEN = f"{BOT_ID}:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
SAMPLE_SECRET_TOKEN = "sample-telegram-secret-token"
SECRET_TOKEN_HEADER = "x-telegram-bot-api-secret-token"
LAST_TIMESTAMP = 253402300799


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _number(label: str, modulus: int) -> int:
    return int.from_bytes(hashlib.sha256(label.encode("utf-8", "surrogatepass")).digest()[:8]) % modulus


def telegram_message_id(label: str) -> str:
    """A message_id as Telegram numbers them inside a chat (a positive integer), as text."""
    return str(1 + _number("message:" + label, 2**31 - 1))


def update_id_of(*parts: object) -> int:
    """Update ids are the bot's own sequence; a redelivered update keeps its id, so it is derived, not counted."""
    return _number("update:" + ":".join(map(str, parts)), 2**31 - 1)


def person(
    user_id: int, first_name: str | None, last_name: str | None = None, username: str | None = None
) -> dict[str, Any]:
    found: dict[str, Any] = {"id": user_id, "is_bot": False, "language_code": "ko"}
    if first_name is not None:
        found["first_name"] = first_name
    if last_name is not None:
        found["last_name"] = last_name
    if username is not None:
        found["username"] = username
    return found


def private_chat(user: Mapping[str, Any]) -> dict[str, Any]:
    """A 1:1 chat with the bot: its id is the user's id."""
    return {
        "id": user["id"],
        "type": "private",
        **{k: user[k] for k in ("first_name", "last_name", "username") if k in user},
    }


def group_chat(chat_id: int, title: str, kind: str = "supergroup") -> dict[str, Any]:
    return {"id": chat_id, "title": title, "type": kind}


def message(
    *, message_id: int, sender: Mapping[str, Any], chat: Mapping[str, Any], date: int, **content: Any
) -> dict[str, Any]:
    return {"message_id": message_id, "from": dict(sender), "chat": dict(chat), "date": date, **content}


def update(kind: str, payload: Mapping[str, Any], update_id: int | None = None) -> dict[str, Any]:
    identity = (
        update_id
        if update_id is not None
        else update_id_of(kind, payload["chat"]["id"], payload["message_id"], payload.get("edit_date"))
    )
    return {"update_id": identity, kind: dict(payload)}


def encode(payload: Any) -> bytes:
    """Telegram's serialization: compact UTF-8 (non-ASCII sent as is)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8", errors="surrogatepass")


class TelegramDriver(ChannelDriver):
    channel = Channel.TELEGRAM
    webhook_path = "/webhooks/telegram"
    secrets = {"secret_token": SAMPLE_SECRET_TOKEN, "bot_token": SAMPLE_BOT_TOKEN}
    signature_header = SECRET_TOKEN_HEADER
    # The Bot API reports nothing about the delivery or reading of messages a bot sends.
    supports_receipts = False

    def customer(self, number: int, display_name: str | None = None) -> Customer:
        return Customer(external_id=str(5_000_000_000 + number), display_name=display_name)

    def message_id(self, label: str) -> str:
        return telegram_message_id(label)

    def external_id(self, customer: Customer, message_id: str) -> str:
        # Telegram numbers messages per chat; Switchboard files them as <bot>:<chat>:<message_id>, and a
        # private chat's id is the customer's id.
        return f"{BOT_ID}:{customer.external_id}:{message_id}"

    def text_message(self, customer: Customer, *, message_id: str, text: str, sent_at: datetime) -> bytes:
        sender = person(int(customer.external_id), customer.display_name)
        item = message(
            message_id=int(message_id), sender=sender, chat=private_chat(sender), date=epoch(sent_at), text=text
        )
        return encode(update("message", item))

    def receipt(self, recipient: Customer, *, message_id: str, status: DeliveryStatus, at: datetime) -> bytes:
        raise NotImplementedError("Telegram sends no delivery receipts (supports_receipts is False)")

    def headers(self, body: bytes, signature: object = SIGNED) -> dict[str, str]:
        headers = {"content-type": "application/json"}
        if signature is SIGNED:
            headers[SECRET_TOKEN_HEADER] = SAMPLE_SECRET_TOKEN
        elif signature is not None:
            headers[SECRET_TOKEN_HEADER] = str(signature)
        return headers

    def forged_signatures(self) -> st.SearchStrategy[str | None]:
        token = st.from_regex(r"\A[A-Za-z0-9_-]{1,256}\Z")
        return st.one_of(
            st.none(),
            st.text(max_size=80),
            token,
            st.just(SAMPLE_SECRET_TOKEN.upper()),
            st.just(SAMPLE_SECRET_TOKEN[:-1]),
            st.just(SAMPLE_SECRET_TOKEN + "x"),
            st.just(SAMPLE_BOT_TOKEN),
        ).filter(lambda value: value != SAMPLE_SECRET_TOKEN)

    def malformed_bodies(self) -> st.SearchStrategy[bytes]:
        return st.sampled_from(_BREAKAGES).flatmap(bad.broken_payload).map(encode)


# -- malformed payloads: a valid update with one field the adapter relies on broken ---------------------

_NOT_INT = st.one_of(
    st.floats(),
    st.booleans(),
    st.none(),
    st.text(max_size=10),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)
_NOT_STR = st.one_of(st.integers(), st.floats(), st.booleans(), st.none(), st.lists(st.integers(), max_size=3))
_NOT_DICT = st.one_of(
    st.integers(), st.floats(), st.booleans(), st.none(), st.text(max_size=10), st.lists(st.integers(), max_size=3)
)
_NOT_DICT_NOR_NULL = st.one_of(
    st.integers(), st.floats(), st.booleans(), st.text(max_size=10), st.lists(st.integers(), max_size=3)
)
_BAD_DATE = st.one_of(st.integers(max_value=-1), st.integers(min_value=LAST_TIMESTAMP + 1), _NOT_INT)
_BAD_COORDINATE = bad.bad_latitudes()
_MINJUN = person(5_000_000_001, "민준", "김", "minjun_kim")


def _text_update() -> dict[str, Any]:
    return update(
        "message",
        message(message_id=41, sender=_MINJUN, chat=private_chat(_MINJUN), date=1749416383, text="환불 가능할까요?"),
    )


def _photo_update() -> dict[str, Any]:
    sizes = [
        {"file_id": "AgACAgUAAxkBAAM-small", "file_unique_id": "AQADs", "width": 90, "height": 67, "file_size": 1201}
    ]
    return update(
        "message", message(message_id=42, sender=_MINJUN, chat=private_chat(_MINJUN), date=1749416383, photo=sizes)
    )


def _document_update() -> dict[str, Any]:
    document = {
        "file_id": "BQACAgUAAxkBAAM-doc",
        "file_unique_id": "AgADd",
        "file_name": "영수증.pdf",
        "mime_type": "application/pdf",
        "file_size": 536392,
    }
    return update(
        "message",
        message(message_id=43, sender=_MINJUN, chat=private_chat(_MINJUN), date=1749416383, document=document),
    )


def _location_update() -> dict[str, Any]:
    return update(
        "message",
        message(
            message_id=44,
            sender=_MINJUN,
            chat=private_chat(_MINJUN),
            date=1749416383,
            location={"latitude": 37.5665, "longitude": 126.978},
        ),
    )


def _edit_update() -> dict[str, Any]:
    return update(
        "edited_message",
        message(
            message_id=41,
            sender=_MINJUN,
            chat=private_chat(_MINJUN),
            date=1749416383,
            edit_date=1749416400,
            text="환불 되나요?",
        ),
    )


_MESSAGE = ("message",)
_EDITED = ("edited_message",)

_BREAKAGES: list[tuple[Any, tuple, Any]] = [
    (_text_update, ("update_id",), _NOT_INT),
    (_text_update, ("update_id",), st.integers(max_value=-1)),
    (_text_update, ("update_id",), bad.DELETE),
    (_text_update, _MESSAGE, _NOT_DICT_NOR_NULL),
    (_text_update, (*_MESSAGE, "message_id"), _NOT_INT),
    (_text_update, (*_MESSAGE, "message_id"), bad.DELETE),
    (_text_update, (*_MESSAGE, "date"), _BAD_DATE),
    (_text_update, (*_MESSAGE, "date"), bad.DELETE),
    (_text_update, (*_MESSAGE, "chat"), _NOT_DICT),
    (_text_update, (*_MESSAGE, "chat"), bad.DELETE),
    (_text_update, (*_MESSAGE, "chat", "id"), _NOT_INT),
    (_text_update, (*_MESSAGE, "chat", "id"), bad.DELETE),
    (_text_update, (*_MESSAGE, "chat", "type"), _NOT_STR),
    (_text_update, (*_MESSAGE, "chat", "type"), bad.DELETE),
    (_text_update, (*_MESSAGE, "from"), _NOT_DICT_NOR_NULL),
    (_text_update, (*_MESSAGE, "from", "id"), _NOT_INT),
    (_text_update, (*_MESSAGE, "from", "id"), bad.DELETE),
    (
        _photo_update,
        (*_MESSAGE, "photo"),
        st.one_of(st.just([]), _NOT_DICT_NOR_NULL.filter(lambda v: not isinstance(v, list))),
    ),
    (_photo_update, (*_MESSAGE, "photo", 0, "file_id"), st.one_of(st.just(""), _NOT_STR)),
    (_document_update, (*_MESSAGE, "document"), _NOT_DICT),
    (_document_update, (*_MESSAGE, "document", "file_id"), st.one_of(st.just(""), _NOT_STR)),
    (_location_update, (*_MESSAGE, "location", "latitude"), _BAD_COORDINATE),
    (_location_update, (*_MESSAGE, "location", "longitude"), bad.DELETE),
    (_edit_update, _EDITED, _NOT_DICT_NOR_NULL),
    (_edit_update, (*_EDITED, "message_id"), _NOT_INT),
    (_edit_update, (*_EDITED, "chat", "id"), bad.DELETE),
    (_edit_update, (*_EDITED, "edit_date"), _BAD_DATE.filter(lambda value: value is not None)),
]
