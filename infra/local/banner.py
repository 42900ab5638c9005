"""What `make run` prints once the stack is up: where things are and curl lines that work as pasted."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any

from infra.local.samples import SignedSample


def _shown_path(path: Path) -> str:
    relative = os.path.relpath(path)
    return relative if not relative.startswith("..") else str(path)


def banner(
    state: dict[str, Any],
    state_path: Path,
    sample: SignedSample | None,
    redelivery_seconds: int,
    shop_sample: tuple[SignedSample, dict[str, str]] | None = None,
) -> str:
    api = state["api_url"]
    token = state["dev_token"]
    lines = [
        "",
        "Switchboard is running locally.",
        f"  API:               {api}",
        f"  API reference:     {api}/openapi.json  (Swagger UI: {state.get('docs_url') or api + '/docs'})",
        f"  AWS (moto):        {state['aws_endpoint_url']}  (region {state['region']})",
        f"  State:             {_shown_path(state_path)}",
        "  Routes:",
        *(f"    {r['method']:<6} {r['url']}{'  (JWT)' if r['authorized'] else ''}" for r in state["routes"]),
    ]
    whatsapp = state["secrets"].get("whatsapp")
    if whatsapp:
        webhook = f"{api}/webhooks/whatsapp"
        lines += [
            "",
            f"  WhatsApp webhook:  {webhook}",
            f"  App secret:        {whatsapp.get('app_secret', '')}   (dev only, new each run)",
            f"  Verify token:      {whatsapp.get('verify_token', '')}",
        ]
    providers = state.get("fake_providers")
    if providers:
        lines += [
            "",
            f"  Fake providers:    {providers['base_url']}  (media APIs the media fetcher downloads from)",
            f"  Register media:    curl -sS -X PUT {providers['register_media']} -H 'Content-Type: image/jpeg' --data-binary @photo.jpg",
        ]
    lines += ["", "  Dev bearer tokens (12 h; dev_tokens in the state file):", f"    agent: {token}"]
    for role, other in (state.get("dev_tokens") or {}).items():
        if role != "agent":
            lines.append(f"    {role}: {other}" + ("  (valid, no role: 403)" if role == "none" else ""))
    lines.append("")
    if whatsapp and sample:
        lines += [
            "Deliver a signed WhatsApp text message:",
            "  curl -sS -X POST "
            + shlex.quote(f"{api}/webhooks/whatsapp")
            + " -H 'Content-Type: application/json' -H "
            + shlex.quote(f"X-Hub-Signature-256: {sample.signature}")
            + " --data-binary "
            + shlex.quote("@" + _shown_path(sample.path)),
            "Answer Meta's subscription handshake:",
            "  curl -sS "
            + shlex.quote(
                f"{api}/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token={whatsapp.get('verify_token', '')}"
                "&hub.challenge=1158201444"
            ),
        ]
    if shop_sample is not None:
        signed, headers = shop_sample
        providers_url = (providers or {}).get("base_url", "")
        lines += [
            "Deliver a signed Shopify shipment event (an AlimTalk to +821012345678 appears in the fake outbox):",
            "  curl -sS -X POST "
            + shlex.quote(f"{api}/webhooks/shopify")
            + " -H 'Content-Type: application/json' -H "
            + shlex.quote(f"X-Shopify-Hmac-Sha256: {signed.signature}")
            + "".join(" -H " + shlex.quote(f"{name}: {value}") for name, value in headers.items())
            + " --data-binary "
            + shlex.quote("@" + _shown_path(signed.path)),
            "  curl -sS " + shlex.quote(f"{providers_url}/__fake__/sent"),
        ]
    lines += [
        "List tickets as an agent:",
        "  curl -sS " + shlex.quote(f"{api}/tickets") + " -H " + shlex.quote(f"Authorization: Bearer {token}"),
        "",
        f"Failed queue records are redelivered after {redelivery_seconds}s here (in AWS: the queue's visibility timeout);",
        "`make redrive` moves dead-lettered ones back. Ctrl-C stops everything.",
        "",
    ]
    return "\n".join(lines)
