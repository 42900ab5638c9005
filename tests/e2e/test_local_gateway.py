"""The local API Gateway: payload format 2.0 events as AWS builds them, its JWT authorizer, its response mapping."""

from __future__ import annotations

import base64
import http.client
import json
import logging
import string
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra.local import jwt
from infra.local.http_api_payload import http_response, is_textual
from infra.local.http_gateway import GatewayRoute, HttpGateway
from infra.local.workers import Invocation
from tests.e2e.local_stack import eventually

pytestmark = pytest.mark.e2e

ISSUER, AUDIENCE = "https://issuer.test", "switchboard-test"
KEY = b"k" * 32


class RecordingFunction:
    def __init__(self, name: str, reply: Invocation) -> None:
        self.name = name
        self.reply = reply
        self.events: list[dict[str, Any]] = []

    def invoke(self, event):
        self.events.append(event)
        return self.reply


@pytest.fixture(scope="module")
def functions() -> dict[str, RecordingFunction]:
    return {
        "things": RecordingFunction("Things", Invocation(result={"statusCode": 201, "body": "made"})),
        "private": RecordingFunction("Private", Invocation(result={"statusCode": 200, "body": "secret"})),
        "broken": RecordingFunction("Broken", Invocation(error={"errorType": "KeyError", "errorMessage": "'x'"})),
        "plain": RecordingFunction("Plain", Invocation(result={"ok": True})),
    }


@pytest.fixture(autouse=True)
def _fresh_recordings(functions) -> None:
    for function in functions.values():
        function.events.clear()


@pytest.fixture(scope="module")
def gateway(functions) -> Iterator[HttpGateway]:
    routes = [
        GatewayRoute("POST", "/things/{thing_id}/parts", functions["things"], authorized=False),
        GatewayRoute("GET", "/private", functions["private"], authorized=True),
        GatewayRoute("GET", "/scoped", functions["private"], authorized=True, scopes=("sb/agent", "sb/admin")),
        GatewayRoute("GET", "/broken", functions["broken"], authorized=False),
        GatewayRoute("GET", "/plain", functions["plain"], authorized=False),
    ]
    server = HttpGateway(routes, jwt.JwtAuthorizer(ISSUER, (AUDIENCE,), KEY), port=0)
    server.start()
    yield server
    server.stop()


def _send(gateway: HttpGateway, method: str, target: str, headers: list[tuple[str, str]], body: bytes = b""):
    host, port = gateway.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    connection.putrequest(method, target, skip_accept_encoding=True)
    for name, value in headers:
        connection.putheader(name, value)
    if body:
        connection.putheader("Content-Length", str(len(body)))
    connection.endheaders(body or None)
    response = connection.getresponse()
    result = response.status, response.getheaders(), response.read()
    connection.close()
    return result


def test_request_becomes_the_payload_2_event_api_gateway_sends(gateway, functions):
    # Given a request with repeated headers and query parameters, cookies, a path parameter and a JSON body
    headers = [
        ("X-Repeated", "one"),
        ("X-Repeated", "two"),
        ("Cookie", "a=1; b=2"),
        ("Content-Type", "application/json"),
    ]

    # When it reaches a route
    status, _, body = _send(
        gateway, "POST", "/things/blue%20box/parts?size=1&size=2&empty=&slash=%2F", headers, b'{"n":1}'
    )

    # Then the function gets the event API Gateway would build and its response goes back as is
    assert (status, body) == (201, b"made")
    (event,) = functions["things"].events
    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /things/{thing_id}/parts"
    assert event["rawPath"] == "/things/blue%20box/parts"
    assert event["rawQueryString"] == "size=1&size=2&empty=&slash=%2F"
    assert event["queryStringParameters"] == {"size": "1,2", "empty": "", "slash": "/"}
    assert event["pathParameters"] == {"thing_id": "blue box"}
    assert event["headers"]["x-repeated"] == "one,two"
    assert event["cookies"] == ["a=1", "b=2"]
    assert "cookie" not in event["headers"]
    assert (event["body"], event["isBase64Encoded"]) == ('{"n":1}', False)
    context = event["requestContext"]
    assert context["http"]["method"] == "POST"
    assert context["http"]["path"] == "/things/blue%20box/parts"
    assert context["http"]["sourceIp"] == "127.0.0.1"
    assert context["routeKey"] == event["routeKey"]
    assert context["stage"] == "$default"
    assert abs(context["timeEpoch"] / 1000 - time.time()) < 5
    assert "authorizer" not in context


@pytest.mark.parametrize(
    ("content_type", "body"),
    [("application/octet-stream", b"\x00\x01\xff"), ("application/json", b"\xff\xfe not utf-8"), (None, b"raw")],
)
def test_binary_bodies_arrive_base64_encoded(gateway, functions, content_type, body):
    # Given a body API Gateway does not treat as text
    headers = [("Content-Type", content_type)] if content_type else []

    # When it is POSTed
    _send(gateway, "POST", "/things/x/parts", headers, body)

    # Then the function receives it base64-encoded and can recover the exact bytes
    (event,) = functions["things"].events
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == body


def test_textual_content_types():
    assert all(
        is_textual(t)
        for t in [
            "text/plain; charset=utf-8",
            "application/json",
            "application/x-www-form-urlencoded",
            "application/vnd.api+json",
        ]
    )
    assert not any(is_textual(t) for t in [None, "", "image/png", "application/octet-stream", "multipart/form-data"])


def test_authorized_route_refuses_requests_without_a_valid_token_before_the_function_runs(gateway, functions):
    # Given no token, a token for another audience, and an expired token
    other_audience = jwt.encode({"sub": "a", "iss": ISSUER, "aud": "other", "exp": time.time() + 60}, KEY)
    expired = jwt.encode({"sub": "a", "iss": ISSUER, "aud": AUDIENCE, "exp": time.time() - 1}, KEY)

    # When each calls the authorized route
    answers = [
        _send(gateway, "GET", "/private", headers)
        for headers in ([], [("Authorization", f"Bearer {other_audience}")], [("Authorization", f"Bearer {expired}")])
    ]

    # Then API Gateway's 401 comes back and the function never runs
    assert [(status, json.loads(body)) for status, _, body in answers] == [(401, {"message": "Unauthorized"})] * 3
    assert functions["private"].events == []


def test_verified_claims_reach_the_function_as_strings(gateway, functions):
    # Given the dev token of this issuer and audience
    token = jwt.dev_token(KEY, ISSUER, AUDIENCE)

    # When it calls the authorized route
    status, _, _ = _send(gateway, "GET", "/private", [("Authorization", f"Bearer {token}")])

    # Then the function sees the claims as API Gateway passes them: all strings, lists as "[a b]"
    assert status == 200
    authorizer = functions["private"].events[0]["requestContext"]["authorizer"]["jwt"]
    assert authorizer["claims"]["sub"] == "dev-agent"
    assert authorizer["claims"]["aud"] == AUDIENCE
    assert authorizer["claims"]["exp"].isdigit()
    assert authorizer["claims"]["cognito:groups"] == "[agent]"
    assert authorizer["scopes"] is None


def test_a_scoped_route_admits_a_token_with_one_of_its_scopes_and_forbids_the_rest(gateway, functions):
    # Given a route that requires sb/agent or sb/admin, and tokens with one, the other, a wrong one, or none
    def token(role, prefix="sb/"):
        return jwt.dev_token(KEY, ISSUER, AUDIENCE, role, roles_claim="scope", role_prefix=prefix)

    tokens = [token("agent"), token("admin"), token("agent", prefix="other/"), token("none")]
    # When each calls it
    answers = [_send(gateway, "GET", "/scoped", [("Authorization", f"Bearer {t}")]) for t in tokens]
    # Then API Gateway's 403 comes back for the last two and the function runs only for the first two
    assert [(status, json.loads(body)) for status, _, body in answers[2:]] == [(403, {"message": "Forbidden"})] * 2
    assert [status for status, _, _ in answers[:2]] == [200, 200]
    assert [e["requestContext"]["authorizer"]["jwt"]["scopes"] for e in functions["private"].events] == [
        ["openid", "sb/agent"],
        ["openid", "sb/agent", "sb/admin"],
    ]


def test_function_error_is_api_gateways_internal_server_error(gateway):
    status, headers, body = _send(gateway, "GET", "/broken", [])
    assert (status, json.loads(body)) == (502, {"message": "Internal Server Error"})
    assert "apigw-requestid" in {name.lower() for name, _ in headers}


def test_result_without_status_code_is_a_200_json_body(gateway):
    status, headers, body = _send(gateway, "GET", "/plain", [])
    assert (status, json.loads(body)) == (200, {"ok": True})
    assert {k.lower(): v for k, v in headers}["content-type"] == "application/json"


def test_unknown_route_or_method_is_not_found(gateway, functions):
    assert [_send(gateway, m, p, [])[0] for m, p in [("GET", "/nowhere"), ("GET", "/things/x/parts")]] == [404, 404]
    assert functions["things"].events == []


def test_structured_response_mapping():
    binary = http_response(
        Invocation(
            result={
                "statusCode": 200,
                "headers": {"content-type": "image/png", "x-flag": True},
                "cookies": ["s=1; HttpOnly", "t=2"],
                "body": base64.b64encode(b"\x89PNG").decode(),
                "isBase64Encoded": True,
            }
        )
    )
    assert binary.status == 200
    assert binary.body == b"\x89PNG"
    assert [v for k, v in binary.headers if k == "set-cookie"] == ["s=1; HttpOnly", "t=2"]
    assert ("x-flag", "true") in binary.headers
    assert http_response(Invocation(result="hello")).body == b"hello"
    assert http_response(Invocation(result={"statusCode": "abc"})).status == 502
    assert http_response(Invocation(result={"statusCode": 200, "body": {"not": "a string"}})).status == 502


class _Captured(logging.Handler):
    """Every line the local runner's logger writes, formatted as the runner writes it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextmanager
def _runner_log() -> Iterator[_Captured]:
    captured = _Captured()
    logger = logging.getLogger("switchboard.local")
    previous = logger.level
    logger.addHandler(captured)
    logger.setLevel(logging.DEBUG)
    try:
        yield captured
    finally:
        logger.removeHandler(captured)
        logger.setLevel(previous)


SECRET_ALPHABET = string.ascii_letters + string.digits + "-_.~"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(secret=st.text(SECRET_ALPHABET, min_size=16, max_size=64))
def test_no_part_of_a_request_url_reaches_the_gateways_log(gateway, secret):
    # Given a secret carried in a path parameter (Kakao's /webhooks/kakao/{token}), in an unknown path,
    # in a query string and in a refused bearer token
    requests = [
        ("POST", f"/things/{secret}/parts", []),
        ("GET", f"/nowhere/{secret}", []),
        ("GET", f"/plain?token={secret}", []),
        ("GET", "/private", [("Authorization", f"Bearer {secret}")]),
    ]
    # When each goes through the gateway
    with _runner_log() as log:
        for method, target, headers in requests:
            _send(gateway, method, target, headers)
    # Then every request was logged, by its route key, and the secret appears in no line
    assert len(log.lines) >= len(requests)
    assert any(line.startswith("POST /things/{thing_id}/parts -> 201") for line in log.lines), log.lines
    assert not [line for line in log.lines if secret in line]


def test_kakaos_path_token_never_reaches_the_runners_log(local_stack):
    # Given Kakao calling the skill URL that carries the skill token in its path
    from tests.e2e.test_channel_kakao import a_customer, skill_token, ticket_of
    from tests.support.drivers.kakao import encode, skill_payload

    token = skill_token(local_stack)
    customer = a_customer()
    body = encode(skill_payload(user_id=customer, utterance="토큰은 로그에 남지 않아요"))
    # When the gateway, the webhook, the writer and the pollers have all handled it
    answered = local_stack.request(
        "POST", f"/webhooks/kakao/{token}", body, {"Content-Type": "application/json;charset=UTF-8"}
    )
    assert answered.status == 200
    eventually(lambda: ticket_of(local_stack, customer), timeout=15, what="the Kakao ticket")
    # Then the runner's log (the gateway's lines and every function's output) names the route, never the token
    log = eventually(
        lambda: (
            (text := local_stack.log_path.read_text(errors="replace"))
            and "/webhooks/kakao/{token} -> 200" in text
            and text
        ),
        timeout=5,
        what="the gateway's line for the Kakao request",
    )
    assert token not in log
