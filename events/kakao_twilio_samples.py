"""Sample events for the Kakao and Twilio webhook functions (written by events/generate.py).

Bodies are the samples in tests/fixtures/providers/kakao and tests/fixtures/providers/twilio, byte for byte, except
the Twilio status callback, built from Twilio's field names by tests/support/drivers/twilio.py. Kakao
requests carry the sample skill token; Twilio requests are signed over the URL the event says was called
(the API's execute-api host), with the sample auth token.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tests.support.drivers.kakao import SAMPLE_SKILL_TOKEN, KakaoDriver
from tests.support.drivers.twilio import TwilioDriver, form, inbound_sms_sample, status_fields
from tests.support.lambda_events import http_api_event
from tests.support.paths import provider_fixture

KAKAO = KakaoDriver()
TWILIO = TwilioDriver()
RECEIVED_AT = datetime(2025, 6, 8, 21, 0, 3, tzinfo=UTC)
# Our reply to the sample SMS's customer, reported delivered.
TWILIO_STATUS = form(
    status_fields(message_sid="SM9e8d7c6b5a49382716a5b4c3d2e1f0a9", recipient="+821098765432", status="delivered")
)


def build_kakao_twilio_events(event_id: Callable[[str], uuid.UUID]) -> dict[str, dict[str, Any]]:
    skill_request = provider_fixture("kakao", "skill-request.json")
    kakao_headers = {"content-type": "application/json;charset=UTF-8", "accept": "application/json"}
    return {
        "kakao-skill.json": http_api_event(
            method="POST",
            path=KAKAO.webhook_path,
            route_key=f"POST {KAKAO.webhook_path}",
            headers=KAKAO.headers(skill_request),
            body=skill_request,
            request_id=event_id("request:kakao-skill").hex[:16],
            at=RECEIVED_AT,
        ),
        # For skills whose header settings cannot be used: the token is the last path segment.
        "kakao-skill-token-in-path.json": http_api_event(
            method="POST",
            path=f"{KAKAO.webhook_path}/{SAMPLE_SKILL_TOKEN}",
            route_key=f"POST {KAKAO.webhook_path}/{{token}}",
            headers=kakao_headers,
            path_parameters={"token": SAMPLE_SKILL_TOKEN},
            body=skill_request,
            request_id=event_id("request:kakao-skill-path").hex[:16],
            at=RECEIVED_AT,
        ),
        "twilio-sms.json": _twilio("sms", inbound_sms_sample(), event_id),
        "twilio-status.json": _twilio("status", TWILIO_STATUS, event_id),
    }


def _twilio(kind: str, body: bytes, event_id: Callable[[str], uuid.UUID]) -> dict[str, Any]:
    return http_api_event(
        method="POST",
        path=TWILIO.webhook_path,
        route_key=f"POST {TWILIO.webhook_path}",
        headers=TWILIO.headers(body),
        body=body,
        request_id=event_id(f"request:twilio-{kind}").hex[:16],
        at=RECEIVED_AT,
    )
