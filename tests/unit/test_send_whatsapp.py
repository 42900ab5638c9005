"""WhatsApp Cloud API replies: the request shapes, the customer service window, Graph's answers, and the signed
status webhooks the fake posts back, read by our own adapter (real HTTP against the fake providers)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from infra.fakes.outbound import Receipt
from infra.fakes.providers import FakeProviders
from switchboard.channels.sending import (
    OutboundAttachment,
    OutboundRequest,
    SendContext,
    SendEndpoints,
    WhatsAppTemplate,
    WindowVerdict,
)
from switchboard.channels.whatsapp import ADAPTER, reply_refusal
from switchboard.http_request import WebhookRequest
from switchboard.models import Channel, DeliveryReceipt, DeliveryStatus
from tests.support.drivers.whatsapp import PHONE_NUMBER_ID, WhatsAppDriver
from tests.support.sending import send_context

NOW = datetime(2025, 6, 9, 12, 0, tzinfo=UTC)
CUSTOMER = "16505551234"
SECRETS = dict(WhatsAppDriver.secrets)
SEND_PATH = f"/graph/v21.0/{PHONE_NUMBER_ID}/messages"


def context_for(fake: FakeProviders, *, read_timeout: float = 10.0) -> SendContext:
    return send_context(fake.base_url, read_timeout=read_timeout)


def reply(**changes) -> OutboundRequest:
    fields = {
        "attempt_id": "att_01JXW6Q0R5",
        "message_id": "msg_1",
        "ticket_id": "tkt_1",
        "channel": Channel.WHATSAPP,
        "channel_account_id": PHONE_NUMBER_ID,
        "recipient_id": CUSTOMER,
        "text": "안녕하세요, 주문하신 상품은 내일 도착합니다.",
        "customer_last_message_at": NOW - timedelta(hours=1),
        "now": NOW,
    }
    return OutboundRequest(**(fields | changes))


def attachment(kind: str, **changes) -> OutboundAttachment:
    fields = {"kind": kind, "storage_key": f"att/{kind}", "url": f"https://files.example/{kind}?X-Amz-Signature=abc"}
    return OutboundAttachment(**(fields | changes))


def receipts_from(fake: FakeProviders, count: int) -> list[Receipt]:
    """The fake posts receipts right after answering; they may land a moment after our call returns."""
    taken: list[Receipt] = []
    deadline = time.monotonic() + 3
    while len(taken) < count and time.monotonic() < deadline:
        taken += fake.take_receipts()
        time.sleep(0.01)
    return taken


def delivered_to_our_webhook(fake: FakeProviders, receipt: Receipt) -> list:
    """The receipt as our webhook gets it, checked with the app secret the fake signs with."""
    request = WebhookRequest(
        method="POST",
        path=receipt.target,
        headers={name.lower(): value for name, value in receipt.headers.items()},
        query={},
        body=receipt.body,
    )
    ADAPTER.verify(request, SECRETS | {"app_secret": fake.signing.whatsapp_app_secret})
    return list(ADAPTER.parse(request.body, NOW))


def test_a_text_reply_is_the_documented_text_message_with_the_attempt_as_callback_data(fake_providers):
    # Given a reply inside the window
    # When it is sent
    outcome = ADAPTER.send(reply(), SECRETS, context_for(fake_providers))
    # Then Graph received the Cloud API text message, the token in the Authorization header only
    (call,) = fake_providers.calls("graph")
    assert call.path == SEND_PATH and call.query == ""
    assert call.header("Authorization") == "Bearer sample-access-token"
    assert call.json() == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": CUSTOMER,
        "type": "text",
        "text": {"body": "안녕하세요, 주문하신 상품은 내일 도착합니다.", "preview_url": False},
        "biz_opaque_callback_data": "att_01JXW6Q0R5",
    }
    # And the outcome carries the wamid Graph answered
    assert outcome.kind == "sent"
    assert (outcome.provider_message_id or "").startswith("wamid.")


@pytest.mark.parametrize(
    ("kind", "extra", "expected"),
    [
        ("image", {}, {"link": "https://files.example/image?X-Amz-Signature=abc", "caption": "사진입니다"}),
        ("video", {}, {"link": "https://files.example/video?X-Amz-Signature=abc", "caption": "사진입니다"}),
        (
            "document",
            {"filename": "invoice.pdf"},
            {
                "link": "https://files.example/document?X-Amz-Signature=abc",
                "caption": "사진입니다",
                "filename": "invoice.pdf",
            },
        ),
    ],
)
def test_an_attachment_goes_as_a_media_message_with_the_text_as_its_caption(fake_providers, kind, extra, expected):
    # Given a reply with one attachment and a text
    request = reply(text="사진입니다", attachments=(attachment(kind, **extra),))
    # When it is sent
    outcome = ADAPTER.send(request, SECRETS, context_for(fake_providers))
    # Then one media message carries the link and the caption
    (call,) = fake_providers.calls("graph")
    assert call.json() == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": CUSTOMER,
        "type": kind,
        kind: expected,
        "biz_opaque_callback_data": "att_01JXW6Q0R5",
    }
    assert outcome.kind == "sent"


def test_an_audio_reply_has_no_caption(fake_providers):
    # Given a voice note without text
    request = reply(text=None, attachments=(attachment("audio"),))
    # When it is sent
    ADAPTER.send(request, SECRETS, context_for(fake_providers))
    # Then the audio object carries the link alone
    (call,) = fake_providers.calls("graph")
    assert call.json()["audio"] == {"link": "https://files.example/audio?X-Amz-Signature=abc"}


def test_a_template_reply_is_the_documented_template_message(fake_providers):
    # Given a reply that carries an approved template with two body parameters, outside the window
    template = WhatsAppTemplate(name="order_update", language="ko", parameters=("민준", "A-1024"))
    request = reply(text=None, template=template, customer_last_message_at=NOW - timedelta(days=3))
    # When it is sent
    outcome = ADAPTER.send(request, SECRETS, context_for(fake_providers))
    # Then Graph received the template message with a deterministic language policy
    (call,) = fake_providers.calls("graph")
    assert call.json() == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": CUSTOMER,
        "type": "template",
        "template": {
            "name": "order_update",
            "language": {"code": "ko", "policy": "deterministic"},
            "components": [
                {"type": "body", "parameters": [{"type": "text", "text": "민준"}, {"type": "text", "text": "A-1024"}]}
            ],
        },
        "biz_opaque_callback_data": "att_01JXW6Q0R5",
    }
    assert outcome.kind == "sent"


def test_a_template_without_parameters_has_no_components(fake_providers):
    # Given a template with no body parameters
    request = reply(text=None, template=WhatsAppTemplate(name="hello_world", language="en_US"))
    # When it is sent
    ADAPTER.send(request, SECRETS, context_for(fake_providers))
    # Then the template names itself and its language only
    (call,) = fake_providers.calls("graph")
    assert call.json()["template"] == {"name": "hello_world", "language": {"code": "en_US", "policy": "deterministic"}}


@pytest.mark.parametrize(
    ("elapsed", "is_open"),
    [
        (timedelta(hours=23, minutes=59, seconds=59), True),
        (timedelta(hours=24), False),
        (timedelta(hours=24, seconds=1), False),
        (timedelta(0), True),
    ],
)
def test_free_form_replies_need_the_24_hour_window(elapsed, is_open):
    # Given the customer's last message `elapsed` ago
    # When a free-form reply is judged, by a person or a bot alike
    verdicts = {
        ADAPTER.window(last_customer_message_at=NOW - elapsed, now=NOW, human_agent=human, template=False)
        for human in (True, False)
    }
    # Then it may go out only within the 24 hours; outside, only a template is offered
    (verdict,) = verdicts
    if is_open:
        assert verdict == WindowVerdict.opened()
    else:
        assert (verdict.open, verdict.code, verdict.allowed) == (False, "window_closed", ("template",))


@pytest.mark.parametrize("last", [None, NOW - timedelta(days=30), NOW - timedelta(minutes=5)])
def test_a_template_may_always_go_out(last):
    # Given any history, even none
    # When a template reply is judged
    verdict = ADAPTER.window(last_customer_message_at=last, now=NOW, human_agent=True, template=True)
    # Then the window is open
    assert verdict == WindowVerdict.opened()


def test_a_customer_who_never_wrote_can_only_get_a_template():
    # Given no customer message at all
    verdict = ADAPTER.window(last_customer_message_at=None, now=NOW, human_agent=True, template=False)
    # Then only a template is allowed
    assert (verdict.open, verdict.allowed) == (False, ("template",))


@pytest.mark.parametrize(
    ("text", "attachments", "template", "refused"),
    [
        ("hello", (), None, False),
        ("x" * 4096, (), None, False),
        ("x" * 4097, (), None, True),
        (None, (), None, True),
        ("caption", (attachment("image"),), None, False),
        ("x" * 1025, (attachment("image"),), None, True),
        ("caption", (attachment("audio"),), None, True),
        (None, (attachment("image"), attachment("document")), None, True),
        (None, (), WhatsAppTemplate(name="t", language="en"), False),
        (None, (attachment("image"),), WhatsAppTemplate(name="t", language="en"), True),
    ],
)
def test_a_reply_must_fit_one_whatsapp_message(text, attachments, template, refused):
    # Given a reply's content
    # When it is checked before acceptance
    reason = reply_refusal(text, attachments, template)
    # Then only what one Cloud API message can carry passes
    assert (reason is not None) == refused


def test_a_reply_that_cannot_be_one_message_is_refused_without_calling_graph(fake_providers):
    # Given two attachments
    request = reply(attachments=(attachment("image"), attachment("video")))
    # When it is sent
    outcome = ADAPTER.send(request, SECRETS, context_for(fake_providers))
    # Then nothing reached Graph, and the reply failed with the reason
    assert fake_providers.calls("graph") == []
    assert (outcome.kind, outcome.code) == ("rejected", "invalid_reply")


def test_nothing_makes_a_resend_safe_on_whatsapp():
    # Given any attempt
    # Then a resend is never blind: the Cloud API takes no idempotency key
    assert ADAPTER.resend_is_safe(reply()) is False
    assert ADAPTER.max_text_chars == 4096


@pytest.mark.parametrize(
    ("error", "kind", "code"),
    [
        ("131047", "rejected", "131047"),
        ("131026", "rejected", "131026"),
        ("131051", "rejected", "131051"),
        ("190", "rejected", "190/463"),
        ("130429", "retry", "130429"),
        ("131056", "retry", "131056"),
        ("80007", "retry", "80007"),
        ("4", "retry", "4"),
        ("2", "retry", "2"),
    ],
)
def test_graph_errors_are_read_by_their_code(fake_providers, error, kind, code):
    # Given a recipient for whom Graph answers that error (a 400 for throttling too, as Graph does)
    request = reply(recipient_id=f"graph-error-{error}")
    # When the reply is sent
    outcome = ADAPTER.send(request, SECRETS, context_for(fake_providers))
    # Then the code decides, not the HTTP status, and Graph's code (and subcode) is kept
    assert (outcome.kind, outcome.code) == (kind, code)
    assert outcome.reason


def test_re_engagement_says_the_window_closed_and_what_to_do(fake_providers):
    # Given the customer's window closed on Meta's side
    outcome = ADAPTER.send(reply(recipient_id="graph-error-131047"), SECRETS, context_for(fake_providers))
    # Then the reason tells the agent a template is needed
    assert outcome.reason is not None
    assert outcome.reason.startswith("window_closed") and "template" in outcome.reason


def test_an_expired_token_fails_with_a_reason_an_admin_can_act_on(fake_providers):
    # Given a secret holding a token Graph does not accept
    secrets = SECRETS | {"access_token": "revoked-token"}
    # When a reply is sent
    outcome = ADAPTER.send(reply(), secrets, context_for(fake_providers))
    # Then it failed for good, naming the token problem, and the token never reached a reason
    assert (outcome.kind, outcome.code) == ("rejected", "190")
    assert "access token" in (outcome.reason or "") and "revoked-token" not in (outcome.reason or "")


def test_an_account_without_a_token_fails_without_calling_graph(fake_providers):
    # Given a channel secret with no access token
    secrets = {"app_secret": "x"}
    # When a reply is sent
    outcome = ADAPTER.send(reply(), secrets, context_for(fake_providers))
    # Then it failed as not configured
    assert (outcome.kind, outcome.code) == ("rejected", "not_configured")
    assert fake_providers.calls("graph") == []


def test_a_second_number_uses_its_own_token(fake_providers):
    # Given a number with its own token under "accounts"
    fake_providers.use_credentials(fake_providers.credentials.__class__(whatsapp_access_token="second-number-token"))
    secrets = SECRETS | {"accounts": {"222": {"access_token": "second-number-token"}}}
    # When a reply goes out from that number
    outcome = ADAPTER.send(reply(channel_account_id="222"), secrets, context_for(fake_providers))
    # Then the call used that number's path and token
    (call,) = fake_providers.calls("graph")
    assert (call.path, call.header("Authorization")) == ("/graph/v21.0/222/messages", "Bearer second-number-token")
    assert outcome.kind == "sent"


def test_429_is_retried_after_retry_after(fake_providers):
    # Given Graph throttles the next request with a Retry-After
    fake_providers.fail(SEND_PATH, status=429, retry_after="7")
    # When a reply is sent
    outcome = ADAPTER.send(reply(), SECRETS, context_for(fake_providers))
    # Then it is to be retried after those seconds
    assert (outcome.kind, outcome.retry_after_seconds) == ("retry", 7.0)


def test_a_server_error_is_retried(fake_providers):
    # Given Graph fails with a 500
    fake_providers.fail(SEND_PATH, status=500)
    # When a reply is sent
    outcome = ADAPTER.send(reply(), SECRETS, context_for(fake_providers))
    # Then it is to be retried
    assert outcome.kind == "retry"


def test_a_timeout_is_unknown_never_retried(fake_providers):
    # Given Graph accepts the message but answers after our read timeout
    fake_providers.stall(SEND_PATH, seconds=1.5)
    # When a reply is sent
    outcome = ADAPTER.send(reply(), SECRETS, context_for(fake_providers, read_timeout=0.5))
    # Then its fate is unknown (the provider may have sent it), and the receipts will tell
    assert outcome.kind == "unknown"
    statuses = [
        event.status for r in receipts_from(fake_providers, 3) for event in delivered_to_our_webhook(fake_providers, r)
    ]
    assert statuses == [DeliveryStatus.SENT, DeliveryStatus.DELIVERED, DeliveryStatus.READ]


def test_no_connection_is_retried(fake_providers):
    # Given no provider listens where the Graph base URL points
    context = context_for(fake_providers)
    dead = SendContext(
        http=context.http,
        endpoints=SendEndpoints(graph="http://127.0.0.1:9/graph/v21.0", line_api="", telegram="", twilio=""),
    )
    # When a reply is sent
    outcome = ADAPTER.send(reply(), SECRETS, dead)
    # Then nothing can have been sent: retry
    assert outcome.kind == "retry"


def test_the_status_webhooks_land_on_our_adapter_as_receipts_of_the_sent_message(fake_providers):
    # Given a reply Graph accepted
    outcome = ADAPTER.send(reply(), SECRETS, context_for(fake_providers))
    # When the fake posts its status webhooks to our WhatsApp webhook
    receipts = receipts_from(fake_providers, 3)
    assert {r.target for r in receipts} == {"/webhooks/whatsapp"}
    events = [event for r in receipts for event in delivered_to_our_webhook(fake_providers, r)]
    # Then our adapter verifies each signature and reads sent, delivered, read for the message Graph named
    assert [type(event) for event in events] == [DeliveryReceipt] * 3
    assert [event.status for event in events] == [DeliveryStatus.SENT, DeliveryStatus.DELIVERED, DeliveryStatus.READ]
    assert {(e.external_id, e.channel_account_id, e.recipient_id) for e in events} == {
        (outcome.provider_message_id, PHONE_NUMBER_ID, CUSTOMER)
    }
    # And every status echoes the attempt id, so a receipt could name its attempt
    assert all(b'"biz_opaque_callback_data":"att_01JXW6Q0R5"' in r.body for r in receipts)
