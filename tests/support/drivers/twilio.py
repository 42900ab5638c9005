"""Twilio Programmable Messaging webhooks as Twilio sends them, and the driver the channel-generic suites use.

Bodies are application/x-www-form-urlencoded with the field names of Twilio's messaging webhook
reference. X-Twilio-Signature is computed here independently of the adapter: base64 HMAC-SHA1 of the
URL Twilio called followed by each field's name and value, sorted (Twilio's "Webhooks security").
The URL is the one the request reaches: the in-process stack's API Gateway host unless told otherwise
(the local runner is http://127.0.0.1:<port>).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime
from urllib.parse import parse_qsl, quote_plus

from hypothesis import strategies as st

from switchboard.models import Channel, DeliveryStatus
from tests.support.drivers import SIGNED, ChannelDriver, Customer
from tests.support.lambda_events import API_ID, REGION
from tests.support.paths import provider_fixture

SAMPLE_AUTH_TOKEN = "sample-auth-token"
SAMPLE_ACCOUNT_SID = "AC0a1b2c3d4e5f60718293a4b5c6d7e8f9"
MESSAGING_SERVICE_SID = "MG0a1b2c3d4e5f60718293a4b5c6d7e8f9"
BUSINESS_NUMBER = "+821012345678"
SIGNATURE_HEADER = "x-twilio-signature"
WEBHOOK_PATH = "/webhooks/twilio"
IN_PROCESS_URL = f"https://{API_ID}.execute-api.{REGION}.amazonaws.com{WEBHOOK_PATH}"

Fields = Sequence[tuple[str, str]]


def form(fields: Fields) -> bytes:
    """URL-encodes fields as Twilio does (UTF-8, spaces as "+"). A lone surrogate is kept as its UTF-8
    bytes, which no text decoder accepts: what a broken sender would put on the wire."""
    return "&".join(
        f"{quote_plus(name)}={quote_plus(value.encode('utf-8', 'surrogatepass'))}" for name, value in fields
    ).encode()


def twilio_signature(url: str, body: bytes, auth_token: str = SAMPLE_AUTH_TOKEN) -> str:
    # Fields are read back from the body the way a web framework would, keeping undecodable bytes as
    # they are, so that any body can be signed (the hostile-input suite signs garbage on purpose).
    fields = parse_qsl(
        body.decode("utf-8", "surrogateescape"), keep_blank_values=True, encoding="utf-8", errors="surrogateescape"
    )
    signed = url + "".join(name + value for name, value in sorted(fields))
    digest = hmac.new(auth_token.encode(), signed.encode("utf-8", "surrogateescape"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def inbound_fields(
    *,
    message_sid: str,
    sender: str,
    body: str,
    to: str = BUSINESS_NUMBER,
    account_sid: str = SAMPLE_ACCOUNT_SID,
    media: Sequence[tuple[str, str]] = (),
    extra: Fields = (),
) -> list[tuple[str, str]]:
    """An incoming message's fields in the order Twilio posts them; `media` is (url, content type) pairs."""
    fields = [
        ("ToCountry", "KR"),
        ("SmsMessageSid", message_sid),
        ("NumMedia", str(len(media))),
        ("SmsSid", message_sid),
        ("SmsStatus", "received"),
        ("Body", body),
        ("FromCountry", "KR"),
        ("To", to),
        ("MessagingServiceSid", MESSAGING_SERVICE_SID),
        ("NumSegments", "1"),
        ("MessageSid", message_sid),
        ("AccountSid", account_sid),
        ("From", sender),
        ("ApiVersion", "2010-04-01"),
    ]
    for index, (url, content_type) in enumerate(media):
        fields += [(f"MediaContentType{index}", content_type), (f"MediaUrl{index}", url)]
    return fields + list(extra)


def status_fields(
    *, message_sid: str, recipient: str, status: str, sender: str = BUSINESS_NUMBER, error_code: str | None = None
) -> list[tuple[str, str]]:
    """A status callback for a message we sent (From is our number), as Twilio posts it."""
    fields = [
        ("SmsSid", message_sid),
        ("SmsStatus", status),
        ("MessageStatus", status),
        ("To", recipient),
        ("MessagingServiceSid", MESSAGING_SERVICE_SID),
        ("MessageSid", message_sid),
        ("AccountSid", SAMPLE_ACCOUNT_SID),
        ("From", sender),
        ("ApiVersion", "2010-04-01"),
    ]
    if error_code is not None:
        fields.append(("ErrorCode", error_code))
    return fields


def media_url(message_sid: str, media_sid: str, account_sid: str = SAMPLE_ACCOUNT_SID) -> str:
    return f"https://api.twilio.com/2010-04-01/Accounts/{account_sid}/Messages/{message_sid}/Media/{media_sid}"


def message_sid(label: str) -> str:
    """A Message SID shaped like Twilio's: "SM" and 32 hex digits."""
    return "SM" + hashlib.md5(label.encode("utf-8", "surrogatepass"), usedforsecurity=False).hexdigest()


class TwilioDriver(ChannelDriver):
    channel = Channel.SMS
    webhook_path = WEBHOOK_PATH
    secrets = {"auth_token": SAMPLE_AUTH_TOKEN, "account_sid": SAMPLE_ACCOUNT_SID}
    signature_header = SIGNATURE_HEADER
    stamps_messages = False

    def __init__(self, url: str = IN_PROCESS_URL) -> None:
        self.url = url

    @property
    def name(self) -> str:
        # The secret and the function are Twilio's, whichever channel (SMS, WhatsApp) a message is on.
        return "twilio"

    def customer(self, number: int, display_name: str | None = None) -> Customer:
        # A Korean mobile number in E.164; SMS tells us no names.
        return Customer(external_id=f"+8210{number:08d}", display_name=display_name)

    def message_id(self, label: str) -> str:
        return message_sid(label)

    def text_message(self, customer: Customer, *, message_id: str, text: str, sent_at: datetime) -> bytes:
        return form(inbound_fields(message_sid=message_id, sender=customer.external_id, body=text))

    def receipt(self, recipient: Customer, *, message_id: str, status: DeliveryStatus, at: datetime) -> bytes:
        return form(status_fields(message_sid=message_id, recipient=recipient.external_id, status=status.value))

    def headers(self, body: bytes, signature: object = SIGNED) -> dict[str, str]:
        headers = {
            "content-type": "application/x-www-form-urlencoded",
            "user-agent": "TwilioProxy/1.1",
            "i-twilio-idempotency-token": hashlib.sha256(body).hexdigest()[:36],
        }
        if signature is SIGNED:
            headers[SIGNATURE_HEADER] = twilio_signature(self.url, body)
        elif signature is not None:
            headers[SIGNATURE_HEADER] = str(signature)
        return headers

    def forged_signatures(self) -> st.SearchStrategy[str | None]:
        return st.one_of(
            st.none(),
            st.text(max_size=40),
            st.binary(min_size=20, max_size=20).map(lambda digest: base64.b64encode(digest).decode()),
            st.binary(max_size=64).map(lambda other: twilio_signature(self.url, b"From=%2B1&Body=" + other)),
            st.text(min_size=1, max_size=20).map(lambda secret: twilio_signature(self.url, b"", "wrong:" + secret)),
            st.sampled_from(["/webhooks/twilio/", "/webhooks/twilio?x=1", "/webhooks/whatsapp"]).map(
                lambda path: twilio_signature(self.url.replace(WEBHOOK_PATH, path), b"")
            ),
        )

    def malformed_bodies(self) -> st.SearchStrategy[bytes]:
        return st.sampled_from(_BREAKAGES).flatmap(lambda breakage: breakage(_delivery()))


def _delivery() -> list[tuple[str, str]]:
    return inbound_fields(
        message_sid=message_sid("malformed"),
        sender="+821098765432",
        body="배송이 언제 오나요?",
        media=[(media_url(message_sid("malformed"), "ME0a1b2c3d4e5f60718293a4b5c6d7e8f9"), "image/jpeg")],
    )


def _without(name: str):
    return lambda fields: st.just(form([(key, value) for key, value in fields if key != name]))


def _with(name: str, values: st.SearchStrategy[str]):
    return lambda fields: values.map(
        lambda value: form([(key, value if key == name else other) for key, other in fields])
    )


_NOT_A_COUNT = st.one_of(
    st.from_regex(r"\A[a-z ]{1,5}\Z"), st.integers(11, 10**6).map(str), st.just("-1"), st.just("1.5"), st.just("١")
)

_BREAKAGES = [
    _without("MessageSid"),
    _without("AccountSid"),
    _without("From"),
    _without("To"),
    _with("MessageSid", st.just("")),
    _with("From", st.just("")),
    _with("From", st.text(min_size=257, max_size=300).filter(lambda text: "\x00" not in text)),
    _with("NumMedia", _NOT_A_COUNT),
    _without("MediaUrl0"),
    _with("MediaUrl0", st.one_of(st.just(""), st.from_regex(r"\A[a-z]{1,10}\Z"))),
    # Percent-escapes that decode to bytes UTF-8 never produces.
    lambda fields: st.sampled_from([b"%FF", b"%C3%28", b"%ED%A0%80", b"%F8%88%80%80%80"]).map(
        lambda junk: form(fields).replace(b"Body=", b"Body=" + junk, 1)
    ),
    # A field with no "=": not what an HTML form encoder writes.
    lambda fields: st.just(form(fields) + b"&NumSegments"),
]


def inbound_sms_sample() -> bytes:
    """The body of tests/fixtures/providers/twilio/inbound-sms.form.txt: its one line that is not a comment."""
    lines = provider_fixture("twilio", "inbound-sms.form.txt").decode().splitlines()
    (body,) = [line for line in lines if line and not line.startswith("#")]
    return body.encode()
