"""KakaoTalk replies: a Kakao i Open Builder skill cannot push a message, so every agent reply is refused up front
with channel_cannot_push and an explanation, and the send path refuses too, without calling anything.

Against the fake providers server, to show that nothing is sent anywhere.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from infra.fakes.providers import FakeProviders
from switchboard.channels.base import Sends
from switchboard.channels.kakao import KakaoAdapter
from switchboard.channels.sending import OutboundRequest, SendContext, SendEndpoints, SendHttp
from switchboard.models import Channel

NOW = datetime(2025, 6, 9, 12, 0, tzinfo=UTC)
KAKAO = KakaoAdapter(ack_text="메시지를 받았습니다.")


@pytest.fixture(scope="module")
def server():
    fake = FakeProviders().start()
    yield fake
    fake.stop()


@pytest.mark.parametrize("last", [NOW, NOW - timedelta(seconds=1), NOW - timedelta(days=2), None])
@pytest.mark.parametrize("template", [False, True])
def test_every_reply_is_refused_as_channel_cannot_push(last, template):
    # Given a KakaoTalk conversation, however recently the customer wrote, and whatever kind of reply
    # When the window is judged
    verdict = KAKAO.window(last_customer_message_at=last, now=NOW, human_agent=True, template=template)
    # Then it is closed with channel_cannot_push, pointing at AlimTalk templates, in words a support lead reads
    assert not verdict.open
    assert (verdict.code, verdict.allowed) == ("channel_cannot_push", ("alimtalk_template",))
    assert "상담톡" in verdict.reason and "AlimTalk" in verdict.reason


def test_a_reply_that_reaches_send_anyway_is_rejected_without_any_call(server):
    # Given a reply that somehow got past the window
    request = OutboundRequest(
        attempt_id="attempt-1",
        message_id="msg-1",
        ticket_id="ticket-1",
        channel=Channel.KAKAO,
        channel_account_id="5a548e36aea1a43fa851ecd9",
        recipient_id="botUserKey-1",
        text="답변드립니다.",
        now=NOW,
    )
    base = server.base_url
    context = SendContext(
        http=SendHttp(),
        endpoints=SendEndpoints(graph=base, line_api=base, telegram=base, twilio=base),
    )
    # When it is sent
    outcome = KAKAO.send(request, {"skill_token": "token"}, context)
    # Then it is rejected as channel_cannot_push, never resent, and no provider was called
    assert (outcome.kind, outcome.code) == ("rejected", "channel_cannot_push")
    assert KAKAO.resend_is_safe(request) is False
    assert server.sent() == []


def test_kakao_declares_the_sends_capability_with_simpletexts_limit():
    # Given the adapter  Then the flow finds it Sends, with Kakao's 1,000-character text limit
    assert isinstance(KAKAO, Sends)
    assert KAKAO.max_text_chars == 1000
