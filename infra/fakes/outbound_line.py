"""The fake LINE Messaging API's send endpoints, under /line-api (production: https://api.line.me).

| request                                   | answer                                                           |
|-------------------------------------------|------------------------------------------------------------------|
| POST /line-api/v2/bot/message/reply {"replyToken", "messages"} | 200 {"sentMessages": [{"id", "quoteToken"}]}; a token seen before: 400 {"message": "Invalid reply token"} |
| POST /line-api/v2/bot/message/push {"to", "messages"}, X-Line-Retry-Key | 200 {"sentMessages": [...]}; a key accepted before: 409 {"message": "The retry key is already accepted", "sentMessages": <the first answer's>} with x-line-accepted-request-id |

As LINE does (Messaging API reference; "Retrying an API request"):
- `Authorization: Bearer <channel access token>` must be the configured token, else 401.
- A body that is not a valid request is 400 {"message": "The request body has N error(s)", "details":
  [{"message", "property"}]}: 1 to 5 messages, text 1 to 5,000 characters, image URLs at most 2,000 characters.
  LINE requires HTTPS image URLs; this fake also takes http (local presigned URLs).
- X-Line-Retry-Key must be a UUID, and only push takes it: on reply it is 400.
- Every answer carries x-line-request-id. LINE posts no delivery receipts, so neither does this fake.

Test hooks, module state shared by every server in the process: `STATE.monthly_limit_reached = True` makes
pushes answer LINE's 429 {"message": "You have reached your monthly limit."} (replies are free and still go);
reply tokens and retry keys are remembered for the life of the process, so tests use fresh ones.
"""

from __future__ import annotations

import itertools
import secrets
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from infra.fakes.outbound import FakeAnswer, FakeContext, OutboundCall, Receipt, register

PREFIX = "/line-api"
REPLY = f"{PREFIX}/v2/bot/message/reply"
PUSH = f"{PREFIX}/v2/bot/message/push"
MAX_MESSAGES = 5
MAX_TEXT_CHARS = 5000
MAX_URL_CHARS = 2000
MESSAGE_TYPES = ("text", "image", "video", "audio", "location", "sticker", "imagemap", "template", "flex")


@dataclass
class LineFakeState:
    monthly_limit_reached: bool = False
    # retry key -> (x-line-request-id of the accepted request, its sentMessages)
    accepted: dict[str, tuple[str, list[dict[str, str]]]] = field(default_factory=dict)
    used_reply_tokens: set[str] = field(default_factory=set)
    # LINE message ids are decimal strings of about 18 digits.
    message_ids: Iterator[int] = field(default_factory=lambda: itertools.count(461230966842064897))
    lock: threading.Lock = field(default_factory=threading.Lock)


STATE = LineFakeState()


class FakeLineMessagingApi:
    name = "line"

    def reset(self) -> None:
        """Forgets accepted retry keys, used reply tokens and the monthly limit (FakeProviders.reset)."""
        with STATE.lock:
            STATE.monthly_limit_reached = False
            STATE.accepted.clear()
            STATE.used_reply_tokens.clear()

    def handles(self, path: str) -> bool:
        return path.startswith(f"{PREFIX}/")

    def answer(self, call: OutboundCall, context: FakeContext) -> tuple[FakeAnswer, list[Receipt]]:
        headers = {"x-line-request-id": str(uuid.uuid4())}
        expected = f"Bearer {context.credentials.line_channel_access_token}"
        if call.header("Authorization") != expected:
            message = "Authentication failed. Confirm that the access token in the authorization header is valid."
            return FakeAnswer(401, {"message": message}, headers), []
        if call.path not in (REPLY, PUSH):
            return FakeAnswer(404, {"message": "Not found"}, headers), []
        retry_key = call.header("X-Line-Retry-Key")
        if retry_key is not None and call.path == REPLY:
            return FakeAnswer(400, {"message": "X-Line-Retry-Key is not supported by this API"}, headers), []
        if retry_key is not None and not _is_uuid(retry_key):
            return FakeAnswer(400, {"message": "The retry key must be a UUID in hexadecimal format"}, headers), []
        document = call.json()
        errors = _errors(document, "replyToken" if call.path == REPLY else "to")
        if errors:
            body = {"message": f"The request body has {len(errors)} error(s)", "details": errors}
            return FakeAnswer(400, body, headers), []
        with STATE.lock:
            if retry_key is not None and retry_key in STATE.accepted:
                accepted_request_id, sent = STATE.accepted[retry_key]
                body = {"message": "The retry key is already accepted", "sentMessages": sent}
                return FakeAnswer(409, body, {**headers, "x-line-accepted-request-id": accepted_request_id}), []
            if call.path == PUSH and STATE.monthly_limit_reached:
                return FakeAnswer(429, {"message": "You have reached your monthly limit."}, headers), []
            if call.path == REPLY:
                token = document["replyToken"]
                if token in STATE.used_reply_tokens:
                    return FakeAnswer(400, {"message": "Invalid reply token"}, headers), []
                STATE.used_reply_tokens.add(token)
            sent = [
                {"id": str(next(STATE.message_ids)), "quoteToken": secrets.token_urlsafe(24)}
                for _ in document["messages"]
            ]
            if retry_key is not None:
                STATE.accepted[retry_key] = (headers["x-line-request-id"], sent)
        return FakeAnswer(200, {"sentMessages": sent}, headers), []


def _is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


def _errors(document: Any, recipient_field: str) -> list[dict[str, str]]:
    """LINE's validation details for a reply or push body: {"message", "property"} each."""
    if not isinstance(document, dict):
        return [{"message": "The request body must be a JSON object", "property": ""}]
    errors = []
    recipient = document.get(recipient_field)
    if not isinstance(recipient, str) or not recipient:
        errors.append({"message": "May not be empty", "property": recipient_field})
    messages = document.get("messages")
    if not isinstance(messages, list) or not 1 <= len(messages) <= MAX_MESSAGES:
        errors.append({"message": f"Size must be between 1 and {MAX_MESSAGES}", "property": "messages"})
        return errors
    for index, message in enumerate(messages):
        errors.extend(_message_errors(message, f"messages[{index}]"))
    return errors


def _message_errors(message: Any, where: str) -> list[dict[str, str]]:
    if not isinstance(message, dict) or message.get("type") not in MESSAGE_TYPES:
        values = ",".join(MESSAGE_TYPES)
        return [{"message": f"Must be one of the following values: [{values}]", "property": f"{where}.type"}]
    if message["type"] == "text":
        text = message.get("text")
        if not isinstance(text, str) or not text:
            return [{"message": "May not be empty", "property": f"{where}.text"}]
        if len(text) > MAX_TEXT_CHARS:
            return [{"message": f"Length must be between 0 and {MAX_TEXT_CHARS}", "property": f"{where}.text"}]
        return []
    if message["type"] == "image":
        errors = []
        for name in ("originalContentUrl", "previewImageUrl"):
            url = message.get(name)
            if not isinstance(url, str) or not url:
                errors.append({"message": "May not be empty", "property": f"{where}.{name}"})
            elif len(url) > MAX_URL_CHARS or not url.startswith(("https://", "http://")):
                errors.append({"message": "Must be a valid HTTPS URL", "property": f"{where}.{name}"})
        return errors
    return []


register(FakeLineMessagingApi())
