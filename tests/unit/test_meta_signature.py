"""Meta's X-Hub-Signature-256: HMAC-SHA256 of the raw body bytes with the app secret (WhatsApp here;
Messenger and Instagram share the scheme)."""

import json

import pytest

from tests.support.drivers.whatsapp import (
    SAMPLE_APP_SECRET,
    contact,
    encode,
    messages_value,
    meta_signature,
    text_item,
    webhook,
)
from tests.support.paths import provider_fixture
from tests.support.webhook_logic import call_whatsapp_webhook, whatsapp_post

TEXT_SAMPLE = provider_fixture("whatsapp", "text.json")


def signed(body: bytes, secret: str = SAMPLE_APP_SECRET) -> dict[str, str]:
    return {"content-type": "application/json", "x-hub-signature-256": meta_signature(body, secret)}


def test_signature_over_the_exact_body_is_accepted_and_the_message_enqueued():
    # Given Meta's text sample signed with the app secret
    event = whatsapp_post(TEXT_SAMPLE, signed(TEXT_SAMPLE))
    # When it is delivered
    response, sqs = call_whatsapp_webhook(event)
    # Then it is accepted and its message is on the queue
    assert (response.status, response.json()) == (200, {"received": 1})
    assert [message.text for message in sqs.sent] == ["Does it come in another color?"]


def test_tampered_body_is_refused():
    # Given a signed body that was changed in transit
    tampered = TEXT_SAMPLE.replace(b"another color", b"another colour")
    # When it is delivered with the original signature
    response, sqs = call_whatsapp_webhook(whatsapp_post(tampered, signed(TEXT_SAMPLE)))
    # Then it is refused and nothing is enqueued
    assert response.status == 401
    assert response.json()["error"] == "invalid_signature"
    assert sqs.batches == []


def test_signature_made_with_another_secret_is_refused():
    response, sqs = call_whatsapp_webhook(whatsapp_post(TEXT_SAMPLE, signed(TEXT_SAMPLE, "someone-elses-secret")))

    assert response.status == 401
    assert response.json() == {"error": "invalid_signature", "message": "signature does not match the body"}
    assert sqs.batches == []


def test_missing_signature_header_is_refused():
    response, sqs = call_whatsapp_webhook(whatsapp_post(TEXT_SAMPLE, {"content-type": "application/json"}))

    assert response.status == 401
    assert response.json() == {"error": "invalid_signature", "message": "missing x-hub-signature-256 header"}
    assert sqs.batches == []


@pytest.mark.parametrize(
    "header",
    [
        "",
        "sha256",
        "sha256=",
        meta_signature(TEXT_SAMPLE).removeprefix("sha256="),
        "sha1=" + meta_signature(TEXT_SAMPLE).removeprefix("sha256=")[:40],
        "sha256=" + "z" * 64,
        "sha256=" + meta_signature(TEXT_SAMPLE).removeprefix("sha256=")[:-2],
        "SHA256=" + meta_signature(TEXT_SAMPLE).removeprefix("sha256="),
    ],
    ids=["empty", "no-digest", "empty-digest", "no-prefix", "sha1", "not-hex", "truncated", "prefix-upper-case"],
)
def test_malformed_signature_header_is_refused(header):
    response, sqs = call_whatsapp_webhook(whatsapp_post(TEXT_SAMPLE, {"x-hub-signature-256": header}))

    assert response.status == 401
    assert response.json()["error"] == "invalid_signature"
    assert sqs.batches == []


def test_signature_is_refused_when_no_app_secret_is_configured():
    # Given a channel secret without an app secret (misconfigured): fail closed
    event = whatsapp_post(TEXT_SAMPLE, signed(TEXT_SAMPLE, ""))
    # When a body "signed" with the empty secret arrives
    response, sqs = call_whatsapp_webhook(event, secrets={"verify_token": "sample-verify-token"})
    # Then it is refused
    assert response.status == 401
    assert sqs.batches == []


def test_base64_encoded_body_from_api_gateway_is_verified_over_the_decoded_bytes():
    # Given API Gateway passed the signed body base64-encoded, as it does for a type it does not treat as text
    event = whatsapp_post(TEXT_SAMPLE, {**signed(TEXT_SAMPLE), "content-type": "application/octet-stream"})
    assert event["isBase64Encoded"]
    # When it is delivered
    response, sqs = call_whatsapp_webhook(event)
    # Then the signature matches the original bytes and the message is enqueued
    assert response.status == 200
    assert [message.external_id for message in sqs.sent] == [
        "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
    ]


def test_body_flagged_base64_that_is_not_base64_is_malformed():
    event = whatsapp_post(TEXT_SAMPLE, signed(TEXT_SAMPLE))
    event["isBase64Encoded"] = True

    response, sqs = call_whatsapp_webhook(event)

    assert response.status == 400
    assert response.json()["error"] == "malformed_payload"
    assert sqs.batches == []


KOREAN_PAYLOAD = webhook(
    messages_value(
        [
            text_item(
                wamid="wamid.korean", sender="821012345678", body="주문한 신발이 아직 안 왔어요", timestamp=1749416383
            )
        ],
        contacts=[contact("821012345678", "김민준")],
    )
)
ESCAPED_BODY = encode(KOREAN_PAYLOAD)
RAW_UTF8_BODY = json.dumps(KOREAN_PAYLOAD, separators=(",", ":"), ensure_ascii=False).encode()


@pytest.mark.parametrize("body", [ESCAPED_BODY, RAW_UTF8_BODY], ids=["escaped-uXXXX", "raw-utf8"])
def test_non_ascii_body_verifies_over_its_own_bytes(body):
    # Given Korean text serialized either as Meta does (\uXXXX escapes) or as raw UTF-8, signed as sent
    assert b"\\uc8fc" in ESCAPED_BODY and "주문".encode() in RAW_UTF8_BODY
    # When it is delivered
    response, sqs = call_whatsapp_webhook(whatsapp_post(body, signed(body)))
    # Then it verifies, and both spellings carry the same words
    assert response.status == 200
    assert [(m.text, m.sender.display_name) for m in sqs.sent] == [("주문한 신발이 아직 안 왔어요", "김민준")]


def test_signature_of_the_escaped_body_does_not_cover_a_reserialized_body():
    # Meta signs the bytes it sent; re-serializing the JSON (here: unescaping Korean) changes them.
    response, sqs = call_whatsapp_webhook(whatsapp_post(RAW_UTF8_BODY, signed(ESCAPED_BODY)))

    assert response.status == 401
    assert sqs.batches == []


def test_header_name_is_matched_in_any_case():
    # Given a request whose header names kept their case (API Gateway lower-cases them; a proxy might not)
    event = whatsapp_post(TEXT_SAMPLE)
    event["headers"] = {"Content-Type": "application/json", "X-Hub-Signature-256": meta_signature(TEXT_SAMPLE)}
    # When it is delivered
    response, sqs = call_whatsapp_webhook(event)
    # Then the signature is found and checked
    assert response.status == 200
    assert len(sqs.sent) == 1
