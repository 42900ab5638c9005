"""Mail as each intake path delivers it, and the drivers the channel-generic suites use.

Every driver builds the same raw mail (RFC 5322, UTF-8, base64 bodies so any text survives transport);
the paths differ in how it reaches us:
- SES: its receipt rule writes the raw mail into the mail bucket under inbound/ses/<SES message id>;
  there is no request to sign, so the driver puts the object itself.
- Mailgun: an inbound route's forward() to a URL ending in "mime" posts form fields with the whole mail in
  `body-mime`; the proof is `signature` = hex HMAC-SHA256(signing key, timestamp + token), in the form.
- Postmark: JSON with the mail taken apart (Headers, TextBody, ...), behind HTTP basic auth.
- SendGrid: Inbound Parse with "POST the raw, full MIME message": multipart/form-data whose `email` field
  is the mail, behind HTTP basic auth in the destination URL and signed by a security policy (ECDSA P-256
  over the timestamp header + the body, with a key made for this test run).

A customer's messages are replies in one thread of theirs (In-Reply-To/References name a root mail of
theirs we never received), as a customer writing back and forth looks; the root is not ours, so the
thread is theirs alone (threading rule 4), and their mails meet on one ticket whatever the order.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from urllib.parse import parse_qsl, quote_plus

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import strategies as st

from switchboard.models import Channel, DeliveryStatus
from tests.support.drivers import SIGNED, ChannelDriver, Customer

MAILBOX = "support@shop.example"
CUSTOMER_DOMAIN = "example.com"
SAMPLE_SIGNING_KEY = "key-sample-mailgun-signing-key"
SAMPLE_USERNAME = "switchboard"
SAMPLE_PASSWORD = "sample-basic-auth-password"


def customer_address(customer: Customer) -> str:
    return customer.external_id


def thread_root(customer: Customer) -> str:
    return f"thread-root.{hashlib.sha256(customer.external_id.encode()).hexdigest()[:16]}@mail.{CUSTOMER_DOMAIN}"


def raw_mail(
    customer: Customer,
    *,
    message_id: str,
    text: str,
    sent_at: datetime,
    subject: str = "주문 문의",
    to: str = MAILBOX,
    in_reply_to: str | None = None,
    thread_headers: bool = True,
    extra_headers: tuple[tuple[str, str], ...] = (),
) -> bytes:
    """A customer's mail as their client sends it; `in_reply_to` defaults to the customer's thread root.
    Without `thread_headers` it names no earlier mail (a new conversation, or a client that keeps none)."""
    mail = EmailMessage(policy=SMTP)
    mail["From"] = Address(customer.display_name or "", addr_spec=customer_address(customer))
    mail["To"] = to
    mail["Subject"] = subject
    mail["Date"] = format_datetime(sent_at)
    mail["Message-ID"] = f"<{message_id}>"
    if thread_headers:
        parent = in_reply_to or thread_root(customer)
        mail["In-Reply-To"] = f"<{parent}>"
        mail["References"] = f"<{thread_root(customer)}>" + ("" if parent == thread_root(customer) else f" <{parent}>")
    for name, value in extra_headers:
        mail[name] = value
    mail["MIME-Version"] = "1.0"
    mail.set_content(text, charset="utf-8", cte="base64")
    return mail.as_bytes(policy=SMTP)


class EmailDriver(ChannelDriver):
    channel = Channel.EMAIL
    # Mail has no receipt webhook to drive: SES reports through SNS (tests/integration/test_mail_events.py), and
    # bounce mail that reaches a support address has its own tests (tests/integration/test_email_*).
    supports_receipts = False
    arrives_in_mail_bucket = True
    # Mail carries bytes in declared charsets: text that is not valid in its charset is decoded with
    # replacement and flagged, not refused.
    text_must_be_unicode = False
    provider: str

    @property
    def name(self) -> str:
        """The secret this path reads, as template.yaml's LocalSecrets names it (SES: the email secret)."""
        return "email" if self.provider == "ses" else self.provider

    def customer(self, number: int, display_name: str | None = None) -> Customer:
        return Customer(f"customer{number}@{CUSTOMER_DOMAIN}", display_name)

    def message_id(self, label: str) -> str:
        return f"m{hashlib.sha256(label.encode('utf-8', 'surrogatepass')).hexdigest()[:24]}@mail.{CUSTOMER_DOMAIN}"

    def text_message(self, customer: Customer, *, message_id: str, text: str, sent_at: datetime) -> bytes:
        return self.wrap(raw_mail(customer, message_id=message_id, text=text, sent_at=sent_at))

    def wrap(self, raw: bytes) -> bytes:
        """The request body (or stored object) that carries `raw` on this path."""
        return raw

    def receipt(self, recipient: Customer, *, message_id: str, status: DeliveryStatus, at: datetime) -> bytes:
        raise NotImplementedError("email has no delivery receipts: a failed delivery comes back as a bounce mail")

    def expected_text(self, sent: str) -> str | None:
        """Mail is lines: CR and CRLF arrive as line breaks, blank lines before the first words and blank space
        after the last are not kept, and a leading byte-order mark is an encoding artefact, not text."""
        text = sent.replace("\r\n", "\n").replace("\r", "\n").removeprefix("\ufeff").strip("\n").rstrip()
        return text or None

    def text_seen_by_agents(self, message: dict) -> str | None:
        """The whole body as the customer wrote it: the text agents see first is the newly written part."""
        email = message.get("email") or {}
        return email.get("full_text") or message.get("text")


class SesDriver(EmailDriver):
    """SES writes into the mail bucket; nothing to sign or forge (the bucket policy admits only SES)."""

    provider = "ses"
    has_webhook = False
    webhook_path = ""
    secrets = {"reply_token_key": "sample-reply-token-key"}
    signature_header = ""

    def headers(self, body: bytes, signature: object = SIGNED) -> dict[str, str]:
        return {}

    def forged_signatures(self) -> st.SearchStrategy[str | None]:
        return st.nothing()

    def malformed_bodies(self) -> st.SearchStrategy[bytes]:
        return st.binary(max_size=2048)


def mailgun_signature(timestamp: str, token: str) -> str:
    """Mailgun's proof, computed here independently of the adapter: hex HMAC-SHA256(signing key, timestamp + token)."""
    return hmac.new(SAMPLE_SIGNING_KEY.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()


def _form(fields: list[tuple[str, str]]) -> bytes:
    return "&".join(f"{quote_plus(n)}={quote_plus(v.encode('utf-8', 'surrogatepass'))}" for n, v in fields).encode()


class MailgunDriver(EmailDriver):
    provider = "mailgun"
    # forward() to a URL ending in "mime" is how Mailgun is told to post the raw mail (body-mime).
    webhook_path = "/webhooks/email/mailgun/mime"
    secrets = {"signing_key": SAMPLE_SIGNING_KEY}
    # Mailgun's proof travels in the form, not a header: this names it for the generic suites, and
    # `request` moves it into the body.
    signature_header = "x-test-mailgun-signature"
    proof_in_body = True

    def wrap(self, raw: bytes) -> bytes:
        # A fresh timestamp (Mailgun's must be recent); the token is Mailgun's one-time value, the same on a
        # redelivery of the same post, so a provider retry is the same request.
        token = hashlib.sha256(raw).hexdigest()[:50]
        return _form(
            [
                ("recipient", MAILBOX),
                ("sender", "customer@example.com"),
                ("subject", "주문 문의"),
                ("body-mime", raw.decode("utf-8", "surrogateescape")),
                ("timestamp", str(int(time.time()))),
                ("token", token),
            ]
        )

    def signature_for(self, body: bytes) -> str | None:
        fields = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        if "timestamp" not in fields or "token" not in fields:
            return None
        return mailgun_signature(fields["timestamp"], fields["token"])

    def headers(self, body: bytes, signature: object = SIGNED) -> dict[str, str]:
        headers = {"content-type": "application/x-www-form-urlencoded"}
        valid = self.signature_for(body)
        if valid is not None:
            headers[self.signature_header] = valid
        return headers

    def request(self, body: bytes, signature: object = SIGNED) -> tuple[dict[str, str], bytes]:
        value = self.signature_for(body) if signature is SIGNED else signature
        signed = body if value is None else body + b"&signature=" + quote_plus(str(value)).encode()
        return {"content-type": "application/x-www-form-urlencoded"}, signed

    def forged_signatures(self) -> st.SearchStrategy[str | None]:
        return st.one_of(
            st.none(),
            st.just(""),
            st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
            st.text(max_size=80),
        )

    def malformed_bodies(self) -> st.SearchStrategy[bytes]:
        fresh = st.builds(lambda: [("timestamp", str(int(time.time()))), ("token", uuid.uuid4().hex)])
        # Signed forms with no mail in them, or a mail in pieces whose header list is not one.
        return st.one_of(
            fresh.map(_form),
            st.tuples(fresh, st.text(max_size=40)).map(
                lambda d: _form([*d[0], ("message-headers", d[1] + "{"), ("body-plain", "hi")])
            ),
            st.tuples(fresh, st.text(max_size=40)).map(lambda d: _form([*d[0], ("subject", d[1])])),
        )


class _BasicAuthDriver(EmailDriver):
    signature_header = "authorization"
    secrets = {"username": SAMPLE_USERNAME, "password": SAMPLE_PASSWORD}
    content_type: str
    # The account of the secret whose credentials a SIGNED request presents.
    username = SAMPLE_USERNAME

    def headers(self, body: bytes, signature: object = SIGNED) -> dict[str, str]:
        headers = {"content-type": self.content_type}
        if signature is SIGNED:
            headers["authorization"] = (
                "Basic " + base64.b64encode(f"{self.username}:{SAMPLE_PASSWORD}".encode()).decode()
            )
        elif signature is not None:
            headers["authorization"] = str(signature)
        return headers

    def forged_signatures(self) -> st.SearchStrategy[str | None]:
        def basic(user: str, password: str) -> str:
            return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

        return st.one_of(
            st.none(),
            st.just(""),
            st.just(basic(SAMPLE_USERNAME, SAMPLE_PASSWORD + "x")),
            st.just(basic(SAMPLE_USERNAME.upper(), SAMPLE_PASSWORD)),
            st.just(basic("", "")),
            st.tuples(st.text(max_size=20), st.text(max_size=20)).map(lambda d: basic(*d)),
            st.just("Bearer " + SAMPLE_PASSWORD),
            st.text(max_size=60),
        )


class PostmarkDriver(_BasicAuthDriver):
    """Postmark's default JSON (no RawEmail): the intake rebuilds the mail from its parts."""

    provider = "postmark"
    webhook_path = "/webhooks/email/postmark"
    content_type = "application/json"

    def wrap(self, raw: bytes) -> bytes:
        from email import message_from_bytes
        from email.policy import default

        mail = message_from_bytes(raw, policy=default)
        sender = mail["From"].addresses[0]
        body = mail.get_body(("plain",))
        text = body.get_content() if body is not None else ""
        document = {
            "FromName": sender.display_name,
            "MessageStream": "inbound",
            "From": sender.addr_spec,
            "FromFull": {"Email": sender.addr_spec, "Name": sender.display_name, "MailboxHash": ""},
            "To": MAILBOX,
            "ToFull": [{"Email": MAILBOX, "Name": "", "MailboxHash": ""}],
            "Cc": "",
            "CcFull": [],
            "OriginalRecipient": MAILBOX,
            "Subject": str(mail["Subject"]),
            "MessageID": str(uuid.UUID(hashlib.sha256(raw).hexdigest()[:32])),
            "ReplyTo": "",
            "MailboxHash": "",
            "Date": str(mail["Date"]),
            "TextBody": text,
            "HtmlBody": "",
            "StrippedTextReply": "",
            "Tag": "",
            "Headers": [
                {"Name": name, "Value": str(mail[name])}
                for name in ("Message-ID", "In-Reply-To", "References", "X-Spam-Status")
                if mail[name] is not None
            ],
            "Attachments": [],
        }
        return json.dumps(document, ensure_ascii=False).encode("utf-8", "surrogatepass")

    def malformed_bodies(self) -> st.SearchStrategy[bytes]:
        return st.one_of(
            st.sampled_from([b"[]", b"{}", b'{"From": 5}', b'{"Headers": "x", "From": "a@b.c"}', b'"text"', b"null"]),
            st.text(max_size=30).map(lambda t: json.dumps({"TextBody": t, "Attachments": "none"}).encode()),
        )


# Stands in for the private half of a SendGrid security policy's key pair, which SendGrid keeps.
_SENDGRID_POLICY_KEY = ec.generate_private_key(ec.SECP256R1())
SENDGRID_SIGNED_ACCOUNT = "signed-parse"
SENDGRID_SIGNED_USERNAME = "switchboard-signed"


class SendGridDriver(_BasicAuthDriver):
    """SendGrid's secret has a basic-auth-only default account (the sample events' SendGrid, without a
    security policy) and an account with both proofs, which a signing driver posts as: the suites' forgeries
    go into basic auth with the body's signature valid, so a wrong password is refused even on a signed POST
    (signature forgeries: tests/unit/test_sendgrid_signature.py)."""

    provider = "sendgrid"
    webhook_path = "/webhooks/email/sendgrid"
    boundary = "xYzZY"
    content_type = f"multipart/form-data; boundary={boundary}"
    secrets = {
        **_BasicAuthDriver.secrets,
        "accounts": {
            SENDGRID_SIGNED_ACCOUNT: {
                "username": SENDGRID_SIGNED_USERNAME,
                "password": SAMPLE_PASSWORD,
                "public_key": base64.b64encode(
                    _SENDGRID_POLICY_KEY.public_key().public_bytes(
                        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
                    )
                ).decode(),
            }
        },
    }

    def __init__(self, *, signed: bool = True) -> None:
        self.signed = signed
        self.username = SENDGRID_SIGNED_USERNAME if signed else SAMPLE_USERNAME

    def headers(self, body: bytes, signature: object = SIGNED) -> dict[str, str]:
        headers = super().headers(body, signature)
        if self.signed:
            timestamp = str(int(time.time()))
            signed = _SENDGRID_POLICY_KEY.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
            headers["x-twilio-email-event-webhook-timestamp"] = timestamp
            headers["x-twilio-email-event-webhook-signature"] = base64.b64encode(signed).decode()
        return headers

    def wrap(self, raw: bytes) -> bytes:
        fields = [
            ("to", MAILBOX.encode()),
            ("from", b"customer@example.com"),
            ("subject", "주문 문의".encode()),
            ("sender_ip", b"203.0.113.7"),
            ("envelope", json.dumps({"to": [MAILBOX], "from": "customer@example.com"}).encode()),
            ("charsets", json.dumps({"to": "UTF-8", "from": "UTF-8", "subject": "UTF-8"}).encode()),
            ("SPF", b"pass"),
            ("email", raw),
        ]
        parts = b"".join(
            b"--"
            + self.boundary.encode()
            + b'\r\nContent-Disposition: form-data; name="'
            + name.encode()
            + b'"\r\n\r\n'
            + value
            + b"\r\n"
            for name, value in fields
        )
        return parts + b"--" + self.boundary.encode() + b"--\r\n"

    def malformed_bodies(self) -> st.SearchStrategy[bytes]:
        no_mail = b'--xYzZY\r\nContent-Disposition: form-data; name="to"\r\n\r\nsupport@shop.example\r\n--xYzZY--\r\n'
        return st.one_of(st.just(no_mail), st.just(b""), st.just(b"--xYzZY\r\n"))


EMAIL_DRIVERS: list[EmailDriver] = [SesDriver(), MailgunDriver(), PostmarkDriver(), SendGridDriver()]


def resigned_now(body: str, *, base64_body: bool = False) -> str:
    """A Mailgun form (as API Gateway passes it) with its timestamp set to now and its signature redone."""
    raw = base64.b64decode(body) if base64_body else body.encode()
    fields = [(n, v) for n, v in parse_qsl(raw.decode(), keep_blank_values=True) if n not in ("timestamp", "signature")]
    token = dict(fields)["token"]
    timestamp = str(int(time.time()))
    signed = _form([*fields, ("timestamp", timestamp), ("signature", mailgun_signature(timestamp, token))])
    return base64.b64encode(signed).decode() if base64_body else signed.decode()
