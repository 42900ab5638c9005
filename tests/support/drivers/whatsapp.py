"""WhatsApp Cloud API webhooks as Meta sends them, and the driver the channel-generic suites use.

Payload builders follow Meta's webhook reference: {"object": "whatsapp_business_account", "entry":
[{"id": <WABA id>, "changes": [{"field": "messages", "value": {...}}]}]}. Bodies are serialized the
way Meta does (compact, non-ASCII escaped as \\uXXXX) and signed over those exact bytes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from hypothesis import strategies as st

from switchboard.models import Channel, DeliveryStatus
from tests.support import breakage as bad
from tests.support.drivers import SIGNED, ChannelDriver, Customer

WABA_ID = "102290129340398"
PHONE_NUMBER_ID = "106540352242922"
DISPLAY_PHONE_NUMBER = "15550783881"
SAMPLE_APP_SECRET = "sample-app-secret"
SAMPLE_VERIFY_TOKEN = "sample-verify-token"
SAMPLE_ACCESS_TOKEN = "sample-access-token"
SIGNATURE_HEADER = "x-hub-signature-256"
LAST_TIMESTAMP = 253402300799  # 9999-12-31T23:59:59Z, the adapter's upper bound


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def webhook(*values: Mapping[str, Any]) -> dict[str, Any]:
    """One entry whose changes carry the given `messages` values (the usual shape of a delivery)."""
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": [{"value": dict(value), "field": "messages"} for value in values]}],
    }


def messages_value(
    messages: Iterable[Mapping[str, Any]] = (),
    *,
    contacts: Iterable[Mapping[str, Any]] = (),
    statuses: Iterable[Mapping[str, Any]] = (),
    phone_number_id: str = PHONE_NUMBER_ID,
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": DISPLAY_PHONE_NUMBER, "phone_number_id": phone_number_id},
    }
    if contacts := list(contacts):
        value["contacts"] = contacts
    if messages := list(messages):
        value["messages"] = messages
    if statuses := list(statuses):
        value["statuses"] = statuses
    return value


def contact(wa_id: str, name: str | None) -> dict[str, Any]:
    return {"profile": {"name": name}, "wa_id": wa_id} if name is not None else {"wa_id": wa_id}


def message_item(
    kind: str,
    *,
    wamid: str,
    sender: str,
    timestamp: int,
    content: Mapping[str, Any] | None = None,
    context: Mapping[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A `messages[]` item; `content` goes under the key named after the type, as Meta nests it."""
    item: dict[str, Any] = {"from": sender, "id": wamid, "timestamp": str(timestamp), "type": kind}
    if context is not None:
        item["context"] = dict(context)
    if content is not None:
        item[kind] = dict(content)
    item.update(extra)
    return item


def text_item(
    *, wamid: str, sender: str, body: str, timestamp: int, context: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    return message_item(
        "text", wamid=wamid, sender=sender, timestamp=timestamp, content={"body": body}, context=context
    )


def status_item(
    *, wamid: str, recipient: str, state: str, timestamp: int, errors: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    item: dict[str, Any] = {"id": wamid, "status": state, "timestamp": str(timestamp), "recipient_id": recipient}
    if state in ("sent", "delivered"):
        item["conversation"] = {"id": "CONVERSATION_ID", "origin": {"type": "service"}}
        item["pricing"] = {"billable": False, "pricing_model": "PMP", "category": "service"}
    if errors is not None:
        item["errors"] = errors
    return item


def encode(payload: Any) -> bytes:
    """Meta's serialization: compact, with non-ASCII escaped as \\uXXXX."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode()


def meta_signature(body: bytes, app_secret: str = SAMPLE_APP_SECRET) -> str:
    """X-Hub-Signature-256, computed here independently of the adapter under test."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def wamid(label: str) -> str:
    """A message id shaped like Meta's: "wamid." and base64 of an opaque binary id."""
    return (
        "wamid."
        + base64.b64encode(
            b"\x15\x02\x00\x11\x18\x14" + hashlib.sha1(label.encode("utf-8", "surrogatepass")).digest()
        ).decode()
    )


class WhatsAppDriver(ChannelDriver):
    channel = Channel.WHATSAPP
    webhook_path = "/webhooks/whatsapp"
    # The access token is what the media fetcher shows the Graph API (the fake one in tests).
    secrets = {
        "app_secret": SAMPLE_APP_SECRET,
        "verify_token": SAMPLE_VERIFY_TOKEN,
        "access_token": SAMPLE_ACCESS_TOKEN,
    }
    signature_header = SIGNATURE_HEADER

    def customer(self, number: int, display_name: str | None = None) -> Customer:
        # A Korean mobile number in wa_id form: country code, no "+".
        return Customer(external_id=f"8210{number:08d}", display_name=display_name)

    def message_id(self, label: str) -> str:
        return wamid(label)

    def text_message(self, customer: Customer, *, message_id: str, text: str, sent_at: datetime) -> bytes:
        item = text_item(wamid=message_id, sender=customer.external_id, body=text, timestamp=epoch(sent_at))
        return encode(webhook(messages_value([item], contacts=[contact(customer.external_id, customer.display_name)])))

    def receipt(self, recipient: Customer, *, message_id: str, status: DeliveryStatus, at: datetime) -> bytes:
        item = status_item(wamid=message_id, recipient=recipient.external_id, state=status.value, timestamp=epoch(at))
        return encode(webhook(messages_value(statuses=[item])))

    def headers(self, body: bytes, signature: object = SIGNED) -> dict[str, str]:
        headers = {"content-type": "application/json", "user-agent": "facebookexternalua"}
        if signature is SIGNED:
            # Meta still sends the legacy SHA-1 signature next to the SHA-256 one.
            headers["x-hub-signature"] = "sha1=" + hmac.new(SAMPLE_APP_SECRET.encode(), body, hashlib.sha1).hexdigest()
            headers[SIGNATURE_HEADER] = meta_signature(body)
        elif signature is not None:
            headers[SIGNATURE_HEADER] = str(signature)
        return headers

    def forged_signatures(self) -> st.SearchStrategy[str | None]:
        hex_digest = st.binary(min_size=32, max_size=32).map(bytes.hex)
        return st.one_of(
            st.none(),
            st.text(max_size=80),
            hex_digest,
            hex_digest.map(lambda digest: "sha256=" + digest),
            hex_digest.map(lambda digest: "sha1=" + digest[:40]),
            st.binary(max_size=64).map(lambda other: meta_signature(b"other body:" + other)),
            st.text(min_size=1, max_size=40).map(lambda secret: meta_signature(b"", "wrong:" + secret)),
        )

    def malformed_bodies(self) -> st.SearchStrategy[bytes]:
        return (
            st.sampled_from(_BREAKAGES)
            .flatmap(bad.broken_payload)
            .flatmap(lambda payload: st.booleans().map(lambda ascii_only: _serialize(payload, ascii_only)))
        )


def _serialize(payload: Any, ascii_only: bool) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=ascii_only, allow_nan=True).encode(
        "utf-8", errors="surrogatepass"
    )


# -- malformed payloads: a valid delivery with one field the adapter relies on broken -----------------

_BAD_TIMESTAMP = bad.bad_timestamps(LAST_TIMESTAMP)
_BAD_COORDINATE = bad.bad_latitudes(bad.SMALL_DICTS)


def _text_delivery() -> dict[str, Any]:
    item = text_item(
        wamid=wamid("malformed-text"), sender="821012345678", body="환불 가능할까요?", timestamp=1749416383
    )
    return webhook(messages_value([item], contacts=[contact("821012345678", "김민준")]))


def _status_delivery() -> dict[str, Any]:
    item = status_item(
        wamid=wamid("malformed-status"), recipient="821012345678", state="delivered", timestamp=1749416500
    )
    return webhook(messages_value(statuses=[item]))


def _location_delivery() -> dict[str, Any]:
    item = message_item(
        "location",
        wamid=wamid("malformed-location"),
        sender="821012345678",
        timestamp=1749416383,
        content={
            "latitude": 37.5665,
            "longitude": 126.978,
            "name": "서울시청",
            "address": "서울특별시 중구 세종대로 110",
        },
    )
    return webhook(messages_value([item]))


_VALUE = ("entry", 0, "changes", 0, "value")
_MESSAGE = (*_VALUE, "messages", 0)
_STATUS = (*_VALUE, "statuses", 0)

# (delivery, path, what to put there). Only fields whose breakage the adapter must refuse: a broken
# `text.body` is not among them, since an unreadable body is kept as a message without text.
_BREAKAGES: list[tuple[Any, tuple, Any]] = [
    (
        _text_delivery,
        ("object",),
        st.one_of(bad.NOT_STR, st.text().filter(lambda word: word != "whatsapp_business_account")),
    ),
    (_text_delivery, ("object",), bad.DELETE),
    (_text_delivery, ("entry",), bad.NOT_LIST),
    (_text_delivery, ("entry",), bad.DELETE),
    (_text_delivery, ("entry", 0), bad.NOT_DICT),
    (_text_delivery, ("entry", 0, "id"), bad.NOT_STR),
    (_text_delivery, ("entry", 0, "id"), bad.DELETE),
    (_text_delivery, ("entry", 0, "changes"), bad.NOT_LIST),
    (_text_delivery, ("entry", 0, "changes"), bad.DELETE),
    (_text_delivery, ("entry", 0, "changes", 0), bad.NOT_DICT),
    (_text_delivery, ("entry", 0, "changes", 0, "field"), bad.NOT_STR),
    (_text_delivery, ("entry", 0, "changes", 0, "field"), bad.DELETE),
    (_text_delivery, _VALUE, bad.NOT_DICT),
    (_text_delivery, _VALUE, bad.DELETE),
    (_text_delivery, (*_VALUE, "metadata"), bad.NOT_DICT),
    (_text_delivery, (*_VALUE, "metadata"), bad.DELETE),
    (_text_delivery, (*_VALUE, "metadata", "phone_number_id"), bad.EMPTY_OR_NOT_STR),
    (_text_delivery, (*_VALUE, "metadata", "phone_number_id"), bad.DELETE),
    (_text_delivery, (*_VALUE, "contacts"), bad.NOT_LIST),
    (_text_delivery, (*_VALUE, "contacts", 0), bad.NOT_DICT),
    (_text_delivery, (*_VALUE, "contacts", 0, "wa_id"), bad.NOT_STR),
    (_text_delivery, (*_VALUE, "contacts", 0, "wa_id"), bad.DELETE),
    (_text_delivery, (*_VALUE, "messages"), bad.NOT_LIST),
    (_text_delivery, _MESSAGE, bad.NOT_DICT),
    (_text_delivery, (*_MESSAGE, "id"), bad.EMPTY_OR_NOT_STR),
    (_text_delivery, (*_MESSAGE, "id"), bad.DELETE),
    (_text_delivery, (*_MESSAGE, "from"), bad.EMPTY_OR_NOT_STR),
    (_text_delivery, (*_MESSAGE, "from"), bad.DELETE),
    (_text_delivery, (*_MESSAGE, "timestamp"), _BAD_TIMESTAMP),
    (_text_delivery, (*_MESSAGE, "timestamp"), bad.DELETE),
    (_text_delivery, (*_MESSAGE, "type"), bad.EMPTY_OR_NOT_STR),
    (_text_delivery, (*_MESSAGE, "type"), bad.DELETE),
    (_text_delivery, (*_MESSAGE, "context"), bad.NOT_DICT_OR_NULL),
    (_status_delivery, (*_VALUE, "statuses"), bad.NOT_LIST),
    (_status_delivery, _STATUS, bad.NOT_DICT),
    (_status_delivery, (*_STATUS, "id"), bad.EMPTY_OR_NOT_STR),
    (_status_delivery, (*_STATUS, "status"), bad.NOT_STR),
    (_status_delivery, (*_STATUS, "status"), bad.DELETE),
    (_status_delivery, (*_STATUS, "timestamp"), _BAD_TIMESTAMP),
    (_status_delivery, (*_STATUS, "recipient_id"), bad.EMPTY_OR_NOT_STR),
    (_status_delivery, (*_STATUS, "recipient_id"), bad.DELETE),
    (_location_delivery, (*_MESSAGE, "location", "latitude"), _BAD_COORDINATE),
    (_location_delivery, (*_MESSAGE, "location", "longitude"), bad.DELETE),
]
