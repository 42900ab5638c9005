"""A signed sample webhook for the developer to POST with curl, written next to local.json."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from infra.functions import use_layer

SAMPLE_CUSTOMER = "15551234567"


@dataclass(frozen=True)
class SignedSample:
    path: Path
    signature: str


def whatsapp_text_body(message_id: str, sent_at: int) -> bytes:
    """A WhatsApp Cloud API text-message webhook, shaped like Meta's documented example."""
    webhook = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
                            "contacts": [{"profile": {"name": "Dev Customer"}, "wa_id": SAMPLE_CUSTOMER}],
                            "messages": [
                                {
                                    "from": SAMPLE_CUSTOMER,
                                    "id": message_id,
                                    "timestamp": str(sent_at),
                                    "type": "text",
                                    "text": {"body": "Hi! My order #1042 has not arrived yet."},
                                }
                            ],
                        },
                        "field": "messages",
                    }
                ],
            }
        ],
    }
    return json.dumps(webhook, separators=(",", ":")).encode()


def write_whatsapp_sample(state_dir: Path, app_secret: str) -> SignedSample:
    """Meta signs the exact bytes it sends, so the file is what curl must send (--data-binary @file)."""
    use_layer()
    from switchboard.channels.meta import sign

    body = whatsapp_text_body(f"wamid.local-{secrets.token_hex(8)}", int(time.time()))
    path = state_dir / "sample-whatsapp.json"
    path.write_bytes(body)
    return SignedSample(path=path, signature=sign(body, app_secret))
