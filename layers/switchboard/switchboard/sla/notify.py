"""Delivering an escalation's `notify` action: a signed HTTPS webhook POST and/or an SNS publish of one JSON body.

The body is the notice (`SlaNotice`) with `"type": "sla.breach"`, compact JSON. A webhook request carries:

| header                     | value                                                                       |
|----------------------------|-----------------------------------------------------------------------------|
| Content-Type               | application/json                                                            |
| Idempotency-Key            | the event id                                                                |
| X-Switchboard-Event-Id     | the event id: stable per ticket, metric, activation and level               |
| X-Switchboard-Timestamp    | when the request was sent, in Unix seconds                                  |
| X-Switchboard-Signature    | v1=<hex HMAC-SHA256(key, "<timestamp>." + body)>                             |

The signature follows Stripe's webhook scheme (https://docs.stripe.com/webhooks#verify-manually): the timestamp is
part of the signed payload, so a receiver checks the signature with `verify_signature` and refuses a request whose
timestamp is more than 5 minutes from its clock (a replay). Several `v1=` values, comma-separated, are accepted
by `verify_signature`, so a receiver can be handed the old and the new signature during a key rotation.

What can repeat (each notice is delivered at least once, store/sla_notices.py):
- A crash after a successful POST or publish and before the enforcer records it repeats the call with the same
  event id; so does a webhook that took the request but answered too late (a read timeout is RETRY).
- A webhook receiver dedupes on `X-Switchboard-Event-Id` (or `Idempotency-Key`): the repeat carries a new
  timestamp and signature but the same id and body.
- A FIFO topic (ARN ending in .fifo) dedupes it: MessageDeduplicationId is the event id, and SNS drops a repeat
  within its 5-minute deduplication interval (SNS API reference, Publish, "MessageDeduplicationId").
- A standard topic may deliver it twice: its subscribers dedupe on the `event_id` message attribute.

Logs name the webhook's host and the outcome only: a URL's path and query may hold a receiver's secret (Slack's
incoming webhooks do), and neither the body nor the signing key is ever logged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import urllib3
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError
from pydantic import BaseModel, ConfigDict, Field, field_validator

from switchboard.models import Channel, NoticeState, Priority, SlaNoticeDelivery, utc_now
from switchboard.observability import logger
from switchboard.sla.policies import MAX_ESCALATION_LEVELS, MAX_NAME_CHARS

NOTICE_TYPE = "sla.breach"
SIGNATURE_SCHEME = "v1"
# Stripe's default tolerance between a webhook's timestamp and the receiver's clock (stripe-python, Webhook).
SIGNATURE_TOLERANCE_SECONDS = 300
MAX_WEBHOOK_URL_CHARS = 2048
# The signing secret's shape in Secrets Manager: {"signing_key": "<at least 32 characters>"}.
SIGNING_KEY_FIELD = "signing_key"
MIN_SIGNING_KEY_CHARS = 32
CONNECT_TIMEOUT_SECONDS = 3.0
READ_TIMEOUT_SECONDS = 5.0
USER_AGENT = "switchboard-sla/1.0"
MAX_ANSWER_BYTES = 16 * 1024
# SNS: "Subjects must be ASCII text that begins with a letter, number, or punctuation mark; must not include line
# breaks or control characters; and must be less than 100 characters long" (SNS API reference, Publish).
MAX_SUBJECT_CHARS = 99
# SNS FIFO: MessageGroupId and MessageDeduplicationId are up to 128 alphanumeric and punctuation characters.
_FIFO_ID = re.compile(r"^[A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]{1,128}$")
# Errors worth another try: throttling (SNS's ThrottledException is 429 "Throttled"; KMS's behind an encrypted
# topic is 400 "KMSThrottling"); anything 5xx is the service's own fault.
_SNS_RETRY_CODES = frozenset({"Throttled", "Throttling", "ThrottlingException", "KMSThrottling", "RequestTimeout"})


class SlaNotice(BaseModel):
    """What a notify action tells its receiver: which ticket breached which metric, at which escalation level."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Printable ASCII: it goes out as HTTP header values (Latin-1 at best) and as an SNS FIFO deduplication id.
    event_id: str = Field(
        min_length=1,
        max_length=256,
        pattern=r"^[\x21-\x7e]+$",
        description="Stable per ticket, metric, activation and level: the dedupe key",
    )
    ticket_id: str = Field(min_length=1, max_length=128)
    ticket_number: int = Field(ge=1)
    policy: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    metric: str = Field(min_length=1, max_length=64)
    level: int = Field(ge=1, le=MAX_ESCALATION_LEVELS)
    channel: Channel
    priority: Priority
    due_at: datetime = Field(description="UTC, ISO 8601 with Z")
    breached_at: datetime = Field(description="UTC, ISO 8601 with Z")

    @field_validator("due_at", "breached_at")
    @classmethod
    def _utc(cls, moment: datetime) -> datetime:
        # Pydantic writes a UTC datetime with "Z"; any other offset would be written as it is.
        if moment.tzinfo is None:
            raise ValueError("timestamps must carry a time zone")
        return moment.astimezone(UTC)

    @classmethod
    def of(cls, delivery: SlaNoticeDelivery) -> SlaNotice:
        return cls(
            event_id=delivery.event_id,
            ticket_id=delivery.ticket_id,
            ticket_number=delivery.ticket_number,
            policy=delivery.policy,
            metric=delivery.metric.value,
            level=delivery.level,
            channel=delivery.channel,
            priority=delivery.priority,
            due_at=delivery.due_at,
            breached_at=delivery.breached_at,
        )


def notice_body(notice: SlaNotice) -> bytes:
    """The bytes POSTed and published: compact JSON, "type" first. Receivers verify these exact bytes."""
    document = {"type": NOTICE_TYPE, **notice.model_dump(mode="json")}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


class NotifyOutcome(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"  # 429, 5xx, a timeout or no connection: worth another try later
    REJECTED = "rejected"  # any other 4xx, a redirect, a URL we may not call, no such topic: never retried


@dataclass(frozen=True)
class NotifyResult:
    """What one call did, with a short reason that never holds the body, the URL or a secret."""

    outcome: NotifyOutcome
    reason: str | None = None

    @property
    def state(self) -> NoticeState:
        """The notice's state after this call (tickets/sla_enforcer.py's NoticeResult)."""
        return {
            NotifyOutcome.DELIVERED: NoticeState.DELIVERED,
            NotifyOutcome.RETRY: NoticeState.PENDING,
            NotifyOutcome.REJECTED: NoticeState.REJECTED,
        }[self.outcome]

    @classmethod
    def delivered(cls) -> NotifyResult:
        return cls(NotifyOutcome.DELIVERED)

    @classmethod
    def retry(cls, reason: str) -> NotifyResult:
        return cls(NotifyOutcome.RETRY, reason[:200])

    @classmethod
    def rejected(cls, reason: str) -> NotifyResult:
        return cls(NotifyOutcome.REJECTED, reason[:200])


def sign(key: bytes, timestamp: int | str, body: bytes) -> str:
    """The X-Switchboard-Signature value for a body sent at `timestamp` (Unix seconds): "v1=<hex>"."""
    digest = hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_SCHEME}={digest}"


def verify_signature(
    key: bytes,
    header_value: str | None,
    timestamp: int | str | None,
    body: bytes,
    now: datetime,
    tolerance: int = SIGNATURE_TOLERANCE_SECONDS,
) -> bool:
    """Whether a request carries a valid signature of `body` made within `tolerance` seconds of `now`: what a
    receiver checks (Stripe's "verify manually" steps). False, never an exception, for anything malformed."""
    if not key or not header_value or timestamp is None:
        return False
    stamp = str(timestamp)
    # Bounded: a Unix time in seconds has at most 11 digits until the year 5138.
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 11:
        return False
    if abs(now.timestamp() - int(stamp)) > tolerance:
        return False
    expected = sign(key, stamp, body)
    offered = [part.strip() for part in header_value[:2048].split(",")]
    # compare_digest on every offered value, not just until one matches, keeps the time independent of which.
    matches = [hmac.compare_digest(expected.encode(), part.encode("utf-8", "replace")) for part in offered]
    return any(matches)


def signing_key_of(secret: Mapping[str, Any]) -> bytes:
    """The signing key from the SLA webhook secret's JSON ({"signing_key": "..."}); a clear error if it is unset
    or too short to be a key."""
    value = secret.get(SIGNING_KEY_FIELD)
    if not isinstance(value, str) or len(value) < MIN_SIGNING_KEY_CHARS:
        raise ValueError(
            f"the SLA webhook secret needs {SIGNING_KEY_FIELD!r}: a random string of at least "
            f"{MIN_SIGNING_KEY_CHARS} characters"
        )
    return value.encode()


def webhook_url_problem(url: str, local_hooks_base: str = "") -> str | None:
    """None when a notify webhook may be called at `url`, else why not (the admin API's 400 says it).

    Public HTTPS with a host, no user name or password, at most 2,048 characters. On a local run
    (`local_hooks_base` set to the fake providers' `<base>/__fake__/hooks/`), a URL under that base too."""
    if not url:
        return "a webhook URL is required"
    if len(url) > MAX_WEBHOOK_URL_CHARS:
        return f"a webhook URL is at most {MAX_WEBHOOK_URL_CHARS} characters"
    if any(character.isspace() or ord(character) < 0x20 or ord(character) == 0x7F for character in url):
        return "a webhook URL has no spaces or control characters"
    # The base must end its path with "/", else http://127.0.0.1:4000 would also admit http://127.0.0.1:40001.
    if local_hooks_base.endswith("/") and url.startswith(local_hooks_base):
        rest = url[len(local_hooks_base) :].split("?", 1)[0].split("#", 1)[0]
        # urllib3 removes dot segments (RFC 3986, 5.2.4): "../" would leave the hooks for another fake endpoint.
        if "\\" in rest or any(segment in (".", "..") for segment in rest.split("/")):
            return f"a local webhook URL stays under {local_hooks_base}"
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        return "a webhook URL must be a valid URL"
    if parts.scheme.lower() != "https":
        return "a webhook URL must use https"
    if "@" in parts.netloc:
        return "a webhook URL must not carry a user name or password"
    if not parts.hostname:
        return "a webhook URL needs a host"
    return None


class WebhookNotifier:
    """POSTs signed notices to the webhooks policies name: one attempt per call, never retried or redirected here
    (the enforcer retries with backoff, store/sla_notices.py)."""

    def __init__(
        self,
        http: urllib3.PoolManager,
        signing_key: Callable[[], bytes] | bytes,
        local_hooks_base: str = "",
        *,
        connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
        read_timeout: float = READ_TIMEOUT_SECONDS,
    ) -> None:
        self._http = http
        self._timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
        self._read_timeout = read_timeout
        # A callable reads the key when a notice goes out: Secrets Manager through Powertools' cache, so a rotated
        # key is used without a deploy.
        self._signing_key = signing_key
        self._local_hooks_base = local_hooks_base

    def post(self, url: str, notice: SlaNotice, *, sent_at: datetime) -> NotifyResult:
        """One POST of the notice to `url`, signed as sent at `sent_at`."""
        if sent_at.tzinfo is None:
            raise ValueError("sent_at must carry a time zone")
        host = _host_of(url)
        problem = webhook_url_problem(url, self._local_hooks_base)
        if problem is None and self._local_hooks_base and not url.startswith(self._local_hooks_base):
            # A local run reaches no address but its fake providers: a policy saved with a real receiver's URL
            # (or one the API contract test made up) is refused, never called from a developer's machine.
            problem = f"a local run calls only webhooks under {self._local_hooks_base}"
        if problem is not None:
            return _logged(NotifyResult.rejected(problem), "webhook", host)
        try:
            key = self._signing_key() if callable(self._signing_key) else self._signing_key
        except Exception:  # noqa: BLE001 - Secrets Manager down or the secret malformed: try again later, never unsigned
            logger.exception("the SLA webhook signing key could not be read")
            return _logged(NotifyResult.retry("the webhook signing key could not be read"), "webhook", host)
        if not key:
            return _logged(NotifyResult.retry("no webhook signing key is configured"), "webhook", host)
        body = notice_body(notice)
        timestamp = int(sent_at.timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Idempotency-Key": notice.event_id,
            "X-Switchboard-Event-Id": notice.event_id,
            "X-Switchboard-Timestamp": str(timestamp),
            "X-Switchboard-Signature": sign(key, timestamp, body),
        }
        return _logged(self._call(url, body, headers), "webhook", host)

    def _call(self, url: str, body: bytes, headers: dict[str, str]) -> NotifyResult:
        try:
            response = self._http.request(
                "POST",
                url,
                body=body,
                headers=headers,
                timeout=self._timeout,
                retries=False,
                redirect=False,
                preload_content=False,
            )
        except urllib3.exceptions.LocationValueError:
            return NotifyResult.rejected("the webhook URL cannot be called")
        except (urllib3.exceptions.ConnectTimeoutError, urllib3.exceptions.NewConnectionError):
            return NotifyResult.retry("no connection to the webhook")
        except urllib3.exceptions.ReadTimeoutError:
            # The receiver may have taken it; the retry carries the same event id, on which it dedupes.
            return NotifyResult.retry(f"no answer from the webhook within {self._read_timeout:g} s")
        except urllib3.exceptions.HTTPError as exc:
            return NotifyResult.retry(f"the webhook call failed ({type(exc).__name__})")
        status = response.status
        try:
            # A short answer is read to its end (and dropped: nothing of it is kept or logged), so the connection
            # is reused; the rest of a longer one is left, and the pool drops that connection.
            response.read(MAX_ANSWER_BYTES, decode_content=False)
        except (urllib3.exceptions.HTTPError, OSError):
            pass  # the status is the answer; a body cut short changes nothing
        finally:
            response.release_conn()
        if 200 <= status < 300:
            return NotifyResult.delivered()
        if 300 <= status < 400:
            return NotifyResult.rejected(f"the webhook redirected ({status}); it must answer at its configured URL")
        if status in (408, 429) or status >= 500:
            return NotifyResult.retry(f"the webhook answered {status}")
        return NotifyResult.rejected(f"the webhook refused it ({status})")


class SnsNotifier:
    """Publishes notices to the SNS topics policies name, one publish per call."""

    def __init__(self, sns_client: Any) -> None:
        self._sns = sns_client

    def publish(self, topic_arn: str, notice: SlaNotice) -> NotifyResult:
        request: dict[str, Any] = {
            "TopicArn": topic_arn,
            "Message": notice_body(notice).decode(),
            "Subject": sns_subject(notice),
            # Subscribers dedupe on event_id; the others let a subscription's filter policy pick what it wants.
            "MessageAttributes": {
                "event_id": {"DataType": "String", "StringValue": notice.event_id},
                "metric": {"DataType": "String", "StringValue": notice.metric},
                "level": {"DataType": "Number", "StringValue": str(notice.level)},
                "channel": {"DataType": "String", "StringValue": notice.channel.value},
                "priority": {"DataType": "String", "StringValue": notice.priority.value},
            },
        }
        if topic_arn.endswith(".fifo"):
            # One ticket's notices in order; a repeat within 5 minutes is accepted but not delivered again.
            request["MessageGroupId"] = _fifo_id(notice.ticket_id)
            request["MessageDeduplicationId"] = _fifo_id(notice.event_id)
        topic = topic_arn.rsplit(":", 1)[-1]
        try:
            self._sns.publish(**request)
        except ClientError as exc:
            return _logged(_sns_error(exc), "sns", topic)
        except ParamValidationError:
            return _logged(NotifyResult.rejected("SNS refused the request's parameters"), "sns", topic)
        except BotoCoreError as exc:
            return _logged(NotifyResult.retry(f"no answer from SNS ({type(exc).__name__})"), "sns", topic)
        return _logged(NotifyResult.delivered(), "sns", topic)


def sns_subject(notice: SlaNotice) -> str:
    """ "SLA breach: ticket #<n> <metric> level <l>", printable ASCII, under SNS's 100-character limit."""
    subject = f"SLA breach: ticket #{notice.ticket_number} {notice.metric} level {notice.level}"
    return "".join(character if " " <= character <= "~" else "?" for character in subject)[:MAX_SUBJECT_CHARS]


def _fifo_id(value: str) -> str:
    """The value itself when SNS takes it as a FIFO group or deduplication id, else its SHA-256 (64 hex): stable
    for the same value, so a repeat still dedupes."""
    return value if _FIFO_ID.match(value) else hashlib.sha256(value.encode()).hexdigest()


def _sns_error(exc: ClientError) -> NotifyResult:
    error = exc.response.get("Error", {})
    code = str(error.get("Code") or "")
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    if code in _SNS_RETRY_CODES or status == 429 or status >= 500:
        return NotifyResult.retry(f"SNS answered {code or status}")
    # NotFound, InvalidParameter, AuthorizationError, KMS errors, ...: the topic or its policy must be fixed.
    return NotifyResult.rejected(f"SNS refused it ({code or status})")


class SlaNoticeSender:
    """The enforcer's NoticeSender (tickets/sla_enforcer.py): each notice to its webhook or its topic."""

    def __init__(self, webhooks: WebhookNotifier, topics: SnsNotifier, clock: Callable[[], datetime] = utc_now) -> None:
        self._webhooks = webhooks
        self._topics = topics
        self._clock = clock

    def send(self, notice: SlaNoticeDelivery, now: datetime) -> NotifyResult:
        message = SlaNotice.of(notice)
        if notice.target_kind == "sns":
            return self._topics.publish(notice.target, message)
        # Signed as sent when the request leaves, not at the sweep's `now`: a sweep working through many notices
        # may be minutes past its start, and receivers refuse a timestamp more than 5 minutes old.
        return self._webhooks.post(notice.target, message, sent_at=max(now, self._clock()))


def _host_of(url: str) -> str:
    try:
        return urlsplit(url).hostname or "?"
    except ValueError:
        return "?"


def _logged(result: NotifyResult, kind: str, where: str) -> NotifyResult:
    """One line per call: the target's kind, its host (webhook) or topic name (SNS), the outcome and its reason."""
    log = logger.info if result.outcome is NotifyOutcome.DELIVERED else logger.warning
    log(
        "SLA notice call",
        extra={"target_kind": kind, "where": where, "outcome": result.outcome.value, "reason": result.reason},
    )
    return result
