"""GET /openapi.json: the agents' API as OpenAPI 3.1, generated from our models by api/openapi.py's route table.

The table and template.yaml must name the same agent routes, so a route added to one and not the other fails
here; what each answer holds is checked against the running stack by schemathesis (tests/e2e)."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from infra.template import Resolver, functions, load_template
from switchboard.api.openapi import ROUTES, openapi_document
from switchboard.api.ticket_replies import WindowClosed
from switchboard.api.tickets import handle_tickets_api
from switchboard.channels.sending import WindowVerdict
from switchboard.config import AccessSettings, WhatsAppTemplateConfig
from switchboard.http import error_response

TEMPLATE = load_template()
ROUTES_OF_TEMPLATE = [route for spec in functions(TEMPLATE) for route in spec.routes]
METHODS = {"get", "put", "post", "patch", "delete", "head", "options"}


def _operations(document: dict) -> dict[str, dict]:
    return {
        f"{method.upper()} {path}": operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def _openapi_event(domain: str = "abc123.execute-api.eu-west-1.amazonaws.com") -> dict:
    """GET /openapi.json as API Gateway passes it: payload 2.0, no authorizer (the route is public)."""
    return {
        "version": "2.0",
        "routeKey": "GET /openapi.json",
        "rawPath": "/openapi.json",
        "rawQueryString": "",
        "headers": {"host": domain, "x-forwarded-proto": "https"},
        "requestContext": {
            "domainName": domain,
            "http": {"method": "GET", "path": "/openapi.json"},
            "routeKey": "GET /openapi.json",
        },
        "isBase64Encoded": False,
    }


def test_every_agent_route_of_the_template_is_described_and_nothing_else():
    # Given the routes template.yaml deploys behind the agents' JWT authorizer
    agent_routes = {f"{route.method} {route.path}" for route in ROUTES_OF_TEMPLATE if route.authorized}
    # When the document is generated
    operations = _operations(openapi_document())
    described = {key for key, operation in operations.items() if operation["security"]}
    # Then it describes exactly those, each with the bearer token, and no provider webhook
    assert described == agent_routes
    assert all(operations[key]["security"] == [{"bearerAuth": []}] for key in described)
    assert not any(path.startswith("/webhooks/") for path in openapi_document()["paths"])


def test_the_document_itself_is_the_one_public_route_described_and_the_template_deploys_it_without_authorizer():
    public = {f"{route.method} {route.path}" for route in ROUTES_OF_TEMPLATE if not route.authorized}
    operations = _operations(openapi_document())
    assert {key for key, operation in operations.items() if not operation["security"]} == {"GET /openapi.json"}
    assert "GET /openapi.json" in public


def test_each_route_names_the_role_the_gateway_asks_for_when_roles_are_scopes():
    # Given the stack deployed with roles as OAuth scopes, where API Gateway checks each route's scopes
    resolver = Resolver(TEMPLATE, {"RolesClaim": "scope", "RolePrefix": "sb/"}, "us-east-1", "123456789012")
    scopes = {f"{r.method} {r.path}": set(r.scopes_of(resolver.resolve)) for r in ROUTES_OF_TEMPLATE if r.authorized}
    # Then a route the document says needs admin admits only the admin scope, and an agent route both
    for route in ROUTES:
        expected = {"sb/admin"} if route.role and route.role.value == "admin" else {"sb/agent", "sb/admin"}
        assert scopes[route.route_key] == expected, route.route_key
        assert _operations(openapi_document())[route.route_key]["x-switchboard-role"] == route.role.value


def test_the_document_is_valid_openapi_3_1_with_valid_json_schemas():
    document = openapi_document("https://api.example.com")
    validate(document)
    assert document["openapi"].startswith("3.1")
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    assert len({route.operation_id for route in ROUTES}) == len(ROUTES)


def test_every_agent_answer_documents_the_authorizer_and_role_refusals_and_every_error_is_json():
    for key, operation in _operations(openapi_document()).items():
        if not operation["security"]:
            continue
        responses = operation["responses"]
        assert {"401", "403"} <= set(responses), key
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                assert "application/json" in response["content"], (key, status)


def test_an_answer_requires_every_field_the_handlers_write():
    # Given the models dumped with model_dump(mode="json"), which writes defaults too
    schemas = openapi_document()["components"]["schemas"]
    # Then an answer's schema requires them all (a client may rely on them), a request's only what it must
    ticket = schemas["Ticket"]
    assert set(ticket["required"]) == set(ticket["properties"])
    assert "required" not in schemas["TicketChange"]
    assert schemas["NoteRequest"]["required"] == ["text"]


def test_patch_needs_if_match_and_posts_need_an_idempotency_key():
    operations = _operations(openapi_document())

    def headers(key: str) -> dict[str, bool]:
        return {p["name"]: p["required"] for p in operations[key].get("parameters", []) if p["in"] == "header"}

    assert headers("PATCH /tickets/{ticket_id}") == {"If-Match": True}
    assert headers("POST /tickets/{ticket_id}/notes") == {"Idempotency-Key": True}
    assert headers("POST /tickets/{ticket_id}/replies") == {"Idempotency-Key": True}
    assert set(operations["PATCH /tickets/{ticket_id}"]["responses"]) >= {"200", "412", "422", "428"}


@pytest.mark.parametrize("roles_claim", ["cognito:groups", "scope"])
def test_the_tickets_api_serves_the_document_without_a_token(roles_claim):
    # Given GET /openapi.json reaching the function with no JWT claims at all
    access = AccessSettings.model_validate({"ROLES_CLAIM": roles_claim})
    # When the tickets API answers it (it never touches the store)
    answer = handle_tickets_api(_openapi_event(), store=None, access=access)  # type: ignore[arg-type]
    # Then it is the document, cacheable, naming the API's own origin as its server
    assert answer["statusCode"] == 200
    assert answer["headers"]["content-type"] == "application/json"
    assert answer["headers"]["cache-control"].startswith("public")
    document = json.loads(answer["body"])
    assert document["servers"] == [{"url": "https://abc123.execute-api.eu-west-1.amazonaws.com"}]
    assert document["paths"].keys() == openapi_document()["paths"].keys()


def _answer_schema(route_key: str, status: int) -> Draft202012Validator:
    """A validator for one documented answer's body, its refs resolved within the document."""
    document = openapi_document()
    method, path = route_key.split(" ", 1)
    schema = document["paths"][path][method.lower()]["responses"][str(status)]["content"]["application/json"]["schema"]
    return Draft202012Validator({**schema, "components": document["components"]})


@pytest.mark.parametrize(
    ("verdict", "templates"),
    [
        (
            WindowVerdict.closed("more than 24 hours since the customer's last message", ("template",)),
            [WhatsAppTemplateConfig(name="order_update", language="en_US", parameters=1)],
        ),
        (WindowVerdict.closed("a skill cannot push", ("skill_callback",), code="channel_cannot_push"), []),
    ],
    ids=["whatsapp-window-closed", "kakao-cannot-push"],
)
def test_a_refused_reply_answers_as_documented(verdict, templates):
    # Given the 409 a reply gets when its channel cannot take it now (the stack's WhatsApp tickets are fresh, so
    # schemathesis does not reach it there)
    answer = error_response(WindowClosed(verdict, templates))
    body = json.loads(answer["body"])
    # Then the body is what the document says a refused reply holds
    assert answer["statusCode"] == 409
    assert list(_answer_schema("POST /tickets/{ticket_id}/replies", 409).iter_errors(body)) == []
    assert body["allowed"] == list(verdict.allowed)
