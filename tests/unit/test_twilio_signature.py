"""X-Twilio-Signature: base64(HMAC-SHA1(auth token, URL Twilio called + POST fields sorted by name, then
value)); a JSON body is signed through bodySHA256=<hex SHA-256 of the body> in the URL.

Vectors are Twilio's own, from twilio/twilio-python tests/unit/test_request_validator.py (token "12345");
the scheme is Twilio's "Webhooks security" documentation (https://www.twilio.com/docs/usage/webhooks/webhooks-security),
and the port rule follows twilio-python's twilio/request_validator.py (URL without its port, or with the
scheme's default port added).
"""

from urllib.parse import urlencode

import pytest

from switchboard.channels.twilio import EMPTY_TWIML, TwilioAdapter, signature
from switchboard.errors import InvalidSignature
from switchboard.http_request import WebhookRequest
from switchboard.queue import InboundQueue
from switchboard.webhooks import handle_webhook_event
from tests.support.drivers.twilio import (
    IN_PROCESS_URL,
    SAMPLE_ACCOUNT_SID,
    SAMPLE_AUTH_TOKEN,
    TwilioDriver,
    form,
    inbound_fields,
    message_sid,
    twilio_signature,
)
from tests.support.fakes import RecordingSqs
from tests.support.lambda_events import HttpResponse, http_api_event

TOKEN = "12345"
URI = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = [
    ("CallSid", "CA1234567890ABCDE"),
    ("Digits", "1234"),
    ("From", "+14158675309"),
    ("To", "+18005551212"),
    ("Caller", "+14158675309"),
]
JSON_BODY = b'{"property": "value", "boolean": true}'
JSON_BODY_SHA256 = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
SECRETS = {"auth_token": SAMPLE_AUTH_TOKEN, "account_sid": SAMPLE_ACCOUNT_SID}
TWILIO = TwilioDriver()
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/switchboard-dev-InboundQueue.fifo"


def request_to(url: str, body: bytes, presented: str | None) -> WebhookRequest:
    """The request Lambda sees when Twilio calls `url` (scheme and host as API Gateway forwards them)."""
    scheme, rest = url.split("://", 1)
    host, _, path_and_query = rest.partition("/")
    path, _, query = ("/" + path_and_query).partition("?")
    headers = {"host": host, "x-forwarded-proto": scheme, "content-type": "application/x-www-form-urlencoded"}
    if presented is not None:
        headers["x-twilio-signature"] = presented
    parameters = dict(pair.split("=", 1) for pair in query.split("&")) if query else {}
    return WebhookRequest(method="POST", path=path, headers=headers, query=parameters, body=body, raw_query=query)


def verify(request: WebhookRequest, token: str = TOKEN, adapter: TwilioAdapter | None = None) -> None:
    (adapter or TwilioAdapter()).verify(request, {"auth_token": token})


def test_twilio_vector_signature_of_url_and_sorted_fields():
    assert signature(URI, PARAMS, TOKEN) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_twilio_vector_repeated_field_names_are_sorted_by_value():
    fields = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234")]

    assert signature(URI, fields, TOKEN) == "IK+Dwps556ElfBT0I3Rgjkr1wJU="


@pytest.mark.parametrize(
    ("called_url", "presented"),
    [
        pytest.param(URI, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", id="as-signed"),
        pytest.param(URI.replace(".com", ".com:1234"), "RSOYDt4T1cUTdK1PDd93/VVr8B8=", id="https-port-removed"),
        pytest.param(
            URI.replace(".com", ".com:1234").replace("https", "http"),
            "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=",
            id="http-port-kept",
        ),
        pytest.param(URI, "kvajT1Ptam85bY51eRf/AJRuM3w=", id="https-443-added"),
        pytest.param(URI.replace("https", "http"), "0ZXoZLH/DfblKGATFgpif+LLRf4=", id="http-80-added"),
    ],
)
def test_twilio_vectors_validate_with_and_without_the_port(called_url, presented):
    # Given Twilio's form fields, posted to the URL as Twilio called it
    request = request_to(called_url, urlencode(PARAMS).encode(), presented)
    # When the request is verified, then it passes (no exception)
    verify(request)


def test_twilio_vector_json_body_is_signed_through_its_hash_in_the_url():
    request = request_to(f"{URI}&bodySHA256={JSON_BODY_SHA256}", JSON_BODY, "a9nBmqA0ju/hNViExpshrM61xv4=")

    verify(request)


def test_json_body_that_does_not_match_its_signed_hash_is_refused():
    request = request_to(
        f"{URI}&bodySHA256={JSON_BODY_SHA256}", JSON_BODY.replace(b"value", b"other"), "a9nBmqA0ju/hNViExpshrM61xv4="
    )

    with pytest.raises(InvalidSignature, match="bodySHA256 does not match the body"):
        verify(request)


def test_tampered_field_is_refused():
    tampered = urlencode([(name, "+14155550000" if name == "From" else value) for name, value in PARAMS]).encode()

    with pytest.raises(InvalidSignature, match="does not match"):
        verify(request_to(URI, tampered, "RSOYDt4T1cUTdK1PDd93/VVr8B8="))


def test_signature_over_another_url_is_refused():
    with pytest.raises(InvalidSignature, match="does not match"):
        verify(
            request_to(
                URI.replace("myapp.php", "other.php"), urlencode(PARAMS).encode(), "RSOYDt4T1cUTdK1PDd93/VVr8B8="
            )
        )


def test_signature_made_with_another_auth_token_is_refused():
    with pytest.raises(InvalidSignature, match="does not match"):
        verify(request_to(URI, urlencode(PARAMS).encode(), "RSOYDt4T1cUTdK1PDd93/VVr8B8="), token="54321")


def test_missing_signature_is_refused():
    with pytest.raises(InvalidSignature, match="missing x-twilio-signature header"):
        verify(request_to(URI, urlencode(PARAMS).encode(), None))


def test_without_a_configured_auth_token_nothing_is_accepted():
    with pytest.raises(InvalidSignature, match="no auth token"):
        verify(request_to(URI, urlencode(PARAMS).encode(), "RSOYDt4T1cUTdK1PDd93/VVr8B8="), token="")


def test_public_base_url_is_what_twilio_signed_behind_a_custom_domain():
    # Given Twilio calls https://support.example.com/webhooks/twilio, which reaches API Gateway's own host
    body = form(inbound_fields(message_sid=message_sid("custom-domain"), sender="+821098765432", body="안녕하세요"))
    presented = twilio_signature("https://support.example.com/webhooks/twilio", body)
    request = request_to(IN_PROCESS_URL, body, presented)
    # Then the signature passes only when the adapter knows the public URL
    TwilioAdapter(public_base_url="https://support.example.com/").verify(request, SECRETS)
    with pytest.raises(InvalidSignature):
        TwilioAdapter().verify(request, SECRETS)


def test_account_sid_selects_that_accounts_auth_token():
    # Given a second Twilio account configured under "accounts"
    secrets = {**SECRETS, "accounts": {"AC99999999999999999999999999999999": {"auth_token": "second-account-token"}}}
    fields = inbound_fields(
        message_sid=message_sid("second"),
        sender="+821098765432",
        body="두 번째 계정",
        account_sid="AC99999999999999999999999999999999",
    )
    body = form(fields)
    # When it is signed with the second account's token, it passes; with the default token, it does not
    TwilioAdapter().verify(
        request_to(IN_PROCESS_URL, body, twilio_signature(IN_PROCESS_URL, body, "second-account-token")), secrets
    )
    with pytest.raises(InvalidSignature):
        TwilioAdapter().verify(request_to(IN_PROCESS_URL, body, twilio_signature(IN_PROCESS_URL, body)), secrets)


def call_webhook(body: bytes, headers: dict[str, str]) -> tuple[HttpResponse, RecordingSqs]:
    sqs = RecordingSqs()
    event = http_api_event(
        method="POST", path="/webhooks/twilio", route_key="POST /webhooks/twilio", headers=headers, body=body
    )
    response = handle_webhook_event(
        event, adapter=TwilioAdapter(), queue=InboundQueue(sqs, QUEUE_URL), secrets=lambda: SECRETS
    )
    return HttpResponse.of(response), sqs


def test_signed_delivery_is_answered_with_empty_twiml_and_enqueued():
    # Given an SMS signed over the URL API Gateway received it on
    body = form(inbound_fields(message_sid=message_sid("twiml"), sender="+821098765432", body="환불 부탁드립니다"))
    # When it is delivered
    response, sqs = call_webhook(body, TWILIO.headers(body))
    # Then Twilio gets empty TwiML (no reply is texted back) and the message is queued
    assert (response.status, response.headers["content-type"], response.body) == (200, "text/xml", EMPTY_TWIML)
    assert [message.text for message in sqs.sent] == ["환불 부탁드립니다"]


def test_unsigned_delivery_is_a_401_and_nothing_is_enqueued():
    body = form(inbound_fields(message_sid=message_sid("unsigned"), sender="+821098765432", body="hi"))

    response, sqs = call_webhook(body, TWILIO.headers(body, signature=None))

    assert response.status == 401
    assert response.json() == {"error": "invalid_signature", "message": "missing x-twilio-signature header"}
    assert sqs.batches == []
