"""Admins set the SLA rules through the admin API on the in-process stack (moto): schedules and the policy list
saved, read and versioned, a stale or concurrent save never lost unseen, and a dry run on a real ticket."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from switchboard.observability import logger
from switchboard.sla.policies import PolicyList
from switchboard.sla.schedules import ScheduleRules, schedule_from
from tests.support.lambda_events import ADMIN_CLAIMS, AGENT_CLAIMS

OTHER_ADMIN = {**ADMIN_CLAIMS, "sub": "0c9b8a7d-6e5f-4a3b-2c1d-0e9f8a7b6c5d", "username": "admin.choi"}
SEOUL_OFFICE = {
    "name": "Seoul office",
    "time_zone": "Asia/Seoul",
    "intervals": [
        {"day": day, "start": start, "end": end}
        for day in ("mon", "tue", "wed", "thu", "fri")
        for start, end in (("09:00", "12:00"), ("13:00", "18:00"))
    ],
    "holidays": [{"date": "2026-04-01", "name": "창립기념일"}],
}


def policy(name: str = "Chat", *, schedule_id: str | None = None, minutes: int = 60, **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "conditions": {"channel": ["whatsapp"]},
        "schedule_id": schedule_id,
        "targets": {"normal": {"first_reply": {"minutes": minutes, "business_hours": schedule_id is not None}}},
        **fields,
    }


def send(stack, method: str, path: str, body: Any = None, *, claims=ADMIN_CLAIMS, if_match: str | None = None):
    headers = {"content-type": "application/json", **({"if-match": if_match} if if_match is not None else {})}
    payload = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
    return stack.http(method, path, headers=headers, body=payload, claims=claims)


def put_policies(stack, *policies: dict[str, Any], **options: Any):
    return send(stack, "PUT", "/admin/sla-policies", {"policies": list(policies)}, **options)


def put_schedule(stack, schedule_id: str, body: dict[str, Any] = SEOUL_OFFICE, **options: Any):
    return send(stack, "PUT", f"/admin/schedules/{schedule_id}", body, **options)


def another_admin_saves(stack, *, schedule_id: str | None = None, policies: tuple[dict[str, Any], ...] = ()) -> None:
    """Another admin's save, straight to the table (not through the function under test): a schedule, or a list."""
    rules, now = stack.repositories().sla_rules, datetime.now(UTC)
    seen = rules.current().version
    if schedule_id is not None:
        schedule = schedule_from(schedule_id, ScheduleRules.model_validate(SEOUL_OFFICE), version=1, saved_at=now)
        rules.save_schedule(schedule, seen_version=seen, actor_id=OTHER_ADMIN["sub"], at=now)
    else:
        listed = PolicyList.model_validate({"policies": list(policies)}).policies
        rules.save_policies(listed, seen_version=seen, actor_id=OTHER_ADMIN["sub"], at=now)


class SavesFirst:
    """The functions' DynamoDB client, with another admin's save committed just before each of the next
    `times` saves (TransactWriteItems) of the function: the race two admins run, made certain."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.before_save: Callable[[], None] | None = None
        self.times = 0

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name != "transact_write_items":
            return attribute

        def transact_write_items(**request: Any) -> Any:
            if self.times and self.before_save is not None:
                self.times -= 1
                self.before_save()
            return attribute(**request)

        return transact_write_items


@contextlib.contextmanager
def function_output() -> Iterator[io.StringIO]:
    """Everything the functions log, at DEBUG."""
    captured = io.StringIO()
    handler = logger.registered_handler
    previous_level = logger.log_level
    logger.setLevel("DEBUG")
    previous_stream = handler.setStream(captured)
    try:
        with contextlib.redirect_stdout(captured):
            yield captured
    finally:
        handler.setStream(previous_stream)
        logger.setLevel(previous_level)


def test_schedules_and_policies_are_saved_read_back_and_each_save_moves_the_version_on(stack):
    # Given rules never set
    assert send(stack, "GET", "/admin/sla-policies").json() == {"version": 0, "policies": [], "updated_at": None}
    # When an admin defines a schedule, a policy list on it, then changes the schedule
    first = put_schedule(stack, "seoul-office")
    saved = put_policies(stack, policy(schedule_id="seoul-office"), policy("Email", minutes=480))
    changed = put_schedule(stack, "seoul-office", {**SEOUL_OFFICE, "name": "Seoul office (winter)"})
    # Then each answer is what was saved, the schedule's version counts its own saves, the rules' every save
    assert (first.status, first.json()["version"], first.json()["id"]) == (200, 1, "seoul-office")
    assert (saved.status, saved.json()["version"]) == (200, 2)
    assert [p["name"] for p in saved.json()["policies"]] == ["Chat", "Email"]
    assert (changed.status, changed.json()["version"], changed.json()["name"]) == (200, 2, "Seoul office (winter)")
    # And reading them gives the same, the policies at the rules' latest version
    read = send(stack, "GET", "/admin/sla-policies").json()
    assert read == {**saved.json(), "version": 3, "updated_at": read["updated_at"]}
    assert send(stack, "GET", "/admin/schedules/seoul-office").json() == changed.json()
    assert send(stack, "GET", "/admin/schedules").json() == {"schedules": [changed.json()]}
    # And the policies read back are a valid body for the next save, as they were sent
    assert PolicyList.model_validate({"policies": read["policies"]}) == PolicyList.model_validate(
        {"policies": [policy(schedule_id="seoul-office"), policy("Email", minutes=480)]}
    )


def test_a_policy_naming_a_schedule_not_defined_is_refused_and_nothing_is_saved(stack):
    # When an admin saves a business-hours policy before its schedule
    response = put_policies(stack, policy(schedule_id="seoul-office"))
    # Then it is refused, saying where, and the rules stay as they were
    assert response.status == 400
    assert [problem["loc"] for problem in response.json()["errors"]] == [["policies", 0, "schedule_id"]]
    assert send(stack, "GET", "/admin/sla-policies").json()["version"] == 0


def test_a_save_on_a_version_read_before_another_admins_save_is_refused_with_the_current_version(stack):
    # Given both admins read the rules at version 1, and one of them saves
    assert put_policies(stack, policy()).json()["version"] == 1
    assert put_policies(stack, policy(minutes=30), claims=OTHER_ADMIN, if_match='"1"').json()["version"] == 2
    # When the other saves on top of version 1
    stale = put_policies(stack, policy(minutes=15), if_match="1")
    # Then it is refused with the version to read, and the first admin's list stands
    assert (stale.status, stale.json()["error"], stale.json()["version"]) == (412, "precondition_failed", 2)
    current = send(stack, "GET", "/admin/sla-policies").json()
    assert (current["version"], current["policies"][0]["targets"]["normal"]["first_reply"]["minutes"]) == (2, 30)
    # And on top of version 2 it is saved
    assert put_policies(stack, policy(minutes=15), if_match="2").json()["version"] == 3


def test_a_save_racing_another_admins_is_made_on_a_fresh_read_without_overwriting_it_unseen(stack):
    # Given another admin's schedule save commits between this save's read and its write
    dynamodb = stack.wrap_runtime_client("dynamodb", SavesFirst)
    dynamodb.before_save, dynamodb.times = lambda: another_admin_saves(stack, schedule_id="busan-office"), 1
    # When the admin saves a list without If-Match
    response = put_policies(stack, policy())
    # Then it is saved on the rules as the other admin left them: their schedule kept, the version past theirs
    assert (response.status, response.json()["version"]) == (200, 2)
    assert [s["id"] for s in send(stack, "GET", "/admin/schedules").json()["schedules"]] == ["busan-office"]


def test_a_save_that_keeps_losing_the_race_is_refused_with_409_and_saves_nothing(stack):
    # Given other admins' saves commit just before each of this save's writes
    dynamodb = stack.wrap_runtime_client("dynamodb", SavesFirst)
    others = iter(range(1, 10))
    dynamodb.before_save = lambda: another_admin_saves(stack, schedule_id=f"office-{next(others)}")
    dynamodb.times = 2
    # When the admin saves a list
    response = put_policies(stack, policy())
    # Then it is refused as a conflict to retry, and only the others' saves are in the rules
    assert (response.status, response.json()["error"]) == (409, "conflict")
    assert send(stack, "GET", "/admin/sla-policies").json() == {
        "version": 2,
        "policies": [],
        "updated_at": send(stack, "GET", "/admin/sla-policies").json()["updated_at"],
    }


def test_a_save_with_if_match_that_loses_the_race_is_refused_as_stale(stack):
    # Given another admin's save commits between this save's read and its write
    dynamodb = stack.wrap_runtime_client("dynamodb", SavesFirst)
    dynamodb.before_save, dynamodb.times = lambda: another_admin_saves(stack, policies=(policy("Theirs"),)), 1
    # When the admin saves on top of the version they read (0)
    response = put_policies(stack, policy("Mine"), if_match="0")
    # Then the precondition fails: the other admin's list stands
    assert (response.status, response.json()["version"]) == (412, 1)
    assert [p["name"] for p in send(stack, "GET", "/admin/sla-policies").json()["policies"]] == ["Theirs"]


def test_a_dry_run_shows_which_policy_would_apply_to_a_real_ticket_and_when_it_would_breach(stack, whatsapp):
    # Given a customer's WhatsApp message ten minutes ago opened a ticket, and a 1-hour first-reply policy
    driver = whatsapp.driver
    sent_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    body = driver.text_message(
        driver.customer(1, "김민준"), message_id=driver.message_id("sla"), text="배송 언제 와요?", sent_at=sent_at
    )
    assert whatsapp.deliver(body).status == 200 and stack.drain_queue().failed_records == 0
    (ticket,) = stack.tickets()
    assert put_policies(stack, policy(warn_before={"percent": 50})).status == 200
    # When an admin dry-runs the policies on it
    response = send(stack, "POST", "/admin/sla-policies/dry-run", {"ticket_id": ticket["id"]})
    # Then the policy and its first-reply clock are shown, due an hour after the ticket opened
    assert response.status == 200
    answer = response.json()
    opened = datetime.fromisoformat(ticket["created_at"])
    first_reply = answer["metrics"]["first_reply"]
    assert (answer["policy"], first_reply["status"], first_reply["breached_at"]) == ("Chat", "active", None)
    assert datetime.fromisoformat(first_reply["due_at"]) == opened + timedelta(hours=1)
    assert datetime.fromisoformat(first_reply["warn_at"]) == opened + timedelta(minutes=30)
    assert 0 < first_reply["elapsed_seconds"] < 3600
    # And nothing was saved: the rules are at the version the policy list was saved at
    assert send(stack, "GET", "/admin/sla-policies").json()["version"] == 1


def test_an_agent_may_neither_read_nor_change_the_rules(stack):
    assert send(stack, "GET", "/admin/sla-policies", claims=AGENT_CLAIMS).status == 403
    assert put_policies(stack, policy(), claims=AGENT_CLAIMS).status == 403
    assert send(stack, "GET", "/admin/sla-policies").json()["version"] == 0


def test_a_local_hook_url_is_taken_only_where_the_local_runner_points_the_function(stack, fake_providers):
    # Given the function as the local stacks configure it, with the fake providers' hooks
    base = f"{fake_providers.base_url}/__fake__/hooks/"
    notify = [{"level": 1, "actions": [{"type": "notify", "webhook_url": f"{base}sla"}]}]
    # Then locally the plain-http URL under the hooks is taken, and as deployed in AWS (no local base) it is refused
    assert put_policies(stack, policy(escalations=notify)).status == 200
    stack.configure("SlaAdminFunction", SLA_LOCAL_HOOKS_BASE="")
    assert put_policies(stack, policy(escalations=notify)).status == 400


def test_the_logs_of_a_save_hold_no_webhook_url(stack):
    # Given a notify webhook whose path and query hold the receiver's secret (as Slack's incoming webhooks do)
    secret_url = "https://hooks.example.com/services/T000/B000/s3cr3tpath?token=s3cr3tquery"
    notify = [{"level": 1, "actions": [{"type": "notify", "webhook_url": secret_url}]}]
    # When an admin saves, reads and dry-runs the list, with every log line written
    with function_output() as captured:
        assert put_policies(stack, policy(escalations=notify)).status == 200
        assert send(stack, "GET", "/admin/sla-policies").status == 200
    # Then nothing of the URL is in the logs
    assert (
        captured.getvalue() and "s3cr3t" not in captured.getvalue() and "hooks.example.com" not in captured.getvalue()
    )
