"""The fake receiver of SLA notify webhooks, under /__fake__/hooks/ (production: whatever HTTPS URL a policy names).

| request                                                   | answer                                               |
|-----------------------------------------------------------|------------------------------------------------------|
| POST /__fake__/hooks/<any path> with a signed JSON notice | 200 {"ok": true}                                     |
|   ... when it checks signatures and this one is not valid | 401 {"ok": false, "error": "invalid_signature", "description"} |

The local runner points notify webhooks here (`SLA_LOCAL_HOOKS_BASE` = `<fake providers>/__fake__/hooks/`), so
every notice shows in the local outbox (`GET /__fake__/sent`) with provider "webhook", its headers and its JSON.

It checks signatures as a receiver following sla/notify.py would, written here from the scheme rather than
imported, so a test against it checks the signing and not our code against itself: HMAC-SHA256 of
"<X-Switchboard-Timestamp>." + body under the key, as "v1=<hex>" in X-Switchboard-Signature (any of several
comma-separated values), the timestamp within 5 minutes of the fake's clock (Stripe's scheme,
https://docs.stripe.com/webhooks#verify-manually). Only when it knows the key (`SigningSecrets.sla_webhook_signing_key`);
unset, it takes every request, as a receiver that does not verify would.

Injected faults (`FakeProviders.fail` / `stall` on the hook's path) apply before this answers, as for every send API.

Test hooks, module state shared by every server in the process:
- `REDIRECTS`: hook path -> (status, Location): a receiver that moved, answering 301/302/307/308 there.
"""

from __future__ import annotations

import hashlib
import hmac

from infra.fakes.outbound import FakeAnswer, FakeContext, OutboundCall, Receipt, register

PREFIX = "/__fake__/hooks/"
TOLERANCE_SECONDS = 300

REDIRECTS: dict[str, tuple[int, str]] = {}


def hooks_base(base_url: str) -> str:
    """The base under which notify webhooks are recorded here: what SLA_LOCAL_HOOKS_BASE is set to."""
    return base_url.rstrip("/") + PREFIX


class FakeWebhookReceiver:
    name = "webhook"

    def reset(self) -> None:
        """No redirects (FakeProviders.reset)."""
        REDIRECTS.clear()

    def handles(self, path: str) -> bool:
        return path.startswith(PREFIX)

    def answer(self, call: OutboundCall, context: FakeContext) -> tuple[FakeAnswer, list[Receipt]]:
        if call.path in REDIRECTS:
            status, location = REDIRECTS[call.path]
            return FakeAnswer(status, {"ok": False, "error": "moved"}, {"Location": location}), []
        key = context.signing.sla_webhook_signing_key
        if key is not None:
            refusal = _signature_refusal(call, key.encode(), int(context.now.timestamp()))
            if refusal is not None:
                return FakeAnswer(401, {"ok": False, "error": "invalid_signature", "description": refusal}), []
        return FakeAnswer(200, {"ok": True}), []


def _signature_refusal(call: OutboundCall, key: bytes, now: int) -> str | None:
    timestamp = call.header("X-Switchboard-Timestamp") or ""
    signatures = call.header("X-Switchboard-Signature") or ""
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 11:
        return "X-Switchboard-Timestamp is missing or not Unix seconds"
    if abs(now - int(timestamp)) > TOLERANCE_SECONDS:
        return "X-Switchboard-Timestamp is more than 5 minutes from now"
    expected = "v1=" + hmac.new(key, timestamp.encode() + b"." + call.body, hashlib.sha256).hexdigest()
    if not any(
        hmac.compare_digest(expected, offered.strip()) for offered in signatures.split(",") if offered.isascii()
    ):
        return "X-Switchboard-Signature does not match the body"
    return None


register(FakeWebhookReceiver())
