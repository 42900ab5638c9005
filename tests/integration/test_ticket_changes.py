"""Agents change tickets through PATCH /tickets/{ticket_id}: If-Match on the ticket's ETag, Zendesk's status
moves, one audit per change, whatever retries and races happen."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.lambda_events import AGENT_CLAIMS, NO_ROLE_CLAIMS
from tests.support.stack import run_together

SENT = datetime(2025, 6, 8, 21, 0, tzinfo=UTC)
OTHER_AGENT = {**AGENT_CLAIMS, "sub": "8d1f0c3b-2a4e-4f6a-9b8c-7d6e5f4a3b2c", "username": "agent.lee"}


def customer_writes(stack, whatsapp, text: str, minutes: int = 0) -> str:
    driver = whatsapp.driver
    body = driver.text_message(
        driver.customer(1, "김민준"),
        message_id=driver.message_id(f"m-{minutes}"),
        text=text,
        sent_at=SENT + timedelta(minutes=minutes),
    )
    assert whatsapp.deliver(body).status == 200
    assert stack.drain_queue().failed_records == 0
    return stack.tickets()[0]["id"]


def patch(stack, ticket_id: str, change: dict, etag: str | None, claims=AGENT_CLAIMS):
    headers = {"content-type": "application/json", **({"if-match": etag} if etag is not None else {})}
    return stack.http(
        "PATCH", f"/tickets/{ticket_id}", headers=headers, body=json.dumps(change).encode(), claims=claims
    )


def etag_of(stack, ticket_id: str) -> str:
    response = stack.api_get(f"/tickets/{ticket_id}")
    assert response.status == 200
    return response.headers["etag"]


def audits(stack, ticket_id: str) -> list[dict]:
    response = stack.api_get(f"/tickets/{ticket_id}/audits")
    assert response.status == 200
    return response.json()["audits"]


def test_an_agent_sets_a_ticket_pending_and_it_moves_to_that_listing(stack, whatsapp):
    # Given a new ticket and its ETag
    ticket_id = customer_writes(stack, whatsapp, "주문한 운동화 사이즈 교환 가능한가요?")
    etag = etag_of(stack, ticket_id)
    # When an agent sets it pending, high, assigned to them and tagged
    change = {"status": "pending", "priority": "high", "assignee_id": AGENT_CLAIMS["sub"], "tags": ["교환"]}
    response = patch(stack, ticket_id, change, etag)
    # Then the answer is the changed ticket with a new ETag, and the listings follow it
    assert response.status == 200 and response.headers["etag"] != etag
    assert response.json()["ticket"]["status"] == "pending"
    assert [t["id"] for t in stack.tickets(status="pending")] == [ticket_id]
    assert stack.tickets(status="new") == []
    assert etag_of(stack, ticket_id) == response.headers["etag"]
    # And one audit says who changed what
    (audit,) = audits(stack, ticket_id)
    assert audit["actor_id"] == AGENT_CLAIMS["sub"] and audit["changes"] == response.json()["audit"]["changes"]


def test_without_if_match_the_change_is_refused_428_and_nothing_is_written(stack, whatsapp):
    ticket_id = customer_writes(stack, whatsapp, "배송 언제 되나요?")
    before = stack.table_items()
    response = patch(stack, ticket_id, {"status": "solved"}, None)
    assert response.status == 428 and response.json()["error"] == "precondition_required"
    assert stack.table_items() == before


def test_a_stale_etag_gets_412_with_the_ticket_as_it_now_is(stack, whatsapp):
    # Given an agent read the ticket, then the customer wrote again (the writer moved the version on)
    ticket_id = customer_writes(stack, whatsapp, "배송 언제 되나요?")
    seen = etag_of(stack, ticket_id)
    customer_writes(stack, whatsapp, "오늘 꼭 받아야 해요", minutes=1)
    # When the agent's change names what they saw
    response = patch(stack, ticket_id, {"status": "solved"}, seen)
    # Then it is refused with the current ticket and ETag, and nothing is changed or audited
    assert response.status == 412
    assert response.json()["ticket"]["message_count"] == 2 and response.json()["ticket"]["status"] == "new"
    assert response.headers["etag"] == etag_of(stack, ticket_id) != seen
    assert audits(stack, ticket_id) == []


def test_twenty_agents_changing_one_version_at_once_make_one_change(stack, whatsapp):
    # Given one ticket, read by twenty agents at the same version
    ticket_id = customer_writes(stack, whatsapp, "환불 요청합니다")
    etag = etag_of(stack, ticket_id)
    # When all twenty send their change at the same moment
    answers = run_together(
        [lambda n=n: patch(stack, ticket_id, {"priority": "urgent", "tags": [f"by-{n}"]}, etag) for n in range(20)]
    )
    # Then one wins, nineteen are told the ticket moved on, and one audit records the winner's change
    assert sorted(answer.status for answer in answers) == [200] + [412] * 19
    (won,) = [answer for answer in answers if answer.status == 200]
    (audit,) = audits(stack, ticket_id)
    assert audit["changes"] == won.json()["audit"]["changes"]
    assert stack.ticket(ticket_id)["ticket"]["tags"] == won.json()["ticket"]["tags"]


def test_a_change_that_changes_nothing_writes_nothing(stack, whatsapp):
    ticket_id = customer_writes(stack, whatsapp, "문의드립니다")
    etag = etag_of(stack, ticket_id)
    before = stack.table_items()
    response = patch(stack, ticket_id, {"status": "new", "priority": "normal"}, etag)
    assert (response.status, response.headers["etag"], response.json()["audit"]) == (200, etag, None)
    assert stack.table_items() == before


@pytest.mark.parametrize(
    ("change", "status", "error"),
    [
        ({"status": "new"}, 422, "invalid_change"),
        ({"status": "closed"}, 422, "invalid_change"),
        ({"priority": None}, 422, "invalid_change"),
        ({"status": "archived"}, 400, "invalid_request"),
        ({"subject": "renamed"}, 400, "invalid_request"),
        ([], 400, "invalid_request"),
    ],
)
def test_a_change_the_ticket_may_not_take_is_refused_and_nothing_is_written(stack, whatsapp, change, status, error):
    # Given a ticket an agent has opened
    ticket_id = customer_writes(stack, whatsapp, "문의드립니다")
    opened = patch(stack, ticket_id, {"status": "open"}, etag_of(stack, ticket_id))
    assert opened.status == 200
    before = stack.table_items()
    # When the change asks for a status it may not take (back to new, or closed by hand), a null where a value
    # is needed, or a value or a field that does not exist
    response = patch(stack, ticket_id, change, opened.headers["etag"])
    assert (response.status, response.json()["error"]) == (status, error)
    assert stack.table_items() == before


def test_only_agents_change_tickets_and_an_unknown_ticket_is_404(stack, whatsapp):
    ticket_id = customer_writes(stack, whatsapp, "문의드립니다")
    etag = etag_of(stack, ticket_id)
    assert patch(stack, ticket_id, {"status": "open"}, etag, claims=NO_ROLE_CLAIMS).status == 403
    assert patch(stack, "t_ffffffffffffffffffffffff", {"status": "open"}, '"1"').status == 404
    # And another agent's change is audited under their own subject
    assert patch(stack, ticket_id, {"status": "open"}, etag, claims=OTHER_AGENT).status == 200
    assert [a["actor_id"] for a in audits(stack, ticket_id)] == [OTHER_AGENT["sub"]]


def note(stack, ticket_id: str, text: str, key: str | None, claims=AGENT_CLAIMS):
    headers = {"content-type": "application/json", **({"idempotency-key": key} if key is not None else {})}
    body = json.dumps({"text": text}, ensure_ascii=False).encode()
    return stack.http("POST", f"/tickets/{ticket_id}/notes", headers=headers, body=body, claims=claims)


def test_an_agents_note_joins_the_timeline_internal_and_the_status_stays(stack, whatsapp):
    # Given a ticket an agent set pending
    ticket_id = customer_writes(stack, whatsapp, "환불 가능한가요?")
    assert patch(stack, ticket_id, {"status": "pending"}, etag_of(stack, ticket_id)).status == 200
    # When the agent adds a note
    added = note(stack, ticket_id, "결제팀 확인 후 환불 예정", "note-1")
    # Then it is on the timeline after the customer's message, internal and theirs, and the ticket stays pending
    assert added.status == 201 and added.headers["etag"] == etag_of(stack, ticket_id)
    found = stack.ticket(ticket_id)
    assert [(m["direction"], m["public"], m["text"]) for m in found["messages"]] == [
        ("inbound", True, "환불 가능한가요?"),
        ("internal", False, "결제팀 확인 후 환불 예정"),
    ]
    assert found["messages"][1]["author_id"] == AGENT_CLAIMS["sub"]
    assert found["messages"][1]["message_key"] == added.json()["message"]["message_key"]
    assert found["ticket"]["status"] == "pending"


def test_a_note_retried_with_its_key_is_written_once_and_a_reused_key_is_refused(stack, whatsapp):
    ticket_id = customer_writes(stack, whatsapp, "배송지 변경 부탁드려요")
    first = note(stack, ticket_id, "주소 변경 완료", "note-2")
    # When the same request comes again (a client retry), and then the key with other text
    again = note(stack, ticket_id, "주소 변경 완료", "note-2")
    reused = note(stack, ticket_id, "다른 메모", "note-2")
    # Then the retry gets the same note with 200, the reuse 422, and the timeline holds one note
    assert (first.status, again.status, reused.status) == (201, 200, 422)
    assert again.json()["message"] == first.json()["message"]
    assert reused.json()["error"] == "idempotency_key_reused"
    assert [m["text"] for m in stack.ticket(ticket_id)["messages"]].count("주소 변경 완료") == 1
    # And another agent's same key is their own note
    assert note(stack, ticket_id, "다른 상담원 메모", "note-2", claims=OTHER_AGENT).status == 201


def test_twenty_copies_of_one_note_sent_at_once_write_one(stack, whatsapp):
    ticket_id = customer_writes(stack, whatsapp, "문의드립니다")
    answers = run_together([lambda: note(stack, ticket_id, "한 번만", "note-3") for _ in range(20)])
    assert sorted(answer.status for answer in answers) == [200] * 19 + [201]
    assert [m["text"] for m in stack.ticket(ticket_id)["messages"]] == ["문의드립니다", "한 번만"]


@pytest.mark.parametrize(
    ("text", "key"),
    [("메모", None), ("메모", ""), ("메모", "k" * 256), ("메모", "키"), ("", "note-4"), ("x" * 16_001, "note-4")],
)
def test_a_note_without_a_key_or_text_is_refused_and_nothing_is_written(stack, whatsapp, text, key):
    ticket_id = customer_writes(stack, whatsapp, "문의드립니다")
    before = stack.table_items()
    response = note(stack, ticket_id, text, key)
    assert (response.status, response.json()["error"]) == (400, "invalid_request")
    assert stack.table_items() == before
