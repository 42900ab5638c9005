"""HTTP to the providers' media APIs: one connection pool per container, bounded waits, and retries that
follow the provider's own back-off (429 and 5xx, honouring Retry-After) before the queue takes over.

Nothing here logs or raises with a URL in it: Telegram puts the bot token in the path, and CDN URLs are
signed. Errors name the provider's answer (status code), never the request.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import urllib3
from urllib3.util.retry import Retry

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
GONE_STATUSES = frozenset({404, 410})
USER_AGENT = "switchboard-media-fetcher/1.0"


class ProviderUnavailable(Exception):
    """The provider did not hand the media over this time (busy, failing, credentials refused, not ready yet).
    The job goes back to the queue, which redelivers it and finally dead-letters it for a redrive."""


class MediaGone(Exception):
    """The provider says the media does not exist (expired or deleted): retrying cannot help."""


class MediaTooLarge(Exception):
    """The media is bigger than the configured maximum; `size_bytes` is what we know of its size."""

    def __init__(self, size_bytes: int | None) -> None:
        super().__init__("media exceeds the configured maximum size")
        self.size_bytes = size_bytes


@dataclass(frozen=True)
class DownloadPolicy:
    """How long one invocation keeps trying before it leaves the job to the queue's redelivery."""

    attempts: int = 4
    backoff_factor: float = 0.5
    backoff_max: float = 8.0
    # A longer Retry-After than this is not waited out inside a Lambda invocation: the queue redelivers later.
    max_retry_after_seconds: float = 20.0
    connect_timeout_seconds: float = 3.0
    read_timeout_seconds: float = 20.0
    max_redirects: int = 5


def _retry(policy: DownloadPolicy) -> Retry:
    class ProviderRetry(Retry):
        def get_retry_after(self, response) -> float | None:
            seconds = super().get_retry_after(response)
            if seconds is not None and seconds > policy.max_retry_after_seconds:
                raise ProviderUnavailable(f"provider asked to wait {seconds:.0f}s (Retry-After); leaving it to the queue")
            return seconds

    tries = policy.attempts - 1
    return ProviderRetry(
        total=None,
        connect=tries,
        read=tries,
        status=tries,
        other=0,
        redirect=policy.max_redirects,
        allowed_methods=frozenset({"GET"}),
        status_forcelist=RETRY_STATUSES,
        backoff_factor=policy.backoff_factor,
        backoff_max=policy.backoff_max,
        respect_retry_after_header=True,
        raise_on_status=False,
        # Credentials never follow a redirect to another host (Twilio redirects media to a signed S3 URL,
        # which refuses a second authorization anyway).
        remove_headers_on_redirect=Retry.DEFAULT_REMOVE_HEADERS_ON_REDIRECT,
    )


class ProviderHttp:
    """GETs against provider APIs and CDNs; created once per container (its pool keeps connections warm)."""

    def __init__(self, policy: DownloadPolicy | None = None) -> None:
        self.policy = policy or DownloadPolicy()
        self._pool = urllib3.PoolManager(
            num_pools=8,
            maxsize=2,
            timeout=urllib3.Timeout(connect=self.policy.connect_timeout_seconds, read=self.policy.read_timeout_seconds),
            retries=_retry(self.policy),
            headers={"User-Agent": USER_AGENT},
        )

    def get_json(self, url: str, headers: Mapping[str, str] | None = None, *, gone_statuses=GONE_STATUSES) -> Any:
        """A provider API's JSON answer; MediaGone on the statuses given, ProviderUnavailable on anything else not 2xx."""
        response = self._get(url, headers, preload=True)
        if response.status in gone_statuses:
            raise MediaGone(f"provider answered {response.status}")
        if response.status != 200:
            raise ProviderUnavailable(f"provider answered {response.status}")
        try:
            return json.loads(response.data)
        except ValueError:
            raise ProviderUnavailable("provider answered with a body that is not JSON") from None

    def get_error_json(self, url: str, headers: Mapping[str, str] | None = None) -> tuple[int, Any]:
        """Status and JSON body of an API that explains its 4xx answers in JSON (Telegram); retried like any GET."""
        response = self._get(url, headers, preload=True)
        try:
            return response.status, json.loads(response.data)
        except ValueError:
            return response.status, None

    def open(self, url: str, headers: Mapping[str, str] | None = None) -> urllib3.BaseHTTPResponse:
        """The media response with its body still unread, to be streamed; the caller releases it."""
        response = self._get(url, headers, preload=False)
        if 200 <= response.status < 300 and response.status != 202:
            return response
        response.drain_conn()
        response.release_conn()
        if response.status in GONE_STATUSES:
            raise MediaGone(f"provider answered {response.status}")
        # 202: LINE is still preparing a video or audio file; 401/403: credentials a redrive can fix.
        raise ProviderUnavailable(f"provider answered {response.status}")

    def _get(self, url: str, headers: Mapping[str, str] | None, *, preload: bool) -> urllib3.BaseHTTPResponse:
        if not url.lower().startswith(("https://", "http://")):
            raise MediaGone("media location is not an HTTP URL")
        try:
            return self._pool.request("GET", url, headers=dict(headers or {}), preload_content=preload)
        except urllib3.exceptions.HTTPError as exc:
            # str(exc) quotes the URL (with Telegram, the bot token): name the failure only.
            raise ProviderUnavailable(f"provider unreachable ({type(exc).__name__})") from None


class MeteredBody:
    """Reads a media response for upload, hashing and counting as it goes; past `limit` bytes it stops
    with MediaTooLarge, which aborts the upload."""

    def __init__(self, response: urllib3.BaseHTTPResponse, limit: int) -> None:
        self._response = response
        self._limit = limit
        self._digest = hashlib.sha256()
        self.size_bytes = 0

    def read(self, amount: int = -1) -> bytes:
        try:
            chunk = self._response.read(amount if amount is not None and amount >= 0 else None)
        except urllib3.exceptions.HTTPError as exc:
            raise ProviderUnavailable(f"media download broke off ({type(exc).__name__})") from None
        self.size_bytes += len(chunk)
        if self.size_bytes > self._limit:
            raise MediaTooLarge(None)
        self._digest.update(chunk)
        return chunk

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()
