"""SLA on the local runner: an admin sets a 1-minute first-reply policy; a customer's message warns, then breaches,
on the ticket and on the fake outbox's notify webhook; another customer answered in time is fulfilled, never
breached. make run's enforcer sweeps every 5 seconds (SWITCHBOARD_LOCAL_SLA_SWEEP_SECONDS)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from tests.e2e.local_stack import LocalStack, eventually, whatsapp_text
from tests.e2e.test_replies import fake_sent, reply

pytestmark = pytest.mark.e2e


def as_admin(local_stack: LocalStack, method: str, path: str, body: dict | None = None):
    headers = {"Authorization": f"Bearer {local_stack.token_of('admin')}", "Content-Type": "application/json"}
    return local_stack.request(method, path, json.dumps(body).encode() if body is not None else None, headers)


@pytest.fixture
def one_minute_policy(local_stack: LocalStack) -> Iterator[str]:
    """The issue's policy for WhatsApp, notifying a hook of its own; the previous policy list is put back after."""
    before = as_admin(local_stack, "GET", "/admin/sla-policies").json()["policies"]
    hook = f"{local_stack.state['fake_providers']['base_url']}/__fake__/hooks/sla-e2e-{uuid.uuid4().hex[:8]}"
    policy = {
        "name": "Chat, urgent first reply",
        "conditions": {"channel": ["whatsapp"], "priority": ["urgent", "high", "normal"]},
        "schedule_id": None,
        "targets": {
            "normal": {
                "first_reply": {"minutes": 1, "business_hours": False},
                "next_reply": {"minutes": 30, "business_hours": False},
            }
        },
        "warn_before": {"percent": 50},
        "escalations": [
            {
                "level": 1,
                "after_minutes": 0,
                "actions": [{"type": "notify", "webhook_url": hook}, {"type": "add_tags", "tags": ["sla_breached"]}],
            }
        ],
    }
    saved = as_admin(local_stack, "PUT", "/admin/sla-policies", {"policies": [policy]})
    assert saved.status == 200, saved.body
    yield hook
    assert as_admin(local_stack, "PUT", "/admin/sla-policies", {"policies": before}).status == 200


def first_reply(local_stack: LocalStack, ticket_id: str) -> dict:
    ticket = local_stack.as_agent(f"/tickets/{ticket_id}").json()["ticket"]
    return {**ticket["sla"]["metrics"]["first_reply"], "tags": ticket["tags"]}


def test_a_one_minute_first_reply_warns_then_breaches_and_notifies_once(local_stack: LocalStack, one_minute_policy):
    # Given the 1-minute first-reply policy, and two customers writing on WhatsApp
    late, answered = ("1555" + str(uuid.uuid4().int)[:7] for _ in range(2))
    for customer in (late, answered):
        local_stack.post_whatsapp(whatsapp_text(f"wamid.sla-{uuid.uuid4().hex}", customer, "주문한 상품 언제 와요?"))
    late_ticket = local_stack.wait_for_ticket_of(late)
    answered_ticket = local_stack.wait_for_ticket_of(answered)
    assert late_ticket["sla"]["policy"] == "Chat, urgent first reply"
    # When an agent answers one of them in time
    assert reply(local_stack, answered_ticket["id"], {"text": "내일 도착 예정입니다."}).status == 202
    # Then the other warns halfway (the enforcer records it within its 5-second sweep)...
    warned = eventually(
        lambda: (clock := first_reply(local_stack, late_ticket["id"]))["warned"] and clock or None,
        timeout=60,
        what="the first reply's warning",
    )
    assert warned["status"] == "active"
    # ...then breaches, recorded at the deadline itself, and its escalation tags the ticket
    breached = eventually(
        lambda: (clock := first_reply(local_stack, late_ticket["id"]))["status"] == "breached" and clock or None,
        timeout=75,
        what="the first reply's breach",
    )
    assert breached["breached_at"] == breached["due_at"]
    due = datetime.fromisoformat(breached["due_at"])
    assert due == datetime.fromisoformat(late_ticket["created_at"]) + timedelta(minutes=1)
    eventually(
        lambda: "sla_breached" in first_reply(local_stack, late_ticket["id"])["tags"] or None, timeout=10, what="tag"
    )
    # and the notify webhook got one signed POST naming the ticket, in the fake outbox
    path = one_minute_policy.split("/__fake__/", 1)[1]

    def notified() -> list[dict] | None:
        found = [entry for entry in fake_sent(local_stack) if entry["path"].endswith(path)]
        return found or None

    (posted,) = eventually(notified, timeout=15, what="the notify webhook")
    assert posted["provider"] == "webhook"
    assert (posted["json"]["ticket_id"], posted["json"]["metric"], posted["json"]["level"]) == (
        late_ticket["id"],
        "first_reply",
        1,
    )
    assert {name.lower() for name in posted["headers"]} >= {"x-switchboard-signature", "x-switchboard-event-id"}
    # and the breach is on the ticket's timeline, by "sla"
    audits = local_stack.as_agent(f"/tickets/{late_ticket['id']}/audits").json()["audits"]
    assert [(c["field"], c["after"]) for a in audits if a["actor_id"] == "sla" for c in a["changes"]][:2] == [
        ("sla.first_reply", "warning"),
        ("sla.first_reply", "breached"),
    ]
    # and the ticket answered in time is fulfilled with no breach
    fulfilled = first_reply(local_stack, answered_ticket["id"])
    assert (fulfilled["status"], fulfilled.get("breached_at")) == ("fulfilled", None)
    # and the breached ticket leads the agents' "answer first" view
    view = local_stack.as_agent("/tickets?sla=breached&sort=due").json()["tickets"]
    assert late_ticket["id"] in [ticket["id"] for ticket in view]
    # and the sweeps after it (every 5 s) do not notify again
    time.sleep(6)
    assert len(notified() or []) == 1
