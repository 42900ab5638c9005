"""Writes the sample events in this folder: `python -m events.generate` from the repository root.

Webhook bodies are the provider samples in tests/fixtures/providers, byte for byte, signed with the sample
app secret; the writer's batch holds what the webhook enqueues for those same samples; the API events
read the ticket that batch opens. Regenerate after changing any of them, and commit the result.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from infra.functions import use_layer

use_layer()

from events.email_samples import build_email_events, build_email_files  # noqa: E402
from events.kakao_twilio_samples import build_kakao_twilio_events  # noqa: E402
from events.line_telegram_samples import build_line_telegram_events  # noqa: E402
from events.mail_event_samples import build_mail_events_events  # noqa: E402
from events.meta_messaging_samples import build_meta_messaging_events  # noqa: E402
from events.order_samples import build_order_events  # noqa: E402
from switchboard import queue  # noqa: E402
from switchboard.channels.whatsapp import ADAPTER  # noqa: E402
from switchboard.media.jobs import jobs_for  # noqa: E402
from switchboard.models import DeliveryReceipt, InboundMessage, stable_id  # noqa: E402
from switchboard.queue import group_id_of  # noqa: E402
from switchboard.tickets import lifecycle  # noqa: E402
from tests.support.drivers.whatsapp import SAMPLE_VERIFY_TOKEN, WhatsAppDriver  # noqa: E402
from tests.support.lambda_events import (  # noqa: E402
    ACCOUNT_ID,
    ADMIN_CLAIMS,
    AGENT_CLAIMS,
    REGION,
    http_api_event,
    sqs_event,
    sqs_record,
)
from tests.support.paths import EVENTS_DIR, provider_fixture  # noqa: E402

WHATSAPP = WhatsAppDriver()
WEBHOOK_SAMPLES = {"text": "text.json", "image": "image.constructed.json", "status": "status.constructed.json"}
INBOUND_QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:switchboard-dev-InboundQueue-1XH4D2ZLE3N7Q.fifo"
WEBHOOK_SENDER_ID = "AROAZ2RJ4EXAMPLE5N7QK:switchboard-dev-WhatsAppWebhookFunction"
MEDIA_QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:switchboard-dev-MediaQueue-7QK2M9XW4B1R"
WRITER_SENDER_ID = "AROAZ2RJ4EXAMPLE5N7QK:switchboard-dev-TicketWriterFunction"
OUTBOUND_QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:switchboard-dev-OutboundQueue-3HV8RZ2C6N4P.fifo"
REPLIES_SENDER_ID = "AROAZ2RJ4EXAMPLE5N7QK:switchboard-dev-TicketChangesFunction"
_IDS = uuid.UUID("8f14e45f-ceea-467f-a0e6-2e4f2b5c3a1d")


def build_events() -> dict[str, dict[str, Any]]:
    """File name -> event, for every sample event."""
    events: dict[str, dict[str, Any]] = {}
    queued: list[InboundMessage | DeliveryReceipt] = []
    for kind, sample in WEBHOOK_SAMPLES.items():
        body = provider_fixture("whatsapp", sample)
        arrived_at = _sent_at(body) + timedelta(seconds=1)
        events[f"whatsapp-{kind}.json"] = http_api_event(
            method="POST",
            path=WHATSAPP.webhook_path,
            route_key=f"POST {WHATSAPP.webhook_path}",
            headers=WHATSAPP.headers(body),
            body=body,
            request_id=_id(f"request:{kind}").hex[:16],
            at=arrived_at,
        )
        queued.extend(ADAPTER.parse(body, received_at=arrived_at))
    events["whatsapp-handshake.json"] = http_api_event(
        method="GET",
        path=WHATSAPP.webhook_path,
        route_key=f"GET {WHATSAPP.webhook_path}",
        headers={"user-agent": "facebookplatform/1.0 (+http://developers.facebook.com)"},
        query={"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": SAMPLE_VERIFY_TOKEN},
        request_id=_id("request:handshake").hex[:16],
    )
    events["receipt-rule-set-activation.json"] = receipt_rule_set_activation()
    events["ticket-writer-batch.json"] = sqs_event([_record(position, event) for position, event in enumerate(queued)])
    media_jobs = [job for event in queued if isinstance(event, InboundMessage) for job in jobs_for(event)]
    events["media-fetcher-batch.json"] = sqs_event([_media_record(job) for job in media_jobs])
    events["tickets-list-new.json"] = _agent_request("list", "GET /tickets", query={"status": "new", "limit": "25"})
    first_message = next(event for event in queued if isinstance(event, InboundMessage))
    ticket_id = lifecycle.opened_ticket(first_message, number=1, contact_id="-", follows_up=None).id
    ticket = {"ticket_id": ticket_id}
    events["tickets-get.json"] = _agent_request("get", "GET /tickets/{ticket_id}", ticket)
    events["tickets-messages.json"] = _agent_request(
        "messages", "GET /tickets/{ticket_id}/messages", ticket, query={"limit": "1"}
    )
    events["tickets-audits.json"] = _agent_request("audits", "GET /tickets/{ticket_id}/audits", ticket)
    events["tickets-list-mine.json"] = _agent_request(
        "list-mine", "GET /tickets", query={"assignee": "me", "status": "open", "limit": "25"}
    )
    contact = {"contact_id": lifecycle.new_contact(first_message).id}
    events["contacts-get.json"] = _agent_request("contact", "GET /contacts/{contact_id}", contact)
    events["contact-tags.json"] = _agent_request(
        "contact-tags", "PATCH /contacts/{contact_id}", contact, body={"tags": ["vip"]}
    )
    # Version 2: the batch opened the ticket with its first message and appended the photo.
    events["ticket-change.json"] = _agent_request(
        "change",
        "PATCH /tickets/{ticket_id}",
        ticket,
        body={"status": "pending", "priority": "high", "tags": ["exchange"]},
        headers={"if-match": '"2"'},
    )
    events["ticket-note.json"] = _agent_request(
        "note",
        "POST /tickets/{ticket_id}/notes",
        ticket,
        body={"text": "교환 요청: 다른 색상 재고 확인 중 (물류팀 문의)"},
        headers={"idempotency-key": str(_id("note:exchange"))},
    )
    events["mail-held-release.json"] = _agent_request(
        "release",
        "POST /mail/held/release",
        body={"external_id": "CAH-out-of-office.7@mail.example.net"},
        claims=ADMIN_CLAIMS,
    )
    events.update(sla_admin_events(ticket_id))
    events["ticket-closer-schedule.json"] = scheduled_event("TicketCloserFunction", "CloseSolvedTickets")
    events["ticket-reply.json"] = _agent_request(
        "reply",
        "POST /tickets/{ticket_id}/replies",
        ticket,
        body={
            "text": "안녕하세요, 다른 색상으로 교환해 드리겠습니다. 회수 기사님이 내일 방문합니다.",
            "status": "pending",
        },
        headers={"idempotency-key": str(_id("reply:exchange"))},
    )
    events["channel-sender-batch.json"] = sqs_event([_outbound_record(stable_id("a", "m_sample", "1"), ticket_id)])
    events["outbox-sweep-schedule.json"] = scheduled_event("OutboxSweepFunction", "SweepOutbox")
    events["sla-enforcer-schedule.json"] = scheduled_event("SlaEnforcerFunction", "SweepSlaTimers")
    events["notification-scheduler-schedule.json"] = scheduled_event(
        "NotificationSchedulerFunction", "SweepNotifications"
    )
    events.update(build_order_events(_id, _agent_request, ADMIN_CLAIMS))
    events.update(build_meta_messaging_events(_id))
    events.update(build_line_telegram_events(_id))
    events.update(build_kakao_twilio_events(_id))
    events.update(build_email_events(_id))
    events.update(build_mail_events_events(_id))
    return events


# The example policy: a 1-minute first reply on chat channels, a notify webhook and a tag on breach.
SAMPLE_SLA_POLICIES: dict[str, Any] = {
    "policies": [
        {
            "name": "Chat, urgent first reply",
            "conditions": {"channel": ["telegram", "whatsapp"], "priority": ["urgent", "high", "normal"]},
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
                    "actions": [
                        {"type": "notify", "webhook_url": "https://hooks.example/sla"},
                        {"type": "add_tags", "tags": ["sla_breached"]},
                    ],
                }
            ],
        }
    ]
}
# A Seoul office: a lunch break (two intervals a day), Korea's public holidays, and one of the company's own.
SAMPLE_SCHEDULE: dict[str, Any] = {
    "name": "Seoul office",
    "time_zone": "Asia/Seoul",
    "intervals": [
        {"day": day, "start": start, "end": end}
        for day in ("mon", "tue", "wed", "thu", "fri")
        for start, end in (("09:00", "12:00"), ("13:00", "18:00"))
    ],
    "holidays": [{"date": "2026-04-01", "name": "창립기념일"}],
    "country_holidays": "KR",
}


def sla_admin_events(ticket_id: str) -> dict[str, dict[str, Any]]:
    """The SLA admin routes as an admin calls them, in the order the file names sort (the function probe plays
    them so on an empty table): a dry run on the sample ticket, the rules read, the policy list and a schedule
    saved, the schedules listed."""
    schedule = {"schedule_id": "seoul-office"}
    return {
        "sla-policies-dry-run.json": _agent_request(
            "sla-dry-run", "POST /admin/sla-policies/dry-run", body={"ticket_id": ticket_id}, claims=ADMIN_CLAIMS
        ),
        "sla-policies-get.json": _agent_request("sla-policies", "GET /admin/sla-policies", claims=ADMIN_CLAIMS),
        "sla-policies-put.json": _agent_request(
            "sla-policies-put",
            "PUT /admin/sla-policies",
            body=SAMPLE_SLA_POLICIES,
            headers={"if-match": "0"},
            claims=ADMIN_CLAIMS,
        ),
        "sla-schedule-put.json": _agent_request(
            "sla-schedule-put",
            "PUT /admin/schedules/{schedule_id}",
            schedule,
            body=SAMPLE_SCHEDULE,
            claims=ADMIN_CLAIMS,
        ),
        "sla-schedules-list.json": _agent_request("sla-schedules", "GET /admin/schedules", claims=ADMIN_CLAIMS),
    }


def build_files() -> dict[str, bytes]:
    """File name -> bytes, for what the events refer to but do not carry (the mail an S3 notification names)."""
    return build_email_files(_id)


def receipt_rule_set_activation() -> dict[str, Any]:
    """CloudFormation's Create request for the ActiveMailReceiptRuleSet custom resource (deploy with
    ActivateReceiptRuleSet=true). The ResponseURL is a pre-signed S3 URL CloudFormation waits on."""
    stack_id = (
        "arn:aws:cloudformation:us-east-1:123456789012:stack/switchboard-dev/5b3c7e10-4456-11f0-9d2b-0a1b2c3d4e5f"
    )
    service_token = (
        "arn:aws:lambda:us-east-1:123456789012:function:switchboard-dev-ReceiptRuleSetActivatorFunction-Q2kX7mB1vN4d"
    )
    request_id = str(_id("request:receipt-rule-set"))
    return {
        "RequestType": "Create",
        "ServiceToken": service_token,
        "ResponseURL": (
            "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/"
            f"arn%3Aaws%3Acloudformation%3Aus-east-1%3A123456789012%3Astack/switchboard-dev/{request_id}"
            "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20250608T210000Z&X-Amz-Expires=7200&X-Amz-Signature=0f3e"
        ),
        "StackId": stack_id,
        "RequestId": request_id,
        "LogicalResourceId": "ActiveMailReceiptRuleSet",
        "ResourceType": "Custom::ActiveReceiptRuleSet",
        "ResourceProperties": {"ServiceToken": service_token, "RuleSetName": "switchboard-dev-mail"},
    }


def scheduled_event(function_id: str, event_name: str) -> dict[str, Any]:
    """What EventBridge hands a function on a run of its Schedule event (rule <stack>-<logical id><event name>-<suffix>)."""
    return {
        "version": "0",
        "id": str(_id(f"schedule:{function_id}{event_name}")),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": "2025-06-12T21:00:00Z",
        "region": REGION,
        "resources": [
            f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/switchboard-dev-{function_id}{event_name}-1M4QX7RZ2K9B"
        ],
        "detail": {},
    }


def _record(position: int, event: InboundMessage | DeliveryReceipt) -> dict[str, Any]:
    sent_ms = int(_received_at(event).timestamp() * 1000)
    return sqs_record(
        message_id=str(_id(f"message:{event.dedup_key}")),
        receipt_handle="AQEB" + _id(f"receipt:{event.dedup_key}").hex * 4,
        body=queue.encode(event),
        attributes={
            "ApproximateReceiveCount": "1",
            "SentTimestamp": str(sent_ms),
            "SequenceNumber": f"{18876000000000000000 + position:020d}",
            "MessageGroupId": queue.message_group_id(event),
            "SenderId": WEBHOOK_SENDER_ID,
            "MessageDeduplicationId": queue.deduplication_id(event),
            "ApproximateFirstReceiveTimestamp": str(sent_ms + 40),
        },
        queue_arn=INBOUND_QUEUE_ARN,
    )


def _media_record(job) -> dict[str, Any]:
    name = f"media:{job.channel}:{job.message_external_id}:{job.attachment_index}"
    return sqs_record(
        message_id=str(_id(name)),
        receipt_handle="AQEB" + _id(f"receipt:{name}").hex * 4,
        body=job.model_dump_json(),
        attributes={
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1749416402000",
            "SenderId": WRITER_SENDER_ID,
            "ApproximateFirstReceiveTimestamp": "1749416402040",
        },
        queue_arn=MEDIA_QUEUE_ARN,
    )


def _outbound_record(attempt_id: str, conversation: str) -> dict[str, Any]:
    return sqs_record(
        message_id=str(_id(f"outbound:{attempt_id}")),
        receipt_handle="AQEB" + _id(f"receipt:outbound:{attempt_id}").hex * 4,
        body=json.dumps({"attempt_id": attempt_id}),
        attributes={
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1749416460000",
            "SenderId": REPLIES_SENDER_ID,
            "ApproximateFirstReceiveTimestamp": "1749416460040",
            "MessageGroupId": group_id_of(f"whatsapp:{conversation}"),
            "MessageDeduplicationId": hashlib.sha256(attempt_id.encode()).hexdigest(),
            "SequenceNumber": "18887442331800123904",
        },
        queue_arn=OUTBOUND_QUEUE_ARN,
    )


def _sent_at(body: bytes) -> datetime:
    return max(event.provider_timestamp for event in ADAPTER.parse(body, received_at=datetime.now().astimezone()))


def _received_at(event: InboundMessage | DeliveryReceipt) -> datetime:
    # Receipts carry no arrival time; they arrive a second after Meta stamps them, like the samples' webhooks.
    return event.received_at if isinstance(event, InboundMessage) else event.provider_timestamp + timedelta(seconds=1)


def _agent_request(
    name: str,
    route_key: str,
    path_parameters: dict[str, str] | None = None,
    *,
    query: dict[str, str] | None = None,
    body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    claims: dict[str, str] = AGENT_CLAIMS,
) -> dict[str, Any]:
    """An agent's request to `route_key` ("GET /tickets/{ticket_id}"), with a bearer token and a JSON body."""
    method, path = route_key.split(" ", 1)
    for parameter, value in (path_parameters or {}).items():
        path = path.replace(f"{{{parameter}}}", value)
    return http_api_event(
        method=method,
        path=path,
        route_key=route_key,
        headers={
            "authorization": "Bearer <access token>",
            **({"content-type": "application/json"} if body is not None else {}),
            **(headers or {}),
        },
        path_parameters=path_parameters,
        query=query,
        body=json.dumps(body, ensure_ascii=False).encode() if body is not None else None,
        claims=claims,
        request_id=_id(f"request:{name}").hex[:16],
    )


def _id(name: str) -> uuid.UUID:
    return uuid.uuid5(_IDS, name)


def write(directory: Path = EVENTS_DIR) -> list[Path]:
    written = []
    for name, event in build_events().items():
        path = directory / name
        path.write_text(json.dumps(event, indent=2, ensure_ascii=False) + "\n")
        written.append(path)
    for name, content in build_files().items():
        path = directory / name
        path.write_bytes(content)
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write():
        print(path.relative_to(EVENTS_DIR.parent))
