"""The admin API of the SLA rules (api/sla_admin.py) without AWS: a refused body lists every problem at its place,
If-Match refuses a stale save, only admins reach it, and a dry run shows the policy and each metric's clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from switchboard.api.sla_admin import dry_run, handle_sla_admin
from switchboard.config import AccessSettings
from switchboard.models import Channel, Requester, Ticket, TicketStatus
from switchboard.sla.policies import NO_RULES, SlaPolicy, SlaRules
from switchboard.sla.schedules import ScheduleRules, schedule_from
from switchboard.store.tickets import VersionedTicket
from tests.support.lambda_events import ADMIN_CLAIMS, AGENT_CLAIMS, NO_ROLE_CLAIMS, HttpResponse, http_api_event

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
ROUTES = [
    "GET /admin/sla-policies",
    "PUT /admin/sla-policies",
    "POST /admin/sla-policies/dry-run",
    "GET /admin/schedules",
    "GET /admin/schedules/{schedule_id}",
    "PUT /admin/schedules/{schedule_id}",
]
SEOUL_OFFICE = ScheduleRules.model_validate(
    {
        "name": "Seoul office",
        "time_zone": "Asia/Seoul",
        "intervals": [
            {"day": day, "start": start, "end": end}
            for day in ("mon", "tue", "wed", "thu", "fri")
            for start, end in (("09:00", "12:00"), ("13:00", "18:00"))
        ],
    }
)


def chat_policy(**fields: Any) -> dict[str, Any]:
    return {
        "name": "Chat",
        "conditions": {"channel": ["whatsapp"]},
        "targets": {"normal": {"first_reply": {"minutes": 60}, "resolution": {"minutes": 480}}},
        "warn_before": {"percent": 50},
        **fields,
    }


def rules_with(*policies: dict[str, Any], version: int = 3, schedules: tuple[str, ...] = ()) -> SlaRules:
    return SlaRules(
        version=version,
        policies=tuple(SlaPolicy.model_validate(policy) for policy in policies),
        schedules={
            schedule_id: schedule_from(schedule_id, SEOUL_OFFICE, version=2, saved_at=NOW - timedelta(days=30))
            for schedule_id in schedules
        },
        updated_at=NOW - timedelta(days=1),
    )


def ticket(created_at: datetime, **fields: Any) -> Ticket:
    return Ticket(
        id="t_0123456789abcdef01234567",
        number=7,
        status=TicketStatus.NEW,
        channel=Channel.WHATSAPP,
        channel_account_id="106540352242922",
        conversation_key="whatsapp:106540352242922:16505551234",
        subject="배송 문의",
        requester=Requester(contact_id="c_1", display_name="김민준"),
        created_at=created_at,
        updated_at=created_at,
        **fields,
    )


class ReadOnlyRules:
    """The rules as they stand at one version; these tests answer before anything is saved."""

    def __init__(self, rules: SlaRules) -> None:
        self._rules = rules

    def current(self) -> SlaRules:
        return self._rules

    def save_policies(self, *args: Any, **kwargs: Any) -> SlaRules:
        raise AssertionError("a refused request saved the rules")

    save_schedule = save_policies


def call(
    route_key: str,
    *,
    body: Any = None,
    path: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    claims: dict[str, str] | None = ADMIN_CLAIMS,
    rules: SlaRules = NO_RULES,
    tickets: tuple[Ticket, ...] = (),
    raw_body: bytes | None = None,
) -> HttpResponse:
    method, path_template = route_key.split(" ", 1)
    raw_path = path_template
    for name, value in (path or {}).items():
        raw_path = raw_path.replace(f"{{{name}}}", value)
    records = {found.id: VersionedTicket(found, 1) for found in tickets}
    store = SimpleNamespace(sla_rules=ReadOnlyRules(rules), tickets=SimpleNamespace(ticket_record=records.get))
    event = http_api_event(
        method=method,
        path=raw_path,
        route_key=route_key,
        headers={"content-type": "application/json", **(headers or {})},
        path_parameters=path,
        body=raw_body if raw_body is not None else (json.dumps(body).encode() if body is not None else None),
        claims=claims,
    )
    answer = handle_sla_admin(event, store=store, access=AccessSettings(), local_hooks_base="", now=NOW)
    return HttpResponse.of(answer)


def places(response: HttpResponse) -> dict[tuple, str]:
    assert (response.status, response.json()["error"]) == (400, "invalid_request"), response
    return {tuple(problem["loc"]): problem["msg"] for problem in response.json()["errors"]}


# -- every problem, at its place -----------------------------------------------------------------------------------


def test_a_refused_policy_list_names_every_problem_at_its_place_in_the_body():
    # Given rules with one schedule, and a list with a target of 0 minutes, an unknown schedule, a plain-http
    # webhook, and a business-hours target in a policy without a schedule
    rules = rules_with(schedules=("seoul-office",))
    wrong = chat_policy(
        schedule_id="berlin-office",
        targets={"normal": {"first_reply": {"minutes": 0}}},
        escalations=[{"level": 1, "actions": [{"type": "notify", "webhook_url": "http://hooks.example/sla"}]}],
    )
    unscheduled = chat_policy(name="Mail", targets={"high": {"resolution": {"minutes": 60, "business_hours": True}}})
    # When an admin saves it
    found = places(call("PUT /admin/sla-policies", body={"policies": [wrong, unscheduled]}, rules=rules))
    # Then every problem is answered at once, each where it is in the body
    assert found.keys() == {
        ("policies", 0, "targets", "normal", "first_reply", "minutes"),
        ("policies", 0, "schedule_id"),
        ("policies", 0, "escalations", 0, "actions", 0, "webhook_url"),
        ("policies", 1),
    }
    assert found[("policies", 0, "targets", "normal", "first_reply", "minutes")] == (
        "Input should be greater than or equal to 1"
    )
    assert found[("policies", 0, "schedule_id")].startswith("no schedule 'berlin-office'")
    assert found[("policies", 1)] == "a business-hours target needs the policy's schedule_id"


def test_the_message_counts_the_problems_and_quotes_the_first():
    response = call("PUT /admin/sla-policies", body={"policies": [chat_policy(schedule_id="nowhere")]})
    assert response.json()["message"].startswith(
        "1 problem(s), each in `errors`; the first: policies.0.schedule_id: no schedule 'nowhere'"
    )


def test_a_problem_inside_an_action_is_placed_at_the_action_not_at_pydantics_union_tag():
    # Given a notify action whose webhook_url is a number
    policy = chat_policy(escalations=[{"level": 1, "actions": [{"type": "notify", "webhook_url": 3}]}])
    # Then its place is the action's own key in the body
    found = places(call("PUT /admin/sla-policies", body={"policies": [policy]}))
    assert list(found) == [("policies", 0, "escalations", 0, "actions", 0, "webhook_url")]


def test_a_list_whose_items_are_all_refused_is_not_also_called_too_short():
    policy = chat_policy(escalations=[{"level": 1, "actions": [{"type": "page_the_ceo"}]}])
    found = places(call("PUT /admin/sla-policies", body={"policies": [policy]}))
    assert list(found) == [("policies", 0, "escalations", 0, "actions", 0)]
    assert "does not match any of the expected tags" in found[("policies", 0, "escalations", 0, "actions", 0)]


def test_policy_names_are_unique_and_that_is_a_problem_of_the_whole_list():
    found = places(call("PUT /admin/sla-policies", body={"policies": [chat_policy(), chat_policy()]}))
    assert found == {(): "policy names are unique: a ticket's sla names the policy it is measured by"}


def test_a_refused_schedule_names_every_problem():
    # Given a schedule with an unknown zone and a time off the 15-minute steps
    body = {
        "name": "Berlin",
        "time_zone": "Europe/Atlantis",
        "intervals": [{"day": "mon", "start": "09:10", "end": "17:00"}],
    }
    found = places(call("PUT /admin/schedules/{schedule_id}", path={"schedule_id": "berlin"}, body=body))
    # Then both are listed, at their places
    assert found.keys() == {("time_zone",), ("intervals", 0, "start")}
    assert "unknown time zone 'Europe/Atlantis'" in found[("time_zone",)]


@pytest.mark.parametrize("schedule_id", [".hidden", "..", "a/b", "x" * 129, "서울"])
def test_a_schedule_id_is_a_plain_path_segment(schedule_id):
    response = call(
        "PUT /admin/schedules/{schedule_id}", path={"schedule_id": schedule_id}, body=SEOUL_OFFICE.model_dump()
    )
    assert (response.status, response.json()["error"]) == (400, "invalid_request")


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'"policies"'])
def test_a_body_that_is_not_a_policy_list_is_refused(body):
    response = call("PUT /admin/sla-policies", raw_body=body)
    assert (response.status, response.json()["error"]) == (400, "invalid_request")


# -- If-Match -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("if_match", ["2", '"2"', 'W/"2"', "v3", "*3"])
def test_a_policy_list_saved_on_another_version_is_refused_with_the_current_one(if_match):
    # Given rules at version 3
    rules = rules_with(chat_policy(), version=3)
    # When an admin saves a list on top of another version
    response = call(
        "PUT /admin/sla-policies", body={"policies": [chat_policy()]}, headers={"if-match": if_match}, rules=rules
    )
    # Then it is refused (nothing saved: the store refuses saves here) with the version to read again
    assert response.status == 412
    assert response.json() == {
        "error": "precondition_failed",
        "message": "the rules changed since that version; `version` is the current one: read, then send again",
        "version": 3,
    }


@pytest.mark.parametrize(("if_match", "defined"), [("1", True), ("0", True), ("*", False), ("1", False)])
def test_a_schedule_saved_on_another_version_of_it_is_refused(if_match, defined):
    # Given a schedule at its version 2 (or none)
    rules = rules_with(schedules=("seoul-office",) if defined else ())
    # When an admin saves it on top of another version (0: only if not defined yet; *: only if defined)
    response = call(
        "PUT /admin/schedules/{schedule_id}",
        path={"schedule_id": "seoul-office"},
        body=SEOUL_OFFICE.model_dump(mode="json"),
        headers={"if-match": if_match},
        rules=rules,
    )
    # Then it is refused with the schedule's own version
    assert (response.status, response.json()["version"]) == (412, 2 if defined else 0)


# -- who may -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("route_key", ROUTES)
@pytest.mark.parametrize(("claims", "status"), [(AGENT_CLAIMS, 403), (NO_ROLE_CLAIMS, 403), (None, 401)])
def test_only_an_admin_reaches_the_rules(route_key, claims, status):
    response = call(route_key, path={"schedule_id": "seoul-office"} if "{" in route_key else None, claims=claims)
    assert (response.status, response.json()["error"]) == (status, "forbidden" if status == 403 else "unauthorized")


def test_a_route_the_function_does_not_serve_is_not_found():
    assert call("DELETE /admin/schedules/{schedule_id}", path={"schedule_id": "seoul-office"}).status == 404


def test_rules_never_set_read_as_version_zero_with_no_policies_and_no_schedules():
    assert call("GET /admin/sla-policies").json() == {"version": 0, "policies": [], "updated_at": None}
    assert call("GET /admin/schedules").json() == {"schedules": []}
    missing = call("GET /admin/schedules/{schedule_id}", path={"schedule_id": "seoul-office"})
    assert (missing.status, missing.json()["error"]) == (404, "not_found")


# -- dry run ------------------------------------------------------------------------------------------------------


def test_a_dry_run_shows_the_policy_and_each_metric_as_it_would_start_on_the_ticket():
    # Given a WhatsApp ticket opened 10 minutes ago, and a chat policy with a 1-hour first reply
    opened = ticket(NOW - timedelta(minutes=10))
    # When an admin dry-runs the current list on it
    response = call(
        "POST /admin/sla-policies/dry-run",
        body={"ticket_id": opened.id},
        rules=rules_with(chat_policy()),
        tickets=(opened,),
    )
    # Then the policy and each metric's target, deadline, warning and the time already spent are shown
    assert response.status == 200
    assert response.json() == {
        "policy": "Chat",
        "metrics": {
            "first_reply": {
                "target_minutes": 60,
                "business_hours": False,
                "status": "active",
                "due_at": "2026-12-03T09:50:00Z",
                "warn_at": "2026-12-03T09:20:00Z",
                "breached_at": None,
                "elapsed_seconds": 600.0,
            },
            "resolution": {
                "target_minutes": 480,
                "business_hours": False,
                "status": "active",
                "due_at": "2026-12-03T16:50:00Z",
                "warn_at": "2026-12-03T12:50:00Z",
                "breached_at": None,
                "elapsed_seconds": 600.0,
            },
        },
    }


def test_a_dry_run_on_a_ticket_already_past_its_target_breaches_now_never_in_the_past():
    # Given a ticket opened two hours ago, unanswered, and a 1-hour first reply
    opened = ticket(NOW - timedelta(hours=2))
    # When the policy is tried on it
    answer = dry_run(opened, rules_with(chat_policy()), NOW)
    # Then first reply is breached at the moment of the dry run, as a policy saved now would be
    first_reply = answer.metrics["first_reply"]
    assert (first_reply.status, first_reply.breached_at, first_reply.elapsed_seconds) == ("breached", NOW, 7200.0)


def test_a_dry_run_counts_business_time_on_the_policys_schedule():
    # Given a Seoul office open 09:00-12:00 and 13:00-18:00 on weekdays, a 1-business-hour first reply, and a
    # ticket opened on Friday at 17:30 in Seoul, tried at 17:40
    friday_1730 = datetime(2026, 12, 4, 8, 30, tzinfo=UTC)
    policy = chat_policy(
        schedule_id="seoul-office",
        warn_before=None,
        targets={"normal": {"first_reply": {"minutes": 60, "business_hours": True}}},
    )
    rules = rules_with(policy, schedules=("seoul-office",))
    answer = dry_run(ticket(friday_1730), rules, friday_1730 + timedelta(minutes=10))
    # Then 10 business minutes are spent, and the rest (30 on Friday, 20 on Monday) ends on Monday at 09:30
    first_reply = answer.metrics["first_reply"]
    assert first_reply.business_hours and first_reply.elapsed_seconds == 600.0
    assert first_reply.due_at == datetime(2026, 12, 7, 0, 30, tzinfo=UTC)


def test_a_dry_run_with_no_policy_for_the_ticket_says_so():
    answer = dry_run(ticket(NOW), rules_with(chat_policy(conditions={"channel": ["email"]})), NOW)
    assert answer.model_dump(mode="json") == {"policy": None, "metrics": {}}


def test_a_dry_run_tries_an_unsaved_list_instead_of_the_current_one():
    # Given no policy saved, and an unsaved list sent with the dry run
    opened = ticket(NOW - timedelta(minutes=10))
    unsaved = chat_policy(name="Chat, draft", targets={"normal": {"first_reply": {"minutes": 15}}})
    response = call(
        "POST /admin/sla-policies/dry-run", body={"ticket_id": opened.id, "policies": [unsaved]}, tickets=(opened,)
    )
    # Then the draft is what applies
    assert response.json()["policy"] == "Chat, draft"
    assert response.json()["metrics"]["first_reply"]["due_at"] == "2026-12-03T09:05:00Z"


def test_a_dry_run_checks_an_unsaved_list_as_a_save_would():
    opened = ticket(NOW)
    body = {"ticket_id": opened.id, "policies": [chat_policy(schedule_id="nowhere"), chat_policy()]}
    found = places(call("POST /admin/sla-policies/dry-run", body=body, tickets=(opened,)))
    assert found.keys() == {("policies", 0, "schedule_id"), ("policies",)}


def test_a_dry_run_on_a_ticket_that_does_not_exist_is_not_found():
    response = call("POST /admin/sla-policies/dry-run", body={"ticket_id": "t_ffffffffffffffffffffffff"})
    assert (response.status, response.json()["error"]) == (404, "not_found")
