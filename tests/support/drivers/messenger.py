"""Messenger and Instagram messaging webhooks as Meta sends them, and their drivers for the channel-generic suites.

Payload builders follow the Messenger Platform webhook reference: {"object": "page", "entry": [{"id":
<PAGE_ID>, "time": <ms>, "messaging": [{"sender": {"id"}, "recipient": {"id"}, "timestamp": <ms>,
"message" | "postback" | "delivery" | "read": {...}}]}]}. Instagram sends the same shape with
"object": "instagram" and the Instagram account id in place of the page id. Bodies are serialized the
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

PAGE_ID = "104532198765432"
INSTAGRAM_ACCOUNT_ID = "17841405822304914"
SAMPLE_APP_SECRET = "sample-app-secret"
SAMPLE_VERIFY_TOKEN = "sample-verify-token"
SIGNATURE_HEADER = "x-hub-signature-256"
LEGACY_SIGNATURE_HEADER = "x-hub-signature"
LAST_TIMESTAMP_MS = 253402300799999  # 9999-12-31T23:59:59.999Z, the adapter's upper bound


def millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def webhook(
    *events: Mapping[str, Any], account: str = PAGE_ID, object_: str = "page", time: int | None = None
) -> dict[str, Any]:
    """One entry (one page) whose `messaging` holds the given events, as Meta batches them."""
    entry_time = time if time is not None else max((e.get("timestamp", 0) for e in events), default=0) or 1749416384000
    return {"object": object_, "entry": [entry(*events, account=account, time=entry_time)]}


def entry(*events: Mapping[str, Any], account: str = PAGE_ID, time: int = 1749416384000) -> dict[str, Any]:
    return {"id": account, "time": time, "messaging": [dict(event) for event in events]}


def customer_event(customer: str, account: str, timestamp: int | None, **event: Any) -> dict[str, Any]:
    """A messaging[] item sent by the customer to the page."""
    item: dict[str, Any] = {"sender": {"id": customer}, "recipient": {"id": account}}
    if timestamp is not None:
        item["timestamp"] = timestamp
    item.update(event)
    return item


def text_event(
    *, mid: str, customer: str, text: str, timestamp: int, account: str = PAGE_ID, **fields: Any
) -> dict[str, Any]:
    return customer_event(customer, account, timestamp, message={"mid": mid, "text": text, **fields})


def attachment_event(
    *,
    mid: str,
    customer: str,
    attachments: Iterable[Mapping[str, Any]],
    timestamp: int,
    account: str = PAGE_ID,
    **fields: Any,
) -> dict[str, Any]:
    return customer_event(
        customer, account, timestamp, message={"mid": mid, "attachments": [dict(a) for a in attachments], **fields}
    )


def echo_event(*, mid: str, customer: str, timestamp: int, account: str = PAGE_ID, **content: Any) -> dict[str, Any]:
    """What Meta sends when the page itself sent a message (message_echoes): sender and recipient swap."""
    message = {"mid": mid, "is_echo": True, "app_id": 263902037430900, **content}
    return {"sender": {"id": account}, "recipient": {"id": customer}, "timestamp": timestamp, "message": message}


def postback_event(
    *, customer: str, title: str, payload: str, timestamp: int, mid: str | None = None, account: str = PAGE_ID
) -> dict[str, Any]:
    postback: dict[str, Any] = {"title": title, "payload": payload}
    if mid is not None:
        postback["mid"] = mid
    return customer_event(customer, account, timestamp, postback=postback)


def delivery_event(*, customer: str, mids: list[str], watermark: int, account: str = PAGE_ID) -> dict[str, Any]:
    # As in Meta's message_deliveries sample: no `timestamp` of its own.
    return customer_event(customer, account, None, delivery={"mids": mids, "watermark": watermark})


def read_event(*, customer: str, watermark: int, timestamp: int, account: str = PAGE_ID) -> dict[str, Any]:
    return customer_event(customer, account, timestamp, read={"watermark": watermark})


def seen_event(*, customer: str, mid: str, timestamp: int, account: str = INSTAGRAM_ACCOUNT_ID) -> dict[str, Any]:
    """Instagram's messaging_seen: the customer saw one message of ours, named by mid."""
    return customer_event(customer, account, timestamp, read={"mid": mid})


def encode(payload: Any) -> bytes:
    """Meta's serialization: compact, with non-ASCII escaped as \\uXXXX."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode()


def meta_signature(body: bytes, app_secret: str = SAMPLE_APP_SECRET) -> str:
    """X-Hub-Signature-256, computed here independently of the adapter under test."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def legacy_signature(body: bytes, app_secret: str = SAMPLE_APP_SECRET) -> str:
    """X-Hub-Signature (SHA-1), which Meta still sends next to the SHA-256 one."""
    return "sha1=" + hmac.new(app_secret.encode(), body, hashlib.sha1).hexdigest()


def messenger_mid(label: str) -> str:
    """A message id shaped like Messenger's current ones: "m_" and an opaque URL-safe token."""
    digest = hashlib.sha256(label.encode("utf-8", "surrogatepass")).digest()
    return "m_" + base64.urlsafe_b64encode(digest + digest[:15]).decode().rstrip("=")


def instagram_mid(label: str) -> str:
    """A message id shaped like Instagram's: base64 of "ig_item:1:IGMessageID:<account>:<thread>"."""
    digest = hashlib.sha256(label.encode("utf-8", "surrogatepass")).hexdigest()
    item = f"ig_item:1:IGMessageID:{INSTAGRAM_ACCOUNT_ID}:{int(digest[:30], 16)}"
    return base64.b64encode(item.encode()).decode().rstrip("=")


class MessengerDriver(ChannelDriver):
    channel = Channel.MESSENGER
    webhook_path = "/webhooks/messenger"
    secrets = {
        "app_secret": SAMPLE_APP_SECRET,
        "verify_token": SAMPLE_VERIFY_TOKEN,
        "page_access_token": "sample-page-access-token",
    }
    signature_header = SIGNATURE_HEADER
    account_id = PAGE_ID
    object_name = "page"

    def customer(self, number: int, display_name: str | None = None) -> Customer:
        # A page-scoped id (PSID): 16 digits. Meta's webhook never carries the customer's name.
        return Customer(external_id=f"{7_160_000_000_000_000 + number}", display_name=display_name)

    def message_id(self, label: str) -> str:
        return messenger_mid(label)

    def text_message(self, customer: Customer, *, message_id: str, text: str, sent_at: datetime) -> bytes:
        event = text_event(
            mid=message_id, customer=customer.external_id, text=text, timestamp=millis(sent_at), account=self.account_id
        )
        return encode(webhook(event, account=self.account_id, object_=self.object_name))

    def receipt(self, recipient: Customer, *, message_id: str, status: DeliveryStatus, at: datetime) -> bytes:
        if status is DeliveryStatus.DELIVERED:
            event = delivery_event(
                customer=recipient.external_id, mids=[message_id], watermark=millis(at), account=self.account_id
            )
        elif status is DeliveryStatus.READ:
            # Messenger reports reads as a watermark: everything sent up to that moment was read.
            event = read_event(
                customer=recipient.external_id, watermark=millis(at), timestamp=millis(at), account=self.account_id
            )
        else:
            raise ValueError(f"Meta's messaging webhooks never report {status.value!r}")
        return encode(webhook(event, account=self.account_id, object_=self.object_name, time=millis(at)))

    def headers(self, body: bytes, signature: object = SIGNED) -> dict[str, str]:
        headers = {"content-type": "application/json", "user-agent": "facebookexternalua"}
        if signature is SIGNED:
            headers[LEGACY_SIGNATURE_HEADER] = legacy_signature(body)
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
            st.sampled_from(_breakages(self))
            .flatmap(bad.broken_payload)
            .flatmap(lambda payload: st.booleans().map(lambda ascii_only: _serialize(payload, ascii_only)))
        )


class InstagramDriver(MessengerDriver):
    channel = Channel.INSTAGRAM
    webhook_path = "/webhooks/instagram"
    secrets = {
        "app_secret": SAMPLE_APP_SECRET,
        "verify_token": SAMPLE_VERIFY_TOKEN,
        "access_token": "sample-access-token",
    }
    account_id = INSTAGRAM_ACCOUNT_ID
    object_name = "instagram"
    # Instagram reports no deliveries, only `messaging_seen`; the generic suites' receipt scenario needs
    # both. Seen receipts are covered in tests/unit/test_meta_messaging_parsing.py and the integration tests.
    supports_receipts = False

    def customer(self, number: int, display_name: str | None = None) -> Customer:
        # An Instagram-scoped id (IGSID): 16 digits.
        return Customer(external_id=f"{6_350_000_000_000_000 + number}", display_name=display_name)

    def message_id(self, label: str) -> str:
        return instagram_mid(label)

    def receipt(self, recipient: Customer, *, message_id: str, status: DeliveryStatus, at: datetime) -> bytes:
        if status is not DeliveryStatus.READ:
            # Instagram has no delivery webhook: only messaging_seen.
            raise ValueError(f"Instagram's messaging webhooks never report {status.value!r}")
        event = seen_event(
            customer=recipient.external_id, mid=message_id, timestamp=millis(at), account=self.account_id
        )
        return encode(webhook(event, account=self.account_id, object_=self.object_name, time=millis(at)))


def _serialize(payload: Any, ascii_only: bool) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=ascii_only, allow_nan=True).encode(
        "utf-8", errors="surrogatepass"
    )


# -- malformed payloads: a valid delivery with one field the adapter relies on broken -----------------

_NOT_BOOL = st.one_of(
    st.integers(2),
    st.floats(min_value=1.5),
    st.from_regex(r"\A(maybe|yes please|2)\Z"),
    bad.SMALL_LISTS,
    bad.SMALL_DICTS,
)
_BAD_TIMESTAMP = bad.bad_timestamps(LAST_TIMESTAMP_MS, null_is_bad=False)
_BAD_COORDINATE = bad.bad_latitudes(bad.WORDS, st.booleans(), bad.SMALL_DICTS)


def _breakages(driver: MessengerDriver) -> list[tuple[Any, tuple, Any]]:
    """(delivery, path, what to put there): only fields whose breakage the adapter must refuse."""
    account, customer, kind = driver.account_id, "7160000000012345", driver.object_name

    def text_delivery() -> dict[str, Any]:
        event = text_event(
            mid=driver.message_id("malformed-text"),
            customer=customer,
            text="환불 가능할까요?",
            timestamp=1749416383000,
            account=account,
        )
        return webhook(event, account=account, object_=kind)

    def receipt_delivery() -> dict[str, Any]:
        event = delivery_event(
            customer=customer, mids=[driver.message_id("malformed-receipt")], watermark=1749416500000, account=account
        )
        return webhook(event, account=account, object_=kind)

    def location_delivery() -> dict[str, Any]:
        attachment = {
            "type": "location",
            "title": "서울시청",
            "payload": {"coordinates": {"lat": 37.5665, "long": 126.978}},
        }
        event = attachment_event(
            mid=driver.message_id("malformed-location"),
            customer=customer,
            attachments=[attachment],
            timestamp=1749416383000,
            account=account,
        )
        return webhook(event, account=account, object_=kind)

    event = ("entry", 0, "messaging", 0)
    message = (*event, "message")
    return [
        (text_delivery, ("object",), st.one_of(bad.NOT_STR, st.text().filter(lambda word: word != kind))),
        (text_delivery, ("object",), bad.DELETE),
        (text_delivery, ("entry",), bad.NOT_LIST),
        (text_delivery, ("entry",), bad.DELETE),
        (text_delivery, ("entry", 0), bad.NOT_DICT),
        (text_delivery, ("entry", 0, "id"), bad.EMPTY_OR_NOT_STR),
        (text_delivery, ("entry", 0, "id"), bad.DELETE),
        (text_delivery, ("entry", 0, "messaging"), bad.NOT_LIST),
        (text_delivery, event, bad.NOT_DICT),
        (text_delivery, (*event, "sender"), bad.NOT_DICT),
        (text_delivery, (*event, "sender"), bad.DELETE),
        (text_delivery, (*event, "sender", "id"), bad.EMPTY_OR_NOT_STR),
        (text_delivery, (*event, "sender", "id"), bad.DELETE),
        (text_delivery, (*event, "recipient"), bad.NOT_DICT),
        (text_delivery, (*event, "recipient"), bad.DELETE),
        (text_delivery, (*event, "timestamp"), _BAD_TIMESTAMP),
        (text_delivery, message, bad.NOT_DICT_OR_NULL),
        (text_delivery, (*message, "mid"), bad.EMPTY_OR_NOT_STR),
        (text_delivery, (*message, "mid"), bad.DELETE),
        (text_delivery, (*message, "is_echo"), _NOT_BOOL),
        (text_delivery, (*message, "attachments"), bad.NOT_LIST),
        (text_delivery, (*message, "reply_to"), bad.NOT_DICT_OR_NULL),
        (receipt_delivery, (*event, "delivery"), bad.NOT_DICT_OR_NULL),
        (receipt_delivery, (*event, "delivery", "mids"), bad.NOT_LIST),
        (receipt_delivery, (*event, "delivery", "mids", 0), bad.NOT_STR),
        (receipt_delivery, (*event, "delivery", "watermark"), _BAD_TIMESTAMP),
        (location_delivery, (*message, "attachments", 0), bad.NOT_DICT),
        (location_delivery, (*message, "attachments", 0, "type"), bad.EMPTY_OR_NOT_STR),
        (location_delivery, (*message, "attachments", 0, "payload", "coordinates"), bad.NOT_DICT),
        (location_delivery, (*message, "attachments", 0, "payload", "coordinates", "lat"), _BAD_COORDINATE),
        (location_delivery, (*message, "attachments", 0, "payload", "coordinates", "long"), bad.DELETE),
    ]
