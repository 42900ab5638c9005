"""HTTP to the providers' media APIs: warm connection pools per container, bounded waits, and retries that
follow the provider's own back-off (429 and 5xx, honouring Retry-After) before the queue takes over. Every
hop is checked against the provider's allow-list and the public address ranges first (media/egress.py).

Nothing here logs or raises with a URL in it: Telegram puts the bot token in the path, and CDN URLs are
signed. Errors name the provider's answer (status code), never the request.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import urllib3
from urllib3.util.retry import Retry

from switchboard.media.egress import (
    Destination,
    MediaOrigins,
    Origin,
    RefusedDestination,
    Resolver,
    check,
    origin_of,
    resolve_host,
)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
GONE_STATUSES = frozenset({404, 410})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
USER_AGENT = "switchboard-media-fetcher/1.0"
# Connection pools kept per (origin, address); a fetcher talks to a handful of provider hosts.
MAX_POOLS = 16


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
                raise ProviderUnavailable(
                    f"provider asked to wait {seconds:.0f}s (Retry-After); leaving it to the queue"
                )
            return seconds

    tries = policy.attempts - 1
    return ProviderRetry(
        total=None,
        connect=tries,
        read=tries,
        status=tries,
        other=0,
        # Redirects are followed by ProviderHttp itself, one checked hop at a time.
        redirect=False,
        allowed_methods=frozenset({"GET"}),
        status_forcelist=RETRY_STATUSES,
        backoff_factor=policy.backoff_factor,
        backoff_max=policy.backoff_max,
        respect_retry_after_header=True,
        raise_on_status=False,
    )


class ProviderHttp:
    """GETs against provider APIs and CDNs; created once per container (its pools keep connections warm).

    Every request names the allow-list it must stay within (`origins`); each hop, redirects included, is
    checked by `egress.check` and connected to the address that was checked, with the certificate verified
    for the host name (SNI and hostname check on the name, the TCP connection on the address)."""

    def __init__(self, policy: DownloadPolicy | None = None, *, resolve: Resolver | None = None) -> None:
        self.policy = policy or DownloadPolicy()
        self._resolve = resolve or resolve_host
        self._retry = _retry(self.policy)
        self._timeout = urllib3.Timeout(
            connect=self.policy.connect_timeout_seconds, read=self.policy.read_timeout_seconds
        )
        self._pools: OrderedDict[tuple[Origin, str], urllib3.HTTPConnectionPool] = OrderedDict()
        self._lock = threading.Lock()

    def get_json(
        self, url: str, headers: Mapping[str, str] | None = None, *, origins: MediaOrigins, gone_statuses=GONE_STATUSES
    ) -> Any:
        """A provider API's JSON answer; MediaGone on the statuses given, ProviderUnavailable on anything else not 2xx."""
        response = self._get(url, headers, origins=origins, preload=True)
        if response.status in gone_statuses:
            raise MediaGone(f"provider answered {response.status}")
        if response.status != 200:
            raise ProviderUnavailable(f"provider answered {response.status}")
        try:
            return json.loads(response.data)
        except ValueError:
            raise ProviderUnavailable("provider answered with a body that is not JSON") from None

    def get_error_json(
        self, url: str, headers: Mapping[str, str] | None = None, *, origins: MediaOrigins
    ) -> tuple[int, Any]:
        """Status and JSON body of an API that explains its 4xx answers in JSON (Telegram); retried like any GET."""
        response = self._get(url, headers, origins=origins, preload=True)
        try:
            return response.status, json.loads(response.data)
        except ValueError:
            return response.status, None

    def open(
        self, url: str, headers: Mapping[str, str] | None = None, *, origins: MediaOrigins
    ) -> urllib3.BaseHTTPResponse:
        """The media response with its body still unread, to be streamed; the caller releases it."""
        response = self._get(url, headers, origins=origins, preload=False)
        if 200 <= response.status < 300 and response.status != 202:
            return response
        response.drain_conn()
        response.release_conn()
        if response.status in GONE_STATUSES:
            raise MediaGone(f"provider answered {response.status}")
        # 202: LINE is still preparing a video or audio file; 401/403: credentials a redrive can fix.
        raise ProviderUnavailable(f"provider answered {response.status}")

    def _get(
        self, url: str, headers: Mapping[str, str] | None, *, origins: MediaOrigins, preload: bool
    ) -> urllib3.BaseHTTPResponse:
        sent = dict(headers or {})
        for _ in range(self.policy.max_redirects + 1):
            destination = check(url, origins, self._resolve)
            response = self._request(destination, sent, preload=preload)
            location = response.headers.get("Location") if response.status in REDIRECT_STATUSES else None
            if not location:
                return response
            response.drain_conn()
            response.release_conn()
            url = urljoin(url, location)
            if origin_of(url)[0] != destination.origin:
                # Credentials never follow a redirect to another origin (Twilio redirects media to a signed
                # URL on its CDN, which refuses a second authorization anyway).
                sent = {}
        raise RefusedDestination(f"media location redirects more than {self.policy.max_redirects} times")

    def _request(self, destination: Destination, headers: dict[str, str], *, preload: bool) -> urllib3.BaseHTTPResponse:
        failure = "no address"
        for address in destination.addresses:
            try:
                return self._pool(destination.origin, address).urlopen(
                    "GET",
                    destination.target,
                    headers={**headers, "Host": destination.host_header, "User-Agent": USER_AGENT},
                    redirect=False,
                    assert_same_host=False,
                    retries=self._retry,
                    preload_content=preload,
                )
            except urllib3.exceptions.MaxRetryError as exc:
                failure = type(exc.reason).__name__
                if isinstance(
                    exc.reason, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError)
                ):
                    continue  # the name's next checked address
                raise ProviderUnavailable(f"provider unreachable ({failure})") from None
            except urllib3.exceptions.HTTPError as exc:
                # str(exc) quotes the URL (with Telegram, the bot token): name the failure only.
                raise ProviderUnavailable(f"provider unreachable ({type(exc).__name__})") from None
        raise ProviderUnavailable(f"provider unreachable ({failure})")

    def _pool(self, origin: Origin, address: str) -> urllib3.HTTPConnectionPool:
        key = (origin, address)
        with self._lock:
            pool = self._pools.pop(key, None)
            if pool is None:
                if origin.scheme == "https":
                    # Connect to the checked address, but speak TLS to the name: SNI and the certificate check
                    # use the host name, so a CDN's certificate is verified exactly as with a name lookup.
                    pool = urllib3.HTTPSConnectionPool(
                        address,
                        origin.port,
                        maxsize=2,
                        timeout=self._timeout,
                        retries=self._retry,
                        server_hostname=origin.host,
                        assert_hostname=origin.host,
                        cert_reqs="CERT_REQUIRED",
                    )
                else:
                    pool = urllib3.HTTPConnectionPool(
                        address, origin.port, maxsize=2, timeout=self._timeout, retries=self._retry
                    )
            self._pools[key] = pool
            while len(self._pools) > MAX_POOLS:
                _, evicted = self._pools.popitem(last=False)
                evicted.close()
        return pool


class MeteredBody:
    """Reads a media response for upload, hashing and counting as it goes; past `limit` bytes it stops
    with MediaTooLarge, which aborts the upload. `head()` reads the first bytes ahead (to sniff the media
    type) and hands them out again first."""

    def __init__(self, response: urllib3.BaseHTTPResponse, limit: int) -> None:
        self._response = response
        self._limit = limit
        self._digest = hashlib.sha256()
        self._ahead = b""
        self.size_bytes = 0

    def head(self, amount: int) -> bytes:
        if len(self._ahead) < amount:
            self._ahead += self._read_response(amount - len(self._ahead))
        return self._ahead[:amount]

    def read(self, amount: int = -1) -> bytes:
        wanted = amount if amount is not None and amount >= 0 else None
        if self._ahead:
            chunk, self._ahead = (
                (self._ahead, b"")
                if wanted is None or wanted >= len(self._ahead)
                else (
                    self._ahead[:wanted],
                    self._ahead[wanted:],
                )
            )
            if wanted is None:
                chunk += self._read_response(None)
        else:
            chunk = self._read_response(wanted)
        self.size_bytes += len(chunk)
        if self.size_bytes > self._limit:
            raise MediaTooLarge(None)
        self._digest.update(chunk)
        return chunk

    def _read_response(self, amount: int | None) -> bytes:
        try:
            return self._response.read(amount)
        except urllib3.exceptions.HTTPError as exc:
            raise ProviderUnavailable(f"media download broke off ({type(exc).__name__})") from None

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()
