"""What sending a reply is, whatever the channel: the request an adapter turns into its provider's call, the
HTTP it calls through, and the outcome in the provider's terms (STYLE.md, "Adapters as explicit capabilities").

The outbox (store/outbox.py) and the sender (outbound/sender.py) decide what an outcome means:

| outcome    | the provider ...                                          | the outbox                                   |
|------------|-----------------------------------------------------------|----------------------------------------------|
| `sent`     | accepted it (2xx, or LINE's 409 for a repeated retry key) | delivery_status `sent`, provider id indexed  |
| `retry`    | did not take it: 429, 5xx, or no connection was made      | back to the queue after `retry_after_seconds` |
| `rejected` | refused it for good (any other 4xx)                       | `failed`, with the provider's code and reason |
| `unknown`  | may have taken it: the answer never came (read timeout)   | `unknown` until a receipt settles it; never blindly resent |

A read timeout is `retry` only on a provider that takes an idempotency key (`Sends.resend_is_safe`): resending
with the same key cannot deliver twice there.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlencode

import urllib3
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from switchboard.models import Channel

# The longest a sender waits out a Retry-After inside one invocation; longer waits go back to the queue.
MAX_RETRY_AFTER_IN_PROCESS_SECONDS = 5.0
USER_AGENT = "switchboard-sender/1.0"
# An AlimTalk's text, variables replaced, is at most 1,000 characters (NHN Cloud console guide, "템플릿 등록").
MAX_ALIMTALK_CHARS = 1000
MAX_ALIMTALK_PARAMETERS = 50


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OutboundAttachment(_Model):
    """A file from the attachments bucket, handed to the provider as a short-lived presigned URL."""

    kind: Literal["image", "video", "audio", "document"]
    storage_key: str = Field(min_length=1, max_length=1024)
    filename: str | None = Field(default=None, max_length=255)
    mime_type: str | None = Field(default=None, max_length=255)
    url: str = Field(min_length=1, description="Presigned GET URL the provider downloads from")


class WhatsAppTemplate(_Model):
    """An approved WhatsApp message template, sent when the 24-hour window is closed."""

    name: str = Field(min_length=1, max_length=512)
    language: str = Field(min_length=2, max_length=15, description="The template's language code, e.g. ko or en_US")
    parameters: tuple[str, ...] = Field(default=(), max_length=20, description="Body parameters {{1}}, {{2}}, ...")


class OutboundEmail(_Model):
    """What a reply by mail carries besides its text: the thread it continues and who sees it."""

    mailbox: str = Field(min_length=3, max_length=320, description="From: the mailbox the customer wrote to")
    to: tuple[str, ...] = Field(min_length=1, max_length=50)
    cc: tuple[str, ...] = Field(default=(), max_length=100)
    reply_to: str = Field(
        min_length=3, max_length=320, description="The ticket's plus-address (email/reply_address.py)"
    )
    subject: str = Field(max_length=2000)
    message_id: str = Field(min_length=3, max_length=998, description="Our own Message-ID, <...@domain>")
    in_reply_to: str | None = Field(default=None, max_length=998)
    references: tuple[str, ...] = Field(default=(), max_length=20)
    quoted_text: str = Field(default="", description="The thread so far, for the text part, newest first")
    quoted_html: str = Field(default="", description="The thread so far, for the HTML part, newest first")


class AlimTalkMessage(_Model):
    """A KakaoTalk AlimTalk through NHN Cloud (channels/alimtalk.py): an approved template and its variables, and the
    대체발송 (the SMS/LMS NHN Cloud sends when KakaoTalk cannot deliver it).

    Limits are NHN Cloud's (AlimTalk API v2.2, "메시지 치환 발송 요청"): senderKey 40 characters, templateCode at most
    20. 대체발송's title and content are cut, not refused, to what an LMS carries: NHN Cloud itself cuts a longer one
    ("잘려서 대체 발송될 수 있습니다"), and a refusal here would lose the AlimTalk for the sake of its fallback text."""

    sender_key: str = Field(min_length=1, max_length=40, description="NHN Cloud senderKey: the KakaoTalk channel")
    template_code: str = Field(min_length=1, max_length=20)
    template_parameter: dict[str, str] = Field(
        default_factory=dict, max_length=MAX_ALIMTALK_PARAMETERS, description="#{key} -> its value"
    )
    resend: bool = False
    # SMS or LMS; None: channels/alimtalk.py chooses by the content's length (SMS holds 90 bytes of EUC-KR).
    resend_type: Literal["SMS", "LMS"] | None = None
    resend_title: str | None = Field(default=None, max_length=40)
    resend_content: str | None = Field(default=None, max_length=2000)
    resend_send_no: str | None = Field(default=None, max_length=20, description="A sending number registered at NHN")

    @field_validator("template_parameter")
    @classmethod
    def _bounded_parameters(cls, parameters: dict[str, str]) -> dict[str, str]:
        # A whole AlimTalk is at most 1,000 characters (console guide, template registration), so no one value is
        # longer; a key is a template's #{name}.
        if any(not 0 < len(key) <= 100 for key in parameters):
            raise ValueError("a template parameter's key is 1 to 100 characters")
        return {key: value[:MAX_ALIMTALK_CHARS] for key, value in parameters.items()}

    @field_validator("resend_title", "resend_content", mode="before")
    @classmethod
    def _cut_resend_text(cls, value: object, info: ValidationInfo) -> object:
        limit = 40 if info.field_name == "resend_title" else 2000
        return value[:limit] if isinstance(value, str) else value


class OutboundRequest(_Model):
    """One attempt at sending one agent reply, with everything the provider call needs and nothing to look up."""

    attempt_id: str = Field(
        min_length=1, max_length=64, description="Unique per attempt: the idempotency key where a provider takes one"
    )
    message_id: str = Field(min_length=1)
    ticket_id: str = Field(min_length=1)
    channel: Channel
    channel_account_id: str = Field(min_length=1, max_length=256)
    recipient_id: str = Field(
        min_length=1, max_length=256, description="The conversation on the channel (user, chat, number)"
    )
    text: str | None = None
    attachments: tuple[OutboundAttachment, ...] = Field(default=(), max_length=10)
    template: WhatsAppTemplate | None = None
    reply_token: str | None = Field(default=None, description="LINE: the inbound reply token, only while still valid")
    human_agent: bool = Field(default=True, description="Written by a person: Meta's HUMAN_AGENT tag may apply")
    customer_last_message_at: datetime | None = None
    status_callback_url: str | None = Field(default=None, description="Twilio: where its status callbacks go")
    email: OutboundEmail | None = None
    alimtalk: AlimTalkMessage | None = None
    now: datetime = Field(description="When the attempt is made: window rules are judged at this instant")


class SendOutcome(_Model):
    """What the provider did with one attempt, in its own terms (the table at the top of this module)."""

    kind: Literal["sent", "retry", "rejected", "unknown"]
    provider_message_id: str | None = Field(default=None, max_length=512)
    # Other ids the provider's receipts or the customer's answers may name the message by (the Message-ID SES
    # gives a mail in place of ours): indexed with the provider id.
    also_known_as: tuple[str, ...] = Field(default=(), max_length=4)
    retry_after_seconds: float | None = Field(default=None, ge=0)
    code: str | None = Field(default=None, max_length=64, description="The provider's error code")
    reason: str | None = Field(default=None, max_length=1000, description="Human-readable, for the agent")

    @classmethod
    def sent(cls, provider_message_id: str | None, also_known_as: tuple[str, ...] = ()) -> SendOutcome:
        return cls(kind="sent", provider_message_id=provider_message_id, also_known_as=also_known_as)

    @classmethod
    def retry(cls, reason: str, retry_after_seconds: float | None = None, code: str | None = None) -> SendOutcome:
        return cls(kind="retry", reason=reason[:1000], retry_after_seconds=retry_after_seconds, code=code)

    @classmethod
    def rejected(cls, code: str, reason: str) -> SendOutcome:
        return cls(kind="rejected", code=code[:64], reason=reason[:1000])

    @classmethod
    def unknown(cls, reason: str) -> SendOutcome:
        return cls(kind="unknown", reason=reason[:1000])


class WindowVerdict(_Model):
    """A channel's answer to "may this reply go out now?" (its customer-service window, or its kind)."""

    open: bool
    # Meta's message tag the reply must carry to pass (HUMAN_AGENT between 24 hours and 7 days).
    tag: str | None = None
    # When closed: window_closed, or channel_cannot_push (Kakao); what could still reach the customer.
    code: str | None = None
    allowed: tuple[str, ...] = ()
    reason: str | None = None

    @classmethod
    def opened(cls, tag: str | None = None) -> WindowVerdict:
        return cls(open=True, tag=tag)

    @classmethod
    def closed(cls, reason: str, allowed: tuple[str, ...] = (), code: str = "window_closed") -> WindowVerdict:
        return cls(open=False, code=code, allowed=allowed, reason=reason)


@dataclass(frozen=True)
class SendEndpoints:
    """The providers' API base URLs: configuration (template parameters), never anything a webhook said."""

    graph: str  # https://graph.facebook.com/v21.0
    line_api: str  # https://api.line.me
    telegram: str  # https://api.telegram.org
    twilio: str  # https://api.twilio.com
    # Instagram API with Instagram Login sends through its own host (https://graph.instagram.com/v21.0);
    # empty: the Graph API host, for accounts connected through a Facebook Page.
    instagram_graph: str = ""
    # NHN Cloud's AlimTalk host: https://api-alimtalk.cloud.toast.com, which NHN Cloud's guides now name
    # https://kakaotalk-bizmessage.api.nhncloudservice.com; empty: the former (channels/alimtalk.py).
    alimtalk: str = ""


@dataclass(frozen=True)
class ProviderAnswer:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def retry_after_seconds(self) -> float | None:
        value = self.headers.get("Retry-After") or self.headers.get("retry-after")
        try:
            return max(0.0, float(value)) if value is not None else None
        except ValueError:
            return None  # an HTTP-date: the sender's own back-off applies


class ProviderTimeout(Exception):
    """The request was sent but no answer came: the provider may have acted on it."""


class ProviderUnreachable(Exception):
    """No connection was made: the provider cannot have acted on the request."""


class SendHttp:
    """POSTs to provider APIs with warm pools and bounded waits; one per container.

    Never retries by itself: whether a POST may be repeated is the provider's rule (`Sends.resend_is_safe`), so
    the sender decides. Nothing here logs or raises with a URL in it (Telegram puts the bot token in the path).
    """

    def __init__(self, connect_timeout: float = 3.0, read_timeout: float = 10.0) -> None:
        self._pool = urllib3.PoolManager(
            num_pools=16,
            timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
            retries=False,
            headers={"User-Agent": USER_AGENT},
        )

    def post(
        self,
        url: str,
        *,
        json_body: Any = None,
        form: Mapping[str, str] | list[tuple[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> ProviderAnswer:
        sent = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body, ensure_ascii=False).encode()
            sent["Content-Type"] = "application/json; charset=utf-8"
        elif form is not None:
            body = urlencode(form).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            body = b""
        try:
            response = self._pool.request("POST", url, body=body, headers=sent, redirect=False)
        except (urllib3.exceptions.ConnectTimeoutError, urllib3.exceptions.NewConnectionError):
            raise ProviderUnreachable("no connection to the provider") from None
        except urllib3.exceptions.MaxRetryError as exc:
            if isinstance(exc.reason, (urllib3.exceptions.ConnectTimeoutError, urllib3.exceptions.NewConnectionError)):
                raise ProviderUnreachable("no connection to the provider") from None
            raise ProviderTimeout(f"no answer from the provider ({type(exc.reason).__name__})") from None
        except (urllib3.exceptions.ReadTimeoutError, urllib3.exceptions.ProtocolError) as exc:
            raise ProviderTimeout(f"no answer from the provider ({type(exc).__name__})") from None
        except urllib3.exceptions.HTTPError as exc:
            raise ProviderTimeout(f"no answer from the provider ({type(exc).__name__})") from None
        return ProviderAnswer(response.status, dict(response.headers), response.data)


def outcome_of_http(
    answer: ProviderAnswer, *, provider_message_id: str | None, code: str | None, reason: str | None
) -> SendOutcome:
    """The common reading of a provider's HTTP answer; the adapter extracts the id and the error first."""
    if 200 <= answer.status < 300:
        return SendOutcome.sent(provider_message_id)
    if answer.status == 429 or answer.status >= 500:
        return SendOutcome.retry(
            reason or f"the provider answered {answer.status}", answer.retry_after_seconds(), code=code
        )
    return SendOutcome.rejected(code or str(answer.status), reason or f"the provider refused it ({answer.status})")


@dataclass(frozen=True)
class SendContext:
    """What an adapter's `send` calls through: provider HTTP, the base URLs, and (email only) SES v2."""

    http: SendHttp
    endpoints: SendEndpoints
    ses: Any = None  # a boto3 sesv2 client, for the email adapter
