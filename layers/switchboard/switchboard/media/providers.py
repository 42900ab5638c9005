"""Where each provider keeps an attachment's bytes and how to ask for them: the media quirks of each channel.

| channel            | attachment carries                      | download                                                        |
|--------------------|-----------------------------------------|-----------------------------------------------------------------|
| WhatsApp Cloud API | provider_media_id (media id)            | GET {graph}/{media id} with Bearer access_token -> JSON url,   |
|                    |                                         | mime_type, sha256, file_size; GET url with the same Bearer      |
| Messenger, Instagram, Kakao | url (CDN, signed)              | GET url, no credentials                                         |
| LINE               | provider_media_id (the message id)      | GET {line data}/v2/bot/message/{id}/content with Bearer         |
|                    |                                         | channel_access_token                                            |
| Telegram           | provider_media_id (file_id)             | GET {telegram}/bot<token>/getFile?file_id= -> result.file_path; |
|                    |                                         | GET {telegram}/file/bot<token>/<file_path>                      |
| Twilio (any channel) | url under the Twilio API (MediaUrlN)  | GET url with basic auth AccountSid:AuthToken; Twilio answers    |
|                    |                                         | with a redirect to a signed URL, followed without credentials  |

Credentials come from the provider's download-credentials secret (`account_secrets(secrets, channel_account_id)`),
never from a webhook signing secret, and are only ever sent to the provider's own API base URL, never to a URL
taken from a webhook. Every request, the API calls included, stays within that provider's allow-list
(`MediaProvider` -> `MediaOrigins`, media/egress.py).

Only attachments of a media kind are fetched (`FETCHED_KINDS`). A link the customer shared (Meta's `fallback`
and `share`, LINE content hosted by the sender's own server, Kakao parameters of no media type) is recorded as
an attachment of kind `link` with its URL, for the agent to open, and never requested.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import quote, urlencode

from switchboard.media.download import MediaGone, MediaTooLarge, ProviderHttp, ProviderUnavailable
from switchboard.media.egress import MAX_URL_LENGTH, MediaOrigins, RefusedDestination
from switchboard.models import Attachment, Channel
from switchboard.proof import ChannelSecrets, account_secrets

ChannelSecretsOf = Callable[[Channel], ChannelSecrets]

LINK = "link"
# The kinds whose bytes a provider holds for us. Anything else (links, locations, templates, kinds new to us)
# is kept on the message as it came and never fetched.
FETCHED_KINDS = frozenset(
    {
        "image",
        "video",
        "audio",
        "voice",
        "document",
        "file",
        "sticker",
        "animation",
        "video_note",
        "story_mention",
        "ig_reel",
        "reel",
        "ig_post",
    }
)
# LINE stickers are named by package and sticker id; LINE's content API has no bytes for them.
_NO_BYTES = {(Channel.LINE, "sticker")}


class MediaProvider(StrEnum):
    """Who serves an attachment's bytes: each has its own allow-list (template parameters MediaHosts*)."""

    WHATSAPP = "whatsapp"
    MESSENGER = "messenger"
    INSTAGRAM = "instagram"
    LINE = "line"
    TELEGRAM = "telegram"
    KAKAO = "kakao"
    TWILIO = "twilio"


def provider_of(channel: Channel, attachment: Attachment) -> MediaProvider:
    """Twilio carries SMS/MMS and WhatsApp-through-Twilio (whose attachments name a MediaUrl; Meta's own
    WhatsApp attachments name a media id only); every other channel is its own provider."""
    if channel is Channel.SMS or (channel is Channel.WHATSAPP and attachment.url):
        return MediaProvider.TWILIO
    try:
        return MediaProvider(channel.value)
    except ValueError:
        raise RefusedDestination(f"{channel.value} has no media provider to fetch from") from None


@dataclass(frozen=True)
class ProviderEndpoints:
    """The providers' API base URLs (settings, so tests and the local runner point them at a fake)."""

    graph_api: str
    line_data_api: str
    telegram_api: str
    twilio_api: str


@dataclass(frozen=True)
class MediaSource:
    """Where an attachment's bytes are, the headers that unlock them, and what the provider declared about them."""

    url: str
    headers: dict[str, str]
    mime_type: str | None = None
    size_bytes: int | None = None
    sha256: str | None = None


def has_bytes(channel: Channel, attachment: Attachment) -> bool:
    if attachment.kind not in FETCHED_KINDS or (channel, attachment.kind) in _NO_BYTES:
        return False
    if attachment.url is not None and len(attachment.url) > MAX_URL_LENGTH:
        # No provider's media URL is that long, and a job carrying it could outgrow an SQS message.
        return False
    return bool(attachment.provider_media_id or attachment.url)


def locate(
    channel: Channel,
    account_id: str,
    attachment: Attachment,
    *,
    endpoints: ProviderEndpoints,
    secrets_of: ChannelSecretsOf,
    http: ProviderHttp,
    origins: MediaOrigins,
) -> MediaSource:
    """The download for an attachment; MediaGone when it names no media a provider could hand over. `origins`
    is the attachment's provider's allow-list; the API calls made here stay within it too."""
    url = attachment.url
    if not has_bytes(channel, attachment):
        raise RefusedDestination(f"a {channel.value} attachment of kind {attachment.kind[:32]!r} is never fetched")
    if provider_of(channel, attachment) is MediaProvider.TWILIO and url and _under(url, endpoints.twilio_api):
        return _twilio(url, account_id, secrets_of)
    if channel is Channel.WHATSAPP and attachment.provider_media_id and not url:
        return _whatsapp(attachment.provider_media_id, account_id, endpoints, secrets_of, http, origins)
    if channel is Channel.LINE and attachment.provider_media_id and not url:
        return _line(attachment.provider_media_id, account_id, endpoints, secrets_of)
    if channel is Channel.TELEGRAM and attachment.provider_media_id:
        return _telegram(attachment.provider_media_id, account_id, endpoints, secrets_of, http, origins)
    if url:
        return MediaSource(url=url, headers={})
    raise MediaGone("the attachment names no media to download")


def _under(url: str, base: str) -> bool:
    base = base.rstrip("/") + "/"
    return url.startswith(base)


def _credential(secrets: ChannelSecrets, name: str, channel: Channel) -> str:
    value = secrets.get(name)
    if not isinstance(value, str) or not value:
        # An operator fixes the secret and redrives; the job must not be dropped meanwhile.
        raise ProviderUnavailable(f"the {channel.value} secret has no {name!r} for this account")
    return value


def _whatsapp(
    media_id: str,
    account_id: str,
    endpoints: ProviderEndpoints,
    secrets_of: ChannelSecretsOf,
    http: ProviderHttp,
    origins: MediaOrigins,
) -> MediaSource:
    token = _credential(account_secrets(secrets_of(Channel.WHATSAPP), account_id), "access_token", Channel.WHATSAPP)
    headers = {"Authorization": f"Bearer {token}"}
    # Meta's "Retrieve media URL": the answer's url expires after five minutes and needs the same token.
    # An unknown or expired media id is a 400 GraphMethodException (code 100) from Graph, not a 404.
    metadata = http.get_json(
        f"{endpoints.graph_api.rstrip('/')}/{quote(media_id, safe='')}",
        headers,
        origins=origins,
        gone_statuses={400, 404, 410},
    )
    if not isinstance(metadata, dict) or not isinstance(metadata.get("url"), str):
        raise ProviderUnavailable("Graph API media metadata has no url")
    return MediaSource(
        url=metadata["url"],
        headers=headers,
        mime_type=metadata.get("mime_type") if isinstance(metadata.get("mime_type"), str) else None,
        # Meta sends file_size as a string in JSON.
        size_bytes=_size(metadata.get("file_size")),
        sha256=metadata.get("sha256") if isinstance(metadata.get("sha256"), str) else None,
    )


def _line(message_id: str, account_id: str, endpoints: ProviderEndpoints, secrets_of: ChannelSecretsOf) -> MediaSource:
    token = _credential(account_secrets(secrets_of(Channel.LINE), account_id), "channel_access_token", Channel.LINE)
    return MediaSource(
        url=f"{endpoints.line_data_api.rstrip('/')}/v2/bot/message/{quote(message_id, safe='')}/content",
        headers={"Authorization": f"Bearer {token}"},
    )


def _telegram(
    file_id: str,
    account_id: str,
    endpoints: ProviderEndpoints,
    secrets_of: ChannelSecretsOf,
    http: ProviderHttp,
    origins: MediaOrigins,
) -> MediaSource:
    token = _credential(account_secrets(secrets_of(Channel.TELEGRAM), account_id), "bot_token", Channel.TELEGRAM)
    base = endpoints.telegram_api.rstrip("/")
    status, answer = http.get_error_json(
        f"{base}/bot{token}/getFile?{urlencode({'file_id': file_id})}", origins=origins
    )
    answer = answer if isinstance(answer, dict) else {}
    if status == 400:
        description = str(answer.get("description") or "").lower()
        # The Bot API hands bots files of up to 20 MB; bigger ones are refused with "file is too big".
        if "too big" in description:
            raise MediaTooLarge(None)
        raise MediaGone("Telegram refused the file id")
    result = answer.get("result")
    if (
        status != 200
        or not answer.get("ok")
        or not isinstance(result, dict)
        or not isinstance(result.get("file_path"), str)
    ):
        raise ProviderUnavailable(f"Telegram getFile answered {status}")
    return MediaSource(
        url=f"{base}/file/bot{token}/{quote(result['file_path'], safe='/')}",
        headers={},
        size_bytes=_size(result.get("file_size")),
    )


def _twilio(url: str, account_id: str, secrets_of: ChannelSecretsOf) -> MediaSource:
    # The Twilio webhook's channel is SMS or WhatsApp; its account is the AccountSid either way.
    secrets = account_secrets(secrets_of(Channel.SMS), account_id)
    # Twilio: "Authenticate using an API key as the username and an API key secret as the password" (Messaging
    # API, Media resource). An API key keeps the auth token, which signs Twilio's webhooks, out of the fetcher;
    # the account SID and auth token still work for a deployment that keeps one secret.
    if secrets.get("api_key_sid") or secrets.get("api_key_secret"):
        user, password = (
            _credential(secrets, "api_key_sid", Channel.SMS),
            _credential(secrets, "api_key_secret", Channel.SMS),
        )
    else:
        user, password = (
            _credential(secrets, "account_sid", Channel.SMS),
            _credential(secrets, "auth_token", Channel.SMS),
        )
    basic = base64.b64encode(f"{user}:{password}".encode()).decode()
    return MediaSource(url=url, headers={"Authorization": f"Basic {basic}"})


def _size(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def sha256_matches(declared: str, actual_hex: str) -> bool:
    """Meta declares sha256 as hex in the media API and as base64 in webhooks; either form is compared."""
    declared = declared.strip()
    if len(declared) == 64:
        return declared.lower() == actual_hex
    try:
        return base64.b64decode(declared, validate=True).hex() == actual_hex
    except (binascii.Error, ValueError):
        return False
