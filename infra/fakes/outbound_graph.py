"""Meta's Graph API send endpoints, faked: WhatsApp Cloud API, Messenger and Instagram messaging.

All three are `POST /graph/v21.0/<id>/messages` with `Authorization: Bearer <token>`, where <id> is the WhatsApp
phone number id, the Facebook page id or the Instagram professional account id. As on the real Graph, which
product answers depends on the node and the token, not the path: a body with "messaging_product": "whatsapp"
is a Cloud API message; otherwise the token says Messenger (page access token) or Instagram. One provider,
"graph", therefore serves all three (`FakeProviders.calls("graph")`).

| request | answer |
|---------|--------|
| Bearer token none of the configured WhatsApp, Messenger, Instagram tokens | 401 (#190) OAuthException |
| WhatsApp: no/other messaging_product, no `to`, unknown `type`, text over 4,096, caption over 1,024, template without name or language.code | 400 (#100) |
| Messenger/Instagram: no recipient.id, messaging_type not RESPONSE/UPDATE/MESSAGE_TAG, MESSAGE_TAG without tag, message neither text nor one attachment, text over 2,000 (Instagram 1,000) | 400 (#100) |
| recipient `graph-error-<code>` (below) | that error, as Graph answers it |
| anything else | WhatsApp: 200 {"messaging_product", "contacts": [{"input", "wa_id"}], "messages": [{"id": "wamid..."}]}; Messenger/Instagram: 200 {"recipient_id", "message_id"} |

Graph's error body is {"error": {"message", "type", "code", "error_subcode", "error_data", "fbtrace_id"}}
(Graph API, "Handling Errors"). Graph documents no magic recipients, so this fake takes `graph-error-<code>`
as the recipient (`to` or `recipient.id`) to answer one of these real errors:

| code | error |
|------|-------|
| 131047 | WhatsApp re-engagement: more than 24 hours since the customer's last message |
| 130429, 131056, 80007, 4 | WhatsApp throttling (the number's throughput, the pair rate, the WABA, the app) |
| 131026, 131051 | WhatsApp: undeliverable, unsupported message type |
| 10/2018278 | Messenger/Instagram: outside the allowed window |
| 551/1545041 | Messenger: the person isn't available |
| 613 | Messenger: rate limit |
| 190 | the token expired |
| 2 | Graph: temporary, retry later (is_transient) |

After a 200 the receipts go out, signed with the product's app secret in X-Hub-Signature-256 over the exact bytes
(compact JSON, non-ASCII escaped, as Meta serializes), to our webhook:
- WhatsApp: three `messages` webhooks with one status each, `sent`, `delivered`, `read`, each echoing the
  message's `biz_opaque_callback_data` (Cloud API webhooks, "Status messages"), to /webhooks/whatsapp;
- Messenger: a `message_deliveries` event naming the mid, then a `message_reads` watermark, to /webhooks/messenger;
- Instagram: no delivery webhook exists ("message_deliveries ... Only available for Messenger conversations",
  Webhook Events Reference), only `messaging_seen` naming the mid read, to /webhooks/instagram.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from datetime import datetime
from typing import Any

from infra.fakes.outbound import FakeAnswer, FakeContext, OutboundCall, Receipt, register

GRAPH_PREFIX = "/graph/v21.0/"
SUFFIX = "/messages"
ERROR_RECIPIENT_PREFIX = "graph-error-"
FAKE_WABA_ID = "102290129340398"
WHATSAPP_MAX_TEXT = 4096
WHATSAPP_MAX_CAPTION = 1024
WHATSAPP_MEDIA = {"image", "video", "audio", "document", "sticker"}
MESSENGER_MAX_TEXT = 2000
INSTAGRAM_MAX_TEXT = 1000
MESSAGING_TYPES = {"RESPONSE", "UPDATE", "MESSAGE_TAG"}
ATTACHMENT_TYPES = {"image", "video", "audio", "file"}

# code text -> (HTTP status, type, message, error_subcode, details, is_transient)
GRAPH_ERRORS: dict[str, tuple[int, str, str, int | None, str | None, bool]] = {
    "131047": (
        400,
        "OAuthException",
        "(#131047) Re-engagement message",
        None,
        "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
        False,
    ),
    "130429": (
        400,
        "OAuthException",
        "(#130429) Rate limit hit",
        None,
        "Cloud API message throughput has been reached.",
        False,
    ),
    "131056": (
        400,
        "OAuthException",
        "(#131056) (Business Account, Consumer Account) pair rate limit hit",
        None,
        "Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time.",
        False,
    ),
    "80007": (400, "OAuthException", "(#80007) Rate limit issues", None, None, False),
    "4": (400, "OAuthException", "(#4) Application request limit reached", None, None, True),
    "131026": (
        400,
        "OAuthException",
        "(#131026) Message Undeliverable",
        None,
        "Unable to deliver message. Reasons can include: The recipient phone number is not a WhatsApp phone number.",
        False,
    ),
    "131051": (400, "OAuthException", "(#131051) Unsupported message type", None, "Unsupported message type.", False),
    "10/2018278": (
        400,
        "OAuthException",
        "(#10) This message is sent outside of allowed window.",
        2018278,
        None,
        False,
    ),
    "551/1545041": (400, "OAuthException", "(#551) This person isn't available right now.", 1545041, None, False),
    "613": (400, "OAuthException", "(#613) Calls to this api have exceeded the rate limit.", None, None, True),
    "190": (401, "OAuthException", "Error validating access token: Session has expired.", 463, None, False),
    "2": (
        500,
        "OAuthException",
        "An unexpected error has occurred. Please retry your request later.",
        None,
        None,
        True,
    ),
}


def graph_error(status: int, code: int, message: str, *, subcode: int | None = None, **extra: Any) -> FakeAnswer:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    error.update(extra)
    error["fbtrace_id"] = "A" + secrets.token_urlsafe(15)
    return FakeAnswer(status, {"error": error})


def _invalid(message: str) -> FakeAnswer:
    return graph_error(400, 100, f"(#100) {message}")


def _canned(code_text: str, whatsapp: bool) -> FakeAnswer:
    if code_text not in GRAPH_ERRORS:
        return _invalid(f"Unknown test error {code_text!r}")
    status, kind, message, subcode, details, transient = GRAPH_ERRORS[code_text]
    extra: dict[str, Any] = {"type": kind}
    if details is not None:
        extra["error_data"] = {"messaging_product": "whatsapp", "details": details} if whatsapp else details
    if transient:
        extra["is_transient"] = True
    return graph_error(status, int(code_text.split("/")[0]), message, subcode=subcode, **extra)


def meta_signature(body: bytes, app_secret: str) -> str:
    """X-Hub-Signature-256 as Meta computes it, independently of our adapter: HMAC-SHA256 of the raw bytes."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def _meta_receipt(provider: str, target: str, document: dict[str, Any], app_secret: str) -> Receipt:
    # Meta sends compact JSON with non-ASCII escaped as \\uXXXX, and signs those bytes.
    body = json.dumps(document, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "facebookexternalua",
        "X-Hub-Signature-256": meta_signature(body, app_secret),
    }
    return Receipt(provider=provider, target=target, headers=headers, body=body)


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class GraphMessages:
    name = "graph"

    def handles(self, path: str) -> bool:
        if not (path.startswith(GRAPH_PREFIX) and path.endswith(SUFFIX)):
            return False
        node = path[len(GRAPH_PREFIX) : -len(SUFFIX)]
        return bool(node) and "/" not in node

    def answer(self, call: OutboundCall, context: FakeContext) -> tuple[FakeAnswer, list[Receipt]]:
        node = call.path[len(GRAPH_PREFIX) : -len(SUFFIX)]
        credentials = context.credentials
        authorization = call.header("Authorization") or ""
        token = authorization[len("Bearer ") :] if authorization.startswith("Bearer ") else None
        if token is None or token not in {
            credentials.whatsapp_access_token,
            credentials.messenger_page_access_token,
            credentials.instagram_access_token,
        }:
            # Graph reads a token from the Authorization header or the access_token parameter; we send the header.
            return graph_error(401, 190, "Invalid OAuth access token - Cannot parse access token"), []
        document = call.json()
        if not isinstance(document, dict):
            return _invalid("The request body is not a JSON object"), []
        messaging_tokens = {credentials.messenger_page_access_token, credentials.instagram_access_token}
        if document.get("messaging_product") == "whatsapp" or token not in messaging_tokens:
            if token != credentials.whatsapp_access_token:
                return graph_error(401, 190, "Invalid OAuth access token - Cannot parse access token"), []
            return self._whatsapp(node, document, context)
        if token == credentials.messenger_page_access_token:
            return self._messaging(node, document, context, instagram=False)
        return self._messaging(node, document, context, instagram=True)

    # -- WhatsApp Cloud API ---------------------------------------------------------------------

    def _whatsapp(
        self, phone_number_id: str, document: dict[str, Any], context: FakeContext
    ) -> tuple[FakeAnswer, list[Receipt]]:
        if document.get("messaging_product") != "whatsapp":
            return _invalid("The parameter messaging_product is required."), []
        to = document.get("to")
        if not isinstance(to, str) or not to:
            return _invalid("The parameter to is required."), []
        if to.startswith(ERROR_RECIPIENT_PREFIX):
            return _canned(to[len(ERROR_RECIPIENT_PREFIX) :], whatsapp=True), []
        kind = document.get("type", "text")
        content = document.get(kind)
        if kind not in {"text", "template", *WHATSAPP_MEDIA} or not isinstance(content, dict):
            return _invalid(f"Param {kind} is required for messages of type {kind}."), []
        if kind == "text":
            body = content.get("body")
            if not isinstance(body, str) or not body:
                return _invalid("The parameter text['body'] is required."), []
            if len(body) > WHATSAPP_MAX_TEXT:
                return _invalid(f"Param text['body'] must be at most {WHATSAPP_MAX_TEXT} characters long."), []
        elif kind == "template":
            language = content.get("language")
            if not content.get("name") or not isinstance(language, dict) or not language.get("code"):
                return _invalid("The parameters template['name'] and template['language']['code'] are required."), []
        else:
            if not content.get("link") and not content.get("id"):
                return _invalid(f"Param {kind}['link'] or {kind}['id'] is required."), []
            caption = content.get("caption")
            if caption is not None and (
                kind not in {"image", "video", "document"} or len(caption) > WHATSAPP_MAX_CAPTION
            ):
                return _invalid(f"Param {kind}['caption'] is not valid."), []
        wamid = "wamid." + base64.b64encode(b"HBgL" + secrets.token_bytes(30)).decode()
        answer = FakeAnswer(
            200,
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": to}],
                "messages": [{"id": wamid, "message_status": "accepted"}],
            },
        )
        at = str(int(context.now.timestamp()))
        callback = document.get("biz_opaque_callback_data")
        receipts = []
        for status in ("sent", "delivered", "read"):
            item: dict[str, Any] = {"id": wamid, "status": status, "timestamp": at, "recipient_id": to}
            if isinstance(callback, str) and callback:
                item["biz_opaque_callback_data"] = callback
            if status != "read":
                item["pricing"] = {
                    "billable": kind == "template",
                    "pricing_model": "PMP",
                    "category": "utility" if kind == "template" else "service",
                }
            value = {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550783881", "phone_number_id": phone_number_id},
                "statuses": [item],
            }
            webhook = {
                "object": "whatsapp_business_account",
                "entry": [{"id": FAKE_WABA_ID, "changes": [{"value": value, "field": "messages"}]}],
            }
            receipts.append(
                _meta_receipt(self.name, "/webhooks/whatsapp", webhook, context.signing.whatsapp_app_secret)
            )
        return answer, receipts

    # -- Messenger and Instagram Send API -------------------------------------------------------

    def _messaging(
        self, account: str, document: dict[str, Any], context: FakeContext, *, instagram: bool
    ) -> tuple[FakeAnswer, list[Receipt]]:
        recipient = document.get("recipient")
        customer = recipient.get("id") if isinstance(recipient, dict) else None
        if not isinstance(customer, str) or not customer:
            return _invalid("param recipient must be non-empty."), []
        if customer.startswith(ERROR_RECIPIENT_PREFIX):
            return _canned(customer[len(ERROR_RECIPIENT_PREFIX) :], whatsapp=False), []
        messaging_type = document.get("messaging_type")
        if messaging_type not in MESSAGING_TYPES:
            return _invalid("param messaging_type must be one of {RESPONSE, UPDATE, MESSAGE_TAG}"), []
        if messaging_type == "MESSAGE_TAG" and not document.get("tag"):
            return _invalid("param tag must be non-empty when messaging_type is MESSAGE_TAG"), []
        message = document.get("message")
        if not isinstance(message, dict) or ("text" in message) == ("attachment" in message):
            return _invalid("param message must have exactly one of text or attachment"), []
        limit = INSTAGRAM_MAX_TEXT if instagram else MESSENGER_MAX_TEXT
        if "text" in message:
            text = message["text"]
            if not isinstance(text, str) or not text or len(text) > limit:
                return _invalid(f"Length of param message[text] must be less than or equal to {limit}"), []
        else:
            attachment = message["attachment"]
            payload = attachment.get("payload") if isinstance(attachment, dict) else None
            if (
                not isinstance(attachment, dict)
                or attachment.get("type") not in ATTACHMENT_TYPES
                or not isinstance(payload, dict)
                or not payload.get("url")
            ):
                return _invalid("param message[attachment] must have a type and a payload url"), []
        if instagram:
            item = f"ig_item:1:IGMessageID:{account}:{secrets.randbits(96)}"
            mid = base64.b64encode(item.encode()).decode().rstrip("=")
        else:
            mid = "m_" + secrets.token_urlsafe(60)
        answer = FakeAnswer(200, {"recipient_id": customer, "message_id": mid})
        at = _millis(context.now)
        parties = {"sender": {"id": customer}, "recipient": {"id": account}}
        if instagram:
            events = [{**parties, "timestamp": at, "read": {"mid": mid}}]
        else:
            events = [
                # Meta's message_deliveries sample carries no timestamp, only the watermark.
                {**parties, "delivery": {"mids": [mid], "watermark": at}},
                {**parties, "timestamp": at, "read": {"watermark": at}},
            ]
        product, app_secret = (
            ("instagram", context.signing.instagram_app_secret)
            if instagram
            else ("messenger", context.signing.messenger_app_secret)
        )
        receipts = [
            _meta_receipt(
                self.name,
                f"/webhooks/{product}",
                {
                    "object": "instagram" if instagram else "page",
                    "entry": [{"id": account, "time": at, "messaging": [event]}],
                },
                app_secret,
            )
            for event in events
        ]
        return answer, receipts


register(GraphMessages())
