"""From Meta's webhook through the queue and the writer to what agents read, with moto in-process."""

from datetime import UTC, datetime

from switchboard.models import DeliveryStatus
from tests.support.agents import agent_replies
from tests.support.drivers.whatsapp import encode, messages_value, status_item, webhook
from tests.support.paths import provider_fixture

SHEENA = "16505551234"
REPLIED_AT = datetime(2025, 6, 8, 21, 2, tzinfo=UTC)


def test_meta_handshake_is_answered_with_the_verify_token_of_the_channel_secret(whatsapp):
    # Given the channel's secret in Secrets Manager holds the verify token entered in Meta's dashboard
    token = whatsapp.driver.secrets["verify_token"]
    # When Meta checks the callback URL, and someone else tries
    answered = whatsapp.handshake({"hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": "1158201444"})
    refused = whatsapp.handshake({"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1158201444"})
    # Then only Meta gets its challenge back
    assert (answered.status, answered.body) == (200, "1158201444")
    assert (refused.status, refused.json()["error"]) == (403, "forbidden")


def test_text_message_opens_a_ticket_agents_can_read(stack, whatsapp):
    # Given Meta's text-message sample
    body = provider_fixture("whatsapp", "text.json")
    # When Meta delivers it and the writer drains the queue
    response = whatsapp.deliver(body)
    report = stack.drain_queue()
    # Then it is acknowledged, written once, and readable as a new ticket with that message
    assert (response.status, response.json()) == (200, {"received": 1})
    assert (report.records, report.failed_records) == (1, 0)
    found = stack.only_ticket()
    assert found["ticket"] | {"id": "-", "created_at": "-", "updated_at": "-"} == {
        "id": "-",
        "number": 1,
        "status": "new",
        "priority": "normal",
        "channel": "whatsapp",
        "channel_account_id": "106540352242922",
        "conversation_key": f"whatsapp:106540352242922:{SHEENA}",
        "subject": "Does it come in another color?",
        "requester": {
            "contact_id": found["ticket"]["requester"]["contact_id"],
            "display_name": "Sheena Nelson",
            "tags": [],
        },
        "assignee_id": None,
        "group_id": None,
        "tags": [],
        "follow_up_of": None,
        "cc": [],
        "message_count": 1,
        "created_at": "-",
        "updated_at": "-",
        "first_customer_message_at": "2025-06-08T20:59:43Z",
        "last_customer_message_at": "2025-06-08T20:59:43Z",
        # Nobody has answered yet: the customer waits since their message.
        "awaiting_agent_since": "2025-06-08T20:59:43Z",
        "first_agent_reply_at": None,
        "last_agent_reply_at": None,
        "last_public_agent_reply_at": None,
        "solved_at": None,
        "reply_token": None,
        "reply_token_expires_at": None,
        # No SLA policy is set: no clock runs.
        "sla": None,
        # Not opened as an answer to a notification.
        "order_ref": None,
    }
    (message,) = found["messages"]
    assert (
        message["external_id"],
        message["direction"],
        message["author_kind"],
        message["text"],
        message["sender_name"],
    ) == (
        "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
        "inbound",
        "customer",
        "Does it come in another color?",
        "Sheena Nelson",
    )
    assert message["created_at"] == "2025-06-08T20:59:43Z"
    assert message["received_at"] == found["ticket"]["created_at"]


def test_image_message_keeps_its_attachment_metadata(stack, whatsapp):
    # Given the customer's text opened a ticket
    whatsapp.deliver(provider_fixture("whatsapp", "text.json"))
    # When the image sample follows
    whatsapp.deliver(provider_fixture("whatsapp", "image.constructed.json"))
    stack.drain_queue()
    # Then it joins the same ticket with its media metadata (the bytes are fetched later, never here)
    found = stack.only_ticket()
    assert found["ticket"]["message_count"] == 2
    image = found["messages"][1]
    assert (image["message_type"], image["text"]) == ("image", "The box arrived damaged")
    assert image["attachments"] == [
        {
            "kind": "image",
            "provider_media_id": "1003383421387256",
            "mime_type": "image/jpeg",
            "sha256": "8ab0b6f7e9f3a1c2d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b",
            "filename": None,
            "size_bytes": None,
            "url": None,
            "storage_key": None,
            "content_id": None,
            "inline": False,
            "fetch_status": None,
        }
    ]
    # And a media job waits to fetch the bytes
    assert stack.queued_media_jobs() == 1


def test_status_for_a_message_we_never_sent_is_acknowledged_and_changes_nothing(stack, whatsapp):
    # Given a conversation already in the table
    whatsapp.deliver(provider_fixture("whatsapp", "text.json"))
    stack.drain_queue()
    before = stack.table_items()
    # When Meta reports a status for a message id we do not know
    response = whatsapp.deliver(provider_fixture("whatsapp", "status.constructed.json"))
    report = stack.drain_queue()
    # Then Meta gets its 200, the writer succeeds, and nothing is written
    assert response.status == 200
    assert (report.records, report.failed_records) == (1, 0)
    assert stack.table_items() == before


def deliver_status(whatsapp, wamid: str, state: str, at: int) -> None:
    response = whatsapp.deliver(
        encode(
            webhook(messages_value(statuses=[status_item(wamid=wamid, recipient=SHEENA, state=state, timestamp=at)]))
        )
    )
    assert response.status == 200


def reply_to_sheena(stack, whatsapp) -> dict:
    whatsapp.deliver(provider_fixture("whatsapp", "text.json"))
    stack.drain_queue()
    ticket_id = stack.tickets()[0]["id"]
    agent_replies(
        stack.repositories(),
        ticket_id,
        external_id="wamid.agent-reply-1",
        text="Yes, in navy and olive.",
        at=REPLIED_AT,
    )
    return stack.ticket(ticket_id)


def delivery_status_of(stack, ticket_id: str, wamid: str) -> str | None:
    return next(m["delivery_status"] for m in stack.ticket(ticket_id)["messages"] if m["external_id"] == wamid)


def test_status_for_our_reply_moves_its_delivery_status_forward(stack, whatsapp):
    # Given an agent's reply to the customer, sent
    ticket_id = reply_to_sheena(stack, whatsapp)["ticket"]["id"]
    assert delivery_status_of(stack, ticket_id, "wamid.agent-reply-1") == "sent"
    # When Meta reports it delivered
    deliver_status(whatsapp, "wamid.agent-reply-1", "delivered", 1749416530)
    stack.drain_queue()
    # Then the reply shows delivered
    assert delivery_status_of(stack, ticket_id, "wamid.agent-reply-1") == DeliveryStatus.DELIVERED


def test_status_never_moves_backwards_when_receipts_arrive_out_of_order(stack, whatsapp):
    # Given an agent's reply
    before = reply_to_sheena(stack, whatsapp)
    ticket_id = before["ticket"]["id"]
    # When Meta's "read" arrives before its "delivered"
    deliver_status(whatsapp, "wamid.agent-reply-1", "read", 1749416540)
    stack.drain_queue()
    deliver_status(whatsapp, "wamid.agent-reply-1", "delivered", 1749416530)
    report = stack.drain_queue()
    # Then the reply stays read, and the late receipt is no failure to retry
    assert delivery_status_of(stack, ticket_id, "wamid.agent-reply-1") == DeliveryStatus.READ
    assert report.failed_records == 0
    after = stack.ticket(ticket_id)
    assert after["ticket"] == before["ticket"]


def test_status_naming_a_customer_message_is_ignored(stack, whatsapp):
    # Given the customer's message in a ticket
    reply_to_sheena(stack, whatsapp)
    before = stack.table_items()
    # When a receipt names the customer's own message id (receipts are for what we send)
    deliver_status(whatsapp, "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=", "read", 1749416540)
    stack.drain_queue()
    # Then nothing changes
    assert stack.table_items() == before
