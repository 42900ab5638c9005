"""Replies through Twilio's Messages API (SMS, and WhatsApp through Twilio): the request as Twilio documents it,
its answers in our terms, WhatsApp's 24-hour window, SMS segments, and the signed status callbacks Twilio posts
afterwards, read back by our own webhook adapter.

Against the fake providers server (infra/fakes/providers.py, infra/fakes/outbound_twilio.py), no AWS involved.
"""

from __future__ import annotations

import base64
import socket
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest

from infra.fakes.outbound import Receipt
from infra.fakes.providers import Credentials, FakeProviders
from switchboard.channels.sending import (
    OutboundAttachment,
    OutboundRequest,
    ProviderAnswer,
    SendContext,
    SendEndpoints,
    SendHttp,
    WhatsAppTemplate,
)
from switchboard.channels.twilio import (
    MAX_TEXT_CHARS,
    TwilioAdapter,
    adapter_for,
    outcome_of_answer,
    sends_through_twilio,
    sms_segments,
)
from switchboard.http_request import WebhookRequest
from switchboard.models import Channel, DeliveryReceipt, DeliveryStatus
from tests.support.sending import send_context

NOW = datetime(2025, 6, 9, 12, 0, tzinfo=UTC)
BUSINESS = "+821012345678"
CUSTOMER = "+821098765432"
CALLBACK = "https://hooks.example.test/webhooks/twilio"
DEFAULTS = Credentials()
SECRETS = {"account_sid": DEFAULTS.twilio_account_sid, "auth_token": DEFAULTS.twilio_auth_token}
SMS = TwilioAdapter()
WHATSAPP = TwilioAdapter(channel=Channel.WHATSAPP)


@pytest.fixture(scope="module")
def server():
    fake = FakeProviders().start()
    yield fake
    fake.stop()


@pytest.fixture
def providers(server: FakeProviders) -> FakeProviders:
    server.reset()
    server.use_credentials(Credentials())
    return server


def context_for(fake: FakeProviders, read_timeout: float = 10.0) -> SendContext:
    return send_context(fake.base_url, read_timeout=read_timeout, connect_timeout=3.0)


def reply(channel: Channel = Channel.SMS, **changes) -> OutboundRequest:
    fields = {
        "attempt_id": "attempt-1",
        "message_id": "msg-1",
        "ticket_id": "ticket-1",
        "channel": channel,
        "channel_account_id": BUSINESS,
        "recipient_id": CUSTOMER,
        "text": "주문하신 상품은 내일 도착합니다.",
        "status_callback_url": CALLBACK,
        "customer_last_message_at": NOW - timedelta(minutes=5),
        "now": NOW,
    }
    return OutboundRequest.model_validate({**fields, **changes})


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def messages_path(account_sid: str = DEFAULTS.twilio_account_sid) -> str:
    return f"/twilio/2010-04-01/Accounts/{account_sid}/Messages.json"


def as_webhook(receipt: Receipt) -> WebhookRequest:
    """The request our webhook sees when Twilio posts `receipt` to its StatusCallback URL."""
    url = urlsplit(receipt.target)
    headers = {key.lower(): value for key, value in receipt.headers.items()}
    headers |= {"host": url.netloc, "x-forwarded-proto": url.scheme}
    return WebhookRequest(
        method="POST",
        path=url.path,
        headers=headers,
        query=dict(parse_qsl(url.query)),
        body=receipt.body,
        raw_query=url.query,
    )


def posted_receipts(fake: FakeProviders, count: int) -> list[Receipt]:
    """The receipts the fake posts once it has answered: they are handed over just after the answer is written."""
    taken: list[Receipt] = []
    deadline = time.monotonic() + 5
    while len(taken) < count and time.monotonic() < deadline:
        taken += fake.take_receipts()
        time.sleep(0.01)
    return taken


def receipts_read_back(fake: FakeProviders, count: int) -> list[DeliveryReceipt]:
    events = []
    for receipt in posted_receipts(fake, count):
        request = as_webhook(receipt)
        SMS.verify(request, {"auth_token": fake.signing.twilio_auth_token})
        events.extend(SMS.parse(request.body, NOW))
    assert all(isinstance(event, DeliveryReceipt) for event in events)
    return events  # type: ignore[return-value]


def test_an_sms_reply_posts_the_documented_form_with_basic_auth(providers):
    # Given an SMS reply with a photo, and the account's credentials in the channel secret
    photo = OutboundAttachment(kind="image", storage_key="t/1/photo.jpg", url="https://files.example.test/photo.jpg")
    # When it is sent
    outcome = SMS.send(reply(attachments=(photo,)), SECRETS, context_for(providers))
    # Then Twilio took it, and got To, From, Body, MediaUrl and StatusCallback, form-encoded, as the account
    assert outcome.kind == "sent" and outcome.provider_message_id.startswith("SM")
    [call] = providers.calls("twilio")
    assert call.path == messages_path()
    assert call.header("Authorization") == basic(DEFAULTS.twilio_account_sid, DEFAULTS.twilio_auth_token)
    assert call.header("Content-Type") == "application/x-www-form-urlencoded"
    assert call.form() == [
        ("To", CUSTOMER),
        ("From", BUSINESS),
        ("Body", "주문하신 상품은 내일 도착합니다."),
        ("MediaUrl", "https://files.example.test/photo.jpg"),
        ("StatusCallback", CALLBACK),
    ]


def test_a_whatsapp_reply_prefixes_both_addresses(providers):
    # Given a reply in a WhatsApp conversation carried by Twilio
    # When it is sent
    outcome = WHATSAPP.send(reply(Channel.WHATSAPP), SECRETS, context_for(providers))
    # Then both numbers carry Twilio's whatsapp: channel prefix
    assert outcome.kind == "sent"
    form = providers.calls("twilio")[0].form_dict()
    assert (form["To"], form["From"]) == (f"whatsapp:{CUSTOMER}", f"whatsapp:{BUSINESS}")


def test_a_media_only_reply_sends_no_body(providers):
    # Given a reply that is only a document
    document = OutboundAttachment(kind="document", storage_key="t/1/a.pdf", url="https://files.example.test/a.pdf")
    # When it is sent
    outcome = SMS.send(reply(text=None, attachments=(document,)), SECRETS, context_for(providers))
    # Then Twilio gets a MediaUrl and no Body field at all
    assert outcome.kind == "sent"
    assert [name for name, _ in providers.calls("twilio")[0].form()] == ["To", "From", "MediaUrl", "StatusCallback"]


def test_an_api_key_in_the_secret_is_used_in_place_of_the_auth_token(providers):
    # Given a channel secret that also holds a Twilio API key
    secrets = {**SECRETS, "api_key_sid": DEFAULTS.twilio_api_key_sid, "api_key_secret": DEFAULTS.twilio_api_key_secret}
    # When a reply is sent
    outcome = SMS.send(reply(), secrets, context_for(providers))
    # Then basic auth is the API key, on the account's URL
    assert outcome.kind == "sent"
    [call] = providers.calls("twilio")
    assert call.header("Authorization") == basic(DEFAULTS.twilio_api_key_sid, DEFAULTS.twilio_api_key_secret)
    assert call.path == messages_path()


def test_a_number_listed_under_an_account_sends_as_that_account(providers):
    # Given a second Twilio account that owns the business number, the fake knowing only that account
    second = Credentials(twilio_account_sid="AC" + "1" * 32, twilio_auth_token="second-token")
    providers.use_credentials(second)
    secrets = {
        **SECRETS,
        "accounts": {second.twilio_account_sid: {"auth_token": "second-token", "numbers": [BUSINESS]}},
    }
    # When a reply from that number and one from another number are sent
    from_listed = SMS.send(reply(), secrets, context_for(providers))
    from_other = SMS.send(reply(channel_account_id="+821055556666"), secrets, context_for(providers))
    # Then the listed number goes out as the second account; the other as the top-level one, which this fake refuses
    assert from_listed.kind == "sent"
    assert [call.path for call in providers.calls("twilio")] == [
        messages_path(second.twilio_account_sid),
        messages_path(DEFAULTS.twilio_account_sid),
    ]
    assert (from_other.kind, from_other.code) == ("rejected", "20003")


def test_without_credentials_nothing_is_sent(providers):
    # Given a channel secret with an auth token but no Account SID
    # When a reply is sent
    outcome = SMS.send(reply(), {"auth_token": "token"}, context_for(providers))
    # Then it is refused before any call, saying what to configure
    assert (outcome.kind, outcome.code) == ("rejected", "not_configured")
    assert providers.calls("twilio") == []


@pytest.mark.parametrize(
    ("recipient", "code", "says"),
    [
        ("+15005550004", "21610", "STOP"),
        ("+15005550001", "21211", "not a valid phone number"),
        ("+15005550003", "21408", "country"),
        ("010-9876-5432", "21211", "not a valid phone number"),
    ],
)
def test_a_refused_recipient_is_rejected_with_twilios_code_and_no_number(providers, recipient, code, says):
    # Given a customer number Twilio refuses (opted out, invalid, a region the account may not reach)
    # When a reply is sent to it
    outcome = SMS.send(reply(recipient_id=recipient), SECRETS, context_for(providers))
    # Then it is rejected with Twilio's code and a reason an agent can act on, quoting no number
    assert (outcome.kind, outcome.code) == ("rejected", code)
    assert says in outcome.reason
    assert not any(character.isdigit() for character in outcome.reason.replace(code, ""))


def test_a_body_over_twilios_limit_is_rejected(providers):
    # Given a reply one character over Twilio's 1,600
    # When it is sent
    outcome = SMS.send(reply(text="a" * (MAX_TEXT_CHARS + 1)), SECRETS, context_for(providers))
    # Then Twilio's 21617 comes back as a rejection
    assert (outcome.kind, outcome.code) == ("rejected", "21617")
    assert SMS.max_text_chars == WHATSAPP.max_text_chars == 1600


def test_429_with_retry_after_is_a_retry(providers):
    # Given Twilio throttling the account once, asking for 7 seconds
    providers.fail(messages_path(), status=429, retry_after="7")
    # When a reply is sent
    outcome = SMS.send(reply(), SECRETS, context_for(providers))
    # Then it goes back to the queue for those 7 seconds
    assert (outcome.kind, outcome.retry_after_seconds) == ("retry", 7.0)


def test_a_5xx_is_a_retry(providers):
    # Given Twilio failing once
    providers.fail(messages_path(), status=503)
    # When a reply is sent
    outcome = SMS.send(reply(), SECRETS, context_for(providers))
    # Then it is retried
    assert outcome.kind == "retry"


def test_twilios_own_error_bodies_read_as_documented():
    # Given Twilio's error JSON for throttling, an opt-out and a closed WhatsApp window
    def answer(status: int, code: int, message: str) -> ProviderAnswer:
        body = f'{{"code": {code}, "message": "{message}", "more_info": "https://www.twilio.com/docs/errors/{code}", "status": {status}}}'
        return ProviderAnswer(status, {"Retry-After": "3"}, body.encode())

    throttled = outcome_of_answer(answer(429, 20429, "Too Many Requests"))
    window = outcome_of_answer(
        answer(400, 63016, "Failed to send freeform message because you are outside the allowed window.")
    )
    unknown_code = outcome_of_answer(answer(400, 21999, "The number +821098765432 cannot do that"))
    # Then 20429 is a retry after Retry-After, 63016 a rejection naming the window, an unknown code keeps
    # Twilio's words without the number
    assert (throttled.kind, throttled.code, throttled.retry_after_seconds) == ("retry", "20429", 3.0)
    assert (window.kind, window.code) == ("rejected", "63016") and "24-hour window" in window.reason
    assert unknown_code.code == "21999" and "+8210" not in unknown_code.reason


def test_a_201_without_a_message_sid_is_unknown():
    # Given a 201 whose body names no SM/MM sid
    outcome = outcome_of_answer(ProviderAnswer(201, {}, b'{"status": "queued"}'))
    # Then the attempt is not recorded as sent (no receipt could ever settle it)
    assert outcome.kind == "unknown"


def test_a_timeout_after_twilio_accepted_is_unknown_and_never_resent(providers):
    # Given Twilio taking longer than the sender waits, and accepting the message all the same
    providers.stall(messages_path(), seconds=1.0)
    request = reply()
    # When a reply is sent with a 0.3 s read timeout
    outcome = SMS.send(request, SECRETS, context_for(providers, read_timeout=0.3))
    # Then it is unknown, and a resend is not safe: the Messages API takes no idempotency key
    assert outcome.kind == "unknown"
    assert SMS.resend_is_safe(request) is False
    assert providers.requests_to(messages_path()) == 1


def test_no_connection_is_a_retry():
    # Given a port on 127.0.0.1 where nothing listens
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    context = SendContext(
        http=SendHttp(connect_timeout=0.5),
        endpoints=SendEndpoints(graph="", line_api="", telegram="", twilio=f"http://127.0.0.1:{port}/twilio"),
    )
    # When a reply is sent
    outcome = SMS.send(reply(), SECRETS, context)
    # Then Twilio cannot have acted on it: it is retried
    assert outcome.kind == "retry"


def test_sms_status_callbacks_verify_and_parse_into_receipts_on_the_sid(providers):
    # Given an SMS reply Twilio accepted
    outcome = SMS.send(reply(), SECRETS, context_for(providers))
    # When the callbacks Twilio posts to StatusCallback reach our webhook adapter
    receipts = receipts_read_back(providers, 2)
    # Then they verify with the auth token and the URL, and report sent then delivered on the returned SM sid
    assert [(r.status, r.external_id) for r in receipts] == [
        (DeliveryStatus.SENT, outcome.provider_message_id),
        (DeliveryStatus.DELIVERED, outcome.provider_message_id),
    ]
    assert {(r.channel, r.channel_account_id, r.recipient_id) for r in receipts} == {(Channel.SMS, BUSINESS, CUSTOMER)}


def test_whatsapp_status_callbacks_also_report_read(providers):
    # Given a WhatsApp reply through Twilio
    outcome = WHATSAPP.send(reply(Channel.WHATSAPP), SECRETS, context_for(providers))
    # When its callbacks are read back
    receipts = receipts_read_back(providers, 3)
    # Then sent, delivered and read land on the sid, in the WhatsApp channel
    assert [r.status for r in receipts] == [DeliveryStatus.SENT, DeliveryStatus.DELIVERED, DeliveryStatus.READ]
    assert {(r.external_id, r.channel, r.channel_account_id) for r in receipts} == {
        (outcome.provider_message_id, Channel.WHATSAPP, BUSINESS)
    }


def test_status_callbacks_go_to_the_url_the_request_named_and_only_when_named(providers):
    # Given one reply with a StatusCallback and one without
    SMS.send(
        reply(status_callback_url="https://other.example.test/webhooks/twilio?x=1"), SECRETS, context_for(providers)
    )
    first = posted_receipts(providers, 2)
    SMS.send(reply(status_callback_url=None), SECRETS, context_for(providers))
    time.sleep(0.2)
    # Then callbacks target exactly the named URL, and none follow a send without one
    assert [receipt.target for receipt in first] == ["https://other.example.test/webhooks/twilio?x=1"] * 2
    for receipt in first:
        SMS.verify(
            as_webhook(receipt), {"auth_token": providers.signing.twilio_auth_token}
        )  # signed over the query too
    assert providers.take_receipts() == []
    assert "StatusCallback" not in providers.calls("twilio")[-1].form_dict()


def test_a_template_or_several_whatsapp_attachments_are_refused_before_any_call(providers):
    # Given a template reply, and a WhatsApp reply with two photos (Twilio would drop the second)
    photos = tuple(
        OutboundAttachment(kind="image", storage_key=f"t/{n}.jpg", url=f"https://files.example.test/{n}.jpg")
        for n in (1, 2)
    )
    template = reply(Channel.WHATSAPP, text=None, template=WhatsAppTemplate(name="order_update", language="ko"))
    # When they are sent
    outcomes = [
        WHATSAPP.send(template, SECRETS, context_for(providers)),
        WHATSAPP.send(reply(Channel.WHATSAPP, attachments=photos), SECRETS, context_for(providers)),
    ]
    # Then both are refused and Twilio is not called
    assert [(o.kind, o.code) for o in outcomes] == [
        ("rejected", "template_unsupported"),
        ("rejected", "too_many_attachments"),
    ]
    assert providers.calls("twilio") == []


@pytest.mark.parametrize("last", [None, NOW - timedelta(days=400)])
def test_sms_is_always_open(last):
    # Given an SMS conversation, however long ago the customer wrote
    # When the window is judged
    verdict = SMS.window(last_customer_message_at=last, now=NOW, human_agent=True, template=False)
    # Then a reply may go out
    assert verdict.open


@pytest.mark.parametrize(
    ("since", "is_open"),
    [
        (timedelta(hours=23, minutes=59, seconds=59), True),
        (timedelta(hours=24, seconds=1), False),
    ],
)
def test_whatsapp_through_twilio_has_the_24_hour_window(since, is_open):
    # Given a WhatsApp conversation whose customer last wrote `since` ago
    # When a free-form reply's window is judged
    verdict = WHATSAPP.window(last_customer_message_at=NOW - since, now=NOW, human_agent=True, template=False)
    # Then it is open inside 24 hours; outside, closed with only a template allowed
    assert verdict.open is is_open
    if not is_open:
        assert (verdict.code, verdict.allowed) == ("window_closed", ("template",))


def test_whatsapp_without_a_customer_message_is_closed_and_templates_are_not_sent_yet():
    # Given no known customer message, then a template reply inside the window
    never = WHATSAPP.window(last_customer_message_at=None, now=NOW, human_agent=True, template=False)
    template = WHATSAPP.window(last_customer_message_at=NOW, now=NOW, human_agent=True, template=True)
    # Then both are closed; the template one says Twilio's Content templates are not supported
    assert not never.open and never.allowed == ("template",)
    assert not template.open and "ContentSid" in template.reason


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("", 0),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("€" * 80, 1),  # extension characters take two septets
        ("€" * 81, 2),
        ("a" * 152 + "^" + "a" * 152, 3),  # an escape pair is never split across segments
        ("배" * 70, 1),  # Korean is UCS-2
        ("배" * 71, 2),
        ("배" * 134, 2),
        ("배" * 135, 3),
        ("a" * 159 + "é", 1),  # é is in GSM-7
        ("a" * 69 + "ç", 1),  # ç is not (only Ç is): UCS-2 for the whole text
        ("a" * 70 + "ç", 2),
        ("😀" * 35, 1),  # an emoji is a surrogate pair: two UCS-2 units
        ("😀" * 36, 2),
    ],
)
def test_sms_segments(text, segments):
    # Given a text  When it is split as a carrier splits SMS  Then it takes this many segments
    assert sms_segments(text) == segments


@pytest.mark.parametrize(
    ("channel", "account", "through_twilio"),
    [
        (Channel.SMS, "+821012345678", True),
        (Channel.WHATSAPP, "+821012345678", True),
        (Channel.WHATSAPP, "106540352242922", False),  # a WhatsApp Cloud API phone-number id
        (Channel.LINE, "U0123", False),
    ],
)
def test_which_conversations_reply_through_twilio(channel, account, through_twilio):
    # Given a conversation's channel and account  Then whether Twilio carries its replies
    assert sends_through_twilio(channel, account) is through_twilio


def test_the_sending_adapter_keeps_each_channels_window():
    # Given a customer who last wrote two days ago
    two_days_ago = NOW - timedelta(days=2)
    # When the sending adapters for SMS and for WhatsApp through Twilio judge a reply
    sms, whatsapp = (
        adapter_for(channel).window(last_customer_message_at=two_days_ago, now=NOW, human_agent=True, template=False)
        for channel in (Channel.SMS, Channel.WHATSAPP)
    )
    # Then SMS may go out and WhatsApp may not
    assert (sms.open, whatsapp.open) == (True, False)
