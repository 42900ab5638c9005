"""Settings per function, read from the environment once and validated; logic receives them as arguments."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator


class _Settings(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None):
        source = os.environ if env is None else env
        names = {field.alias or name for name, field in cls.model_fields.items()}
        return cls.model_validate({name: source[name] for name in names if name in source})


class TableSettings(_Settings):
    table_name: str = Field(alias="TABLE_NAME", min_length=1)


class WebhookSettings(_Settings):
    inbound_queue_url: str = Field(alias="INBOUND_QUEUE_URL", min_length=1)


class WhatsAppWebhookSettings(WebhookSettings):
    secret_arn: str = Field(alias="WHATSAPP_SECRET_ARN", min_length=1)


class MessengerWebhookSettings(WebhookSettings):
    secret_arn: str = Field(alias="MESSENGER_SECRET_ARN", min_length=1)


class InstagramWebhookSettings(WebhookSettings):
    secret_arn: str = Field(alias="INSTAGRAM_SECRET_ARN", min_length=1)


class LineWebhookSettings(WebhookSettings):
    secret_arn: str = Field(alias="LINE_SECRET_ARN", min_length=1)


class TelegramWebhookSettings(WebhookSettings):
    secret_arn: str = Field(alias="TELEGRAM_SECRET_ARN", min_length=1)


class KakaoWebhookSettings(WebhookSettings):
    secret_arn: str = Field(alias="KAKAO_SECRET_ARN", min_length=1)
    ack_text: str = Field(alias="KAKAO_ACK_TEXT", min_length=1, max_length=1000)


class TwilioWebhookSettings(WebhookSettings):
    secret_arn: str = Field(alias="TWILIO_SECRET_ARN", min_length=1)
    # Empty: reconstruct the URL Twilio called from the request itself.
    public_base_url: str = Field(default="", alias="TWILIO_PUBLIC_BASE_URL")


class MailEventsSettings(_Settings):
    """mail_events: SES's reports on agents' mail go onto the inbound queue as receipts."""

    inbound_queue_url: str = Field(alias="INBOUND_QUEUE_URL", min_length=1)


class MediaQueueSettings(_Settings):
    """For the writer: where it asks for attachments to be fetched."""

    media_queue_url: str = Field(alias="MEDIA_QUEUE_URL", min_length=1)


class MediaFetcherSettings(_Settings):
    attachments_bucket: str = Field(alias="ATTACHMENTS_BUCKET", min_length=1)
    max_bytes: int = Field(alias="MEDIA_MAX_BYTES", ge=1)
    graph_api_base_url: str = Field(alias="GRAPH_API_BASE_URL", pattern=r"^https?://")
    line_data_api_base_url: str = Field(alias="LINE_DATA_API_BASE_URL", pattern=r"^https?://")
    telegram_api_base_url: str = Field(alias="TELEGRAM_API_BASE_URL", pattern=r"^https?://")
    twilio_api_base_url: str = Field(alias="TWILIO_API_BASE_URL", pattern=r"^https?://")
    # The download credentials of the channels whose media needs them, each in a secret of its own: never a
    # webhook signing secret (Messenger, Instagram and Kakao hand out signed CDN URLs and need none).
    whatsapp_media_secret_arn: str = Field(alias="WHATSAPP_MEDIA_SECRET_ARN", min_length=1)
    line_media_secret_arn: str = Field(alias="LINE_MEDIA_SECRET_ARN", min_length=1)
    telegram_media_secret_arn: str = Field(alias="TELEGRAM_MEDIA_SECRET_ARN", min_length=1)
    twilio_media_secret_arn: str = Field(alias="TWILIO_MEDIA_SECRET_ARN", min_length=1)
    # Each provider's allow-list (media/egress.py): comma-separated host, *.suffix or exact scheme://host:port.
    whatsapp_media_hosts: str = Field(alias="MEDIA_HOSTS_WHATSAPP", min_length=1)
    messenger_media_hosts: str = Field(alias="MEDIA_HOSTS_MESSENGER", min_length=1)
    instagram_media_hosts: str = Field(alias="MEDIA_HOSTS_INSTAGRAM", min_length=1)
    line_media_hosts: str = Field(alias="MEDIA_HOSTS_LINE", min_length=1)
    telegram_media_hosts: str = Field(alias="MEDIA_HOSTS_TELEGRAM", min_length=1)
    kakao_media_hosts: str = Field(alias="MEDIA_HOSTS_KAKAO", min_length=1)
    twilio_media_hosts: str = Field(alias="MEDIA_HOSTS_TWILIO", min_length=1)

    @field_validator(
        "whatsapp_media_hosts",
        "messenger_media_hosts",
        "instagram_media_hosts",
        "line_media_hosts",
        "telegram_media_hosts",
        "kakao_media_hosts",
        "twilio_media_hosts",
    )
    @classmethod
    def _allow_list(cls, value: str) -> str:
        from switchboard.media.egress import MediaOrigins

        MediaOrigins.parse(value)  # a bad entry fails the function's start, naming the entry
        return value

    @model_validator(mode="after")
    def _apis_on_their_allow_lists(self) -> MediaFetcherSettings:
        from switchboard.media.egress import MediaOrigins, RefusedDestination, origin_of

        for name, url, hosts_name, hosts in (
            ("GRAPH_API_BASE_URL", self.graph_api_base_url, "MEDIA_HOSTS_WHATSAPP", self.whatsapp_media_hosts),
            ("LINE_DATA_API_BASE_URL", self.line_data_api_base_url, "MEDIA_HOSTS_LINE", self.line_media_hosts),
            ("TELEGRAM_API_BASE_URL", self.telegram_api_base_url, "MEDIA_HOSTS_TELEGRAM", self.telegram_media_hosts),
            ("TWILIO_API_BASE_URL", self.twilio_api_base_url, "MEDIA_HOSTS_TWILIO", self.twilio_media_hosts),
        ):
            try:
                admitted = MediaOrigins.parse(hosts).admits(origin_of(url)[0])
            except RefusedDestination:
                admitted = False
            if not admitted:
                # Every download of that provider would be refused: say so at start, not job by job.
                raise ValueError(f"{name} is not on {hosts_name}: add its host to the allow-list")
        return self

    def media_origins(self) -> dict[str, str]:
        """Each provider's allow-list as configured, by provider name."""
        return {
            "whatsapp": self.whatsapp_media_hosts,
            "messenger": self.messenger_media_hosts,
            "instagram": self.instagram_media_hosts,
            "line": self.line_media_hosts,
            "telegram": self.telegram_media_hosts,
            "kakao": self.kakao_media_hosts,
            "twilio": self.twilio_media_hosts,
        }


class EmailIntakeSettings(_Settings):
    """email_inbound: reads raw mail, stores attachments, enqueues one message per mail."""

    inbound_queue_url: str = Field(alias="INBOUND_QUEUE_URL", min_length=1)
    mail_bucket: str = Field(alias="MAIL_BUCKET", min_length=1)
    attachments_bucket: str = Field(alias="ATTACHMENTS_BUCKET", min_length=1)
    secret_arn: str = Field(alias="EMAIL_SECRET_ARN", min_length=1)
    # Every address at these domains is ours (support@, sales@, support+<token>@ ...).
    support_domains: str = Field(alias="SUPPORT_DOMAINS", min_length=1)
    # The mailbox of a mail that names none of ours (it reached us by Bcc or a forward).
    default_mailbox: str = Field(alias="DEFAULT_MAILBOX", pattern=r"^[^@\s]+@[^@\s]+$")

    @property
    def domains(self) -> frozenset[str]:
        return frozenset(d.strip().lower().lstrip("@") for d in self.support_domains.split(",") if d.strip())


class MailWebhookSettings(_Settings):
    """mailgun/postmark/sendgrid webhooks: verify, then keep the raw mail in the mail bucket."""

    mail_bucket: str = Field(alias="MAIL_BUCKET", min_length=1)
    secret_arn: str = Field(alias="MAIL_WEBHOOK_SECRET_ARN", min_length=1)
    max_age_seconds: int = Field(default=300, alias="WEBHOOK_MAX_AGE_SECONDS", ge=10, le=86400)


class AccessSettings(_Settings):
    """The agents' API: which claim of an agent's token holds their roles, and how roles are spelled in it
    (`<prefix>agent`, `<prefix>admin`); template parameters RolesClaim and RolePrefix."""

    roles_claim: str = Field(default="cognito:groups", alias="ROLES_CLAIM", min_length=1, max_length=128)
    role_prefix: str = Field(default="", alias="ROLE_PREFIX", max_length=128)


class HeldMailReleaseSettings(_Settings):
    """held_mail_release: copies a held mail's raw mail back into the intake, then marks it released (the
    table comes from TableSettings, as for every function that holds the ticket store)."""

    mail_bucket: str = Field(alias="MAIL_BUCKET", min_length=1)


class TicketCloserSettings(_Settings):
    """ticket_closer: solved tickets close this many days after they were solved (template parameter
    AutoCloseDays; Zendesk's closing automation allows up to 28 days). The table comes from TableSettings."""

    auto_close_days: int = Field(alias="AUTO_CLOSE_DAYS", ge=1, le=28)


class RuleSetActivatorSettings(_Settings):
    """The custom resource that activates this stack's SES receipt rule set, and no other."""

    rule_set_name: str = Field(alias="RECEIPT_RULE_SET_NAME", min_length=1, max_length=64)


class WhatsAppTemplateConfig(BaseModel):
    """An approved WhatsApp message template an agent may send outside the 24-hour window."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    account: str = Field(default="*", min_length=1, description="The phone number id it is approved for; * for all")
    name: str = Field(min_length=1, max_length=512)
    language: str = Field(min_length=2, max_length=15)
    category: str = Field(default="utility", pattern="^(utility|marketing|authentication)$")
    parameters: int = Field(default=0, ge=0, le=20, description="How many body parameters it takes")


class OutboundQueueSettings(_Settings):
    """Where send attempts are queued for the channel sender (the outbox sweep's only setting)."""

    outbound_queue_url: str = Field(alias="OUTBOUND_QUEUE_URL", min_length=1)


class ReplySettings(OutboundQueueSettings):
    """The agents' writes that send: where accepted replies are queued, and the WhatsApp templates configured."""

    whatsapp_templates_json: str = Field(default="[]", alias="WHATSAPP_TEMPLATES")

    def whatsapp_templates(self) -> list[WhatsAppTemplateConfig]:
        return _TEMPLATES.validate_json(self.whatsapp_templates_json or "[]")


class SenderSettings(_Settings):
    """The channel sender: provider API bases, the secrets holding send credentials, and the mail settings."""

    outbound_queue_url: str = Field(alias="OUTBOUND_QUEUE_URL", min_length=1)
    attachments_bucket: str = Field(alias="ATTACHMENTS_BUCKET", min_length=1)
    graph_api_base_url: str = Field(alias="GRAPH_API_BASE_URL", pattern=r"^https?://")
    instagram_graph_api_base_url: str = Field(alias="INSTAGRAM_GRAPH_API_BASE_URL", pattern=r"^https?://")
    line_api_base_url: str = Field(alias="LINE_API_BASE_URL", pattern=r"^https?://")
    telegram_api_base_url: str = Field(alias="TELEGRAM_API_BASE_URL", pattern=r"^https?://")
    twilio_api_base_url: str = Field(alias="TWILIO_API_BASE_URL", pattern=r"^https?://")
    # Empty in AWS (the SDK's own endpoint); the local runner points it at the fake SES.
    ses_endpoint_url: str = Field(default="", alias="SES_ENDPOINT_URL")
    # The configuration set SendEmail names, whose event destination reports deliveries, bounces and complaints
    # (email/ses_events.py); empty: none, and no reply is ever settled past `sent` by SES.
    ses_configuration_set: str = Field(default="", alias="SES_CONFIGURATION_SET", pattern=r"^[A-Za-z0-9_-]{0,64}$")
    twilio_status_callback_url: str = Field(default="", alias="TWILIO_STATUS_CALLBACK_URL")
    whatsapp_secret_arn: str = Field(alias="WHATSAPP_SECRET_ARN", min_length=1)
    messenger_secret_arn: str = Field(alias="MESSENGER_SECRET_ARN", min_length=1)
    instagram_secret_arn: str = Field(alias="INSTAGRAM_SECRET_ARN", min_length=1)
    line_secret_arn: str = Field(alias="LINE_SECRET_ARN", min_length=1)
    telegram_secret_arn: str = Field(alias="TELEGRAM_SECRET_ARN", min_length=1)
    kakao_secret_arn: str = Field(alias="KAKAO_SECRET_ARN", min_length=1)
    twilio_secret_arn: str = Field(alias="TWILIO_SECRET_ARN", min_length=1)
    email_secret_arn: str = Field(alias="EMAIL_SECRET_ARN", min_length=1)


_TEMPLATES: TypeAdapter[list[WhatsAppTemplateConfig]] = TypeAdapter(list[WhatsAppTemplateConfig])


class SlaAdminSettings(_Settings):
    """sla_admin: the one base under which a notify webhook may be plain http on this machine, besides public
    HTTPS (sla/notify.py). Empty in AWS; the local runner sets its fake providers' `<base>/__fake__/hooks/`, where
    the notices are recorded in the local outbox."""

    local_hooks_base: str = Field(default="", alias="SLA_LOCAL_HOOKS_BASE", pattern=r"^(https?://\S+/)?$")


class SlaEnforcerSettings(_Settings):
    """sla_enforcer: the secret whose signing_key signs notify webhooks, and the local hooks base (as sla_admin's)."""

    webhook_secret_arn: str = Field(alias="SLA_WEBHOOK_SECRET_ARN", min_length=1)
    local_hooks_base: str = Field(default="", alias="SLA_LOCAL_HOOKS_BASE", pattern=r"^(https?://\S+/)?$")


class OrderWebhookSettings(_Settings):
    """order_webhooks: where accepted shop events are queued, and the secrets that prove them."""

    order_events_queue_url: str = Field(alias="ORDER_EVENTS_QUEUE_URL", min_length=1)
    shopify_secret_arn: str = Field(alias="SHOPIFY_SECRET_ARN", min_length=1)
    orders_secret_arn: str = Field(alias="ORDERS_SECRET_ARN", min_length=1)


class NotificationQueueSettings(_Settings):
    """Where notifications are queued for the notification sender."""

    notification_queue_url: str = Field(alias="NOTIFICATION_QUEUE_URL", min_length=1)


class NotificationSenderSettings(NotificationQueueSettings):
    """notification_sender: the provider API bases and the secrets holding send credentials (as the channel
    sender's), plus NHN Cloud's AlimTalk."""

    graph_api_base_url: str = Field(alias="GRAPH_API_BASE_URL", pattern=r"^https?://")
    instagram_graph_api_base_url: str = Field(alias="INSTAGRAM_GRAPH_API_BASE_URL", pattern=r"^https?://")
    line_api_base_url: str = Field(alias="LINE_API_BASE_URL", pattern=r"^https?://")
    telegram_api_base_url: str = Field(alias="TELEGRAM_API_BASE_URL", pattern=r"^https?://")
    twilio_api_base_url: str = Field(alias="TWILIO_API_BASE_URL", pattern=r"^https?://")
    alimtalk_api_base_url: str = Field(alias="ALIMTALK_API_BASE_URL", pattern=r"^https?://")
    alimtalk_rate_per_second: float = Field(default=300.0, alias="ALIMTALK_RATE_PER_SECOND", gt=0)
    ses_endpoint_url: str = Field(default="", alias="SES_ENDPOINT_URL")
    ses_configuration_set: str = Field(default="", alias="SES_CONFIGURATION_SET", pattern=r"^[A-Za-z0-9_-]{0,64}$")
    twilio_status_callback_url: str = Field(default="", alias="TWILIO_STATUS_CALLBACK_URL")
    whatsapp_secret_arn: str = Field(alias="WHATSAPP_SECRET_ARN", min_length=1)
    messenger_secret_arn: str = Field(alias="MESSENGER_SECRET_ARN", min_length=1)
    instagram_secret_arn: str = Field(alias="INSTAGRAM_SECRET_ARN", min_length=1)
    line_secret_arn: str = Field(alias="LINE_SECRET_ARN", min_length=1)
    telegram_secret_arn: str = Field(alias="TELEGRAM_SECRET_ARN", min_length=1)
    twilio_secret_arn: str = Field(alias="TWILIO_SECRET_ARN", min_length=1)
    email_secret_arn: str = Field(alias="EMAIL_SECRET_ARN", min_length=1)
    alimtalk_secret_arn: str = Field(alias="ALIMTALK_SECRET_ARN", min_length=1)


class AlimtalkWebhookSettings(WebhookSettings):
    secret_arn: str = Field(alias="ALIMTALK_SECRET_ARN", min_length=1)
