"""Building an attempt's provider request at the moment it is sent: the accepted intent, plus what only the
moment knows (whether a LINE reply token is still good, fresh presigned attachment URLs) and, for mail, the
thread as it stands (outbound/mail_thread.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from switchboard.channels.sending import OutboundAttachment, OutboundEmail, OutboundRequest, WhatsAppTemplate
from switchboard.models import Attachment, Channel, SendAttempt


class UnsendableReply(Exception):
    """The reply cannot be put to its provider at all, whatever is retried: it is settled `failed`."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


# A reply token is used only while this much of its life is left: the queue and the call take time too.
REPLY_TOKEN_MARGIN = timedelta(seconds=10)
_KINDS = {"image": "image", "video": "video", "audio": "audio", "voice": "audio"}


class RequestBuilder:
    def __init__(
        self,
        presign: Callable[[str], str],
        *,
        twilio_status_callback_url: str | None = None,
        email_of: Callable[[SendAttempt], OutboundEmail] | None = None,
    ) -> None:
        self._presign = presign
        self._status_callback = twilio_status_callback_url
        self._email_of = email_of

    def __call__(self, attempt: SendAttempt, *, now: datetime) -> OutboundRequest:
        intent = attempt.intent
        token_good = (
            intent.reply_token is not None
            and intent.reply_token_expires_at is not None
            and now + REPLY_TOKEN_MARGIN < intent.reply_token_expires_at
            # Only an attempt's first provider call may spend the token (`tries` counts the claims made before
            # this one): a later call cannot know whether the first did (outbound/sender.py never repeats it).
            and attempt.tries == 0
        )
        template = None
        if intent.template_name and intent.template_language:
            template = WhatsAppTemplate(
                name=intent.template_name, language=intent.template_language, parameters=intent.template_parameters
            )
        email = None
        if attempt.channel is Channel.EMAIL:
            if self._email_of is None:
                raise ValueError("mail replies need the thread's headers")
            email = self._email_of(attempt)
        return OutboundRequest(
            attempt_id=attempt.id,
            message_id=attempt.message_id,
            ticket_id=attempt.ticket_id,
            channel=attempt.channel,
            channel_account_id=attempt.channel_account_id,
            recipient_id=attempt.recipient_id,
            text=intent.text,
            attachments=tuple(self._attachment(attachment) for attachment in intent.attachments),
            template=template,
            reply_token=intent.reply_token if token_good else None,
            human_agent=intent.human_agent,
            customer_last_message_at=intent.customer_last_message_at,
            status_callback_url=self._status_callback,
            email=email,
            now=now,
        )

    def _attachment(self, attachment: Attachment) -> OutboundAttachment:
        if attachment.storage_key is None:
            raise ValueError("an agent's attachment is in the attachments bucket")
        return outbound_attachment(attachment, self._presign(attachment.storage_key))


def outbound_attachment(attachment: Attachment, url: str) -> OutboundAttachment:
    """An agent's attachment as a provider is handed it: its kind, and the URL it downloads from."""
    return OutboundAttachment(
        kind=_KINDS.get(attachment.kind, "document"),  # type: ignore[arg-type]
        storage_key=attachment.storage_key or "",
        filename=attachment.filename,
        mime_type=attachment.mime_type,
        url=url,
    )
