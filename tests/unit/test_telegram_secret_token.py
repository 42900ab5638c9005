"""Telegram's X-Telegram-Bot-Api-Secret-Token: the secret_token given to setWebhook, sent back verbatim on
every update. Nothing signs the body, so the token is the whole proof, and it names the bot.

Source: Telegram Bot API, setWebhook (https://core.telegram.org/bots/api#setwebhook): "If you'd like to
make sure that the webhook was set by you, you can specify secret data in the parameter secret_token. If
specified, the request will contain a header X-Telegram-Bot-Api-Secret-Token with the secret token as
content." (1-256 characters, A-Z, a-z, 0-9, _ and -)
"""

import pytest

from switchboard.channels.telegram import ADAPTER, bot_id_of
from switchboard.errors import InvalidSignature
from switchboard.http_request import WebhookRequest
from switchboard.queue import InboundQueue
from switchboard.webhooks import handle_webhook_event
from tests.support.drivers.telegram import BOT_ID, SAMPLE_SECRET_TOKEN, TelegramDriver
from tests.support.fakes import RecordingSqs
from tests.support.lambda_events import HttpResponse, http_api_event
from tests.support.paths import provider_fixture

TELEGRAM = TelegramDriver()
SAMPLE = provider_fixture("telegram", "text.json")
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/switchboard-dev-InboundQueue.fifo"
SECOND_BOT = "7098765432"
TWO_BOTS = {
    "secret_token": SAMPLE_SECRET_TOKEN,
    "bot_token": f"{BOT_ID}:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
    "accounts": {SECOND_BOT: {"secret_token": "second-bot-secret", "bot_token": f"{SECOND_BOT}:AAE-second"}},
}


def deliver(token: str | None, secrets=TELEGRAM.secrets, body: bytes = SAMPLE) -> tuple[HttpResponse, RecordingSqs]:
    headers = {"content-type": "application/json"} | (
        {"x-telegram-bot-api-secret-token": token} if token is not None else {}
    )
    event = http_api_event(
        method="POST", path=TELEGRAM.webhook_path, route_key=f"POST {TELEGRAM.webhook_path}", headers=headers, body=body
    )
    sqs = RecordingSqs()
    response = handle_webhook_event(event, adapter=ADAPTER, queue=InboundQueue(sqs, QUEUE_URL), secrets=lambda: secrets)
    return HttpResponse.of(response), sqs


def verify(token: str, secrets) -> str | None:
    request = WebhookRequest(
        method="POST",
        path="/webhooks/telegram",
        headers={"x-telegram-bot-api-secret-token": token},
        query={},
        body=SAMPLE,
    )
    return ADAPTER.verify(request, secrets)


def test_configured_secret_token_is_accepted_and_the_update_enqueued_under_the_bot():
    response, sqs = deliver(SAMPLE_SECRET_TOKEN)

    assert (response.status, response.json()) == (200, {"received": 1})
    assert [(message.channel_account_id, message.text) for message in sqs.sent] == [(BOT_ID, "/start")]


@pytest.mark.parametrize(
    "token", ["wrong-token", SAMPLE_SECRET_TOKEN.upper(), SAMPLE_SECRET_TOKEN + " ", SAMPLE_SECRET_TOKEN[:-1], "토큰"]
)
def test_any_other_token_is_refused(token):
    response, sqs = deliver(token)

    assert response.json() == {
        "error": "invalid_signature",
        "message": "x-telegram-bot-api-secret-token does not match any bot's secret token",
    }
    assert sqs.batches == []


@pytest.mark.parametrize("token", [None, ""])
def test_missing_token_is_refused(token):
    response, sqs = deliver(token)

    assert response.json() == {
        "error": "invalid_signature",
        "message": "missing x-telegram-bot-api-secret-token header",
    }
    assert sqs.batches == []


def test_without_a_configured_secret_token_nothing_is_accepted():
    response, _ = deliver("", secrets={"bot_token": "1:x"})
    assert response.status == 401
    with pytest.raises(InvalidSignature, match="no secret token is configured"):
        verify("anything", {"bot_token": "1:x"})


def test_each_bot_is_recognized_by_its_own_token():
    assert verify(SAMPLE_SECRET_TOKEN, TWO_BOTS) == BOT_ID
    assert verify("second-bot-secret", TWO_BOTS) == SECOND_BOT


def test_second_bot_files_its_updates_under_its_id():
    response, sqs = deliver("second-bot-secret", secrets=TWO_BOTS)

    assert response.status == 200
    assert [message.external_id for message in sqs.sent] == [f"{SECOND_BOT}:1111111:1365"]


@pytest.mark.parametrize(
    ("secrets", "account"),
    [
        ({"secret_token": "s", "bot_id": "555", "bot_token": "123456:ABC"}, "555"),
        ({"secret_token": "s", "bot_token": "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"}, "123456"),
        ({"secret_token": "s", "bot_token": "not-a-token"}, "default"),
        ({"secret_token": "s"}, "default"),
    ],
    ids=["bot_id", "token prefix", "unreadable token", "no token"],
)
def test_default_bot_id_comes_from_bot_id_then_the_token(secrets, account):
    assert bot_id_of(secrets) == account
    assert verify("s", secrets) == account
