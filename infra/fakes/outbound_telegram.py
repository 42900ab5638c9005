"""The fake Telegram Bot API's send methods, under /telegram (production: https://api.telegram.org).

| request                                                        | answer                                          |
|----------------------------------------------------------------|-------------------------------------------------|
| POST /telegram/bot<token>/sendMessage {"chat_id", "text"}      | {"ok": true, "result": <Message>}               |
| POST /telegram/bot<token>/sendPhoto {"chat_id", "photo": <URL>, "caption"?} (sendDocument, sendVideo, sendAudio alike) | the Message, with the file's object |

As the Bot API does (core.telegram.org/bots/api, "Making requests"): parameters come as JSON or form; every
answer is {"ok": true, "result"} or {"ok": false, "error_code", "description", "parameters"?}.
- A token other than the configured one: 401 "Unauthorized"; a method it does not know: 404 "Not Found".
- No chat_id: 400 "Bad Request: chat_id is empty"; no text: "Bad Request: message text is empty"; over 4,096
  characters: "Bad Request: message is too long"; a caption over 1,024: "Bad Request: message caption is too
  long"; no file: "Bad Request: there is no <photo> in the request".
- Message ids count up per chat, as Telegram's do. Telegram posts no delivery receipts, so neither does this fake.

Test hooks, module state shared by every server in the process:
- `BLOCKED_CHATS`: chat ids (as strings) whose user blocked the bot: 403 "Forbidden: bot was blocked by the
  user". It starts with "403403403", so a local run can try it by writing from that chat id.
- `FLOOD_WAIT`: chat id -> seconds: 429 "Too Many Requests: retry after N" with {"parameters": {"retry_after": N}}.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from typing import Any

from infra.fakes.outbound import FakeAnswer, FakeContext, OutboundCall, Receipt, register

PREFIX = "/telegram/bot"
MAX_TEXT_CHARS = 4096
MAX_CAPTION_CHARS = 1024
# Each send method and the parameter its file goes in (sendMessage carries none).
METHODS: dict[str, str | None] = {
    "sendMessage": None,
    "sendPhoto": "photo",
    "sendDocument": "document",
    "sendVideo": "video",
    "sendAudio": "audio",
}

BLOCKED_CHATS: set[str] = {"403403403"}
FLOOD_WAIT: dict[str, int] = {}
_message_ids: Counter[str] = Counter()
_lock = threading.Lock()


class FakeTelegramBotApi:
    name = "telegram"

    def reset(self) -> None:
        """Back to one blocked chat, no flood waits, and message ids from 1 (FakeProviders.reset)."""
        BLOCKED_CHATS.clear()
        BLOCKED_CHATS.add("403403403")
        FLOOD_WAIT.clear()
        _message_ids.clear()

    def handles(self, path: str) -> bool:
        return path.startswith(PREFIX)

    def answer(self, call: OutboundCall, context: FakeContext) -> tuple[FakeAnswer, list[Receipt]]:
        bot_token = context.credentials.telegram_bot_token
        token, _, method = call.path[len(PREFIX) :].partition("/")
        if token != bot_token:
            return _error(401, "Unauthorized"), []
        if method not in METHODS:
            return _error(404, "Not Found"), []
        parameters = _parameters(call)
        chat_id = parameters.get("chat_id")
        if chat_id is None or chat_id == "":
            return _error(400, "Bad Request: chat_id is empty"), []
        chat = str(chat_id)
        if chat in BLOCKED_CHATS:
            return _error(403, "Forbidden: bot was blocked by the user"), []
        if chat in FLOOD_WAIT:
            seconds = FLOOD_WAIT[chat]
            return _error(429, f"Too Many Requests: retry after {seconds}", {"retry_after": seconds}), []
        content, refusal = _content(METHODS[method], parameters)
        if refusal:
            return _error(400, refusal), []
        with _lock:
            _message_ids[chat] += 1
            message_id = _message_ids[chat]
        bot_id = int(bot_token.split(":", 1)[0]) if bot_token.split(":", 1)[0].isdigit() else 1
        message = {
            "message_id": message_id,
            "from": {"id": bot_id, "is_bot": True, "first_name": "Fake Support", "username": "fake_support_bot"},
            "chat": _chat(chat),
            "date": int(context.now.timestamp()),
            **content,
        }
        return FakeAnswer(200, {"ok": True, "result": message}), []


def _error(code: int, description: str, parameters: dict[str, Any] | None = None) -> FakeAnswer:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return FakeAnswer(code, body)


def _parameters(call: OutboundCall) -> dict[str, Any]:
    if "json" in (call.header("Content-Type") or "").lower():
        document = call.json()
        return document if isinstance(document, dict) else {}
    return dict(call.form_dict())


def _content(file_field: str | None, parameters: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The Message fields a send produces, or the Bot API's 400 description."""
    if file_field is None:
        text = parameters.get("text")
        if not isinstance(text, str) or not text.strip():
            return {}, "Bad Request: message text is empty"
        if len(text) > MAX_TEXT_CHARS:
            return {}, "Bad Request: message is too long"
        return {"text": text}, None
    source = parameters.get(file_field)
    if not isinstance(source, str) or not source:
        return {}, f"Bad Request: there is no {file_field} in the request"
    caption = parameters.get("caption")
    if isinstance(caption, str) and len(caption) > MAX_CAPTION_CHARS:
        return {}, "Bad Request: message caption is too long"
    file_id = f"fake-{file_field}-{hashlib.sha256(source.encode()).hexdigest()[:16]}"
    media: Any = {"file_id": file_id, "file_unique_id": file_id[-12:], "file_size": 1024}
    if file_field == "photo":
        # A photo comes back in several sizes, smallest first.
        media = [
            {**media, "file_id": f"{file_id}-s", "width": 90, "height": 90},
            {**media, "width": 800, "height": 800},
        ]
    content: dict[str, Any] = {file_field: media}
    if isinstance(caption, str) and caption:
        content["caption"] = caption
    return content, None


def _chat(chat: str) -> dict[str, Any]:
    """A private chat's id is the user's (positive); groups are negative, supergroups start with -100."""
    if not chat.lstrip("-").isdigit():
        return {"id": chat, "type": "channel"}
    if not chat.startswith("-"):
        return {"id": int(chat), "type": "private", "first_name": "Customer"}
    return {"id": int(chat), "type": "supergroup" if chat.startswith("-100") else "group", "title": "Support"}


register(FakeTelegramBotApi())
