"""Per-container wiring: AWS clients and collaborators are built lazily, once, and handed to logic.

Handlers call these; logic never does, so tests pass their own (moto-backed) collaborators.
`reset()` forgets everything, for tests that switch environments.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Protocol

from switchboard.config import (
    AccessSettings,
    AlimtalkWebhookSettings,
    EmailIntakeSettings,
    HeldMailReleaseSettings,
    InstagramWebhookSettings,
    KakaoWebhookSettings,
    LineWebhookSettings,
    MailEventsSettings,
    MailWebhookSettings,
    MediaFetcherSettings,
    MediaQueueSettings,
    MessengerWebhookSettings,
    NotificationQueueSettings,
    NotificationSenderSettings,
    OrderWebhookSettings,
    OutboundQueueSettings,
    ReplySettings,
    RuleSetActivatorSettings,
    SenderSettings,
    SlaAdminSettings,
    SlaEnforcerSettings,
    TableSettings,
    TelegramWebhookSettings,
    TicketCloserSettings,
    TwilioWebhookSettings,
    WhatsAppWebhookSettings,
)

if TYPE_CHECKING:
    from switchboard.media.download import ProviderHttp
    from switchboard.media.fetch import MediaFetcher
    from switchboard.media.jobs import MediaJobQueue
    from switchboard.notifications.models import NotificationRules
    from switchboard.notifications.queue import NotificationQueue
    from switchboard.orders.queue import OrderEventQueue
    from switchboard.outbound.queue import OutboundQueue
    from switchboard.outbound.sender import ChannelSender
    from switchboard.proactive.sender import NotificationSender
    from switchboard.proof import ChannelSecrets
    from switchboard.queue import InboundQueue
    from switchboard.sla.notify import SlaNoticeSender
    from switchboard.store.repositories import Repositories

SECRET_MAX_AGE_SECONDS = 300

_WIRED: list = []


def wired(build):
    """Builds once per container, like functools.cache, and is forgotten by `reset()`: registering here is
    the only way to cache in this module, so no cache can be left out of the reset."""
    cached = cache(build)
    _WIRED.append(cached)
    return cached


@wired
def _client(service: str):
    import boto3
    from botocore.config import Config

    # Short timeouts: a webhook must answer the provider quickly, and a stuck call is retried by the queue.
    config = Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3})
    # The service name is one of ours, not a Literal the SDK's overloads list.
    return boto3.client(service, config=config)  # type: ignore[call-overload]


@wired
def _secrets_provider():
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    return SecretsProvider(boto3_client=_client("secretsmanager"))


def secret_source(secret_arn: str) -> Callable[[], ChannelSecrets]:
    """A reader of one channel's secret JSON, cached for five minutes so rotation takes effect without a deploy."""

    def read() -> ChannelSecrets:
        value = _secrets_provider().get(secret_arn, transform="json", max_age=SECRET_MAX_AGE_SECONDS)
        return value if isinstance(value, dict) else {}

    return read


@wired
def whatsapp_settings() -> WhatsAppWebhookSettings:
    return WhatsAppWebhookSettings.from_env()


@wired
def messenger_settings() -> MessengerWebhookSettings:
    return MessengerWebhookSettings.from_env()


@wired
def instagram_settings() -> InstagramWebhookSettings:
    return InstagramWebhookSettings.from_env()


@wired
def line_settings() -> LineWebhookSettings:
    return LineWebhookSettings.from_env()


@wired
def telegram_settings() -> TelegramWebhookSettings:
    return TelegramWebhookSettings.from_env()


@wired
def kakao_settings() -> KakaoWebhookSettings:
    return KakaoWebhookSettings.from_env()


@wired
def twilio_settings() -> TwilioWebhookSettings:
    return TwilioWebhookSettings.from_env()


@wired
def inbound_queue(queue_url: str) -> InboundQueue:
    from switchboard.queue import InboundQueue

    return InboundQueue(_client("sqs"), queue_url)


@wired
def repositories() -> Repositories:
    from switchboard.store.repositories import Repositories

    return Repositories.on(_client("dynamodb"), TableSettings.from_env().table_name)


@wired
def media_jobs() -> MediaJobQueue:
    from switchboard.media.jobs import MediaJobQueue

    return MediaJobQueue(_client("sqs"), MediaQueueSettings.from_env().media_queue_url)


@wired
def _provider_http() -> ProviderHttp:
    from switchboard.media.download import ProviderHttp

    return ProviderHttp()


@wired
def media_fetcher() -> MediaFetcher:
    from switchboard.media.egress import MediaOrigins
    from switchboard.media.fetch import MediaFetcher
    from switchboard.media.providers import MediaProvider, ProviderEndpoints
    from switchboard.models import Channel
    from switchboard.store.attachments_bucket import AttachmentBucket

    settings = MediaFetcherSettings.from_env()
    secret_sources = {
        Channel.WHATSAPP: secret_source(settings.whatsapp_media_secret_arn),
        Channel.LINE: secret_source(settings.line_media_secret_arn),
        Channel.TELEGRAM: secret_source(settings.telegram_media_secret_arn),
        Channel.SMS: secret_source(settings.twilio_media_secret_arn),
    }
    return MediaFetcher(
        store=repositories().messages,
        bucket=AttachmentBucket(_client("s3"), settings.attachments_bucket),
        http=_provider_http(),
        endpoints=ProviderEndpoints(
            graph_api=settings.graph_api_base_url,
            line_data_api=settings.line_data_api_base_url,
            telegram_api=settings.telegram_api_base_url,
            twilio_api=settings.twilio_api_base_url,
        ),
        secrets_of=lambda channel: secret_sources[channel](),
        max_bytes=settings.max_bytes,
        origins={MediaProvider(name): MediaOrigins.parse(hosts) for name, hosts in settings.media_origins().items()},
    )


@wired
def email_intake_settings() -> EmailIntakeSettings:
    return EmailIntakeSettings.from_env()


@wired
def mail_webhook_settings() -> MailWebhookSettings:
    return MailWebhookSettings.from_env()


@wired
def mail_events_settings() -> MailEventsSettings:
    return MailEventsSettings.from_env()


@wired
def mail_bucket(bucket_name: str):
    from switchboard.store.mail_bucket import MailBucket

    return MailBucket(_client("s3"), bucket_name)


@wired
def mail_receiver() -> Callable[[str], object]:
    """email_inbound's collaborators: receives one raw mail from the mail bucket onto the inbound queue."""
    from switchboard.email.intake import Mailboxes, receive_mail
    from switchboard.email.reply_address import reply_token_keys
    from switchboard.store.attachments_bucket import AttachmentBucket

    settings = email_intake_settings()
    secret = secret_source(settings.secret_arn)

    def receive(key: str):
        return receive_mail(
            key,
            mail_bucket=mail_bucket(settings.mail_bucket),
            attachments=AttachmentBucket(_client("s3"), settings.attachments_bucket),
            queue=inbound_queue(settings.inbound_queue_url),
            mailboxes=Mailboxes(domains=settings.domains, default_mailbox=settings.default_mailbox.lower()),
            reply_token_keys=lambda: reply_token_keys(secret()),
        )

    return receive


@wired
def held_mail_release_settings() -> HeldMailReleaseSettings:
    return HeldMailReleaseSettings.from_env()


@wired
def access_settings() -> AccessSettings:
    return AccessSettings.from_env()


@wired
def ticket_closer_settings() -> TicketCloserSettings:
    return TicketCloserSettings.from_env()


@wired
def rule_set_activator_settings() -> RuleSetActivatorSettings:
    return RuleSetActivatorSettings.from_env()


def ses_client():
    return _client("ses")


@wired
def outbound_queue_settings() -> OutboundQueueSettings:
    return OutboundQueueSettings.from_env()


@wired
def reply_settings() -> ReplySettings:
    return ReplySettings.from_env()


@wired
def whatsapp_templates():
    return reply_settings().whatsapp_templates()


@wired
def outbound_queue(queue_url: str) -> OutboundQueue:
    from switchboard.outbound.queue import OutboundQueue

    return OutboundQueue(_client("sqs"), queue_url)


@wired
def sender_settings() -> SenderSettings:
    return SenderSettings.from_env()


@wired
def channel_sender() -> ChannelSender:
    """The sender's collaborators: provider HTTP and SES without retries of their own (whether a send may be
    repeated is each provider's rule, outbound/sender.py), the send credentials, the attachments bucket."""
    import boto3

    from switchboard.email.outgoing import UnsendableMail
    from switchboard.email.sender import EmailSender, ses_client_config
    from switchboard.models import Channel
    from switchboard.outbound.adapters import sending_adapter
    from switchboard.outbound.mail_thread import MailThreads
    from switchboard.outbound.pacing import Pacer
    from switchboard.outbound.requests import RequestBuilder
    from switchboard.outbound.sender import ChannelSender
    from switchboard.store.attachments_bucket import AttachmentBucket

    settings = sender_settings()
    sources = {
        Channel.WHATSAPP: secret_source(settings.whatsapp_secret_arn),
        Channel.MESSENGER: secret_source(settings.messenger_secret_arn),
        Channel.INSTAGRAM: secret_source(settings.instagram_secret_arn),
        Channel.LINE: secret_source(settings.line_secret_arn),
        Channel.TELEGRAM: secret_source(settings.telegram_secret_arn),
        Channel.KAKAO: secret_source(settings.kakao_secret_arn),
        Channel.SMS: secret_source(settings.twilio_secret_arn),
        Channel.EMAIL: secret_source(settings.email_secret_arn),
    }
    # No retry by the SDK: a timed-out SendEmail may have sent the mail (email/sender.py).
    ses = boto3.client("sesv2", config=ses_client_config(), endpoint_url=settings.ses_endpoint_url or None)
    bucket = AttachmentBucket(_client("s3"), settings.attachments_bucket)
    store = repositories()

    # A mail reply embeds its attachments; SES takes up to 40 MB of raw mail (email/outgoing.py).
    def read_attachment(key: str) -> bytes:
        found = bucket.read(key, max_bytes=30 * 1024 * 1024)
        if found is None:
            raise UnsendableMail("attachment_missing", "an attachment is no longer in the attachments bucket")
        return found

    mail_sender = EmailSender(read_attachment=read_attachment, configuration_set=settings.ses_configuration_set or None)

    def adapter_of(channel: Channel, account_id: str):
        return mail_sender if channel is Channel.EMAIL else sending_adapter(channel, account_id)

    def secrets_of(channel: Channel, account_id: str = ""):
        from switchboard.channels.twilio import sends_through_twilio

        # WhatsApp through Twilio is sent with Twilio's credentials.
        return sources[Channel.SMS if sends_through_twilio(channel, account_id) else channel]()

    return ChannelSender(
        store=store,
        context=_send_context(settings, ses),
        secrets_of=secrets_of,
        adapter_of=adapter_of,
        pacer=Pacer(store.send_rates),
        build_request=RequestBuilder(
            bucket.presigned_url,
            twilio_status_callback_url=settings.twilio_status_callback_url or None,
            email_of=MailThreads(store, reply_key=lambda: secrets_of(Channel.EMAIL)).email_of,
        ),
    )


class _ProviderBases(Protocol):
    graph_api_base_url: str
    instagram_graph_api_base_url: str
    line_api_base_url: str
    telegram_api_base_url: str
    twilio_api_base_url: str


def _send_context(settings: _ProviderBases, ses, *, alimtalk: str = ""):
    """What replies and notifications send through alike: provider HTTP without retries of its own (whether a send
    may be repeated is each provider's rule), the providers' base URLs, and SES."""
    from switchboard.channels.sending import SendContext, SendEndpoints, SendHttp

    return SendContext(
        http=SendHttp(),
        endpoints=SendEndpoints(
            graph=settings.graph_api_base_url,
            instagram_graph=settings.instagram_graph_api_base_url,
            line_api=settings.line_api_base_url,
            telegram=settings.telegram_api_base_url,
            twilio=settings.twilio_api_base_url,
            alimtalk=alimtalk,
        ),
        ses=ses,
    )


@wired
def sla_admin_settings() -> SlaAdminSettings:
    return SlaAdminSettings.from_env()


@wired
def sla_notice_sender() -> SlaNoticeSender:
    """Delivers SLA notices: signed webhooks over one urllib3 pool (the key from Secrets Manager, cached as every
    secret) and SNS publishes."""
    import urllib3

    from switchboard.sla.notify import SlaNoticeSender, SnsNotifier, WebhookNotifier, signing_key_of

    settings = SlaEnforcerSettings.from_env()
    secret = secret_source(settings.webhook_secret_arn)
    webhooks = WebhookNotifier(
        urllib3.PoolManager(retries=False), lambda: signing_key_of(secret()), settings.local_hooks_base
    )
    return SlaNoticeSender(webhooks, SnsNotifier(_client("sns")))


@wired
def order_webhook_settings() -> OrderWebhookSettings:
    return OrderWebhookSettings.from_env()


@wired
def order_event_queue(queue_url: str) -> OrderEventQueue:
    from switchboard.orders.queue import OrderEventQueue

    return OrderEventQueue(_client("sqs"), queue_url)


def order_secrets() -> Callable[[str], ChannelSecrets]:
    """The secrets proving each door's shop events: Shopify's app client secret, the generic endpoint's signing key."""
    settings = order_webhook_settings()
    sources = {
        "shopify": secret_source(settings.shopify_secret_arn),
        "generic": secret_source(settings.orders_secret_arn),
    }

    def of(source: str) -> ChannelSecrets:
        return sources[str(source)]()

    return of


@wired
def notification_queue() -> NotificationQueue:
    from switchboard.notifications.queue import NotificationQueue

    return NotificationQueue(_client("sqs"), NotificationQueueSettings.from_env().notification_queue_url)


def notification_rules() -> NotificationRules:
    """The admin's notification rules as saved now: read on every use (one GetItem), so a save applies at once."""
    return repositories().notification_rules.in_force()


@wired
def alimtalk_settings() -> AlimtalkWebhookSettings:
    return AlimtalkWebhookSettings.from_env()


@wired
def notification_sender() -> NotificationSender:
    """The notification sender's collaborators: as the channel sender's (provider HTTP without retries, SES without
    SDK retries, the send credentials), plus NHN Cloud's AlimTalk; no attachments (notifications carry none)."""
    import boto3

    from switchboard.email.sender import EmailSender, ses_client_config
    from switchboard.models import Channel, NotifyChannel
    from switchboard.outbound.adapters import sending_adapter
    from switchboard.outbound.pacing import Pacer
    from switchboard.proactive.sender import NotificationSender

    settings = NotificationSenderSettings.from_env()
    sources = {
        NotifyChannel.WHATSAPP: secret_source(settings.whatsapp_secret_arn),
        NotifyChannel.MESSENGER: secret_source(settings.messenger_secret_arn),
        NotifyChannel.INSTAGRAM: secret_source(settings.instagram_secret_arn),
        NotifyChannel.LINE: secret_source(settings.line_secret_arn),
        NotifyChannel.TELEGRAM: secret_source(settings.telegram_secret_arn),
        NotifyChannel.SMS: secret_source(settings.twilio_secret_arn),
        NotifyChannel.EMAIL: secret_source(settings.email_secret_arn),
        NotifyChannel.ALIMTALK: secret_source(settings.alimtalk_secret_arn),
    }
    ses = boto3.client("sesv2", config=ses_client_config(), endpoint_url=settings.ses_endpoint_url or None)
    mail_sender = EmailSender(configuration_set=settings.ses_configuration_set or None)
    store = repositories()

    def adapter_of(channel: NotifyChannel, account_id: str):
        if channel is NotifyChannel.ALIMTALK:
            from switchboard.channels.alimtalk import ALIMTALK

            return ALIMTALK
        if channel is NotifyChannel.EMAIL:
            return mail_sender
        return sending_adapter(channel.timeline_channel, account_id)

    def secrets_of(channel: NotifyChannel, account_id: str = ""):
        from switchboard.channels.twilio import sends_through_twilio

        return sources[
            NotifyChannel.SMS if sends_through_twilio(Channel(channel.timeline_channel), account_id) else channel
        ]()

    return NotificationSender(
        store=store,
        context=_send_context(settings, ses, alimtalk=settings.alimtalk_api_base_url),
        secrets_of=secrets_of,
        adapter_of=adapter_of,
        pacer=Pacer(store.send_rates, alimtalk_rate=settings.alimtalk_rate_per_second),
        rules_of=notification_rules,
        status_callback_url=settings.twilio_status_callback_url or None,
    )


@wired
def cloudformation_responder():
    from switchboard.custom_resources.receipt_rule_set import CloudFormationResponder

    return CloudFormationResponder()


def reset() -> None:
    """Forgets every client, setting and collaborator built so far (all of them: each is `@wired`)."""
    for cached in _WIRED:
        cached.cache_clear()
