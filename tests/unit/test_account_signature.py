"""Several accounts on one channel: a payload naming an account that has its own secret under "accounts" is
verified by that secret only; the default (top-level) secret covers only accounts not configured separately.

The class: whatever secret made a proof, every account the payload files events under must be one that
secret belongs to. Each channel whose payload names its account is checked with the same four cases.
"""

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from tests.support.drivers import ChannelDriver
from tests.support.drivers.kakao import BOT_ID, KakaoDriver
from tests.support.drivers.line import BOT_USER_ID, LineDriver, line_signature
from tests.support.drivers.messenger import (
    INSTAGRAM_ACCOUNT_ID,
    PAGE_ID,
    InstagramDriver,
    MessengerDriver,
    meta_signature,
)
from tests.support.drivers.twilio import SAMPLE_ACCOUNT_SID, TwilioDriver, twilio_signature
from tests.support.drivers.whatsapp import PHONE_NUMBER_ID, WhatsAppDriver
from tests.unit.test_proof_signature import deliver

SENT = datetime(2025, 6, 8, 21, 0, tzinfo=UTC)
OWN_SECRET = "second-account-own-secret"


def _meta(headers: dict, body: bytes, secret: str) -> dict:
    return {**headers, "x-hub-signature-256": meta_signature(body, secret)}


def _line(headers: dict, body: bytes, secret: str) -> dict:
    return {**headers, "x-line-signature": line_signature(body, secret)}


def _kakao(headers: dict, body: bytes, secret: str) -> dict:
    return {**headers, "x-switchboard-token": secret}


def _twilio(headers: dict, body: bytes, secret: str) -> dict:
    return {**headers, "x-twilio-signature": twilio_signature(TwilioDriver().url, body, secret)}


# driver, the account id as the sample body spells it, the secret's setting, how the provider signs.
CHANNELS: list[tuple[ChannelDriver, str, str, Callable[[dict, bytes, str], dict]]] = [
    (WhatsAppDriver(), PHONE_NUMBER_ID, "app_secret", _meta),
    (MessengerDriver(), PAGE_ID, "app_secret", _meta),
    (InstagramDriver(), INSTAGRAM_ACCOUNT_ID, "app_secret", _meta),
    (LineDriver(), BOT_USER_ID, "channel_secret", _line),
    (KakaoDriver(), BOT_ID, "skill_token", _kakao),
    # Twilio's accounts are keyed by the AccountSid its form carries.
    (TwilioDriver(), SAMPLE_ACCOUNT_SID, "auth_token", _twilio),
]
IDS = [driver.name for driver, *_ in CHANNELS]


def delivery_naming(driver: ChannelDriver, sample_account: str, account: str) -> tuple[dict, bytes]:
    body = driver.text_message(
        driver.customer(1), message_id=driver.message_id("accounts"), text="환불 문의", sent_at=SENT
    )
    assert sample_account.encode() in body
    body = body.replace(sample_account.encode(), account.encode())
    return driver.headers(body), body


def two_accounts(driver: ChannelDriver, setting: str, second: str) -> dict:
    return {**driver.secrets, "accounts": {second: {setting: OWN_SECRET}}}


def second_account_id(sample_account: str) -> str:
    # Same shape as the sample id, so the body stays one the provider could send.
    return sample_account[:-4] + "9999"


def unconfigured_account_id(sample_account: str) -> str:
    return sample_account[:-4] + "7777"


@pytest.mark.parametrize(("driver", "sample_account", "setting", "sign"), CHANNELS, ids=IDS)
def test_the_default_secret_cannot_speak_for_an_account_with_its_own(driver, sample_account, setting, sign):
    # Given a second account configured with its own secret, and a payload naming it
    second = second_account_id(sample_account)
    headers, body = delivery_naming(driver, sample_account, second)
    # When it comes signed with the default account's secret
    response, sqs = deliver(
        driver, sign(headers, body, driver.secrets[setting]), body, secrets=two_accounts(driver, setting, second)
    )
    # Then it is refused as unauthenticated, and nothing is queued
    assert response.status == 401, response
    assert sqs.batches == []


@pytest.mark.parametrize(("driver", "sample_account", "setting", "sign"), CHANNELS, ids=IDS)
def test_an_accounts_own_secret_verifies_it(driver, sample_account, setting, sign):
    # Given a second account configured with its own secret, and a payload naming it
    second = second_account_id(sample_account)
    headers, body = delivery_naming(driver, sample_account, second)
    # When it comes signed with that account's secret, Then it is accepted and queued
    response, sqs = deliver(
        driver, sign(headers, body, OWN_SECRET), body, secrets=two_accounts(driver, setting, second)
    )
    assert response.status == 200, response
    assert len(sqs.sent) == 1


@pytest.mark.parametrize(("driver", "sample_account", "setting", "sign"), CHANNELS, ids=IDS)
def test_an_accounts_own_secret_cannot_speak_for_another_account(driver, sample_account, setting, sign):
    # Given a second account with its own secret, and a payload naming an account not configured separately
    second = second_account_id(sample_account)
    headers, body = delivery_naming(driver, sample_account, unconfigured_account_id(sample_account))
    # When it comes signed with the second account's secret, Then it is refused with nothing queued
    response, sqs = deliver(
        driver, sign(headers, body, OWN_SECRET), body, secrets=two_accounts(driver, setting, second)
    )
    assert response.status == 401, response
    assert sqs.batches == []


@pytest.mark.parametrize(("driver", "sample_account", "setting", "sign"), CHANNELS, ids=IDS)
def test_the_default_secret_covers_every_account_not_configured_separately(driver, sample_account, setting, sign):
    # Given a second account with its own secret, and a payload naming an account not configured separately
    second = second_account_id(sample_account)
    headers, body = delivery_naming(driver, sample_account, unconfigured_account_id(sample_account))
    # When it comes signed with the default secret, Then it is accepted: single-account setups are unchanged
    response, sqs = deliver(
        driver, sign(headers, body, driver.secrets[setting]), body, secrets=two_accounts(driver, setting, second)
    )
    assert response.status == 200, response
    assert len(sqs.sent) == 1
