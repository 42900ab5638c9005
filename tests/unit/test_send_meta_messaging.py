"""Messenger and Instagram replies through the Send API: request shapes, the 24-hour and HUMAN_AGENT windows,
Graph's answers, and the signed receipts the fake posts back, read by our own adapter (real HTTP against the
fake providers)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from infra.fakes.outbound import Receipt
from infra.fakes.providers import FakeProviders
from switchboard.channels.meta_messaging import INSTAGRAM, MESSENGER, MetaMessagingAdapter
from switchboard.channels.sending import (
    OutboundAttachment,
    OutboundRequest,
    SendContext,
    SendEndpoints,
    SendHttp,
    WindowVerdict,
)
from switchboard.http_request import WebhookRequest
from switchboard.models import Channel, DeliveryReceipt, DeliveryStatus, ReadWatermark
from tests.support.drivers.messenger import INSTAGRAM_ACCOUNT_ID, PAGE_ID, InstagramDriver, MessengerDriver
from tests.support.sending import send_context

NOW = datetime(2025, 6, 9, 12, 0, tzinfo=UTC)
CUSTOMER = "7160000000012345"
MESSENGER_SECRETS = dict(MessengerDriver.secrets)
INSTAGRAM_SECRETS = dict(InstagramDriver.secrets)
MESSENGER_PATH = f"/graph/v21.0/{PAGE_ID}/messages"
INSTAGRAM_PATH = f"/graph/v21.0/{INSTAGRAM_ACCOUNT_ID}/messages"

CHANNELS = [
    pytest.param(MESSENGER, MESSENGER_SECRETS, PAGE_ID, "Bearer sample-page-access-token", id="messenger"),
    pytest.param(INSTAGRAM, INSTAGRAM_SECRETS, INSTAGRAM_ACCOUNT_ID, "Bearer sample-access-token", id="instagram"),
]


def context_for(fake: FakeProviders, *, read_timeout: float = 10.0) -> SendContext:
    return send_context(fake.base_url, read_timeout=read_timeout)


def reply(adapter: MetaMessagingAdapter = MESSENGER, **changes) -> OutboundRequest:
    fields = {
        "attempt_id": "att_01JXW6Q0R5",
        "message_id": "msg_1",
        "ticket_id": "tkt_1",
        "channel": adapter.channel,
        "channel_account_id": PAGE_ID if adapter is MESSENGER else INSTAGRAM_ACCOUNT_ID,
        "recipient_id": CUSTOMER,
        "text": "Your order ships tomorrow.",
        "customer_last_message_at": NOW - timedelta(hours=1),
        "now": NOW,
    }
    return OutboundRequest(**(fields | changes))


def attachment(kind: str) -> OutboundAttachment:
    return OutboundAttachment(kind=kind, storage_key=f"att/{kind}", url=f"https://files.example/{kind}?sig=abc")


def receipts_from(fake: FakeProviders, count: int) -> list[Receipt]:
    """The fake posts receipts right after answering; they may land a moment after our call returns."""
    taken: list[Receipt] = []
    deadline = time.monotonic() + 3
    while len(taken) < count and time.monotonic() < deadline:
        taken += fake.take_receipts()
        time.sleep(0.01)
    return taken


def delivered_to_our_webhook(fake: FakeProviders, adapter: MetaMessagingAdapter, receipt: Receipt) -> list:
    """The receipt as our webhook gets it, checked with the app secret the fake signs with."""
    signing = fake.signing
    app_secret = signing.messenger_app_secret if adapter is MESSENGER else signing.instagram_app_secret
    request = WebhookRequest(
        method="POST",
        path=receipt.target,
        headers={name.lower(): value for name, value in receipt.headers.items()},
        query={},
        body=receipt.body,
    )
    adapter.verify(request, {"app_secret": app_secret})
    return list(adapter.parse(request.body, NOW))


@pytest.mark.parametrize(("adapter", "secrets", "account", "authorization"), CHANNELS)
def test_a_reply_within_24_hours_is_a_response(fake_providers, adapter, secrets, account, authorization):
    # Given a customer who wrote an hour ago
    # When the reply is sent
    outcome = adapter.send(reply(adapter), secrets, context_for(fake_providers))
    # Then the Send API got the documented RESPONSE, to the account's node, with the token as a Bearer header
    (call,) = fake_providers.calls("graph")
    assert (call.path, call.query) == (f"/graph/v21.0/{account}/messages", "")
    assert call.header("Authorization") == authorization
    assert call.json() == {
        "recipient": {"id": CUSTOMER},
        "messaging_type": "RESPONSE",
        "message": {"text": "Your order ships tomorrow."},
    }
    # And the outcome carries the message_id Graph answered
    assert outcome.kind == "sent" and outcome.provider_message_id


@pytest.mark.parametrize(("adapter", "secrets", "account", "authorization"), CHANNELS)
def test_a_persons_reply_after_24_hours_is_tagged_human_agent(fake_providers, adapter, secrets, account, authorization):
    # Given a customer who wrote two days ago, and a reply written by a person
    request = reply(adapter, customer_last_message_at=NOW - timedelta(days=2), human_agent=True)
    # When it is sent
    outcome = adapter.send(request, secrets, context_for(fake_providers))
    # Then it went as a MESSAGE_TAG with the HUMAN_AGENT tag
    (call,) = fake_providers.calls("graph")
    assert call.json() == {
        "recipient": {"id": CUSTOMER},
        "messaging_type": "MESSAGE_TAG",
        "tag": "HUMAN_AGENT",
        "message": {"text": "Your order ships tomorrow."},
    }
    assert outcome.kind == "sent"


@pytest.mark.parametrize(("adapter", "secrets", "account", "authorization"), CHANNELS)
def test_a_bots_reply_after_24_hours_never_reaches_meta(fake_providers, adapter, secrets, account, authorization):
    # Given an automated reply to a customer who wrote 25 hours ago
    request = reply(adapter, customer_last_message_at=NOW - timedelta(hours=25), human_agent=False)
    # When it is sent
    outcome = adapter.send(request, secrets, context_for(fake_providers))
    # Then nothing went to Graph and the reply failed as outside the window
    assert fake_providers.calls("graph") == []
    assert (outcome.kind, outcome.code) == ("rejected", "window_closed")


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("image", "image"), ("video", "video"), ("audio", "audio"), ("document", "file")],
)
def test_an_attachment_is_sent_by_url_and_not_reusable(fake_providers, kind, expected):
    # Given a reply with one file and no text
    request = reply(text=None, attachments=(attachment(kind),))
    # When it is sent
    MESSENGER.send(request, MESSENGER_SECRETS, context_for(fake_providers))
    # Then the message is that attachment, its presigned URL as payload
    (call,) = fake_providers.calls("graph")
    assert call.json()["message"] == {
        "attachment": {
            "type": expected,
            "payload": {"url": f"https://files.example/{kind}?sig=abc", "is_reusable": False},
        }
    }


@pytest.mark.parametrize("adapter", [MESSENGER, INSTAGRAM], ids=["messenger", "instagram"])
@pytest.mark.parametrize(
    ("elapsed", "human", "expected"),
    [
        (timedelta(hours=23, minutes=59, seconds=59), False, WindowVerdict.opened()),
        (timedelta(hours=23, minutes=59, seconds=59), True, WindowVerdict.opened()),
        (timedelta(hours=24, seconds=1), True, WindowVerdict.opened(tag="HUMAN_AGENT")),
        (timedelta(days=7, seconds=-1), True, WindowVerdict.opened(tag="HUMAN_AGENT")),
        (timedelta(hours=24, seconds=1), False, None),
        (timedelta(days=7, seconds=-1), False, None),
        (timedelta(days=7), True, None),
        (timedelta(days=7, seconds=1), True, None),
        (timedelta(days=7, seconds=1), False, None),
    ],
)
def test_the_window_at_its_edges(adapter, elapsed, human, expected):
    # Given the customer's last message `elapsed` ago, and a reply by a person or a bot
    # When the reply is judged
    verdict = adapter.window(last_customer_message_at=NOW - elapsed, now=NOW, human_agent=human, template=False)
    # Then: a RESPONSE within 24 hours; HUMAN_AGENT for a person until 7 days; otherwise closed
    if expected is not None:
        assert verdict == expected
    else:
        assert (verdict.open, verdict.code) == (False, "window_closed")


def test_past_7_days_nothing_is_allowed_and_a_bot_past_24_hours_leaves_it_to_a_person():
    # Given a bot's reply at 3 days and anyone's at 8 days
    bot = MESSENGER.window(last_customer_message_at=NOW - timedelta(days=3), now=NOW, human_agent=False, template=False)
    late = MESSENGER.window(last_customer_message_at=NOW - timedelta(days=8), now=NOW, human_agent=True, template=False)
    # Then a person could still answer the first; nothing can reach the second
    assert bot.allowed == ("human_agent",)
    assert late.allowed == ()


def test_a_reply_accepted_in_the_window_but_sent_after_24_hours_gets_the_tag(fake_providers):
    # Given a person's reply judged at hour 23, whose attempt runs at hour 25
    request = reply(customer_last_message_at=NOW - timedelta(hours=25), human_agent=True)
    # When it is sent
    MESSENGER.send(request, MESSENGER_SECRETS, context_for(fake_providers))
    # Then the attempt carries the tag the moment of sending needs
    (call,) = fake_providers.calls("graph")
    assert (call.json()["messaging_type"], call.json()["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")


@pytest.mark.parametrize(
    ("adapter", "text", "attachments", "refused"),
    [
        (MESSENGER, "x" * 2000, (), False),
        (MESSENGER, "x" * 2001, (), True),
        (INSTAGRAM, "x" * 1000, (), False),
        (INSTAGRAM, "x" * 1001, (), True),
        (MESSENGER, "caption", (attachment("image"),), True),
        (MESSENGER, None, (attachment("image"), attachment("video")), True),
        (MESSENGER, None, (), True),
        (INSTAGRAM, None, (attachment("image"),), False),
    ],
)
def test_a_reply_must_fit_one_send_api_message(adapter, text, attachments, refused):
    # Given a reply's content
    # When it is checked before acceptance
    reason = adapter.reply_refusal(text, attachments)
    # Then only text or one attachment, within the channel's limit, passes
    assert (reason is not None) == refused


def test_limits_and_resends():
    # Then Messenger holds 2,000 characters, Instagram 1,000, and neither takes an idempotency key
    assert (MESSENGER.max_text_chars, INSTAGRAM.max_text_chars) == (2000, 1000)
    assert MESSENGER.resend_is_safe(reply()) is False
    assert INSTAGRAM.resend_is_safe(reply(INSTAGRAM)) is False


@pytest.mark.parametrize(
    ("error", "kind", "code"),
    [
        ("10/2018278", "rejected", "10/2018278"),
        ("551/1545041", "rejected", "551/1545041"),
        ("190", "rejected", "190/463"),
        ("613", "retry", "613"),
        ("4", "retry", "4"),
        ("2", "retry", "2"),
    ],
)
def test_graph_errors_are_read_by_their_code(fake_providers, error, kind, code):
    # Given a recipient for whom Graph answers that error
    request = reply(recipient_id=f"graph-error-{error}")
    # When the reply is sent
    outcome = MESSENGER.send(request, MESSENGER_SECRETS, context_for(fake_providers))
    # Then the code decides, and Graph's code and subcode are kept with a reason
    assert (outcome.kind, outcome.code) == (kind, code)
    assert outcome.reason


def test_outside_the_allowed_window_says_so(fake_providers):
    # Given Meta judges the window closed on its side
    outcome = MESSENGER.send(
        reply(recipient_id="graph-error-10/2018278"), MESSENGER_SECRETS, context_for(fake_providers)
    )
    # Then the reason says window_closed and keeps Meta's words
    assert outcome.reason is not None
    assert outcome.reason.startswith("window_closed") and "outside of allowed window" in outcome.reason


def test_the_page_token_is_the_accounts_own(fake_providers):
    # Given a second page with its own token, which the fake does not accept
    secrets = MESSENGER_SECRETS | {"accounts": {"999": {"page_access_token": "other-page-token"}}}
    # When a reply goes out from that page
    outcome = MESSENGER.send(reply(channel_account_id="999"), secrets, context_for(fake_providers))
    # Then that page's token was used (and refused)
    (call,) = fake_providers.calls("graph")
    assert call.header("Authorization") == "Bearer other-page-token"
    assert (outcome.kind, outcome.code) == ("rejected", "190")


def test_429_is_retried_after_retry_after(fake_providers):
    # Given Graph throttles the next request with a Retry-After
    fake_providers.fail(MESSENGER_PATH, status=429, retry_after="3")
    # When a reply is sent
    outcome = MESSENGER.send(reply(), MESSENGER_SECRETS, context_for(fake_providers))
    # Then it is to be retried after those seconds
    assert (outcome.kind, outcome.retry_after_seconds) == ("retry", 3.0)


def test_a_server_error_is_retried(fake_providers):
    # Given Graph fails with a 500
    fake_providers.fail(INSTAGRAM_PATH, status=500)
    # When a reply is sent
    outcome = INSTAGRAM.send(reply(INSTAGRAM), INSTAGRAM_SECRETS, context_for(fake_providers))
    # Then it is to be retried
    assert outcome.kind == "retry"


def test_a_timeout_is_unknown_never_retried(fake_providers):
    # Given Graph accepts the message but answers after our read timeout
    fake_providers.stall(MESSENGER_PATH, seconds=1.5)
    # When a reply is sent
    outcome = MESSENGER.send(reply(), MESSENGER_SECRETS, context_for(fake_providers, read_timeout=0.5))
    # Then its fate is unknown: the delivery receipt will settle it
    assert outcome.kind == "unknown"
    events = [
        e for r in receipts_from(fake_providers, 2) for e in delivered_to_our_webhook(fake_providers, MESSENGER, r)
    ]
    assert [type(e) for e in events] == [DeliveryReceipt, ReadWatermark]


def test_messenger_receipts_are_a_delivery_of_the_sent_mid_then_a_read_watermark(fake_providers):
    # Given a Messenger reply Graph accepted
    outcome = MESSENGER.send(reply(), MESSENGER_SECRETS, context_for(fake_providers))
    # When the fake posts Meta's delivery and read webhooks to our Messenger webhook
    receipts = receipts_from(fake_providers, 2)
    assert {r.target for r in receipts} == {"/webhooks/messenger"}
    delivered, read = [e for r in receipts for e in delivered_to_our_webhook(fake_providers, MESSENGER, r)]
    # Then our adapter reads a delivery of the message Graph named, and a read watermark of the conversation
    assert isinstance(delivered, DeliveryReceipt)
    assert (delivered.channel, delivered.channel_account_id, delivered.external_id, delivered.status) == (
        Channel.MESSENGER,
        PAGE_ID,
        outcome.provider_message_id,
        DeliveryStatus.DELIVERED,
    )
    assert isinstance(read, ReadWatermark)
    assert (read.channel_account_id, read.conversation_id) == (PAGE_ID, CUSTOMER)
    assert read.read_up_to >= delivered.provider_timestamp


def test_instagram_receipt_is_the_seen_message(fake_providers):
    # Given an Instagram reply Graph accepted
    outcome = INSTAGRAM.send(reply(INSTAGRAM), INSTAGRAM_SECRETS, context_for(fake_providers))
    # When the fake posts Instagram's only receipt, messaging_seen, to our Instagram webhook
    (receipt,) = receipts_from(fake_providers, 1)
    assert receipt.target == "/webhooks/instagram"
    (seen,) = delivered_to_our_webhook(fake_providers, INSTAGRAM, receipt)
    # Then our adapter reads the sent message as read
    assert isinstance(seen, DeliveryReceipt)
    assert (seen.channel, seen.channel_account_id, seen.external_id, seen.status) == (
        Channel.INSTAGRAM,
        INSTAGRAM_ACCOUNT_ID,
        outcome.provider_message_id,
        DeliveryStatus.READ,
    )


def test_instagram_replies_go_to_the_instagram_login_host_and_messenger_to_graph(fake_providers):
    # Given the Graph host unreachable and the Instagram host served (Instagram API with Instagram Login sends
    # through graph.instagram.com; Messenger through graph.facebook.com)
    base = fake_providers.base_url
    context = SendContext(
        http=SendHttp(connect_timeout=1.0, read_timeout=5.0),
        endpoints=SendEndpoints(
            graph="http://127.0.0.1:9/graph/v21.0",
            line_api=f"{base}/line-api",
            telegram=f"{base}/telegram",
            twilio=f"{base}/twilio",
            instagram_graph=f"{base}/graph/v21.0",
        ),
    )
    # When a reply goes out on each
    instagram = INSTAGRAM.send(reply(INSTAGRAM), INSTAGRAM_SECRETS, context)
    messenger = MESSENGER.send(reply(MESSENGER), MESSENGER_SECRETS, context)
    # Then Instagram's reached its host, and Messenger's could not reach the Graph host (nothing was sent)
    assert instagram.kind == "sent"
    assert messenger.kind == "retry"
    assert [call.path for call in fake_providers.calls("graph")] == [INSTAGRAM_PATH]
