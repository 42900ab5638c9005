"""Agents' replies by mail: Amazon SES v2 `SendEmail` with raw content (email/outgoing.py builds the MIME).

`POST /v2/email/outbound-emails` with `FromEmailAddress`, `Destination` and `Content.Raw.Data`; SES answers
`{"MessageId": ...}` (botocore's sesv2 service model, SendEmail; https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_SendEmail.html).

Delivery is at most once after a timeout: SendEmail takes no idempotency key (its input has none), so an
attempt that may have reached SES is never repeated blindly (`unknown`, the outbox's rule), and the SES
client must not retry by itself either: botocore's default retries a read timeout, which would send twice.
Build the client with `ses_client_config()`; `send` refuses a client that retries.

SES sets its own Message-ID on what it delivers ("If you provide a Message-ID header, Amazon SES overrides
the header with its own value", https://docs.aws.amazon.com/ses/latest/dg/header-fields.html): the
customer's client answers `<MessageId>@<region>.amazonses.com` (`ses_message_id_header`), so both that and
our own `sb.` id are worth indexing for threading; the reply address in Reply-To threads regardless.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError, ReadTimeoutError
from botocore.exceptions import ConnectionError as NoConnection

from switchboard.channels.base import Sends
from switchboard.channels.sending import OutboundRequest, SendContext, SendOutcome, WindowVerdict
from switchboard.email.outgoing import ReadAttachment, UnsendableMail, build_reply
from switchboard.email.parsed import normalize_message_id
from switchboard.email.ses_events import ATTEMPT_TAG
from switchboard.proof import ChannelSecrets

# SendEmail's errors (sesv2 service model) by what they mean for this attempt. Throttling is SES v1's code
# for the sending rate, kept in case a proxy or SDK reports it; the v2 API answers TooManyRequestsException
# (429). LimitExceededException is a quota that frees up with time.
RETRY_CODES = frozenset({"TooManyRequestsException", "Throttling", "ThrottlingException", "LimitExceededException"})
# The rest are refused for good as sent: the agent sees why, and may resend once it is fixed.
REJECTION_REASONS: Mapping[str, str] = {
    "MessageRejected": "SES refused the mail",
    "MailFromDomainNotVerifiedException": "the mailbox's MAIL FROM domain is not verified in SES",
    "AccountSuspendedException": "the SES account may no longer send mail",
    "SendingPausedException": "sending is paused for the SES account or its configuration set",
    "BadRequestException": "SES found the request invalid",
    "NotFoundException": "SES does not know a resource the request names",
}
REASON_DETAIL_CHARS = 300
_TAG_VALUE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


def ses_client_config(connect_timeout: float = 3.0, read_timeout: float = 15.0) -> Config:
    """The botocore Config for the sender's sesv2 client: one attempt per call, since a retried SendEmail
    after a read timeout is a second mail (`total_max_attempts` counts the first attempt; `max_attempts`
    counts retries only, so {"max_attempts": 1} would still retry once)."""
    return Config(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"total_max_attempts": 1, "mode": "standard"},
    )


def ses_message_id_header(message_id: str, region: str) -> str:
    """The Message-ID SES gives the mail it sends, from SendEmail's MessageId: `<id@email.amazonses.com>` in
    us-east-1, `<id@<region>.amazonses.com>` elsewhere. SES does not document the form; it is what SES's
    delivered mail carries (drewblas/aws-ses#68 moved from the us-east-1 form to the regional one)."""
    host = "email" if region == "us-east-1" else region
    return f"<{message_id}@{host}.amazonses.com>"


class EmailSender(Sends):
    """Sends an agent's reply as a mail from the mailbox the customer wrote to, through `context.ses`."""

    # Mail has no text limit of its own. 32,000 characters is far beyond any written reply (a ten-page
    # letter) and keeps the reply at most ~96 KB in UTF-8 even in Korean (3 bytes a character), so the
    # stored message stays well inside DynamoDB's 400 KB item limit beside the rest of it.
    max_text_chars = 32_000

    def __init__(self, read_attachment: ReadAttachment | None = None, configuration_set: str | None = None) -> None:
        # SES needs the files' bytes inside the MIME; the lead wires this to the attachments bucket.
        self._read_attachment = read_attachment
        # SES publishes deliveries, bounces and complaints only for mail sent with a configuration set that has an
        # event destination (email/ses_events.py); None sends without one.
        self._configuration_set = configuration_set

    def refusal(self, request: OutboundRequest) -> str | None:
        return None  # mail carries any text and files; its size and recipient limits are checked when built

    def resend_is_safe(self, request: OutboundRequest) -> bool:
        return False  # SendEmail has no idempotency key: a repeated call is a second mail

    def window(
        self, *, last_customer_message_at: datetime | None, now: datetime, human_agent: bool, template: bool
    ) -> WindowVerdict:
        # Mail has no reply window. Replies to automatic mail (auto-replies, bulk, bounces, our own mail
        # coming back) cannot happen here: the intake never makes such mail a customer message on a ticket,
        # only an internal note or held mail (models.MailHandling, email/classify.py), so every customer
        # message an agent answers was written by a person.
        return WindowVerdict.opened()

    def send(self, request: OutboundRequest, secrets: ChannelSecrets, context: SendContext) -> SendOutcome:
        if context.ses is None:
            raise ValueError("the email sender needs an SES v2 client in its SendContext")
        _refuse_retrying_client(context.ses)
        try:
            mail = build_reply(request, self._read_attachment)
        except UnsendableMail as unsendable:
            return SendOutcome.rejected(unsendable.code, unsendable.reason)
        destination: dict[str, list[str]] = {"ToAddresses": list(mail.to)}
        if mail.cc:
            destination["CcAddresses"] = list(mail.cc)
        configuration: dict[str, Any] = {}
        if self._configuration_set:
            configuration["ConfigurationSetName"] = self._configuration_set
            if _TAG_VALUE.match(request.attempt_id):
                # SES publishes a mail's tags with its events: the attempt lets a report settle a reply whose
                # SendEmail answer never came (its MessageId unrecorded), as WhatsApp's biz_opaque_callback_data
                # does. A tag value is ASCII letters, digits, _ and - (SES API v2, MessageTag).
                configuration["EmailTags"] = [{"Name": ATTEMPT_TAG, "Value": request.attempt_id}]
        try:
            answer = context.ses.send_email(
                FromEmailAddress=mail.from_address,
                Destination=destination,
                Content={"Raw": {"Data": mail.raw}},
                **configuration,
            )
        except ClientError as error:
            return _outcome_of_error(error.response)
        except NoConnection as error:
            # Endpoint unreachable, connect timeout, TLS or proxy failure: the request never reached SES.
            return SendOutcome.retry(f"no connection to SES ({type(error).__name__})")
        except ReadTimeoutError:
            return SendOutcome.unknown("SES did not answer in time; it may have sent the mail")
        except HTTPClientError as error:
            # The connection broke after the request went out (botocore's ConnectionClosedError and others).
            return SendOutcome.unknown(f"the connection to SES broke before its answer ({type(error).__name__})")
        message_id = answer.get("MessageId")
        if not message_id:
            return SendOutcome.sent(None)
        # SES replaces our Message-ID with its own (SES developer guide, "Header fields"): the customer's answer
        # names that one, so the message is indexed under it too.
        region = getattr(getattr(context.ses, "meta", None), "region_name", None) or "us-east-1"
        ses_id = normalize_message_id(ses_message_id_header(message_id, region))
        return SendOutcome.sent(message_id, also_known_as=(ses_id,) if ses_id else ())


def _outcome_of_error(response: Mapping[str, Any]) -> SendOutcome:
    error = response.get("Error") or {}
    metadata = response.get("ResponseMetadata") or {}
    status = int(metadata.get("HTTPStatusCode") or 0)
    code = str(error.get("Code") or status or "unknown")
    detail = _without_addresses(str(error.get("Message") or ""))
    if code in RETRY_CODES or status == 429 or status >= 500:
        reason = f"SES did not take the mail now ({code})"
        return SendOutcome.retry(reason, _retry_after(metadata.get("HTTPHeaders") or {}), code=code)
    summary = REJECTION_REASONS.get(code, f"SES refused the request ({status or code})")
    return SendOutcome.rejected(code, f"{summary}: {detail}" if detail else summary)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    # SES sends no Retry-After; a proxy in front of it might, and then it is the better guess.
    value = headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _without_addresses(message: str) -> str:
    """SES's message with every address taken out: "Email address is not verified. The following identities
    failed the check in region ...: kim@example.com" must not put a customer's address on the message."""
    words = (("<address>" if "@" in word else word) for word in message[: REASON_DETAIL_CHARS * 4].split())
    return " ".join(words)[:REASON_DETAIL_CHARS]


def _refuse_retrying_client(client: Any) -> None:
    """A botocore client whose own retries are on would resend after a read timeout: a second mail. Clients
    that are not botocore's (a test double) have no such retries and pass."""
    config = getattr(getattr(client, "meta", None), "config", None)
    if config is None:
        return
    retries = getattr(config, "retries", None) or {}
    attempts = retries.get("total_max_attempts")
    if attempts is None and "max_attempts" in retries:
        attempts = int(retries["max_attempts"]) + 1
    if attempts != 1:
        raise RuntimeError("the SES client retries by itself; create it with email.sender.ses_client_config()")
