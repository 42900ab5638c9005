"""KakaoTalk AlimTalk through NHN Cloud Notification (KakaoTalk Bizmessage, AlimTalk API v2.2): the send adapter the
notification sender calls (`ALIMTALK`), and the adapter of its MESSAGE_RESULT_UPDATE webhook (`RESULTS`).

Sources (NHN Cloud's documentation, the TOAST-DOCS/Alimtalk repository it is published from):
- AlimTalk API v2.2 guide, "메시지 치환 발송 요청" (docs.nhncloud.com/ko/Notification/KakaoTalk%20Bizmessage/ko/
  alimtalk-api-guide-v2.2/; ko/alimtalk-api-guide-v2.2.md): the request, X-NC-API-IDEMPOTENCY-KEY ("10분간 동일한
  key로 요청 시 해당 요청을 실패 처리합니다"; the Korean page lists it, the English v2.2 page does not) and the answer;
- error codes (…/error-code/; en/error-code.md): the answer's resultCode, and the delivery result codes;
- webhook guide (…/webhook-api-guide/; en/webhook-api-guide.md): X-Toast-Webhook-Signature and the hooks of
  MESSAGE_RESULT_UPDATE ("Update the message sending result code").

    POST {base}/alimtalk/v2.2/appkeys/{appkey}/messages
    X-Secret-Key: <secret key>            X-NC-API-IDEMPOTENCY-KEY: <the notification id>
    {"senderKey", "templateCode", "senderGroupingKey",
     "recipientList": [{"recipientNo", "templateParameter", "resendParameter", "recipientGroupingKey"}]}
    -> {"header": {"resultCode", "resultMessage", "isSuccessful"},
        "message": {"requestId", "senderGroupingKey",
                    "sendResults": [{"recipientSeq", "recipientNo", "resultCode", "resultMessage", "recipientGroupingKey"}]}}

The id a result is matched by is ours: the notification id (the attempt id), sent as the recipient's
`recipientGroupingKey`, which every MESSAGE_RESULT_UPDATE hook carries back. NHN Cloud's own requestId would not do:
a repeat refused as a duplicate (-1005) answers without it, and the first answer may never have come.

| NHN Cloud answers | outcome |
|---|---|
| header isSuccessful, resultCode 0, and the recipient's sendResults resultCode 0 | `sent`, provider id the notification id |
| -1005: "The same 'X-NC-API-IDEMPOTENCY-KEY' was used within the last 10 minute." | `sent`: an earlier call with this key reached NHN Cloud, and our sender repeats a key only after a call whose answer it did not get (no answer, a 5xx) |
| 429, 5xx, -9999 "System error", -7000 "Vendor request API failed", no connection | `retry` |
| any other code, in the header or the recipient's result (template not approved -3005, parameters -3004, blocked sender -1027, invalid number -5000, credentials -1000/-1001 ...) | `rejected` with NHN Cloud's code: the next channel of the chain |
| no answer (read timeout) | `unknown`; `resend_is_safe`, so the sender repeats the same key while NHN Cloud still refuses repeats |

NHN Cloud does not say whether a call it failed (a 5xx) keeps its key; if one did, a -1005 after it would be a
message never sent, which the missing MESSAGE_RESULT_UPDATE would leave at `sent`, never `delivered`.

| MESSAGE_RESULT_UPDATE hook resultCode | receipt for the notification |
|---|---|
| 1000 | `delivered` |
| 3005 (sent, unconfirmed) | none |
| any other, 대체발송 asked for | none: NHN Cloud sends the SMS/LMS, and the hook never carries its result |
| any other | `failed`, naming the code (3019 not a KakaoTalk user, 3020 blocks AlimTalk, ...) |

AlimTalk is sent to Korean numbers only: NHN Cloud takes a number with its country code (release notes, 2019-05-28)
but reaches only KakaoTalk users verified with that foreign number, and its 대체발송 abroad is SMS only; a foreign
number is refused here, before a call, so the chain's own SMS (Twilio) carries the notification.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from switchboard.channels.base import ChannelAdapter, Sends
from switchboard.channels.sending import (
    MAX_ALIMTALK_CHARS,
    AlimTalkMessage,
    OutboundRequest,
    ProviderAnswer,
    ProviderTimeout,
    ProviderUnreachable,
    SendContext,
    SendOutcome,
    WindowVerdict,
)
from switchboard.errors import InvalidSignature
from switchboard.http_request import WebhookRequest, read_json
from switchboard.models import Channel, DeliveryReceipt, DeliveryStatus, InboundEvent
from switchboard.proof import ChannelSecrets, same_secret
from switchboard.provider_payloads import payload_errors

# The v2.2 guide's host; its newer name, https://kakaotalk-bizmessage.api.nhncloudservice.com, serves the same API.
DEFAULT_BASE_URL = "https://api-alimtalk.cloud.toast.com"
IDEMPOTENCY_HEADER = "X-NC-API-IDEMPOTENCY-KEY"
SIGNATURE_HEADER = "X-Toast-Webhook-Signature"
RESULT_EVENT = "MESSAGE_RESULT_UPDATE"
SUCCESS = 0
DUPLICATE_REQUEST = -1005
# NHN Cloud's own faults in its error codes: "System error" and "Vendor request API failed" (Kakao's side).
PROVIDER_FAULTS = frozenset({-9999, -7000})
# Delivery result codes (error codes, "Delivery Result Code"): 1000 "Success"; 3005 "Message sent but not confirmed
# (success uncertain ... can be received within 3 days)" settles nothing; every other code is a failure.
DELIVERED = "1000"
UNCONFIRMED = "3005"
RESULT_MEANINGS = {
    "3008": "phone number error",
    "3015": "template not found",
    "3016": "the message does not match its template",
    "3018": "not an active KakaoTalk user",
    "3019": "not a KakaoTalk user",
    "3020": "the customer blocks AlimTalk",
}
# Appended to the sender key in senderGroupingKey when 대체발송 was asked for: MESSAGE_RESULT_UPDATE carries only
# KakaoTalk's result, never the SMS/LMS's, so a result must say whether a failure was already made good by SMS.
RESEND_MARK = ":resend"
# An AlimTalk is at most 1,000 characters, variables, URLs and button names included (console guide, "템플릿 등록").
MAX_TEXT_CHARS = MAX_ALIMTALK_CHARS
MAX_BODY_BYTES = 256 * 1024
# One send request names at most 1,000 recipients ("recipientList ... 최대 1000명"), so one post of results does too.
MAX_HOOKS = 1000
# The webhook's only proof is the signature string we typed into NHN Cloud's console: a short one is guessable.
MIN_WEBHOOK_SECRET_CHARS = 16
# 대체발송 by SMS holds 90 bytes of EUC-KR (SMS API guide, "주의사항"); longer, or with a title, it goes as LMS.
SMS_MAX_BYTES = 90
# NHN Cloud writes its times as Korean local time without an offset ("yyyy-MM-dd HH:mm", requestDate).
KST = timezone(timedelta(hours=9))


def national_number(phone_e164: str) -> str | None:
    """A Korean E.164 number as NHN Cloud's recipientNo takes it (+821012345678 -> 01012345678; at most 15
    characters), or None for another country's."""
    if not phone_e164.startswith("+82"):
        return None
    digits = phone_e164[3:]
    return "0" + digits if digits.isascii() and digits.isdigit() and 8 <= len(digits) <= 11 else None


class AlimTalkAdapter(Sends):
    max_text_chars = MAX_TEXT_CHARS

    def refusal(self, request: OutboundRequest) -> str | None:
        if request.alimtalk is None:
            return "an AlimTalk is an approved template with its variables, never free text"
        return "an AlimTalk carries no files" if request.attachments else None

    def resend_is_safe(self, request: OutboundRequest) -> bool:
        # Every call for one notification carries its id as X-NC-API-IDEMPOTENCY-KEY, and NHN Cloud fails a repeat
        # within 10 minutes (-1005): a call whose answer never came may be made again in that window.
        return request.alimtalk is not None

    def window(
        self, *, last_customer_message_at: datetime | None, now: datetime, human_agent: bool, template: bool
    ) -> WindowVerdict:
        # An approved template to a phone number: no conversation window. This is how a shop reaches a KakaoTalk
        # user outside the chatbot's request (channels/kakao.py can only answer within it).
        return WindowVerdict.opened()

    def send(self, request: OutboundRequest, secrets: ChannelSecrets, context: SendContext) -> SendOutcome:
        message = request.alimtalk
        if message is None:
            return SendOutcome.rejected("not_a_template", "an AlimTalk needs its template code and variables")
        recipient = national_number(request.recipient_id)
        if recipient is None:
            return SendOutcome.rejected("not_a_korean_number", "AlimTalk is sent to Korean (+82) numbers only")
        app_key, secret_key = str(secrets.get("app_key") or ""), str(secrets.get("secret_key") or "")
        if not app_key or not secret_key:
            return SendOutcome.rejected("not_configured", "no NHN Cloud app key or secret key is configured")
        base = (context.endpoints.alimtalk or DEFAULT_BASE_URL).rstrip("/")
        try:
            answer = context.http.post(
                f"{base}/alimtalk/v2.2/appkeys/{quote(app_key, safe='')}/messages",
                json_body=request_body(message, recipient, request.attempt_id),
                headers={"X-Secret-Key": secret_key, IDEMPOTENCY_HEADER: request.attempt_id},
            )
        except ProviderUnreachable:
            return SendOutcome.retry("no connection to NHN Cloud")
        except ProviderTimeout:
            return SendOutcome.unknown("NHN Cloud did not answer; its idempotency key lets the same call be repeated")
        return outcome_of(answer, request.attempt_id)


def request_body(message: AlimTalkMessage, recipient_no: str, notification_id: str) -> dict[str, Any]:
    """NHN Cloud's "메시지 치환 발송 요청" for one recipient."""
    resend = bool(message.resend and message.resend_content and message.resend_send_no)
    entry: dict[str, Any] = {
        "recipientNo": recipient_no,
        "templateParameter": message.template_parameter,
        # Always said: without it NHN Cloud sends 대체발송 whenever the console configures it ("콘솔에서 대체 발송
        # 설정 시, 기본으로 대체 발송됩니다"), and a result could not tell whether a failure went out by SMS.
        "resendParameter": _resend_parameter(message) if resend else {"isResend": False},
        # Ours, echoed in its MESSAGE_RESULT_UPDATE hook: the id the result finds the notification by.
        "recipientGroupingKey": notification_id,
    }
    return {
        "senderKey": message.sender_key,
        "templateCode": message.template_code,
        "senderGroupingKey": message.sender_key + (RESEND_MARK if resend else ""),
        "recipientList": [entry],
    }


def _resend_parameter(message: AlimTalkMessage) -> dict[str, Any]:
    content = message.resend_content or ""
    kind = message.resend_type or (
        "LMS" if message.resend_title or len(content.encode("euc-kr", "replace")) > SMS_MAX_BYTES else "SMS"
    )
    parameter: dict[str, Any] = {
        "isResend": True,
        "resendType": kind,
        "resendContent": content,
        "resendSendNo": message.resend_send_no,
    }
    if kind == "LMS" and message.resend_title:
        parameter["resendTitle"] = message.resend_title
    return parameter


def outcome_of(answer: ProviderAnswer, notification_id: str) -> SendOutcome:
    """What NHN Cloud's answer to one notification's request means (the table at the top of this module)."""
    document = _object(answer.json())
    header = _object(document.get("header"))
    code = _code(header.get("resultCode"))
    reason = str(header.get("resultMessage") or "")[:500]
    if answer.status == 429 or answer.status >= 500 or code in PROVIDER_FAULTS:
        return SendOutcome.retry(
            reason or f"NHN Cloud answered {answer.status}", answer.retry_after_seconds(), code=_text_of(code)
        )
    if code == DUPLICATE_REQUEST:
        return SendOutcome(
            kind="sent",
            provider_message_id=notification_id,
            code=str(DUPLICATE_REQUEST),
            reason="NHN Cloud refused a repeat of this idempotency key: an earlier call took it",
        )
    if answer.status >= 300 or header.get("isSuccessful") is not True or code != SUCCESS:
        return SendOutcome.rejected(_text_of(code) or str(answer.status), reason or "NHN Cloud refused it")
    message = _object(document.get("message"))
    results = message.get("sendResults")
    result = _object(results[0] if isinstance(results, list) and results else None)
    recipient_code = _code(result.get("resultCode"))
    recipient_reason = str(result.get("resultMessage") or "")[:500]
    if recipient_code in PROVIDER_FAULTS:
        return SendOutcome.retry(recipient_reason or "NHN Cloud failed this recipient", code=_text_of(recipient_code))
    if recipient_code not in (SUCCESS, None):
        return SendOutcome.rejected(_text_of(recipient_code) or "refused", recipient_reason or "NHN Cloud refused it")
    request_id, seq = str(message.get("requestId") or "")[:100], result.get("recipientSeq")
    # NHN Cloud's own name for it (its console and message query API use it); results come by ours.
    theirs = (f"{request_id}:{seq}",) if request_id and isinstance(seq, int) else ()
    return SendOutcome.sent(notification_id, also_known_as=theirs)


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _code(value: Any) -> int | None:
    """NHN Cloud's resultCode, an Integer in the answer; None when it gave none."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit() and len(value) <= 12:
        return int(value)
    return None


def _text_of(code: int | None) -> str | None:
    return None if code is None else str(code)


ALIMTALK = AlimTalkAdapter()


class _Hook(BaseModel):
    """One MESSAGE_RESULT_UPDATE hook, the fields we read (webhook guide, "Update the message sending result code")."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    kakao_message_type: str | None = Field(default=None, alias="kakaoMessageType", max_length=64)
    request_id: str | None = Field(default=None, alias="requestId", max_length=100)
    recipient_seq: int | None = Field(default=None, alias="recipientSeq", ge=0, le=1_000_000)
    receive_date: str | None = Field(default=None, alias="receiveDate", max_length=40)
    result_code: str | int | None = Field(default=None, alias="resultCode")
    # Both at most 100 characters when sent ("수신자 그룹핑 키(최대 100자)", "발신 그룹핑 키(최대 100자)").
    sender_grouping_key: str | None = Field(default=None, alias="senderGroupingKey", max_length=100)
    recipient_grouping_key: str | None = Field(default=None, alias="recipientGroupingKey", max_length=100)


class _Results(BaseModel):
    """The webhook's envelope: {"hooksId", "webhookConfigId", "productName", "appKey", "event", "hooks": [...]}."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event: str = Field(max_length=64)
    hooks: list[Any] = Field(max_length=MAX_HOOKS)


class AlimTalkResults(ChannelAdapter):
    """POST /webhooks/alimtalk: NHN Cloud's MESSAGE_RESULT_UPDATE hooks, as delivery receipts.

    NHN Cloud does not sign the body. Its one proof is X-Toast-Webhook-Signature, "the signature entered when webhook
    is configured" (webhook guide), sent as it is: compared in constant time with the secret's `webhook_secret`,
    and then the body's appKey must be the secret's `app_key`. A static value proves only that the caller knows it,
    so a result can do no more than move the delivery status of a notification we sent, forward."""

    webhook = "alimtalk"
    max_body_bytes = MAX_BODY_BYTES
    proof_secret = None

    def verify(self, request: WebhookRequest, secrets: ChannelSecrets) -> str | None:
        expected = str(secrets.get("webhook_secret") or "")
        if len(expected) < MIN_WEBHOOK_SECRET_CHARS:
            raise InvalidSignature(
                f"no AlimTalk webhook_secret of at least {MIN_WEBHOOK_SECRET_CHARS} characters is configured"
            )
        presented = request.header(SIGNATURE_HEADER) or ""
        if not same_secret(expected, presented):
            raise InvalidSignature(f"{SIGNATURE_HEADER} does not match")
        document = read_json(request.body)
        app_key = str(secrets.get("app_key") or "")
        named = document.get("appKey") if isinstance(document, dict) else None
        if not app_key or not isinstance(named, str) or not same_secret(app_key, named):
            raise InvalidSignature("the result names another NHN Cloud app key")
        return None

    def parse(self, body: bytes, received_at: datetime, account_id: str | None = None) -> Sequence[InboundEvent]:
        with payload_errors("an NHN Cloud KakaoTalk Bizmessage webhook"):
            results = _Results.model_validate(read_json(body))
        if results.event != RESULT_EVENT:
            return []  # the template review events (TSC01-TSC04) share the webhook: acknowledged, nothing kept
        receipts: list[InboundEvent] = []
        for hook in results.hooks:
            receipt = _receipt(hook, received_at)
            if receipt is not None:
                receipts.append(receipt)
        return receipts


def _receipt(raw: Any, received_at: datetime) -> DeliveryReceipt | None:
    """One hook's receipt; None for what settles nothing of ours (another product's message, an unconfirmed
    result, a failure 대체발송 makes good) or that cannot be read."""
    try:
        hook = _Hook.model_validate(raw)
    except ValidationError:
        return None
    if hook.kakao_message_type is not None and not hook.kakao_message_type.startswith("ALIMTALK"):
        return None  # FriendTalk and brand messages share the webhook; we send none
    result = str(hook.result_code if hook.result_code is not None else "").strip()
    if not result or len(result) > 16 or result == UNCONFIRMED:
        return None
    external_id = hook.recipient_grouping_key or (
        f"{hook.request_id}:{hook.recipient_seq}" if hook.request_id and hook.recipient_seq is not None else None
    )
    if not external_id:
        return None
    grouping = hook.sender_grouping_key or ""
    resent = grouping.endswith(RESEND_MARK)
    sender_key = grouping.removesuffix(RESEND_MARK)
    delivered = result == DELIVERED
    if not delivered and resent:
        # KakaoTalk failed it, and NHN Cloud now sends the 대체발송 SMS/LMS, whose result this webhook never carries
        # (the message query API's resendStatus does): the notification stays `sent`, not `failed`.
        return None
    meaning = RESULT_MEANINGS.get(result)
    return DeliveryReceipt(
        channel=Channel.KAKAO,
        channel_account_id=sender_key or "alimtalk",
        external_id=external_id,
        # The hook's recipientNo is the customer's phone number: never carried further than this parser.
        recipient_id=str(hook.recipient_seq if hook.recipient_seq is not None else 1),
        status=DeliveryStatus.DELIVERED if delivered else DeliveryStatus.FAILED,
        errors=()
        if delivered
        else (f"KakaoTalk did not deliver it (NHN Cloud {result}{f': {meaning}' if meaning else ''})",),
        provider_timestamp=_moment(hook.receive_date, received_at),
    )


def _moment(value: str | None, received_at: datetime) -> datetime:
    """When KakaoTalk took it ("yyyy-MM-dd HH:mm:ss", Korean time), never later than we heard of it; a date alone
    (the guide's example, "2023-06-01") or anything unreadable is the moment we heard of it."""
    heard = received_at.astimezone(UTC)
    if value is None or len(value.strip()) <= 10:
        return heard
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return heard
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=KST)
    return min(moment.astimezone(UTC), heard)


RESULTS = AlimTalkResults()
