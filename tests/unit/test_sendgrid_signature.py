"""SendGrid's signed Inbound Parse: with `public_key` in an account of the secret, a POST must carry
SendGrid's ECDSA P-256/SHA-256 signature of X-Twilio-Email-Event-Webhook-Timestamp + the raw body in
X-Twilio-Email-Event-Webhook-Signature (base64 DER), beside the account's basic auth when it has one.

SENDGRID_VECTOR is the vector SendGrid's own libraries test that scheme with (sendgrid-python
test/unit/test_eventwebhook.py, the same in sendgrid-nodejs, -ruby and -php): a signature made by SendGrid's
key, not by this code, so it checks the signed bytes and the encodings, not only a round trip. The other
cases sign with a key made here.
"""

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.email.providers.sendgrid import SIGNATURE_MAX_AGE_SECONDS
from switchboard.email.providers.sendgrid import WEBHOOK as SENDGRID
from switchboard.errors import InvalidSignature
from switchboard.http_request import WebhookRequest

SENDGRID_PUBLIC_KEY = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g=="
SENDGRID_FAILING_PUBLIC_KEY = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqTxd43gyp8IOEto2LdIfjRQrIbsd4SXZkLW6jDutdhXSJCWHw8REntlo7aNDthvj+y7GjUuFDb/R1NGe1OPzpA=="
SENDGRID_SIGNATURE = "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM="
SENDGRID_FAILING_SIGNATURE = (
    "MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRamr2nlxFDWYNH3j/0="
)
SENDGRID_TIMESTAMP = "1600112502"
SENDGRID_PAYLOAD = (
    json.dumps(
        [
            {
                "email": "hello@world.com",
                "event": "dropped",
                "reason": "Bounced Address",
                "sg_event_id": "ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA",
                "sg_message_id": "LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0",
                "smtp-id": "<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>",
                "timestamp": 1600112492,
            }
        ],
        sort_keys=True,
        separators=(",", ":"),
    )
    + "\r\n"
).encode()
SENDGRID_SIGNED_AT = datetime.fromtimestamp(int(SENDGRID_TIMESTAMP), UTC)

PRIVATE_KEY = ec.generate_private_key(ec.SECP256R1())
PUBLIC_KEY = base64.b64encode(
    PRIVATE_KEY.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
).decode()
NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
BODY = b'--xYzZY\r\nContent-Disposition: form-data; name="email"\r\n\r\nFrom: a@example.kr\r\n\r\n\xbe\xc8\xb3\xe7\r\n--xYzZY--\r\n'
MAX_AGE = 300  # the stack's MailWebhookMaxAgeSeconds; SendGrid's own retry period decides instead


def sign(body: bytes, timestamp: str, key: ec.EllipticCurvePrivateKey = PRIVATE_KEY) -> str:
    return base64.b64encode(key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))).decode()


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def request(
    body: bytes = BODY, *, signature: str | None = None, timestamp: str | None = None, authorization: str | None = None
) -> WebhookRequest:
    headers = {"content-type": "multipart/form-data; boundary=xYzZY"}
    for name, value in (
        ("x-twilio-email-event-webhook-signature", signature),
        ("x-twilio-email-event-webhook-timestamp", timestamp),
        ("authorization", authorization),
    ):
        if value is not None:
            headers[name] = value
    return WebhookRequest(method="POST", path="/webhooks/email/sendgrid", headers=headers, query={}, body=body)


def signed(body: bytes = BODY, at: datetime = NOW, **extra: str) -> WebhookRequest:
    timestamp = str(int(at.timestamp()))
    return request(body, signature=sign(body, timestamp), timestamp=timestamp, **extra)


def test_sendgrids_own_vector_verifies():
    # Given the payload, timestamp and signature SendGrid's libraries test with, and SendGrid's public key
    given_request = request(SENDGRID_PAYLOAD, signature=SENDGRID_SIGNATURE, timestamp=SENDGRID_TIMESTAMP)
    # When verified against an account that has only that key
    # Then it is accepted: the signed bytes are timestamp + raw body, the signature base64 DER
    assert SENDGRID.verify(given_request, {"public_key": SENDGRID_PUBLIC_KEY}, SENDGRID_SIGNED_AT, MAX_AGE) is None


def test_the_public_key_may_be_given_in_pem():
    pem = (
        "-----BEGIN PUBLIC KEY-----\n"
        + "\n".join(SENDGRID_PUBLIC_KEY[i : i + 64] for i in range(0, len(SENDGRID_PUBLIC_KEY), 64))
        + "\n-----END PUBLIC KEY-----\n"
    )
    given_request = request(SENDGRID_PAYLOAD, signature=SENDGRID_SIGNATURE, timestamp=SENDGRID_TIMESTAMP)

    assert SENDGRID.verify(given_request, {"public_key": pem}, SENDGRID_SIGNED_AT, MAX_AGE) is None


@pytest.mark.parametrize(
    ("given_request", "public_key"),
    [
        pytest.param(
            request(SENDGRID_PAYLOAD, signature=SENDGRID_SIGNATURE, timestamp=SENDGRID_TIMESTAMP),
            SENDGRID_FAILING_PUBLIC_KEY,
            id="sendgrid-failing-key",
        ),
        pytest.param(
            request(SENDGRID_PAYLOAD, signature=SENDGRID_FAILING_SIGNATURE, timestamp=SENDGRID_TIMESTAMP),
            SENDGRID_PUBLIC_KEY,
            id="sendgrid-failing-signature",
        ),
        pytest.param(
            request(
                SENDGRID_PAYLOAD.replace(b"dropped", b"dropped "),
                signature=SENDGRID_SIGNATURE,
                timestamp=SENDGRID_TIMESTAMP,
            ),
            SENDGRID_PUBLIC_KEY,
            id="tampered-body",
        ),
        pytest.param(
            request(SENDGRID_PAYLOAD.rstrip(b"\r\n"), signature=SENDGRID_SIGNATURE, timestamp=SENDGRID_TIMESTAMP),
            SENDGRID_PUBLIC_KEY,
            id="body-without-its-trailing-crlf",
        ),
        pytest.param(
            request(SENDGRID_PAYLOAD, signature=SENDGRID_SIGNATURE, timestamp="1600112503"),
            SENDGRID_PUBLIC_KEY,
            id="tampered-timestamp",
        ),
    ],
)
def test_sendgrid_vector_changed_anywhere_is_refused(given_request, public_key):
    with pytest.raises(InvalidSignature, match="does not match"):
        SENDGRID.verify(given_request, {"public_key": public_key}, SENDGRID_SIGNED_AT, MAX_AGE)


@pytest.mark.parametrize(
    ("given_request", "reason"),
    [
        pytest.param(request(), "missing", id="no-headers"),
        pytest.param(request(signature=sign(BODY, "1796202000")), "missing", id="no-timestamp"),
        pytest.param(request(timestamp="1796202000"), "missing", id="no-signature"),
        pytest.param(request(signature="", timestamp=""), "missing", id="empty-headers"),
        pytest.param(
            request(signature=sign(BODY, "1796202000"), timestamp="1796202000.0"),
            "Unix time",
            id="fractional-timestamp",
        ),
        pytest.param(
            request(signature=sign(BODY, "١٧٩٦٢٠٢٠٠٠"), timestamp="١٧٩٦٢٠٢٠٠٠"), "Unix time", id="non-ascii-digits"
        ),
        pytest.param(
            request(signature=sign(BODY, "999999999999"), timestamp="999999999999"),
            "seconds from now",
            id="beyond-any-date",
        ),
        pytest.param(request(signature="not*base64!", timestamp="1796202000"), "not base64", id="garbled-signature"),
        pytest.param(request(signature="A" * 400, timestamp="1796202000"), "too long", id="oversized-signature"),
        pytest.param(
            request(signature=base64.b64encode(b"\x30\x00").decode(), timestamp="1796202000"),
            "does not match",
            id="empty-der",
        ),
        pytest.param(
            request(signature=sign(BODY + b"x", "1796202000"), timestamp="1796202000"),
            "does not match",
            id="signature-of-another-body",
        ),
        pytest.param(
            request(
                signature=sign(BODY, "1796202000", ec.generate_private_key(ec.SECP256R1())), timestamp="1796202000"
            ),
            "does not match",
            id="another-key",
        ),
    ],
)
def test_a_post_not_signed_by_the_configured_key_is_refused(given_request, reason):
    with pytest.raises(InvalidSignature, match=reason):
        SENDGRID.verify(given_request, {"public_key": PUBLIC_KEY}, NOW, MAX_AGE)


@pytest.mark.parametrize(
    ("signed_at", "accepted"),
    [
        pytest.param(NOW - timedelta(seconds=SIGNATURE_MAX_AGE_SECONDS), True, id="a-retry-three-days-on"),
        pytest.param(NOW - timedelta(seconds=SIGNATURE_MAX_AGE_SECONDS + 1), False, id="older-than-sendgrids-retries"),
        pytest.param(NOW + timedelta(seconds=SIGNATURE_MAX_AGE_SECONDS + 1), False, id="from-the-future"),
    ],
)
def test_a_signature_is_good_for_sendgrids_retry_period(signed_at, accepted):
    # Given a POST signed at `signed_at`: SendGrid retries a failed POST for 3 days, maybe with its first signature
    given_request = signed(at=signed_at)
    # When verified now, whatever the (shorter) max age the other mail webhooks use
    if accepted:
        assert SENDGRID.verify(given_request, {"public_key": PUBLIC_KEY}, NOW, MAX_AGE) is None
    else:
        with pytest.raises(InvalidSignature, match="seconds from now"):
            SENDGRID.verify(given_request, {"public_key": PUBLIC_KEY}, NOW, MAX_AGE)


def test_an_account_with_both_proofs_needs_both():
    secrets = {"username": "switchboard", "password": "s3cret", "public_key": PUBLIC_KEY}
    # Given an account with basic auth and a signing key: both pass, it is accepted
    assert SENDGRID.verify(signed(authorization=basic("switchboard", "s3cret")), secrets, NOW, MAX_AGE) is None
    # Then a signed POST with wrong credentials, or the right credentials on an unsigned POST, are not
    with pytest.raises(InvalidSignature, match="basic auth"):
        SENDGRID.verify(signed(authorization=basic("switchboard", "wrong")), secrets, NOW, MAX_AGE)
    with pytest.raises(InvalidSignature, match="missing X-Twilio"):
        SENDGRID.verify(request(authorization=basic("switchboard", "s3cret")), secrets, NOW, MAX_AGE)


def test_each_account_is_checked_by_its_own_proofs():
    # Given a default account on basic auth alone and a second, signed account with other credentials
    other_key = ec.generate_private_key(ec.SECP256R1())
    other_public = (
        other_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    secrets = {
        "username": "main",
        "password": "p1",
        "accounts": {"brand-b": {"username": "brand-b", "password": "p2", "public_key": other_public}},
    }
    timestamp = str(int(NOW.timestamp()))
    # Then the default account's credentials need no signature
    assert SENDGRID.verify(request(authorization=basic("main", "p1")), secrets, NOW, MAX_AGE) is None
    # And the second account's credentials need its own key's signature, not another's
    brand_b = request(
        signature=sign(BODY, timestamp, other_key), timestamp=timestamp, authorization=basic("brand-b", "p2")
    )
    assert SENDGRID.verify(brand_b, secrets, NOW, MAX_AGE) is None
    with pytest.raises(InvalidSignature):
        SENDGRID.verify(
            request(signature=sign(BODY, timestamp), timestamp=timestamp, authorization=basic("brand-b", "p2")),
            secrets,
            NOW,
            MAX_AGE,
        )
    with pytest.raises(InvalidSignature):
        SENDGRID.verify(request(authorization=basic("brand-b", "p2")), secrets, NOW, MAX_AGE)


@pytest.mark.parametrize(
    ("public_key", "reason"),
    [
        pytest.param("not a key", "not a public key", id="not-base64"),
        pytest.param(base64.b64encode(b"random bytes that are no DER").decode(), "not a public key", id="not-der"),
        pytest.param(
            base64.b64encode(
                rsa.generate_private_key(65537, 2048)
                .public_key()
                .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
            ).decode(),
            "not an ECDSA P-256 key",
            id="rsa-key",
        ),
        pytest.param(
            base64.b64encode(
                ec.generate_private_key(ec.SECP384R1())
                .public_key()
                .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
            ).decode(),
            "not an ECDSA P-256 key",
            id="p384-key",
        ),
        pytest.param(
            "-----BEGIN PUBLIC KEY-----\nbroken\n-----END PUBLIC KEY-----", "not a public key", id="broken-pem"
        ),
        pytest.param("공개 키", "not a public key", id="non-ascii"),
    ],
)
def test_a_public_key_that_is_not_sendgrids_kind_refuses_every_post(public_key, reason):
    # Given a secret whose public_key cannot verify a P-256 signature, and a POST with valid basic auth too
    secrets = {"username": "switchboard", "password": "s3cret", "public_key": public_key}
    # When a signed POST arrives, then it is refused: the account's proof cannot be checked, so it fails closed
    with pytest.raises(InvalidSignature, match=reason):
        SENDGRID.verify(signed(authorization=basic("switchboard", "s3cret")), secrets, NOW, MAX_AGE)


def test_a_secret_with_no_credentials_refuses_everything():
    with pytest.raises(InvalidSignature, match="no SendGrid credentials"):
        SENDGRID.verify(
            signed(authorization=basic("", "")), {"username": "", "password": "", "public_key": ""}, NOW, MAX_AGE
        )


def test_refusals_never_quote_the_presented_signature_or_credentials():
    presented = sign(BODY + b"x", "1796202000")
    with pytest.raises(InvalidSignature) as refused:
        SENDGRID.verify(
            request(signature=presented, timestamp="1796202000", authorization=basic("switchboard", "s3cret-guess")),
            {"username": "switchboard", "password": "s3cret", "public_key": PUBLIC_KEY},
            NOW,
            MAX_AGE,
        )
    assert presented not in refused.value.message and "s3cret" not in refused.value.message


@settings(max_examples=300, deadline=None)
@given(
    signature=st.none() | st.text(max_size=120) | st.binary(max_size=90).map(lambda b: base64.b64encode(b).decode()),
    timestamp=st.none() | st.text(max_size=14) | st.integers(min_value=0, max_value=10**13).map(str),
    body=st.binary(max_size=256),
)
def test_any_signature_headers_raise_only_invalid_signature(signature, timestamp, body):
    try:
        SENDGRID.verify(
            request(body, signature=signature, timestamp=timestamp), {"public_key": PUBLIC_KEY}, NOW, MAX_AGE
        )
    except InvalidSignature:
        return
    pytest.fail("a signature made without the private key was accepted")
