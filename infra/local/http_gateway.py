"""A local stand-in for API Gateway HTTP APIs: the template's routes, its JWT authorizer, and the
payload format 2.0 exchange with the functions (http_api_payload)."""

from __future__ import annotations

import base64
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from infra.local.http_api_payload import HttpRequest, HttpResponse, build_event, gateway_message, http_response
from infra.local.jwt import InvalidToken, JwtAuthorizer, scopes_of
from infra.local.workers import Invoker
from infra.template import FunctionSpec

log = logging.getLogger("switchboard.local")

# API Gateway's payload limit for HTTP APIs.
MAX_BODY_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class GatewayRoute:
    method: str
    path: str
    function: Invoker
    authorized: bool
    # AuthorizationScopes: a token must carry at least one of them, or API Gateway answers 403.
    scopes: tuple[str, ...] = ()

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class _CompiledRoute:
    route: GatewayRoute
    pattern: re.Pattern
    # Most specific first, as API Gateway chooses: literal paths, then {param}, then {proxy+}; ANY last.
    precedence: tuple[int, int, int, int]


def template_routes(
    specs: Iterable[FunctionSpec], invokers: Mapping[str, Invoker], resolve: Callable[[Any], Any], *, protected: bool
) -> list[GatewayRoute]:
    """The template's HttpApi events as gateway routes, each to its function's invoker. `protected` says whether the
    API has a JWT authorizer; without one no route asks for a token, as SAM deploys it."""
    return [
        GatewayRoute(
            route.method,
            route.path,
            invokers[spec.logical_id],
            route.authorized and protected,
            route.scopes_of(resolve) if route.authorized and protected else (),
        )
        for spec in specs
        for route in spec.routes
    ]


class RouteTable:
    def __init__(self, routes: Iterable[GatewayRoute]) -> None:
        compiled = [_compile(route) for route in routes]
        self._routes = sorted(compiled, key=lambda c: c.precedence)

    def match(self, method: str, path: str) -> tuple[GatewayRoute, dict[str, str]] | None:
        for candidate in self._routes:
            if candidate.route.method not in (method, "ANY"):
                continue
            found = candidate.pattern.fullmatch(path)
            if found:
                return candidate.route, {name: unquote(value) for name, value in found.groupdict().items()}
        return None


def _compile(route: GatewayRoute) -> _CompiledRoute:
    parts, params, greedy, literals = [], 0, 0, 0
    for segment in route.path.strip("/").split("/"):
        if segment.startswith("{") and segment.endswith("+}"):
            parts.append(f"(?P<{segment[1:-2]}>.+)")
            greedy += 1
        elif segment.startswith("{") and segment.endswith("}"):
            parts.append(f"(?P<{segment[1:-1]}>[^/]+)")
            params += 1
        else:
            parts.append(re.escape(segment))
            literals += 1
    pattern = re.compile("/" + "/".join(parts) if parts != [""] else "/")
    return _CompiledRoute(route, pattern, (greedy, params, -literals, int(route.method == "ANY")))


class _GatewayServer(ThreadingHTTPServer):
    daemon_threads = True
    gateway: HttpGateway


class HttpGateway:
    """Serves the template's HttpApi routes on 127.0.0.1."""

    def __init__(
        self,
        routes: Iterable[GatewayRoute],
        authorizer: JwtAuthorizer | None,
        port: int,
        pages: Mapping[str, HttpResponse] | None = None,
    ) -> None:
        self.routes = RouteTable(routes)
        self.authorizer = authorizer
        # The runner's own GET pages (Swagger UI at /docs), which no template route may shadow: the local runner's,
        # not API Gateway's.
        self.pages = dict(pages or {})
        self.api_id = secrets.token_hex(5)
        self._server = _GatewayServer(("127.0.0.1", port), _RequestHandler)
        self._server.gateway = self
        self._thread = threading.Thread(target=self._server.serve_forever, name="http-gateway", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def handle(self, request: HttpRequest) -> HttpResponse:
        request_id = base64.b64encode(secrets.token_bytes(11)).decode()
        started = time.monotonic()
        response, function_name, route_key = self._respond(request, request_id)
        response.headers.append(("apigw-requestid", request_id))
        # The route key, never the path: a path can carry a secret (Kakao's skill token in
        # /webhooks/kakao/{token}), as API Gateway's access log only names $context.routeKey.
        log.info(
            "%s -> %d%s (%d ms)",
            route_key or f"{request.method} (no route)",
            response.status,
            f" via {function_name}" if function_name else "",
            (time.monotonic() - started) * 1000,
        )
        return response

    def _respond(self, request: HttpRequest, request_id: str) -> tuple[HttpResponse, str | None, str | None]:
        if len(request.body) > MAX_BODY_BYTES:
            return gateway_message(413, "Request Entity Too Large"), None, None
        page = self.pages.get(request.raw_path) if request.method in ("GET", "HEAD") else None
        if page is not None:
            return page, None, f"GET {request.raw_path}"
        matched = self.routes.match(request.method, request.raw_path)
        if matched is None:
            return gateway_message(404, "Not Found"), None, None
        route, path_parameters = matched
        claims = None
        if route.authorized:
            if self.authorizer is None:
                return gateway_message(401, "Unauthorized"), None, route.route_key
            authorization = next((v for k, v in request.header_pairs if k.lower() == "authorization"), None)
            try:
                claims = self.authorizer.claims_of(authorization)
            except InvalidToken as exc:
                log.info("authorizer refused %s: %s", route.route_key, exc)
                return gateway_message(401, "Unauthorized"), None, route.route_key
            if not has_scope_for(route, claims):
                log.info("authorizer refused %s: the token has none of the route's scopes", route.route_key)
                return gateway_message(403, "Forbidden"), None, route.route_key
        event = build_event(
            request, route.route_key, path_parameters, api_id=self.api_id, request_id=request_id, claims=claims
        )
        invocation = route.function.invoke(event)
        if invocation.failed:
            _log_function_error(route.function.name, invocation.error or {})
        return http_response(invocation), route.function.name, route.route_key


def has_scope_for(route: GatewayRoute, claims: Mapping[str, Any]) -> bool:
    """A route with AuthorizationScopes admits a token carrying at least one of them; API Gateway answers 403 else."""
    return not route.scopes or bool(set(scopes_of(claims) or ()) & set(route.scopes))


def _log_function_error(function_name: str, error: Mapping[str, Any]) -> None:
    trace = "".join(error.get("stackTrace") or [])
    log.error("%s failed: %s: %s\n%s", function_name, error.get("errorType"), error.get("errorMessage"), trace)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "switchboard-local"
    # Idle keep-alive connections are dropped, like API Gateway's idle timeout.
    timeout = 30
    server: _GatewayServer

    def __getattr__(self, name: str) -> Any:
        # http.server looks up do_<METHOD>; every method reaches the route table, as at API Gateway, so a method
        # no route takes (TRACE, QUERY ...) is the gateway's 404, never http.server's 501.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def _serve(self) -> None:
        try:
            body = self._read_body()
        except ValueError as exc:
            self._write(gateway_message(400, f"Bad Request: {exc}"))
            return
        if body is None:
            self._write(gateway_message(413, "Request Entity Too Large"))
            self.close_connection = True
            return
        target = urlsplit(self.path)
        request = HttpRequest(
            method=self.command,
            raw_path=target.path or "/",
            raw_query=target.query,
            header_pairs=list(self.headers.items()),
            body=body,
            source_ip=self.client_address[0],
            protocol=self.request_version,
        )
        self._write(self.server.gateway.handle(request))

    def _read_body(self) -> bytes | None:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        if length > MAX_BODY_BYTES:
            return None
        return self.rfile.read(length) if length else b""

    def _read_chunked(self) -> bytes | None:
        chunks: list[bytes] = []
        total = 0
        while True:
            size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            total += size
            if total > MAX_BODY_BYTES:
                return None
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def _write(self, response: HttpResponse) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("content-length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        # Requests are logged once, with their route and function, by HttpGateway.handle.
        return
