"""Meta's subscription handshake: GET with hub.mode=subscribe, hub.verify_token and hub.challenge."""

import pytest

from tests.support.drivers.whatsapp import SAMPLE_VERIFY_TOKEN
from tests.support.lambda_events import http_api_event
from tests.support.webhook_logic import WHATSAPP, call_whatsapp_webhook

SUBSCRIBE = {"hub.mode": "subscribe", "hub.verify_token": SAMPLE_VERIFY_TOKEN, "hub.challenge": "1158201444"}


def handshake(query, method="GET"):
    return http_api_event(
        method=method, path=WHATSAPP.webhook_path, route_key=f"{method} {WHATSAPP.webhook_path}", query=query
    )


def test_right_verify_token_gets_the_challenge_echoed():
    response, sqs = call_whatsapp_webhook(handshake(SUBSCRIBE))

    assert (response.status, response.headers["content-type"], response.body) == (200, "text/plain", "1158201444")
    assert sqs.batches == []


def test_wrong_verify_token_is_forbidden():
    response, _ = call_whatsapp_webhook(handshake(SUBSCRIBE | {"hub.verify_token": "guessed-token"}))

    assert response.status == 403
    assert response.json()["error"] == "forbidden"


def test_missing_verify_token_is_forbidden():
    response, _ = call_whatsapp_webhook(handshake({k: v for k, v in SUBSCRIBE.items() if k != "hub.verify_token"}))

    assert response.status == 403


def test_handshake_is_forbidden_when_no_verify_token_is_configured():
    # Given a channel secret without a verify token, even an empty token must not pass
    response, _ = call_whatsapp_webhook(handshake(SUBSCRIBE | {"hub.verify_token": ""}), secrets={"app_secret": "x"})

    assert response.status == 403


@pytest.mark.parametrize(
    "query",
    [
        {},
        {k: v for k, v in SUBSCRIBE.items() if k != "hub.mode"},
        {k: v for k, v in SUBSCRIBE.items() if k != "hub.challenge"},
        SUBSCRIBE | {"hub.mode": "unsubscribe"},
    ],
    ids=["no-parameters", "no-mode", "no-challenge", "other-mode"],
)
def test_incomplete_handshake_is_an_invalid_request(query):
    response, _ = call_whatsapp_webhook(handshake(query))

    assert response.status == 400
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_other_methods_are_not_allowed(method):
    response, sqs = call_whatsapp_webhook(handshake(SUBSCRIBE, method=method))

    assert response.status == 405
    assert response.json()["error"] == "method_not_allowed"
    assert sqs.batches == []
