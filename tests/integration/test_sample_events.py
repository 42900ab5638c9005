"""events/*.json through the handlers, as `sam local invoke -e` would run them, against the moto stack
seeded with the documented sample secret."""

import json

from tests.support.lambda_events import HttpResponse
from tests.support.paths import EVENTS_DIR


def invoke(stack, function: str, name: str):
    return stack.invoke(function, json.loads((EVENTS_DIR / name).read_text()))


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
