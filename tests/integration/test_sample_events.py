"""events/*.json through the handlers, as `sam local invoke -e` would run them, against the moto stack
seeded with the documented sample secret."""

import json
from datetime import UTC, datetime
from urllib.parse import unquote_plus

from switchboard.email import webhooks as mail_webhooks
from tests.support.lambda_events import HttpResponse
from tests.support.paths import EVENTS_DIR


def load(name: str) -> dict:
    return json.loads((EVENTS_DIR / name).read_text())


def invoke(stack, function: str, name: str):
    return stack.invoke(function, load(name))


def test_webhook_events_are_accepted_and_enqueued(stack):
    for name in ("whatsapp-text.json", "whatsapp-image.json", "whatsapp-status.json"):
        response = HttpResponse.of(invoke(stack, "WhatsAppWebhookFunction", name))

        assert (response.status, response.json()) == (200, {"received": 1}), name
    assert stack.queued_count() == 3


def test_handshake_event_is_answered_with_its_challenge(stack):
    response = HttpResponse.of(invoke(stack, "WhatsAppWebhookFunction", "whatsapp-handshake.json"))

    assert (response.status, response.body) == (200, "1158201444")


def test_writer_batch_then_api_events_show_the_ticket(stack):
    # Given the writer processed the sample batch
    assert invoke(stack, "TicketWriterFunction", "ticket-writer-batch.json") == {"batchItemFailures": []}
    # When an agent lists new tickets and opens the sample's ticket
    listed = HttpResponse.of(invoke(stack, "TicketsApiFunction", "tickets-list-new.json"))
    opened = HttpResponse.of(invoke(stack, "TicketsApiFunction", "tickets-get.json"))
    # Then both show Sheena's ticket with her text and her photo (the status names no message of ours)
    assert listed.status == opened.status == 200
    assert [t["id"] for t in listed.json()["tickets"]] == [opened.json()["ticket"]["id"]]
    assert [(m["message_type"], m["text"]) for m in opened.json()["messages"]] == [
        ("text", "Does it come in another color?"),
        ("image", "The box arrived damaged"),
    ]
    # ... and its timeline a message a page starts with her text, with a cursor to the photo
    paged = HttpResponse.of(invoke(stack, "TicketsApiFunction", "tickets-messages.json")).json()
    assert [m["text"] for m in paged["messages"]] == ["Does it come in another color?"] and paged["next_cursor"]
    # ... and it carries the ETag an agent's change names: version 2, after the first message and the photo
    assert opened.headers["etag"] == '"2"'


def test_change_event_sets_the_samples_ticket_pending_and_its_audit_says_so(stack):
    # Given the sample batch's ticket, at version 2
    assert invoke(stack, "TicketWriterFunction", "ticket-writer-batch.json") == {"batchItemFailures": []}
    # When the agent's sample change is played (If-Match "2")
    changed = HttpResponse.of(invoke(stack, "TicketChangesFunction", "ticket-change.json"))
    audits = HttpResponse.of(invoke(stack, "TicketsApiFunction", "tickets-audits.json")).json()["audits"]
    # Then the ticket is pending, high and tagged, at version 3, and one audit names the agent and each change
    assert changed.status == 200 and changed.headers["etag"] == '"3"'
    ticket = changed.json()["ticket"]
    assert (ticket["status"], ticket["priority"], ticket["tags"]) == ("pending", "high", ["exchange"])
    (audit,) = audits
    assert audit["actor_id"] == load("ticket-change.json")["requestContext"]["authorizer"]["jwt"]["claims"]["sub"]
    assert audit["changes"] == [
        {"field": "priority", "before": "normal", "after": "high"},
        {"field": "status", "before": "new", "after": "pending"},
        {"field": "tags", "before": [], "after": ["exchange"]},
    ]
    # And played again (a client's retry with the same ETag), it is refused as stale and nothing more is audited
    again = HttpResponse.of(invoke(stack, "TicketChangesFunction", "ticket-change.json"))
    assert again.status == 412 and again.json()["ticket"]["status"] == "pending"
    assert len(HttpResponse.of(invoke(stack, "TicketsApiFunction", "tickets-audits.json")).json()["audits"]) == 1


def test_note_event_adds_an_internal_note_once(stack):
    # Given the sample batch's ticket
    assert invoke(stack, "TicketWriterFunction", "ticket-writer-batch.json") == {"batchItemFailures": []}
    # When the agent's sample note is played, and played again (the same Idempotency-Key)
    added = HttpResponse.of(invoke(stack, "TicketChangesFunction", "ticket-note.json"))
    again = HttpResponse.of(invoke(stack, "TicketChangesFunction", "ticket-note.json"))
    # Then it is added once, internal, and the retry answers with the same note
    assert (added.status, again.status) == (201, 200)
    assert again.json()["message"] == added.json()["message"]
    assert (added.json()["message"]["direction"], added.json()["message"]["public"]) == ("internal", False)


def test_ses_notification_event_turns_the_stored_mail_into_a_ticket(stack):
    # Given SES stored the sample mail under the key the notification names, in the bucket it names
    notification = json.loads(load("email-ses-notification.json")["Records"][0]["body"])["Records"][0]["s3"]
    assert notification["bucket"]["name"] == stack.mail_bucket
    stack.put_mail((EVENTS_DIR / "email-ses-mail.eml").read_bytes(), key=unquote_plus(notification["object"]["key"]))
    # When the intake gets the notification's SQS record, and the writer what it enqueued
    assert invoke(stack, "EmailInboundFunction", "email-ses-notification.json") == {"batchItemFailures": []}
    assert stack.drain_queue().failed_records == 0
    # Then an agent reads the customer's Korean mail on an email ticket, with SES's message id as the provider's
    found = stack.only_ticket()
    (message,) = found["messages"]
    assert found["ticket"]["channel"] == "email"
    assert (
        message["text"]
        == "안녕하세요, 6월 5일에 주문한 상품이 아직 도착하지 않았어요.\n주문번호는 20250605-1234입니다."
    )
    assert (message["email"]["subject"], message["email"]["provider"]) == ("주문 문의", "ses")
    assert message["email"]["provider_id"] == notification["object"]["key"].rsplit("/", 1)[-1]


def test_basic_auth_mail_webhook_events_are_stored_and_join_the_customers_thread(stack):
    # When Postmark and SendGrid post the samples, with the sample basic auth
    for function, name in (
        ("PostmarkWebhookFunction", "email-postmark.json"),
        ("SendGridWebhookFunction", "email-sendgrid.json"),
    ):
        response = HttpResponse.of(invoke(stack, function, name))

        assert (response.status, response.json()) == (200, {"received": 1}), name
    # Then each raw mail is in the mail bucket, and the intake puts both on one ticket, in the order written
    assert [key.split("/")[1] for key in stack.mail_keys()] == ["postmark", "sendgrid"]
    assert stack.drain_mail_queue().failed_records == 0
    assert stack.drain_queue().failed_records == 0
    assert [m["text"] for m in stack.only_ticket()["messages"]] == [
        "혹시 다른 주소로 배송된 건 아닐까요?",
        "빠른 확인 부탁드립니다. 감사합니다.",
    ]


def test_mailgun_event_is_signed_for_its_timestamp_and_refused_once_that_is_old(stack, monkeypatch):
    # Given the sample signed at its fixed timestamp, which is long past now
    event = load("email-mailgun.json")
    # When it is invoked now, Mailgun's age check refuses it and nothing is stored
    refused = HttpResponse.of(invoke(stack, "MailgunWebhookFunction", "email-mailgun.json"))
    assert (refused.status, refused.json()["error"]) == (401, "invalid_signature")
    assert "seconds from now" in refused.json()["message"]
    assert stack.mail_keys() == []
    # When the clock reads the moment API Gateway received it, the signature holds and the mail is kept
    monkeypatch.setattr(
        mail_webhooks, "utc_now", lambda: datetime.fromtimestamp(event["requestContext"]["timeEpoch"] / 1000, UTC)
    )
    accepted = HttpResponse.of(invoke(stack, "MailgunWebhookFunction", "email-mailgun.json"))
    assert (accepted.status, accepted.json()) == (200, {"received": 1})
    assert [key.split("/")[1] for key in stack.mail_keys()] == ["mailgun"]
    assert stack.drain_mail_queue().failed_records == 0
    assert stack.drain_queue().failed_records == 0
    assert [m["text"] for m in stack.only_ticket()["messages"]] == [
        "배송 조회를 해 보니 5일째 같은 곳에 머물러 있어요."
    ]


def test_contact_event_shows_the_samples_customer_with_their_ticket(stack):
    # Given the sample batch's ticket, and the agent's sample view of their own open tickets
    assert invoke(stack, "TicketWriterFunction", "ticket-writer-batch.json") == {"batchItemFailures": []}
    mine = HttpResponse.of(invoke(stack, "TicketsApiFunction", "tickets-list-mine.json"))
    # When the agent opens the sample's customer
    contact = HttpResponse.of(invoke(stack, "TicketsApiFunction", "contacts-get.json"))
    # Then nothing is assigned to them yet, and the customer comes with their WhatsApp identity and ticket
    assert mine.status == 200 and mine.json() == {"tickets": [], "next_cursor": None}
    assert contact.status == 200
    body = contact.json()
    assert [identity["channel"] for identity in body["contact"]["identities"]] == ["whatsapp"]
    assert [ticket["requester"]["contact_id"] for ticket in body["tickets"]] == [body["contact"]["id"]]


def test_closer_event_closes_nothing_when_nothing_was_solved(stack):
    assert invoke(stack, "TicketWriterFunction", "ticket-writer-batch.json") == {"batchItemFailures": []}

    report = invoke(stack, "TicketCloserFunction", "ticket-closer-schedule.json")

    assert report == {"listed": 0, "closed": 0, "skipped": 0, "more_due": False}
    assert [ticket["status"] for ticket in stack.tickets()] == ["new"]
