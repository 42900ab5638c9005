"""A fake of the providers' media APIs on 127.0.0.1, speaking each one's real request and response shapes.

| provider | request                                                   | answer                                             |
|----------|-----------------------------------------------------------|----------------------------------------------------|
| Meta Graph (WhatsApp) | GET /graph/v21.0/<media id>, Bearer access token | {"messaging_product", "url", "mime_type", "sha256", "file_size" (a string), "id"} |
|          | GET /graph/whatsapp_business/attachments/?mid=<media id>, same Bearer | the bytes                        |
| LINE     | GET /line-data/v2/bot/message/<message id>/content, Bearer channel access token | the bytes                  |
| Telegram | GET /telegram/bot<token>/getFile?file_id=<file id>       | {"ok": true, "result": {"file_id", "file_unique_id", "file_size", "file_path"}} |
|          | GET /telegram/file/bot<token>/<file path>                 | the bytes                                          |
| Twilio   | GET /twilio/2010-04-01/Accounts/<AC>/Messages/<MM>/Media/<ME>, basic auth | 307 to a signed URL on another host (like Twilio's) |
|          | GET /twilio-cdn/<ME> (that signed URL; refuses any Authorization header, as S3 does) | the bytes        |
| CDN      | GET /cdn/<name> (Messenger, Instagram, Kakao)             | the bytes, or a redirect registered for the name   |

The send APIs, the local outbox (`GET /__fake__/sent`) and the signed delivery receipts are the outbound
half (infra/fakes/outbound.py), one module per provider (infra/fakes/outbound_<provider>.py).

Tests register media and inject faults in-process; the local runner's users do it over HTTP:
`PUT /__fake__/<provider>/<id>` with the bytes as body and their Content-Type (provider: whatsapp, line,
telegram, twilio (id "<AC>/<MM>/<ME>"), cdn) answers {"url": ..., "sha256": ...}; `GET /__fake__/requests`
answers the request count per path.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from infra.fakes.outbound import (
    OUTBOUND_PROVIDERS,
    FakeContext,
    OutboundCall,
    Receipt,
    SigningSecrets,
    load_outbound_providers,
    sent_entry,
)

GRAPH_VERSION = "v21.0"
TELEGRAM_BOT_DOWNLOAD_LIMIT = 20 * 1024 * 1024  # "bots can download files of up to 20MB in size" (Bot API getFile)


@dataclass(frozen=True)
class Media:
    content: bytes
    mime_type: str
    chunked: bool = False  # served with Transfer-Encoding: chunked, without Content-Length

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass
class Fault:
    """What the next `times` requests for a path get instead of the real answer."""

    times: int
    status: int | None = None
    retry_after: str | None = None
    delay_seconds: float = 0.0


@dataclass
class Credentials:
    whatsapp_access_token: str = "fake-whatsapp-access-token"
    messenger_page_access_token: str = "fake-messenger-page-access-token"
    instagram_access_token: str = "fake-instagram-access-token"
    line_channel_access_token: str = "fake-line-channel-access-token"
    telegram_bot_token: str = "123456:fake-telegram-bot-token"
    twilio_account_sid: str = "AC00000000000000000000000000000000"
    twilio_auth_token: str = "fake-twilio-auth-token"
    # Twilio accepts an API key (SID and secret) in place of the account SID and auth token.
    twilio_api_key_sid: str = "SK00000000000000000000000000000000"
    twilio_api_key_secret: str = "fake-twilio-api-key-secret"
    # NHN Cloud's AlimTalk (infra/fakes/outbound_alimtalk.py): the app key in the path, the secret key in X-Secret-Key.
    alimtalk_app_key: str = "fake-alimtalk-app-key"
    alimtalk_secret_key: str = "fake-alimtalk-secret-key"


@dataclass
class _State:
    credentials: Credentials = field(default_factory=Credentials)
    whatsapp: dict[str, Media] = field(default_factory=dict)
    line: dict[str, Media] = field(default_factory=dict)
    telegram: dict[str, tuple[str, Media]] = field(default_factory=dict)  # file id -> (file path, media)
    twilio: dict[str, Media] = field(default_factory=dict)  # "<AC>/<MM>/<ME>"
    cdn: dict[str, Media] = field(default_factory=dict)
    redirects: dict[str, tuple[int, str]] = field(default_factory=dict)  # cdn name -> (status, Location)
    faults: dict[str, list[Fault]] = field(default_factory=dict)
    requests: Counter = field(default_factory=Counter)
    signing: SigningSecrets = field(default_factory=SigningSecrets)
    sent: list[dict[str, Any]] = field(default_factory=list)  # oldest first; shown newest first
    calls: list[OutboundCall] = field(default_factory=list)
    receipts: list[Receipt] = field(default_factory=list)  # held for tests when no sink is set
    lock: threading.Lock = field(default_factory=threading.Lock)


class FakeProviders:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        load_outbound_providers()
        self._state = _State()
        # Where receipts go once a send is answered: None holds them for take_receipts().
        self.receipt_sink: Callable[[Receipt], None] | None = None
        self._server = ThreadingHTTPServer((host, port), _handler_for(self._state, self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def other_host_url(self) -> str:
        """The same server under another host name: where Twilio's redirect goes (credentials must not follow)."""
        return f"http://localhost:{self._server.server_address[1]}"

    def start(self) -> FakeProviders:
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-providers", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()

    def reset(self) -> None:
        """Forgets media, faults, counts, the sent log and what each send API remembers (credentials stay)."""
        with self._state.lock:
            credentials, signing = self._state.credentials, self._state.signing
            self._state.__init__()  # type: ignore[misc]
            self._state.credentials, self._state.signing = credentials, signing
        for provider in OUTBOUND_PROVIDERS:
            forget = getattr(provider, "reset", None)
            if callable(forget):
                forget()

    def template_parameters(self) -> dict[str, str]:
        """template.yaml parameter values that point the media fetcher here, and allow it this server's exact
        origin and nothing else on 127.0.0.1 (Twilio's list also names the host its redirect goes to)."""
        own = self.base_url
        return {
            "GraphApiBaseUrl": f"{self.base_url}/graph/{GRAPH_VERSION}",
            "LineDataApiBaseUrl": f"{self.base_url}/line-data",
            "TelegramApiBaseUrl": f"{self.base_url}/telegram",
            "TwilioApiBaseUrl": f"{self.base_url}/twilio",
            "LineApiBaseUrl": f"{self.base_url}/line-api",
            # One fake Graph serves both hosts' paths (/<id>/messages), as the two APIs share their shapes.
            "InstagramGraphApiBaseUrl": f"{self.base_url}/graph/{GRAPH_VERSION}",
            "SesEndpointUrl": f"{self.base_url}/ses",
            "AlimtalkApiBaseUrl": f"{self.base_url}/alimtalk-api",
            # SLA notify webhooks under it are recorded in the fake outbox (GET <base>/__fake__/sent): the only
            # plain-http webhook a policy may name, and on a local run the only one called.
            "SlaLocalHooksBase": f"{self.base_url}/__fake__/hooks/",
            "MediaHostsWhatsApp": own,
            "MediaHostsMessenger": own,
            "MediaHostsInstagram": own,
            "MediaHostsLine": own,
            "MediaHostsTelegram": own,
            "MediaHostsKakao": own,
            "MediaHostsTwilio": f"{own},{self.other_host_url}",
        }

    def use_channel_secrets(self, secrets: dict[str, dict[str, str]]) -> None:
        """Accepts the credentials the stack's secrets hold (by channel name, as provisioned): the download
        credentials' secrets (`<channel>_media`) where there are any, else the channel's own."""
        defaults = Credentials()

        def of(channel: str) -> dict[str, str]:
            return {**(secrets.get(channel) or {}), **(secrets.get(f"{channel}_media") or {})}

        whatsapp, line, telegram, twilio = of("whatsapp"), of("line"), of("telegram"), of("twilio")
        signing = SigningSecrets()
        self.use_signing_secrets(
            SigningSecrets(
                whatsapp_app_secret=(secrets.get("whatsapp") or {}).get("app_secret", signing.whatsapp_app_secret),
                messenger_app_secret=(secrets.get("messenger") or {}).get("app_secret", signing.messenger_app_secret),
                instagram_app_secret=(secrets.get("instagram") or {}).get("app_secret", signing.instagram_app_secret),
                twilio_auth_token=(secrets.get("twilio") or {}).get("auth_token", signing.twilio_auth_token),
                alimtalk_webhook_secret=(secrets.get("alimtalk") or {}).get(
                    "webhook_secret", signing.alimtalk_webhook_secret
                ),
            )
        )
        self.use_credentials(
            Credentials(
                whatsapp_access_token=whatsapp.get("access_token", defaults.whatsapp_access_token),
                messenger_page_access_token=of("messenger").get(
                    "page_access_token", defaults.messenger_page_access_token
                ),
                instagram_access_token=of("instagram").get("access_token", defaults.instagram_access_token),
                line_channel_access_token=line.get("channel_access_token", defaults.line_channel_access_token),
                telegram_bot_token=telegram.get("bot_token", defaults.telegram_bot_token),
                twilio_account_sid=twilio.get("account_sid", defaults.twilio_account_sid),
                twilio_auth_token=twilio.get("auth_token", defaults.twilio_auth_token),
                twilio_api_key_sid=twilio.get("api_key_sid", defaults.twilio_api_key_sid),
                twilio_api_key_secret=twilio.get("api_key_secret", defaults.twilio_api_key_secret),
                alimtalk_app_key=of("alimtalk").get("app_key", defaults.alimtalk_app_key),
                alimtalk_secret_key=of("alimtalk").get("secret_key", defaults.alimtalk_secret_key),
            )
        )

    def use_signing_secrets(self, signing: SigningSecrets) -> None:
        with self._state.lock:
            self._state.signing = signing

    @property
    def signing(self) -> SigningSecrets:
        return self._state.signing

    # -- the outbound half ----------------------------------------------------------------------

    def sent(self) -> list[dict[str, Any]]:
        """Every request made to a send API, newest first (GET /__fake__/sent)."""
        with self._state.lock:
            return list(reversed(self._state.sent))

    def calls(self, provider: str | None = None) -> list[OutboundCall]:
        """The send API requests as received, oldest first, for tests that check a request's exact shape."""
        with self._state.lock:
            return [call for call in self._state.calls if provider is None or call.provider == provider]

    def take_receipts(self) -> list[Receipt]:
        """The receipts posted since the last call, oldest first (when no receipt sink is set)."""
        with self._state.lock:
            taken, self._state.receipts = self._state.receipts, []
        return taken

    def _post_receipts(self, receipts: list[Receipt]) -> None:
        sink = self.receipt_sink
        if sink is None:
            with self._state.lock:
                self._state.receipts.extend(receipts)
            return
        for receipt in receipts:
            sink(receipt)

    def use_credentials(self, credentials: Credentials) -> None:
        with self._state.lock:
            self._state.credentials = credentials

    @property
    def credentials(self) -> Credentials:
        return self._state.credentials

    # -- media ----------------------------------------------------------------------------------

    def add_whatsapp_media(self, media_id: str, content: bytes, mime_type: str) -> Media:
        return self._add(self._state.whatsapp, media_id, Media(content, mime_type))

    def add_line_content(self, message_id: str, content: bytes, mime_type: str) -> Media:
        return self._add(self._state.line, message_id, Media(content, mime_type))

    def add_telegram_file(self, file_id: str, content: bytes, mime_type: str, file_path: str | None = None) -> Media:
        media = Media(content, mime_type)
        with self._state.lock:
            self._state.telegram[file_id] = (file_path or f"documents/file_{len(self._state.telegram)}", media)
        return media

    def add_twilio_media(self, message_sid: str, media_sid: str, content: bytes, mime_type: str) -> str:
        """Registers media of the configured account; returns its MediaUrl as Twilio's webhook names it."""
        account = self._state.credentials.twilio_account_sid
        self._add(self._state.twilio, f"{account}/{message_sid}/{media_sid}", Media(content, mime_type))
        return f"{self.base_url}/twilio/2010-04-01/Accounts/{account}/Messages/{message_sid}/Media/{media_sid}"

    def add_cdn_media(self, name: str, content: bytes, mime_type: str, *, chunked: bool = False) -> str:
        self._add(self._state.cdn, name, Media(content, mime_type, chunked))
        return f"{self.base_url}/cdn/{quote(name)}"

    def add_cdn_redirect(self, name: str, location: str, *, status: int = 302) -> str:
        """GET /cdn/<name> answers `status` with this Location (a CDN, or an attacker's host, redirecting)."""
        with self._state.lock:
            self._state.redirects[name] = (status, location)
        return f"{self.base_url}/cdn/{quote(name)}"

    def _add(self, registry: dict[str, Media], key: str, media: Media) -> Media:
        with self._state.lock:
            registry[key] = media
        return media

    # -- faults and observation -----------------------------------------------------------------

    def fail(self, path: str, *, status: int, times: int = 1, retry_after: str | None = None) -> None:
        """The next `times` requests for `path` (no query) are answered `status`, with Retry-After if given."""
        self._add_fault(path, Fault(times=times, status=status, retry_after=retry_after))

    def stall(self, path: str, *, seconds: float, times: int = 1) -> None:
        """The next `times` requests for `path` wait `seconds` before answering normally (timeouts)."""
        self._add_fault(path, Fault(times=times, delay_seconds=seconds))

    def _add_fault(self, path: str, fault: Fault) -> None:
        with self._state.lock:
            self._state.faults.setdefault(path, []).append(fault)

    def requests_to(self, path: str) -> int:
        with self._state.lock:
            return self._state.requests[path]

    def request_counts(self) -> dict[str, int]:
        with self._state.lock:
            return dict(self._state.requests)

    @staticmethod
    def graph_metadata_path(media_id: str) -> str:
        return f"/graph/{GRAPH_VERSION}/{media_id}"

    @staticmethod
    def graph_download_path() -> str:
        return "/graph/whatsapp_business/attachments/"


def _next_fault(state: _State, path: str) -> Fault | None:
    """Counts a request to `path` and takes the fault injected for it, if any (the caller holds the lock)."""
    state.requests[path] += 1
    pending = state.faults.get(path) or []
    fault = pending[0] if pending else None
    if fault is not None:
        fault.times -= 1
        if fault.times <= 0:
            pending.pop(0)
    return fault


def _handler_for(state: _State, fake: FakeProviders) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            path, query = url.path, parse_qs(url.query)
            if path == "/__fake__/requests":
                return self._json(200, fake.request_counts())
            if path == "/__fake__/sent":
                return self._json(200, fake.sent())
            with state.lock:
                fault = _next_fault(state, path)
            if self._answered_by(fault):
                return
            self._serve(path, query)

        def do_POST(self) -> None:
            url = urlsplit(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            provider = next((p for p in OUTBOUND_PROVIDERS if p.handles(url.path)), None)
            if provider is None:
                return self._json(404, {"error": "no such endpoint"})
            call = OutboundCall(provider.name, "POST", url.path, url.query, dict(self.headers.items()), body)
            now = datetime.now(UTC)
            with state.lock:
                entry = sent_entry(call, now)
                state.sent.append(entry)
                state.calls.append(call)
                fault = _next_fault(state, url.path)
            if self._answered_by(fault):
                entry["status"] = fault.status if fault is not None else None
                return
            context = FakeContext(state.credentials, state.signing, fake.base_url, now)
            answer, receipts = provider.answer(call, context)
            # The local outbox shows what the provider answered too (its message id, or its error).
            entry["status"] = answer.status
            entry["answer"] = None if isinstance(answer.body, bytes) else answer.body
            if answer.also_sent:
                with state.lock:
                    state.sent.extend(answer.also_sent)
            # Held receipts are ready before the answer, so a test may take them as soon as the send returns; a
            # sink gets them after it, as a real provider posts its webhooks once it has answered.
            held = fake.receipt_sink is None
            if receipts and held:
                fake._post_receipts(receipts)
            if isinstance(answer.body, bytes):
                self._respond(answer.status, answer.body, "application/octet-stream", dict(answer.headers))
            else:
                self._json(answer.status, answer.body, dict(answer.headers))
            if receipts and not held:
                fake._post_receipts(receipts)

        def do_PUT(self) -> None:
            path = urlsplit(self.path).path
            parts = path.split("/", 3)
            if len(parts) != 4 or parts[1] != "__fake__":
                return self._json(404, {"error": "not found"})
            provider, key = parts[2], unquote(parts[3])
            content = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            mime_type = self.headers.get("Content-Type") or "application/octet-stream"
            if provider == "whatsapp":
                url = fake.base_url + fake.graph_metadata_path(key)
                media = fake.add_whatsapp_media(key, content, mime_type)
            elif provider == "line":
                media = fake.add_line_content(key, content, mime_type)
                url = f"{fake.base_url}/line-data/v2/bot/message/{key}/content"
            elif provider == "telegram":
                media = fake.add_telegram_file(key, content, mime_type)
                url = None
            elif provider == "twilio" and key.count("/") == 2:
                _, message_sid, media_sid = key.split("/")
                url = fake.add_twilio_media(message_sid, media_sid, content, mime_type)
                media = Media(content, mime_type)
            elif provider == "cdn":
                url = fake.add_cdn_media(key, content, mime_type)
                media = Media(content, mime_type)
            else:
                return self._json(404, {"error": f"unknown provider {provider!r}"})
            self._json(200, {"url": url, "sha256": media.sha256, "size": len(content)})

        # -- providers --------------------------------------------------------------------------

        def _serve(self, path: str, query: dict[str, list[str]]) -> None:
            credentials = state.credentials
            graph = f"/graph/{GRAPH_VERSION}/"
            if path == FakeProviders.graph_download_path():
                if not self._bearer(credentials.whatsapp_access_token):
                    return
                return self._media(state.whatsapp.get((query.get("mid") or [""])[0]))
            if path.startswith(graph):
                if not self._bearer(credentials.whatsapp_access_token):
                    return
                media_id = unquote(path[len(graph) :])
                media = state.whatsapp.get(media_id)
                if media is None:
                    # Graph's answer for an unknown or expired media id.
                    return self._json(
                        400,
                        {"error": {"message": "Unsupported get request.", "type": "GraphMethodException", "code": 100}},
                    )
                return self._json(
                    200,
                    {
                        "messaging_product": "whatsapp",
                        "url": f"{fake.base_url}{FakeProviders.graph_download_path()}?mid={quote(media_id)}&ext=1749416400&hash=ATu",
                        "mime_type": media.mime_type,
                        "sha256": media.sha256,
                        "file_size": str(len(media.content)),
                        "id": media_id,
                    },
                )
            if path.startswith("/line-data/v2/bot/message/") and path.endswith("/content"):
                if not self._bearer(credentials.line_channel_access_token):
                    return
                message_id = unquote(path[len("/line-data/v2/bot/message/") : -len("/content")])
                return self._media(state.line.get(message_id), not_found={"message": "Not found"})
            telegram_bot = f"/telegram/bot{credentials.telegram_bot_token}/"
            if path == telegram_bot + "getFile":
                file_id = (query.get("file_id") or [""])[0]
                found = state.telegram.get(file_id)
                if found is None:
                    return self._json(
                        400, {"ok": False, "error_code": 400, "description": "Bad Request: invalid file_id"}
                    )
                file_path, media = found
                if len(media.content) > TELEGRAM_BOT_DOWNLOAD_LIMIT:
                    return self._json(
                        400, {"ok": False, "error_code": 400, "description": "Bad Request: file is too big"}
                    )
                result = {
                    "file_id": file_id,
                    "file_unique_id": "AgAD" + file_id[-6:],
                    "file_size": len(media.content),
                    "file_path": file_path,
                }
                return self._json(200, {"ok": True, "result": result})
            telegram_file = f"/telegram/file/bot{credentials.telegram_bot_token}/"
            if path.startswith(telegram_file):
                file_path = unquote(path[len(telegram_file) :])
                media = next((m for p, m in state.telegram.values() if p == file_path), None)
                return self._media(media)
            if path.startswith("/telegram/"):
                return self._json(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
            if path.startswith("/twilio/2010-04-01/Accounts/"):
                return self._twilio(path, credentials)
            if path.startswith("/twilio-cdn/"):
                if self.headers.get("Authorization"):
                    # S3 refuses a presigned URL that also carries an Authorization header.
                    return self._json(400, {"Code": "InvalidArgument", "Message": "Only one auth mechanism allowed"})
                return self._media(state.twilio.get(unquote(path[len("/twilio-cdn/") :])))
            if path.startswith("/cdn/"):
                name = unquote(path[len("/cdn/") :])
                if name in state.redirects:
                    status, location = state.redirects[name]
                    return self._respond(status, b"", "text/plain", {"Location": location})
                return self._media(state.cdn.get(name))
            self._json(404, {"error": "no such endpoint"})

        def _twilio(self, path: str, credentials: Credentials) -> None:
            accepted = {
                "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
                for user, password in (
                    (credentials.twilio_account_sid, credentials.twilio_auth_token),
                    (credentials.twilio_api_key_sid, credentials.twilio_api_key_secret),
                )
            }
            if self.headers.get("Authorization") not in accepted:
                return self._json(401, {"code": 20003, "message": "Authenticate", "status": 401})
            parts = path.split("/")  # '', twilio, 2010-04-01, Accounts, AC, Messages, MM, Media, ME
            if len(parts) != 9 or parts[3] != "Accounts" or parts[5] != "Messages" or parts[7] != "Media":
                return self._json(
                    404, {"code": 20404, "message": "The requested resource was not found", "status": 404}
                )
            key = f"{parts[4]}/{parts[6]}/{parts[8]}"
            if key not in state.twilio:
                return self._json(
                    404, {"code": 20404, "message": "The requested resource was not found", "status": 404}
                )
            # Twilio answers a media URL with a temporary redirect to a signed URL on its media CDN.
            self._respond(
                307, b"", "text/plain", {"Location": f"{fake.other_host_url}/twilio-cdn/{quote(key, safe='')}"}
            )

        # -- plumbing ---------------------------------------------------------------------------

        def _answered_by(self, fault: Fault | None) -> bool:
            """Waits out an injected fault's delay; True when its status is the answer (sent here)."""
            if fault is None:
                return False
            time.sleep(fault.delay_seconds)
            if fault.status is None:
                return False
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            self._json(fault.status, {"error": {"message": "injected fault", "code": fault.status}}, headers)
            return True

        def _bearer(self, token: str) -> bool:
            if self.headers.get("Authorization") == f"Bearer {token}":
                return True
            self._json(
                401, {"error": {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190}}
            )
            return False

        def _media(self, media: Media | None, not_found: dict[str, Any] | None = None) -> None:
            if media is None:
                return self._json(404, not_found or {"error": "not found"})
            if media.chunked:
                return self._chunked(media)
            self._respond(200, media.content, media.mime_type)

        def _chunked(self, media: Media) -> None:
            self.send_response(200)
            self.send_header("Content-Type", media.mime_type)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                for start in range(0, len(media.content), 65536):
                    piece = media.content[start : start + 65536]
                    self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client stopped reading (a size limit)

        def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            self._respond(status, json.dumps(body).encode(), "application/json", headers)

        def _respond(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout under test, or a size limit)

    return Handler
