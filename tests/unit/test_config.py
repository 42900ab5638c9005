"""Function settings come from the environment once, validated; a missing or empty value fails the cold start."""

import pytest
from pydantic import ValidationError

from switchboard.config import TableSettings, WhatsAppWebhookSettings

QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/switchboard-dev-InboundQueue.fifo"
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:switchboard/whatsapp-AbCdEf"


def test_table_settings_read_the_table_name():
    assert TableSettings.from_env({"TABLE_NAME": "switchboard-dev-TicketsTable", "STAGE": "dev"}).table_name == "switchboard-dev-TicketsTable"


@pytest.mark.parametrize("env", [{}, {"TABLE_NAME": ""}, {"table_name": "lower-case name is not the variable"}])
def test_table_settings_need_a_table_name(env):
    with pytest.raises(ValidationError, match="TABLE_NAME"):
        TableSettings.from_env(env)


def test_whatsapp_webhook_settings_read_queue_and_secret():
    settings = WhatsAppWebhookSettings.from_env({"INBOUND_QUEUE_URL": QUEUE_URL, "WHATSAPP_SECRET_ARN": SECRET_ARN})

    assert (settings.inbound_queue_url, settings.secret_arn) == (QUEUE_URL, SECRET_ARN)


@pytest.mark.parametrize(
    ("env", "missing"),
    [({"INBOUND_QUEUE_URL": QUEUE_URL}, "WHATSAPP_SECRET_ARN"), ({"WHATSAPP_SECRET_ARN": SECRET_ARN}, "INBOUND_QUEUE_URL")],
)
def test_whatsapp_webhook_settings_need_both_values(env, missing):
    with pytest.raises(ValidationError, match=missing):
        WhatsAppWebhookSettings.from_env(env)


def test_settings_default_to_the_process_environment(monkeypatch):
    monkeypatch.setenv("TABLE_NAME", "from-the-environment")

    assert TableSettings.from_env().table_name == "from-the-environment"


def test_settings_are_frozen():
    settings = TableSettings.from_env({"TABLE_NAME": "t"})

    with pytest.raises(ValidationError):
        settings.table_name = "other"
