"""The whole path on the local runner: webhook -> verify -> FIFO queue -> ticket writer -> table -> read API."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest

from tests.e2e.local_stack import LocalStack, eventually, whatsapp_text
from tests.support.paths import REPO_ROOT, provider_fixture

pytestmark = pytest.mark.e2e

# Sender and text of tests/fixtures/providers/whatsapp/text.json.
FIXTURE_CUSTOMER = "16505551234"
FIXTURE_TEXT = "Does it come in another color?"


def _customer() -> str:
    """A WhatsApp id no other test uses, so each test finds its own ticket on the shared stack."""
    return "1555" + str(uuid.uuid4().int)[:7]


def test_signed_whatsapp_text_becomes_a_ticket_with_the_message_on_its_timeline(local_stack: LocalStack):
    # Given Meta's documented text-message webhook, signed with the channel's app secret
    body = provider_fixture("whatsapp", "text.json")

    # When Meta delivers it
    delivered = local_stack.post_whatsapp(body)

    # Then the webhook acknowledges it and an agent sees a ticket with the customer's words
    assert delivered.status == 200
    assert delivered.json() == {"received": 1}
    ticket = local_stack.wait_for_ticket_of(FIXTURE_CUSTOMER)
    assert ticket["subject"] == FIXTURE_TEXT
    assert ticket["channel"] == "whatsapp"
    shown = local_stack.as_agent(f"/tickets/{ticket['id']}")
    assert shown.status == 200
    assert [m["text"] for m in shown.json()["messages"]] == [FIXTURE_TEXT]
    assert shown.json()["messages"][0]["sender_name"] == "Sheena Nelson"


def test_handshake_echoes_the_challenge_only_for_our_verify_token(local_stack: LocalStack):
    # Given Meta's subscription check with the configured verify token
    verify_token = local_stack.whatsapp_secrets["verify_token"]
    query = f"hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token={verify_token}"

    # When Meta calls the webhook URL with it, and someone else calls with a guessed token
    answered = local_stack.request("GET", f"/webhooks/whatsapp?{query}")
    refused = local_stack.request("GET", "/webhooks/whatsapp?hub.mode=subscribe&hub.challenge=1&hub.verify_token=guess")

    # Then only Meta gets the challenge back, as plain text
    assert answered.status == 200
    assert answered.headers["content-type"].startswith("text/plain")
    assert answered.body == b"1158201444"
    assert refused.status == 403
    assert refused.json()["error"] == "forbidden"


def test_forged_signature_is_refused_and_nothing_is_enqueued(local_stack: LocalStack):
    # Given an idle inbound queue and a delivery for one customer signed with the wrong secret
    eventually(lambda: local_stack.queue_depth("InboundQueue") == 0, timeout=15, what="the inbound queue to drain")
    forged_customer, genuine_customer = _customer(), _customer()
    forged = whatsapp_text(f"wamid.forged-{uuid.uuid4().hex}", forged_customer, "Send me a refund")

    # When it is POSTed
    refused = local_stack.post_whatsapp(forged, signature="sha256=" + "0" * 64)

    # Then it is refused before anything reaches the queue
    assert refused.status == 401
    assert refused.json()["error"] == "invalid_signature"
    assert local_stack.queue_depth("InboundQueue") == 0
    # ... and once a genuine delivery sent after it has become a ticket, the forged one has none
    local_stack.post_whatsapp(whatsapp_text(f"wamid.genuine-{uuid.uuid4().hex}", genuine_customer, "Hello"))
    local_stack.wait_for_ticket_of(genuine_customer)
    assert local_stack.ticket_of_customer(forged_customer) is None


def test_read_api_needs_a_valid_token_and_reports_unknown_tickets(local_stack: LocalStack):
    # Given the dev token, a tampered copy of it, and no token at all
    header, payload, signature = local_stack.dev_token.split(".")
    tampered = f"{header}.{payload}.{signature[:-4]}AAAA"

    # When each asks for tickets, and the dev token asks for a ticket that does not exist
    anonymous = local_stack.request("GET", "/tickets")
    forged = local_stack.request("GET", "/tickets", headers={"Authorization": f"Bearer {tampered}"})
    missing = local_stack.as_agent("/tickets/t_doesnotexist")
    unrouted = local_stack.as_agent("/agents")

    # Then the gateway refuses the first two, the function answers 404, and unknown routes are the gateway's 404
    assert (anonymous.status, anonymous.json()) == (401, {"message": "Unauthorized"})
    assert (forged.status, forged.json()) == (401, {"message": "Unauthorized"})
    assert missing.status == 404
    assert missing.json()["error"] == "not_found"
    assert (unrouted.status, unrouted.json()) == (404, {"message": "Not Found"})


def test_the_state_file_lists_a_dev_token_per_role_and_the_api_checks_them(local_stack: LocalStack):
    # Given the dev tokens the runner wrote to .switchboard/local.json
    assert set(local_stack.state["dev_tokens"]) == {"agent", "admin", "none"}
    assert local_stack.dev_token == local_stack.token_of("agent")
    # When each reads tickets and held mail
    answers = {
        role: (local_stack.as_agent("/tickets", role), local_stack.as_agent("/mail/held?reason=quarantined", role))
        for role in ("agent", "admin", "none")
    }
    # Then agent and admin read them, and the valid token without a role is forbidden by the function
    assert [a.status for a in answers["agent"] + answers["admin"]] == [200] * 4
    assert [(a.status, a.json()["error"]) for a in answers["none"]] == [(403, "forbidden")] * 2


def test_a_webhook_delivered_five_times_is_one_message(local_stack: LocalStack):
    # Given one customer message
    customer = _customer()
    message_id = f"wamid.repeat-{uuid.uuid4().hex}"
    body = whatsapp_text(message_id, customer, "Is anyone there?")

    # When Meta delivers it five times (it retries until it sees a 200, and sometimes after)
    statuses = [local_stack.post_whatsapp(body).status for _ in range(5)]

    # Then every delivery is acknowledged and the ticket holds the message once
    assert statuses == [200] * 5
    ticket = local_stack.wait_for_ticket_of(customer)
    eventually(lambda: local_stack.queue_depth("InboundQueue") == 0, timeout=15, what="the inbound queue to drain")
    messages = local_stack.as_agent(f"/tickets/{ticket['id']}").json()["messages"]
    assert [m["external_id"] for m in messages] == [message_id]
    assert local_stack.as_agent(f"/tickets/{ticket['id']}").json()["ticket"]["message_count"] == 1


def test_poison_message_is_dead_lettered_after_five_receives_and_redrive_moves_it_back(local_stack: LocalStack):
    # Given a message on the inbound queue that the ticket writer cannot decode
    sqs = local_stack.sqs
    inbound, dead_letters = local_stack.resource("InboundQueue"), local_stack.resource("InboundDeadLetterQueue")
    poison = f"not an inbound event {uuid.uuid4().hex}"
    sqs.send_message(
        QueueUrl=inbound, MessageBody=poison, MessageGroupId="e2e-poison", MessageDeduplicationId=uuid.uuid4().hex
    )

    # When the writer fails on it until the queue's RedrivePolicy gives up
    eventually(lambda: local_stack.queue_depth("InboundDeadLetterQueue") == 1, timeout=30, what="the dead-letter queue")

    # Then it sits in the dead-letter queue, received five times on the inbound queue (our peek is the sixth)
    assert local_stack.queue_depth("InboundQueue") == 0
    peeked = sqs.receive_message(
        QueueUrl=dead_letters, VisibilityTimeout=0, AttributeNames=["ApproximateReceiveCount"], WaitTimeSeconds=1
    )["Messages"]
    assert [m["Body"] for m in peeked] == [poison]
    assert peeked[0]["Attributes"]["ApproximateReceiveCount"] == "6"

    # When an operator redrives the dead-letter queue
    redriven = subprocess.run(
        [sys.executable, "-m", "infra.redrive"],
        check=False,
        cwd=REPO_ROOT,
        env={"PATH": "/usr/bin:/bin", "SWITCHBOARD_STATE_DIR": str(local_stack.state_dir)},
        capture_output=True,
        text=True,
        timeout=30,
    )

    # Then the message leaves the dead-letter queue for the inbound queue, under a new deduplication id
    assert redriven.returncode == 0, redriven.stderr
    assert redriven.stdout.startswith("moved 1 message(s)")
    assert local_stack.queue_depth("InboundDeadLetterQueue") == 0
    # ... and, still undecodable, it comes back after another five receives
    eventually(
        lambda: local_stack.queue_depth("InboundDeadLetterQueue") == 1, timeout=30, what="the second dead-lettering"
    )
    again = sqs.receive_message(QueueUrl=dead_letters, AttributeNames=["All"], WaitTimeSeconds=1)["Messages"]
    assert [m["Body"] for m in again] == [poison]
    assert ":redrive:" in again[0]["Attributes"]["MessageDeduplicationId"]
    assert again[0]["Attributes"]["MessageGroupId"] == "e2e-poison"
    sqs.delete_message(QueueUrl=dead_letters, ReceiptHandle=again[0]["ReceiptHandle"])


def test_an_agent_changes_a_ticket_through_the_gateway_with_its_etag(local_stack: LocalStack):
    # Given a customer's ticket, read by an agent with its ETag
    customer = _customer()
    local_stack.post_whatsapp(whatsapp_text(f"wamid.change-{uuid.uuid4().hex}", customer, "사이즈 교환 되나요?"))
    ticket = local_stack.wait_for_ticket_of(customer)
    etag = local_stack.as_agent(f"/tickets/{ticket['id']}").headers["etag"]
    agent = {"Authorization": f"Bearer {local_stack.token_of('agent')}", "Content-Type": "application/json"}

    # When the agent sets it pending through the local gateway, once with the ETag and once again with it
    change = b'{"status": "pending", "tags": ["exchange"]}'
    first = local_stack.request("PATCH", f"/tickets/{ticket['id']}", change, {**agent, "If-Match": etag})
    again = local_stack.request("PATCH", f"/tickets/{ticket['id']}", change, {**agent, "If-Match": etag})

    # Then the first is applied, the repeat is refused as stale, and one audit records the change
    assert (first.status, first.json()["ticket"]["status"]) == (200, "pending")
    assert (again.status, again.headers["etag"]) == (412, first.headers["etag"])
    audits = local_stack.as_agent(f"/tickets/{ticket['id']}/audits").json()["audits"]
    assert [[c["field"] for c in audit["changes"]] for audit in audits] == [["status", "tags"]]
    # And a request without a token is refused at the gateway
    unauthorized = local_stack.request("PATCH", f"/tickets/{ticket['id']}", change, {"If-Match": first.headers["etag"]})
    assert unauthorized.status == 401
