"""Fixtures shared by the unit and integration suites (activated per suite, see their conftest.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import boto3
import pytest
from hypothesis import settings
from moto import mock_aws

from infra import moto_atomic
from infra.fakes.providers import FakeProviders
from infra.template import load_template
from switchboard import runtime
from tests.support import moto_fidelity
from tests.support.drivers import DRIVERS, WEBHOOK_DRIVERS, ChannelDriver
from tests.support.drivers.whatsapp import WhatsAppDriver
from tests.support.stack import ChannelHarness, InProcessStack, aws_session

# Lambda sets a function's environment before importing its code, and Powertools reads its settings
# (metrics namespace, service) at import. This process imports the shared layer once, possibly while
# collecting unit tests, so the template's Globals are in place before anything imports it.
for _name, _value in load_template()["Globals"]["Function"]["Environment"]["Variables"].items():
    if isinstance(_value, str):
        os.environ.setdefault(_name, _value)

# CI runs the property tests on a fixed sequence of examples, so a submission's run says whether that change
# broke something rather than whether a random draw found an old edge case; every local `make test` draws
# afresh and keeps what it finds in .hypothesis/ to replay.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

_AWS_CONFIG = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE")


@pytest.fixture
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and no endpoint overrides, so nothing can reach a real account or a local server."""
    for name in list(os.environ):
        if name.startswith("AWS_ENDPOINT_URL") or name in _AWS_CONFIG:
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)


@pytest.fixture(scope="session")
def _provider_server() -> Iterator[FakeProviders]:
    server = FakeProviders().start()
    yield server
    server.stop()


@pytest.fixture
def fake_providers(_provider_server: FakeProviders) -> FakeProviders:
    """The providers' media APIs (infra/fakes/providers.py), empty, accepting the drivers' sample credentials."""
    _provider_server.reset()
    _provider_server.use_channel_secrets({driver.name: dict(driver.secrets) for driver in DRIVERS})
    return _provider_server


@pytest.fixture
def stack(
    aws_environment: None, monkeypatch: pytest.MonkeyPatch, fake_providers: FakeProviders
) -> Iterator[InProcessStack]:
    """Every resource of template.yaml in moto, with channel secrets seeded from the drivers' samples and the
    media fetcher pointed at the fake providers."""
    moto_atomic.install()
    moto_fidelity.install()
    with mock_aws():
        runtime.reset()
        # The functions build their clients lazily from boto3's default session. It is shared and warmed
        # up here: boto3 does not make a session's first client creation safe across threads.
        monkeypatch.setattr(boto3, "DEFAULT_SESSION", aws_session())
        for service in ("dynamodb", "sqs", "secretsmanager", "s3"):
            boto3.client(service)
        provisioned = InProcessStack.provision(monkeypatch, DRIVERS, parameters=fake_providers.template_parameters())
        # The media fetcher's download-credentials secrets (a Twilio API key among them) are the fake's to accept.
        fake_providers.use_channel_secrets(provisioned.channel_secrets)
        yield provisioned
        runtime.reset()


@pytest.fixture(params=DRIVERS, ids=lambda driver: driver.name)
def driver(request: pytest.FixtureRequest) -> ChannelDriver:
    return request.param


@pytest.fixture
def channel(stack: InProcessStack, driver: ChannelDriver) -> ChannelHarness:
    """The webhook of each channel in turn: tests using it run once per driver."""
    return stack.channel(driver)


@pytest.fixture(params=WEBHOOK_DRIVERS, ids=lambda driver: driver.name)
def webhook_channel(stack: InProcessStack, request: pytest.FixtureRequest) -> ChannelHarness:
    """Each channel that is reached by a signed HTTP request (all but SES, which writes into the mail bucket)."""
    return stack.channel(request.param)


@pytest.fixture(params=[d for d in DRIVERS if d.text_must_be_unicode], ids=lambda driver: driver.name)
def unicode_channel(stack: InProcessStack, request: pytest.FixtureRequest) -> ChannelHarness:
    """Each channel whose payloads are Unicode text (JSON, forms): not mail, which carries declared charsets."""
    return stack.channel(request.param)


@pytest.fixture
def whatsapp(stack: InProcessStack) -> ChannelHarness:
    return stack.channel(WhatsAppDriver())


@pytest.fixture
def queue_dedup_window_lapsed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Providers redeliver for days (Meta: up to 7), long after SQS FIFO's 5-minute deduplication window,
    so the queue no longer drops the copy and the table must catch it. moto's window is made zero."""
    import moto.sqs.models

    monkeypatch.setattr(moto.sqs.models, "DEDUPLICATION_TIME_IN_SECONDS", 0)
