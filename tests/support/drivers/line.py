"""LINE Messaging API webhooks as the LINE Platform sends them, and the driver the channel-generic suites use.

Payload builders follow the Messaging API reference: {"destination": <bot user id>, "events": [...]},
each event with type, mode, timestamp (ms), source, webhookEventId, deliveryContext and, for messages,
replyToken and message. LINE sends UTF-8 JSON and signs those exact bytes:
x-line-signature = base64(HMAC-SHA256(channel secret, body)).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from hypothesis import strategies as st

from switchboard.models import Channel, DeliveryStatus
from tests.support import breakage as bad
from tests.support.drivers import SIGNED, ChannelDriver, Customer

BOT_USER_ID = "U4af4980629e2a1f7bfbbc1bdf3f0a7c1"
SAMPLE_CHANNEL_SECRET = "sample-line-channel-secret"
SAMPLE_CHANNEL_ACCESS_TOKEN = "sample-line-channel-access-token"
SIGNATURE_HEADER = "x-line-signature"
LAST_TIMESTAMP_MS = 253402300799999


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def line_signature(body: bytes, channel_secret: str = SAMPLE_CHANNEL_SECRET) -> str:
    """x-line-signature, computed here independently of the adapter under test."""
    return base64.b64encode(hmac.new(channel_secret.encode(), body, hashlib.sha256).digest()).decode()


def _digest(label: str) -> bytes:
    return hashlib.sha256(label.encode("utf-8", "surrogatepass")).digest()


def line_message_id(label: str) -> str:
    """A message id shaped like LINE's: a decimal number of 18 digits."""
    return str(10**17 + int.from_bytes(_digest("message:" + label)[:8]) % (9 * 10**17))


def line_user_id(label: str, prefix: str = "U") -> str:
    """A user ("U"), group ("C") or room ("R") id shaped like LINE's: the prefix and 32 hex digits."""
    return prefix + _digest(f"{prefix}:{label}")[:16].hex()


def webhook_event_id(label: str) -> str:
    """A webhookEventId shaped like LINE's: a 26-character ULID."""
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    number = int.from_bytes(_digest("event:" + label)[:17])
    return "01" + "".join(alphabet[(number >> (5 * i)) & 31] for i in range(24))


def reply_token(label: str) -> str:
    return _digest("reply:" + label)[:16].hex()


def webhook(*events: Mapping[str, Any], destination: str = BOT_USER_ID) -> dict[str, Any]:
    return {"destination": destination, "events": [dict(event) for event in events]}


def user_source(user_id: str) -> dict[str, Any]:
    return {"type": "user", "userId": user_id}


def group_source(group_id: str, user_id: str | None) -> dict[str, Any]:
    return {"type": "group", "groupId": group_id, **({"userId": user_id} if user_id else {})}


def room_source(room_id: str, user_id: str | None) -> dict[str, Any]:
    return {"type": "room", "roomId": room_id, **({"userId": user_id} if user_id else {})}


def message_event(
    message: Mapping[str, Any],
    *,
    source: Mapping[str, Any],
    timestamp: int,
    event_id: str | None = None,
    redelivery: bool = False,
    token: str | None = "",
) -> dict[str, Any]:
    """A message event; the reply token and event id are derived from the message id unless given."""
    event: dict[str, Any] = {
        "type": "message",
        "message": dict(message),
        "webhookEventId": event_id or webhook_event_id(message["id"]),
        "deliveryContext": {"isRedelivery": redelivery},
        "timestamp": timestamp,
        "source": dict(source),
        "mode": "active",
    }
    if token is not None:
        event["replyToken"] = token or reply_token(message["id"])
    return event


def text_message(message_id: str, text: str, **extra: Any) -> dict[str, Any]:
    return {"id": message_id, "type": "text", "quoteToken": "q" + message_id, "text": text, **extra}


def follow_event(kind: str, *, user_id: str, timestamp: int, event_id: str, redelivery: bool = False) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": kind,
        "mode": "active",
        "timestamp": timestamp,
        "source": user_source(user_id),
        "webhookEventId": event_id,
        "deliveryContext": {"isRedelivery": redelivery},
    }
    if kind == "follow":
        event["replyToken"] = reply_token(event_id)
        event["follow"] = {"isUnblocked": False}
    return event


def encode(payload: Any) -> bytes:
    """LINE's serialization: compact UTF-8 (non-ASCII sent as is)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8", errors="surrogatepass")


class LineDriver(ChannelDriver):
    channel = Channel.LINE
    webhook_path = "/webhooks/line"
    secrets = {"channel_secret": SAMPLE_CHANNEL_SECRET, "channel_access_token": SAMPLE_CHANNEL_ACCESS_TOKEN}
    signature_header = SIGNATURE_HEADER
    # The Messaging API reports nothing about the delivery or reading of messages a bot sends.
    supports_receipts = False

    def customer(self, number: int, display_name: str | None = None) -> Customer:
        # LINE webhooks never carry the user's name (that takes a profile API call), so none is sent.
        return Customer(external_id=line_user_id(f"customer-{number}"), display_name=None)

    def message_id(self, label: str) -> str:
        return line_message_id(label)

    def text_message(self, customer: Customer, *, message_id: str, text: str, sent_at: datetime) -> bytes:
        event = message_event(
            text_message(message_id, text), source=user_source(customer.external_id), timestamp=epoch_ms(sent_at)
        )
        return encode(webhook(event))

    def receipt(self, recipient: Customer, *, message_id: str, status: DeliveryStatus, at: datetime) -> bytes:
        raise NotImplementedError("LINE sends no delivery receipts (supports_receipts is False)")

    def headers(self, body: bytes, signature: object = SIGNED) -> dict[str, str]:
        headers = {"content-type": "application/json; charset=utf-8", "user-agent": "LineBotWebhook/2.0"}
        if signature is SIGNED:
            headers[SIGNATURE_HEADER] = line_signature(body)
        elif signature is not None:
            headers[SIGNATURE_HEADER] = str(signature)
        return headers

    def forged_signatures(self) -> st.SearchStrategy[str | None]:
        digest = st.binary(min_size=32, max_size=32).map(lambda raw: base64.b64encode(raw).decode())
        return st.one_of(
            st.none(),
            st.text(max_size=80),
            digest,
            st.binary(min_size=32, max_size=32).map(bytes.hex),
            st.binary(max_size=64).map(lambda other: line_signature(b"other body:" + other)),
            st.text(min_size=1, max_size=40).map(lambda secret: line_signature(b"", "wrong:" + secret)),
        )

    def malformed_bodies(self) -> st.SearchStrategy[bytes]:
        return st.sampled_from(_BREAKAGES).flatmap(bad.broken_payload).map(encode)


# -- malformed payloads: a valid delivery with one field the adapter relies on broken -----------------

_BAD_TIMESTAMP = bad.bad_timestamps(LAST_TIMESTAMP_MS)
_BAD_COORDINATE = bad.bad_latitudes(bad.SMALL_DICTS)
_CUSTOMER = line_user_id("malformed")
_GROUP = line_user_id("malformed-group", "C")


def _text_delivery() -> dict[str, Any]:
    message = text_message(line_message_id("malformed-text"), "환불 가능할까요?")
    return webhook(message_event(message, source=user_source(_CUSTOMER), timestamp=1749416383000))


def _group_delivery() -> dict[str, Any]:
    message = text_message(line_message_id("malformed-group"), "배송 언제 되나요?")
    return webhook(message_event(message, source=group_source(_GROUP, _CUSTOMER), timestamp=1749416383000))


def _location_delivery() -> dict[str, Any]:
    message = {
        "id": line_message_id("malformed-location"),
        "type": "location",
        "title": "서울시청",
        "address": "서울특별시 중구 세종대로 110",
        "latitude": 37.5665,
        "longitude": 126.978,
    }
    return webhook(message_event(message, source=user_source(_CUSTOMER), timestamp=1749416383000))


def _follow_delivery() -> dict[str, Any]:
    return webhook(
        follow_event(
            "follow", user_id=_CUSTOMER, timestamp=1749416383000, event_id=webhook_event_id("malformed-follow")
        )
    )


_EVENT = ("events", 0)
_MESSAGE = (*_EVENT, "message")

_BREAKAGES: list[tuple[Any, tuple, Any]] = [
    (_text_delivery, ("destination",), bad.EMPTY_OR_NOT_STR),
    (_text_delivery, ("destination",), bad.DELETE),
    (_text_delivery, ("events",), bad.NOT_LIST),
    (_text_delivery, ("events",), bad.DELETE),
    (_text_delivery, _EVENT, bad.NOT_DICT),
    (_text_delivery, (*_EVENT, "type"), bad.EMPTY_OR_NOT_STR),
    (_text_delivery, (*_EVENT, "type"), bad.DELETE),
    (_text_delivery, (*_EVENT, "timestamp"), _BAD_TIMESTAMP),
    (_text_delivery, (*_EVENT, "timestamp"), bad.DELETE),
    (_text_delivery, (*_EVENT, "source"), bad.NOT_DICT),
    (_text_delivery, (*_EVENT, "source"), bad.DELETE),
    (_text_delivery, (*_EVENT, "source", "type"), bad.NOT_STR),
    (_text_delivery, (*_EVENT, "source", "type"), bad.DELETE),
    (_text_delivery, (*_EVENT, "source", "userId"), bad.EMPTY_OR_NOT_STR),
    (_text_delivery, (*_EVENT, "source", "userId"), bad.DELETE),
    (_text_delivery, (*_EVENT, "webhookEventId"), bad.EMPTY_OR_NOT_STR),
    (_text_delivery, (*_EVENT, "webhookEventId"), bad.DELETE),
    (_text_delivery, (*_EVENT, "replyToken"), bad.NOT_STR_NOR_NULL),
    (_text_delivery, _MESSAGE, bad.NOT_DICT),
    (_text_delivery, _MESSAGE, bad.DELETE),
    (_text_delivery, (*_MESSAGE, "id"), bad.EMPTY_OR_NOT_STR),
    (_text_delivery, (*_MESSAGE, "id"), bad.DELETE),
    (_text_delivery, (*_MESSAGE, "type"), bad.EMPTY_OR_NOT_STR),
    (_text_delivery, (*_MESSAGE, "type"), bad.DELETE),
    (_group_delivery, (*_EVENT, "source", "groupId"), bad.EMPTY_OR_NOT_STR),
    (_group_delivery, (*_EVENT, "source", "groupId"), bad.DELETE),
    (_location_delivery, (*_MESSAGE, "latitude"), _BAD_COORDINATE),
    (_location_delivery, (*_MESSAGE, "longitude"), bad.DELETE),
    (_follow_delivery, (*_EVENT, "source", "userId"), bad.EMPTY_OR_NOT_STR),
    (_follow_delivery, (*_EVENT, "webhookEventId"), bad.DELETE),
    (_follow_delivery, (*_EVENT, "timestamp"), _BAD_TIMESTAMP),
]
