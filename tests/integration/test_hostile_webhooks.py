"""Property-based: whatever arrives at a webhook, the answer is a 4xx or an honest 200, never a 5xx or a
crash, and nothing reaches the queue unless the provider signed a well-formed delivery."""

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.support.hostile import body_cap, hostile_bodies

pytestmark = pytest.mark.slow

# The stack is built once per test and shared by its examples; nothing an example does may change it.
PROPERTY = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
SENT = datetime(2025, 6, 8, 21, 0, tzinfo=UTC)
NO_SURROGATES = st.characters(exclude_categories=["Cs"])


def deliver_counting_sends(stack, channel, body: bytes, signature):
    # The stack's gateway passes a body that is not UTF-8 text base64-encoded, as API Gateway does.
    with stack.requests_sent("sqs") as sent:
        response = channel.deliver(body, signature=signature)
    return response, [operation for operation in sent.operations if operation.startswith("SendMessage")]


@PROPERTY
@given(data=st.data())
def test_deliveries_without_a_genuine_signature_are_refused(stack, webhook_channel, data):
    # Given any body, hostile or well-formed, with a missing, malformed or forged signature
    channel = webhook_channel
    driver = channel.driver
    body = data.draw(
        st.one_of(
            hostile_bodies(driver),
            st.just(
                driver.text_message(driver.customer(1), message_id=driver.message_id("m"), text="hi", sent_at=SENT)
            ),
        ),
        label="body",
    )
    signature = data.draw(driver.forged_signatures(), label="signature")
    assume(signature != driver.headers(body).get(driver.signature_header))
    # When it is delivered
    response, sends = deliver_counting_sends(stack, channel, body, signature)
    # Then it is refused as unauthenticated (or, past the route's cap, as too large before it is read),
    # and nothing is enqueued
    expected = (413, "payload_too_large") if len(body) > body_cap(driver) else (401, "invalid_signature")
    assert (response.status, response.json()["error"]) == expected, response
    assert sends == []
    assert stack.queued_count() == 0


@PROPERTY
@given(data=st.data())
def test_signed_deliveries_that_are_not_provider_webhooks_are_malformed(stack, webhook_channel, data):
    # Given a body the provider would never send, signed as the provider signs (so parsing is reached);
    # where the proof travels inside the body (Mailgun), a signable one: garbage cannot carry a proof
    channel = webhook_channel
    strategy = channel.driver.malformed_bodies() if channel.driver.proof_in_body else hostile_bodies(channel.driver)
    body = data.draw(strategy, label="body")
    # When it is delivered
    response, sends = deliver_counting_sends(
        stack, channel, body, signature=channel.driver.headers(body)[channel.driver.signature_header]
    )
    # Then it is refused as malformed with a JSON error (past the route's cap, as too large before it is
    # read), and nothing is enqueued
    expected = (413, "payload_too_large") if len(body) > body_cap(channel.driver) else (400, "malformed_payload")
    assert (response.status, response.json()["error"]) == expected, response
    assert sends == []
    assert stack.queued_count() == 0


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(words=st.text(alphabet=NO_SURROGATES, max_size=400))
def test_any_text_a_customer_sends_reaches_agents_unchanged(stack, channel, words):
    # Given a well-formed, signed message whose text is any Unicode at all
    driver = channel.driver
    message_id, customer = driver.message_id(f"any-text:{words}"), driver.customer(3)
    body = driver.text_message(customer, message_id=message_id, text=words, sent_at=SENT)
    # When it is delivered and written
    response = channel.deliver(body)
    report = stack.drain_queue()
    # Then it is accepted, and agents read exactly what was sent (as the channel can carry it)
    assert response.status == 200, response
    assert report.failed_records == 0, report
    (message,) = [
        m for m in stack.only_ticket()["messages"] if m["external_id"] == driver.external_id(customer, message_id)
    ]
    assert driver.text_seen_by_agents(message) == driver.expected_text(words)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    before=st.text(alphabet=NO_SURROGATES, max_size=40),
    surrogate=st.integers(0xD800, 0xDFFF).map(chr),
    after=st.text(alphabet=NO_SURROGATES, max_size=40),
)
def test_text_with_a_lone_surrogate_escape_is_malformed(stack, unicode_channel, before, surrogate, after):
    # Given a signed delivery whose JSON text holds "\\udXXX" with no partner: not Unicode text at all
    channel = unicode_channel
    driver = channel.driver
    body = driver.text_message(
        driver.customer(4),
        message_id=driver.message_id("lone-surrogate"),
        text=before + surrogate + after,
        sent_at=SENT,
    )
    # When it is delivered
    response, sends = deliver_counting_sends(
        stack, channel, body, signature=driver.headers(body)[driver.signature_header]
    )
    # Then it is refused as malformed, not failed on as a 5xx the provider would retry for days
    assert response.status == 400, response
    assert sends == []
