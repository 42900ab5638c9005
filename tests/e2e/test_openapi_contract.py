"""The agents' API answers as GET /openapi.json says, checked by schemathesis (a real, independent tool) against
the running local stack: generated requests, valid and invalid, to every described route; no 5xx, and every
answer's status, content type, headers and body as documented.

A ticket is seeded first (a customer's WhatsApp message, a note, a change) and its ids are given to
schemathesis as the path parameters' examples, so the routes are exercised on real data as well as on
generated ids (404s)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.local_stack import LocalStack, whatsapp_text

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
]
# Bounded so the run stays near a minute on a 2-core machine: about 20 generated requests per route and
# phase; the seed makes a failure reproducible.
MAX_EXAMPLES = 20
SEED = 20250608
RUN_TIMEOUT_SECONDS = 300


def _seeded_ticket(local_stack: LocalStack) -> dict[str, str]:
    """A ticket with a customer message, a note and an audit: the ids schemathesis starts from."""
    customer = "1555" + str(uuid.uuid4().int)[:7]
    local_stack.post_whatsapp(whatsapp_text(f"wamid.contract-{uuid.uuid4().hex}", customer, "Is it waterproof?"))
    ticket = local_stack.wait_for_ticket_of(customer)
    agent = {"Authorization": f"Bearer {local_stack.token_of('agent')}", "Content-Type": "application/json"}
    note = local_stack.request(
        "POST",
        f"/tickets/{ticket['id']}/notes",
        b'{"text": "Checked the spec sheet: IP67."}',
        {**agent, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert note.status == 201, note.body
    shown = local_stack.as_agent(f"/tickets/{ticket['id']}")
    changed = local_stack.request(
        "PATCH", f"/tickets/{ticket['id']}", b'{"tags": ["contract"]}', {**agent, "If-Match": shown.headers["etag"]}
    )
    assert changed.status == 200, changed.body
    return {
        "ticket_id": ticket["id"],
        "message_key": shown.json()["messages"][0]["message_key"],
        "contact_id": ticket["requester"]["contact_id"],
        "If-Match": changed.headers["etag"],
    }


def _with_examples(document: dict[str, Any], examples: dict[str, str]) -> dict[str, Any]:
    """The document with the seeded ids (and the ticket's ETag) as its parameters' examples, which schemathesis
    uses first."""
    for item in document["paths"].values():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] in ("path", "header") and parameter["name"] in examples:
                    parameter["example"] = examples[parameter["name"]]
    return document


def test_the_running_api_answers_as_its_openapi_document_says(local_stack: LocalStack, tmp_path: Path):
    # Given the document the stack serves, without a token, and a ticket with data on it
    served = local_stack.request("GET", "/openapi.json")
    assert served.status == 200
    assert served.json()["servers"] == [{"url": local_stack.api_url}]
    schema_path = tmp_path / "openapi.json"
    schema_path.write_text(json.dumps(_with_examples(served.json(), _seeded_ticket(local_stack))))

    # When schemathesis sends every described route valid and invalid requests, as an admin (who may call
    # every route, release included)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--no-color",
            "run",
            str(schema_path),
            "--url",
            local_stack.api_url,
            "--header",
            f"Authorization: Bearer {local_stack.token_of('admin')}",
            "--checks",
            ",".join(CHECKS),
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--seed",
            str(SEED),
            "--generation-database",
            "none",
            "--request-timeout",
            "20",
            "--workers",
            "2",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
        check=False,
    )

    # Then no answer is a 5xx and each is what the document describes
    assert run.returncode == 0, f"{run.stdout[-12000:]}\n{run.stderr[-3000:]}\n(stack log)\n{local_stack.log_tail(40)}"
    counted = re.search(r"(\d+) generated, (\d+) passed", run.stdout)
    assert counted and counted.group(1) == counted.group(2), run.stdout[-3000:]
    # (every route tried many times, not a run that quietly tested nothing)
    assert int(counted.group(1)) >= 10 * len(served.json()["paths"]), counted.group(0)


def test_the_local_runner_serves_swagger_ui_over_the_document(local_stack: LocalStack):
    # When a developer opens /docs on the running stack, without a token
    page = local_stack.request("GET", "/docs")
    # Then it is Swagger UI pointed at this stack's own document, and the banner says where it is
    assert page.status == 200
    assert page.headers["content-type"].startswith("text/html")
    assert b'url: "/openapi.json"' in page.body
    assert b"swagger-ui-bundle.js" in page.body
    assert local_stack.state["docs_url"] == local_stack.api_url + "/docs"
    assert f"{local_stack.api_url}/openapi.json" in local_stack.log_path.read_text(errors="replace")
