"""Function settings come from the environment once, validated; a missing or empty value fails the cold start."""

import pytest
from pydantic import ValidationError

from switchboard.config import TableSettings, WhatsAppWebhookSettings

QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/switchboard-dev-InboundQueue.fifo"
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:switchboard/whatsapp-AbCdEf"


def test_table_settings_read_the_table_name():
    assert (
        TableSettings.from_env({"TABLE_NAME": "switchboard-dev-TicketsTable", "STAGE": "dev"}).table_name
        == "switchboard-dev-TicketsTable"
    )


@pytest.mark.parametrize("env", [{}, {"TABLE_NAME": ""}, {"table_name": "lower-case name is not the variable"}])
def test_table_settings_need_a_table_name(env):
    with pytest.raises(ValidationError, match="TABLE_NAME"):
        TableSettings.from_env(env)


def test_whatsapp_webhook_settings_read_queue_and_secret():
    settings = WhatsAppWebhookSettings.from_env({"INBOUND_QUEUE_URL": QUEUE_URL, "WHATSAPP_SECRET_ARN": SECRET_ARN})

    assert (settings.inbound_queue_url, settings.secret_arn) == (QUEUE_URL, SECRET_ARN)


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({"INBOUND_QUEUE_URL": QUEUE_URL}, "WHATSAPP_SECRET_ARN"),
        ({"WHATSAPP_SECRET_ARN": SECRET_ARN}, "INBOUND_QUEUE_URL"),
    ],
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


MEDIA_FETCHER_ENV = {
    "ATTACHMENTS_BUCKET": "attachments",
    "MEDIA_MAX_BYTES": "26214400",
    "GRAPH_API_BASE_URL": "https://graph.facebook.com/v21.0",
    "LINE_DATA_API_BASE_URL": "https://api-data.line.me",
    "TELEGRAM_API_BASE_URL": "https://api.telegram.org",
    "TWILIO_API_BASE_URL": "https://api.twilio.com",
    "WHATSAPP_MEDIA_SECRET_ARN": "arn:whatsapp-media",
    "LINE_MEDIA_SECRET_ARN": "arn:line-media",
    "TELEGRAM_MEDIA_SECRET_ARN": "arn:telegram-media",
    "TWILIO_MEDIA_SECRET_ARN": "arn:twilio-media",
    # template.yaml's defaults, comma-joined as the template passes them
    "MEDIA_HOSTS_WHATSAPP": "graph.facebook.com,lookaside.fbsbx.com",
    "MEDIA_HOSTS_MESSENGER": "*.fbcdn.net,*.fbsbx.com",
    "MEDIA_HOSTS_INSTAGRAM": "*.fbcdn.net,*.fbsbx.com,*.cdninstagram.com",
    "MEDIA_HOSTS_LINE": "api-data.line.me",
    "MEDIA_HOSTS_TELEGRAM": "api.telegram.org",
    "MEDIA_HOSTS_KAKAO": "*.kakaocdn.net",
    "MEDIA_HOSTS_TWILIO": "api.twilio.com,mms.twiliocdn.com,media.twiliocdn.com,s3-external-1.amazonaws.com",
}


def test_media_fetcher_settings_accept_the_templates_defaults():
    from switchboard.config import MediaFetcherSettings

    settings = MediaFetcherSettings.from_env(MEDIA_FETCHER_ENV)
    assert settings.media_origins()["kakao"] == "*.kakaocdn.net"


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("MEDIA_HOSTS_KAKAO", "169.254.169.254", "not a host name"),
        ("MEDIA_HOSTS_MESSENGER", "http://scontent.fbcdn.net/photos", "origin only"),
        ("MEDIA_HOSTS_WHATSAPP", "lookaside.fbsbx.com", "GRAPH_API_BASE_URL is not on MEDIA_HOSTS_WHATSAPP"),
        ("TELEGRAM_API_BASE_URL", "http://api.telegram.org", "TELEGRAM_API_BASE_URL is not on MEDIA_HOSTS_TELEGRAM"),
    ],
)
def test_media_fetcher_settings_refuse_an_allow_list_that_cannot_work(name, value, says):
    from switchboard.config import MediaFetcherSettings

    # Given one media setting an operator got wrong, When the fetcher starts, Then it says which
    with pytest.raises(ValidationError, match=says):
        MediaFetcherSettings.from_env({**MEDIA_FETCHER_ENV, name: value})
