"""KakaoTalk on the local runner: a skill request carrying the skill token (header or path) is answered
with the SkillResponse Kakao shows the customer and becomes a ticket agents read over the API; a wrong or
missing token is refused. The runner seeds the channel's secret from template Metadata; the tests send
the token it seeded."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.e2e.local_stack import LocalStack, Response, eventually
from tests.support.drivers.kakao import encode, skill_payload

pytestmark = pytest.mark.e2e

ACK_TEXT = "메시지를 받았습니다. 상담원이 확인 후 답변드리겠습니다."  # template.yaml KakaoAcknowledgement


def skill_token(local_stack: LocalStack) -> str:
    return local_stack.state["secrets"]["kakao"]["skill_token"]


def post(local_stack: LocalStack, body: bytes, *, header_token: str | None, path: str = "/webhooks/kakao") -> Response:
    headers = {"Content-Type": "application/json;charset=UTF-8"}
    if header_token is not None:
        headers["X-Switchboard-Token"] = header_token
    return local_stack.request("POST", path, body, headers)


def ticket_of(local_stack: LocalStack, bot_user_key: str) -> dict | None:
    return next((t for t in local_stack.tickets() if t["conversation_key"].endswith(f":{bot_user_key}")), None)


def a_customer() -> str:
    """A botUserKey no other test uses, so each test finds its own ticket on the shared stack."""
    return uuid.uuid4().hex + uuid.uuid4().hex[:2]


def test_skill_request_is_answered_at_once_and_becomes_a_ticket(local_stack: LocalStack):
    # Given a customer's utterance to the skill's block
    customer = a_customer()
    body = encode(
        skill_payload(user_id=customer, utterance="교환 신청하고 싶어요", plusfriend_key="Pf" + customer[:10])
    )
    # When Kakao calls the skill with the token in the header it was configured with
    answered = post(local_stack, body, header_token=skill_token(local_stack))
    # Then Kakao gets the SkillResponse with the configured text, in readable UTF-8
    assert answered.status == 200
    assert answered.headers["content-type"] == "application/json; charset=utf-8"
    assert json.loads(answered.body) == {
        "version": "2.0",
        "template": {"outputs": [{"simpleText": {"text": ACK_TEXT}}]},
    }
    assert ACK_TEXT.encode() in answered.body
    # And an agent sees the utterance on a KakaoTalk ticket
    ticket = eventually(lambda: ticket_of(local_stack, customer), timeout=15, what="the Kakao ticket")
    shown = local_stack.as_agent(f"/tickets/{ticket['id']}").json()
    assert ticket["channel"] == "kakao"
    assert [m["text"] for m in shown["messages"]] == ["교환 신청하고 싶어요"]


def test_token_in_the_path_is_accepted(local_stack: LocalStack):
    customer = a_customer()
    body = encode(skill_payload(user_id=customer, utterance="배송 조회"))

    answered = post(local_stack, body, header_token=None, path=f"/webhooks/kakao/{skill_token(local_stack)}")

    assert answered.status == 200
    eventually(lambda: ticket_of(local_stack, customer), timeout=15, what="the Kakao ticket")


@pytest.mark.parametrize(
    ("header_token", "path"), [("guess", "/webhooks/kakao"), (None, "/webhooks/kakao"), (None, "/webhooks/kakao/guess")]
)
def test_wrong_or_missing_token_is_refused(local_stack: LocalStack, header_token, path):
    body = encode(skill_payload(user_id=a_customer(), utterance="hello"))

    refused = post(local_stack, body, header_token=header_token, path=path)

    assert refused.status == 401
    assert refused.json()["error"] == "invalid_signature"
