"""Drives a running `python -m infra.local` the way a provider and an agent would: over HTTP, plus boto3
against its moto endpoint for looking at the queues."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from switchboard.channels.meta import sign
from tests.support.paths import provider_fixture


def eventually[T](probe: Callable[[], T | None], *, timeout: float, interval: float = 0.25, what: str) -> T:
    """The first truthy result of probe() within timeout seconds; fails the test with `what` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class LocalStack:
    state: dict[str, Any]
    state_dir: Path
    log_path: Path
    _sqs: Any = field(default=None, repr=False)

    @property
    def api_url(self) -> str:
        return self.state["api_url"]

    @property
    def dev_token(self) -> str:
        return self.state["dev_token"]

    def token_of(self, role: str) -> str:
        """The dev token of `role` (agent, admin, or none: valid without a role)."""
        return self.state["dev_tokens"][role]

    @property
    def whatsapp_secrets(self) -> dict[str, str]:
        return self.state["secrets"]["whatsapp"]

    def resource(self, logical_id: str) -> str:
        return self.state["resources"][logical_id]

    # -- HTTP, as a provider or an agent --------------------------------------------------------

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> Response:
        request = urllib.request.Request(self.api_url + path, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=20) as answer:
                return Response(answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.read())
        except urllib.error.HTTPError as error:
            return Response(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())

    def post_whatsapp(self, body: bytes, signature: str | None = None) -> Response:
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": signature or sign(body, self.whatsapp_secrets["app_secret"]),
        }
        return self.request("POST", "/webhooks/whatsapp", body, headers)

    def as_agent(self, path: str, role: str = "agent") -> Response:
        return self.request("GET", path, headers={"Authorization": f"Bearer {self.token_of(role)}"})

    def tickets(self) -> list[dict[str, Any]]:
        response = self.as_agent("/tickets?limit=100")
        assert response.status == 200, response.body
        return response.json()["tickets"]

    def ticket_of_customer(self, wa_id: str) -> dict[str, Any] | None:
        return next((t for t in self.tickets() if t["conversation_key"].endswith(f":{wa_id}")), None)

    def wait_for_ticket_of(self, wa_id: str, timeout: float = 15) -> dict[str, Any]:
        return eventually(lambda: self.ticket_of_customer(wa_id), timeout=timeout, what=f"a ticket for {wa_id}")

    # -- the queues, through moto -----------------------------------------------------------------

    @property
    def sqs(self):
        if self._sqs is None:
            self._sqs = boto3.client(
                "sqs",
                endpoint_url=self.state["aws_endpoint_url"],
                region_name=self.state["region"],
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
        return self._sqs

    def queue_depth(self, logical_id: str) -> int:
        """Messages waiting plus messages in flight."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.resource(logical_id),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def whatsapp_text(message_id: str, wa_id: str, text: str) -> bytes:
    """Meta's documented text-message webhook with another message id, sender and text."""
    webhook = json.loads(provider_fixture("whatsapp", "text.json"))
    value = webhook["entry"][0]["changes"][0]["value"]
    value["contacts"][0]["wa_id"] = wa_id
    message = value["messages"][0]
    message.update({"id": message_id, "from": wa_id, "timestamp": str(int(time.time()))})
    message["text"]["body"] = text
    return json.dumps(webhook, separators=(",", ":")).encode()
