"""NHN Cloud Notification's AlimTalk API v2.2, faked under /alimtalk-api (production: https://api-alimtalk.cloud.toast.com),
with the MESSAGE_RESULT_UPDATE results it posts back and its 대체발송 (channels/alimtalk.py has the sources).

| request | answer |
|---|---|
| POST /alimtalk-api/alimtalk/v2.2/appkeys/{appkey}/messages, X-Secret-Key, {"senderKey", "templateCode", "recipientList", ...} | 200 {"header": {"resultCode": 0, "resultMessage": "SUCCESS", "isSuccessful": true}, "message": {"requestId", "senderGroupingKey", "sendResults": [{"recipientSeq", "recipientNo", "resultCode", "resultMessage", "recipientGroupingKey"}]}} |

As NHN Cloud's error codes say, each refusal is the header's resultCode with isSuccessful false:
- another appkey -1000 "Invalid appKey.", another X-Secret-Key -1001 "Invalid secretKey.";
- a body that is not JSON -3002; no senderKey, templateCode or recipients -2001 "The '<field>' must not be blank.";
  a senderKey not 40 characters, a templateCode over 20, over 1,000 recipients -2000 "... must be at less than or
  equal to ...";
- the same X-NC-API-IDEMPOTENCY-KEY as an accepted request of the last 10 minutes: -1005, nothing sent;
- one recipient's problem is its own sendResults resultCode, the others are sent: a recipientNo that is not a
  Korean mobile number -5000 "Invalid receiving number", a templateParameter that is not an object of texts -3004,
  대체발송 asked for without a resendSendNo -1003 "Invalid Sms Sendno".

Every request is in the shared outbox (`GET /__fake__/sent`, provider "alimtalk": its body holds the recipient, the
template code and its parameters). Faults (429, 5xx, stalls) are injected by path as for every fake.

After a send it posts one MESSAGE_RESULT_UPDATE to /webhooks/alimtalk, as NHN Cloud's webhook does: the envelope
{"hooksId", "webhookConfigId", "productName", "appKey", "event", "hooks"} and one hook per recipient sent, with
X-Toast-Webhook-Signature: the signature configured for the webhook (our secret's `webhook_secret`). A KakaoTalk user's
result is 1000 (delivered). A number marked as no KakaoTalk user (`mark_not_kakao_user`; 010-0000-0000 always is)
gets 3019 "Not a KakaoTalk user", and, when 대체발송 was asked for, its SMS/LMS is "delivered": a second outbox
entry, provider "alimtalk", method "SMS" or "LMS", `"failover": true`, with what the SMS carried.
"""

from __future__ import annotations

import json
import secrets
import string
import threading
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from infra.fakes.outbound import FakeAnswer, FakeContext, OutboundCall, Receipt, register

PREFIX = "/alimtalk-api/alimtalk/v2.2/appkeys/"
RESULTS_WEBHOOK = "/webhooks/alimtalk"
IDEMPOTENCY_HEADER = "X-NC-API-IDEMPOTENCY-KEY"
IDEMPOTENCY_WINDOW = timedelta(minutes=10)
MAX_RECIPIENTS = 1000
KST = timezone(timedelta(hours=9))
# A number that is never a KakaoTalk user here, for local runs (`make run`), as Twilio's magic test numbers are.
NEVER_A_KAKAO_USER = "01000000000"
DELIVERED = "1000"
NOT_A_KAKAO_USER = "3019"
_ID_CHARACTERS = string.ascii_letters + string.digits


class FakeAlimTalk:
    name = "alimtalk"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[tuple[str, str], datetime] = {}  # (appkey, idempotency key) -> when it was accepted
        self._not_kakao_users: set[str] = {NEVER_A_KAKAO_USER}

    def reset(self) -> None:
        with self._lock:
            self._keys.clear()
            self._not_kakao_users = {NEVER_A_KAKAO_USER}

    def mark_not_kakao_user(self, recipient_no: str) -> None:
        """From now on (until reset) KakaoTalk cannot deliver to this number (01012345678 or +821012345678)."""
        with self._lock:
            self._not_kakao_users.add(_national(recipient_no))

    def handles(self, path: str) -> bool:
        return path.startswith(PREFIX)

    def answer(self, call: OutboundCall, context: FakeContext) -> tuple[FakeAnswer, list[Receipt]]:
        app_key, _, rest = call.path[len(PREFIX) :].partition("/")
        if rest != "messages":
            return _refused(-9998, "API does not exist", status=404), []
        if app_key != context.credentials.alimtalk_app_key:
            return _refused(-1000, "Invalid appKey."), []
        if call.header("X-Secret-Key") != context.credentials.alimtalk_secret_key:
            return _refused(-1001, "Invalid secretKey."), []
        body = call.json()
        if not isinstance(body, dict):
            return _refused(-3002, "Required request body is missing"), []
        problem = _problem(body)
        if problem is not None:
            return _refused(*problem), []
        if not self._first_use(app_key, call.header(IDEMPOTENCY_HEADER), context.now):
            return _refused(-1005, "The same 'X-NC-API-IDEMPOTENCY-KEY' was used within the last 10 minute."), []
        request_id = context.now.astimezone(KST).strftime("%Y%m%d%H%M%S") + _random_id(11)
        results, hooks, failovers = [], [], []
        for seq, recipient in enumerate(body["recipientList"], start=1):
            code, message = _recipient_problem(recipient) or (0, "SUCCESS")
            results.append(
                {
                    "recipientSeq": seq,
                    "recipientNo": recipient.get("recipientNo") if isinstance(recipient, dict) else None,
                    "resultCode": code,
                    "resultMessage": message,
                    "recipientGroupingKey": recipient.get("recipientGroupingKey")
                    if isinstance(recipient, dict)
                    else None,
                }
            )
            if code != 0:
                continue
            kakao = _national(str(recipient["recipientNo"])) not in self._not_kakao_users
            hooks.append(_hook(context, app_key, body, request_id, seq, recipient, kakao))
            resend = recipient.get("resendParameter")
            if not kakao and isinstance(resend, dict) and resend.get("isResend") is True:
                failovers.append(_failover(call, context, body, request_id, seq, recipient, resend))
        answer = {
            "header": {"resultCode": 0, "resultMessage": "SUCCESS", "isSuccessful": True},
            "message": {
                "requestId": request_id,
                "senderGroupingKey": body.get("senderGroupingKey"),
                "sendResults": results,
            },
        }
        return FakeAnswer(200, answer, also_sent=tuple(failovers)), [_results(context, hooks)] if hooks else []

    def _first_use(self, app_key: str, key: str | None, now: datetime) -> bool:
        """False when an accepted request of the last 10 minutes carried the same key (NHN Cloud's -1005)."""
        if not key:
            return True
        with self._lock:
            first = self._keys.get((app_key, key))
            if first is not None and now - first < IDEMPOTENCY_WINDOW:
                return False
            self._keys[(app_key, key)] = now
            return True


def _problem(body: dict[str, Any]) -> tuple[int, str] | None:
    sender_key, template_code, recipients = body.get("senderKey"), body.get("templateCode"), body.get("recipientList")
    for field, value in (("senderKey", sender_key), ("templateCode", template_code)):
        if not isinstance(value, str) or not value.strip():
            return -2001, f"The '{field}' must not be blank."
    if len(str(sender_key)) != 40:
        return -2004, "The 'senderKey' must be between 40 and 40."
    if len(str(template_code)) > 20:
        return -2000, "The 'templateCode' must be at less than or equal to 20."
    if not isinstance(recipients, list) or not recipients:
        return -2001, "The 'recipientList' must not be blank."
    if len(recipients) > MAX_RECIPIENTS:
        return -2000, f"The 'recipientList' must be at less than or equal to {MAX_RECIPIENTS}."
    grouping = body.get("senderGroupingKey")
    if grouping is not None and (not isinstance(grouping, str) or len(grouping) > 100):
        return -2000, "The 'senderGroupingKey' must be at less than or equal to 100."
    return None


def _recipient_problem(recipient: Any) -> tuple[int, str] | None:
    if not isinstance(recipient, dict):
        return -2002, "The 'recipient' must not be null."
    number = recipient.get("recipientNo")
    if not isinstance(number, str) or not _korean_mobile(number):
        return -5000, "Invalid receiving number"
    parameters = recipient.get("templateParameter", {})
    if not isinstance(parameters, dict) or not all(isinstance(value, str) for value in parameters.values()):
        return -3004, "Template parameter error"
    grouping = recipient.get("recipientGroupingKey")
    if grouping is not None and (not isinstance(grouping, str) or len(grouping) > 100):
        return -2000, "The 'recipientGroupingKey' must be at less than or equal to 100."
    resend = recipient.get("resendParameter")
    if isinstance(resend, dict) and resend.get("isResend") is True:
        send_no = resend.get("resendSendNo")
        if not isinstance(send_no, str) or not send_no.isdigit():
            return -1003, "Invalid Sms Sendno"
        if resend.get("resendType") not in (None, "SMS", "LMS"):
            return -2005, "The 'resendType' must be SMS or LMS."
    return None


def _korean_mobile(number: str) -> bool:
    return number.isascii() and number.isdigit() and number.startswith("01") and 10 <= len(number) <= 11


def _national(number: str) -> str:
    return "0" + number[3:] if number.startswith("+82") else number


def _hook(
    context: FakeContext,
    app_key: str,
    body: dict[str, Any],
    request_id: str,
    seq: int,
    recipient: dict[str, Any],
    kakao: bool,
) -> dict[str, Any]:
    """The hook of one recipient's result (webhook guide, "Update the message sending result code")."""
    at = context.now.astimezone(KST).strftime("%Y-%m-%d %H:%M:%S")
    return {
        "kakaoMessageType": "ALIMTALK_NORMAL",
        "requestId": request_id,
        "recipientSeq": seq,
        "requestDate": at,
        "createDate": at,
        "receiveDate": at,
        "recipientNo": recipient["recipientNo"],
        "resultCode": DELIVERED if kakao else NOT_A_KAKAO_USER,
        "senderGroupingKey": body.get("senderGroupingKey"),
        "recipientGroupingKey": recipient.get("recipientGroupingKey"),
        "_links": {"self": {"href": f"{context.base_url}{PREFIX}{app_key}/messages/{request_id}/{seq}"}},
        "hookId": _random_id(24),
    }


def _results(context: FakeContext, hooks: list[dict[str, Any]]) -> Receipt:
    """The MESSAGE_RESULT_UPDATE post, with the signature configured for the webhook, as NHN Cloud sends it."""
    document = {
        "hooksId": context.now.astimezone(KST).strftime("%Y%m%d%H%M%S") + _random_id(14),
        "webhookConfigId": "fake-webhook-config",
        "productName": "KakaoTalk Bizmessage",
        "appKey": context.credentials.alimtalk_app_key,
        "event": "MESSAGE_RESULT_UPDATE",
        "hooks": hooks,
    }
    return Receipt(
        provider="alimtalk",
        target=RESULTS_WEBHOOK,
        headers={
            "Content-Type": "application/json;charset=UTF-8",
            "X-Toast-Webhook-Signature": context.signing.alimtalk_webhook_secret,
        },
        body=json.dumps(document, ensure_ascii=False).encode(),
    )


def _failover(
    call: OutboundCall,
    context: FakeContext,
    body: dict[str, Any],
    request_id: str,
    seq: int,
    recipient: dict[str, Any],
    resend: dict[str, Any],
) -> dict[str, Any]:
    """The outbox entry of the 대체발송 SMS/LMS NHN Cloud sends when KakaoTalk cannot deliver the AlimTalk."""
    kind = resend.get("resendType") or "SMS"
    return {
        "provider": "alimtalk",
        "method": kind,
        "path": call.path,
        "failover": True,
        "json": {
            "requestId": request_id,
            "recipientSeq": seq,
            "recipientNo": recipient["recipientNo"],
            "recipientGroupingKey": recipient.get("recipientGroupingKey"),
            "templateCode": body["templateCode"],
            "resendType": kind,
            "resendTitle": resend.get("resendTitle"),
            "resendContent": resend.get("resendContent"),
            "resendSendNo": resend.get("resendSendNo"),
        },
        "status": 200,
        "at": context.now.astimezone(UTC).isoformat(),
    }


def _refused(code: int, message: str, *, status: int = 200) -> FakeAnswer:
    return FakeAnswer(status, {"header": {"resultCode": code, "resultMessage": message, "isSuccessful": False}})


def _random_id(length: int) -> str:
    return "".join(secrets.choice(_ID_CHARACTERS) for _ in range(length))


FAKE = FakeAlimTalk()
register(FAKE)


def mark_not_kakao_user(recipient_no: str) -> None:
    """Tests: KakaoTalk cannot deliver to this number until the fake providers are reset."""
    FAKE.mark_not_kakao_user(recipient_no)
