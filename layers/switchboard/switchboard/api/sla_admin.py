"""The admin API of the SLA rules (docs/sla.md): business-hours schedules and the ordered policy list.

    PUT  /admin/schedules/{schedule_id}    a schedule (ScheduleRules) -> the Schedule saved, its version + 1
    GET  /admin/schedules/{schedule_id}    one schedule
    GET  /admin/schedules                  every schedule
    PUT  /admin/sla-policies               the whole ordered list (PolicyList), replacing the previous one
    GET  /admin/sla-policies               the list as it stands: {"version", "policies", "updated_at"}
    POST /admin/sla-policies/dry-run       which policy and targets would apply to a ticket now, and when each
                                           metric would breach, under the current list or an unsaved one

Every route needs the admin role. A body that is not valid is answered 400 with every problem found, each with
its location in the body (`errors`), not only the first: pydantic's, plus the checks that need the rules as they
stand (a policy's schedule_id names a schedule defined) or the deployment (a notify webhook is one we may call).

Saves are versioned (store/sla_rules.py). `If-Match: <version>` (or `"<version>"`, as an ETag) saves only on top
of that version, else 412 with the version as it is (RFC 9110 §13.1.1); for a schedule it names the schedule's
version (0: not defined yet). Without it a save is conditional on the version just read: a concurrent save of
another admin is re-read and the save tried once more, then 409.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from switchboard.api.admin_problems import MAX_LISTED_PROBLEMS, InvalidRules, Problem, RulesBusy
from switchboard.api.agents import Role, caller_of
from switchboard.api.representation import version_named
from switchboard.api.sla_requests import (
    SCHEDULE_ID_PATTERN,
    DryRunAnswer,
    DryRunMetric,
    DryRunRequest,
    PolicyListAnswer,
    ScheduleList,
)
from switchboard.config import AccessSettings
from switchboard.errors import InvalidRequest, NotFound, SwitchboardError
from switchboard.http import error_response, json_response
from switchboard.http_request import read_json
from switchboard.models import Ticket
from switchboard.observability import logger, metrics
from switchboard.sla.business_time import BusinessCalendar, NoWorkingTime
from switchboard.sla.clocks import elapsed, measure_of, track
from switchboard.sla.notify import webhook_url_problem
from switchboard.sla.policies import MAX_ESCALATION_LEVELS, MAX_ID_CHARS, MAX_POLICIES, PolicyList, SlaRules
from switchboard.sla.schedules import ScheduleRules, UnsupportedCountry, schedule_from
from switchboard.store.sla_rules import MAX_RULES_BYTES, RulesTooLarge
from switchboard.store.table import WriteConflict

if TYPE_CHECKING:
    from switchboard.store.repositories import Repositories

# The current rules are one item of at most MAX_RULES_BYTES; a body larger than that could never be saved.
MAX_BODY_BYTES = MAX_RULES_BYTES
# A schedule is a week of intervals and a list of holidays: far below this.
MAX_SCHEDULE_BODY_BYTES = 64 * 1024
# Every problem is listed up to here; past it the message says how many more there were.
_SCHEDULE_ID = re.compile(SCHEDULE_ID_PATTERN)
# Bounds the scan of a refused body for the checks pydantic cannot make (more than any valid list holds).
_MAX_ACTIONS_SCANNED = 10
# A save is tried on the version read, then once more on a fresh read if another admin saved in between.
_SAVE_ATTEMPTS = 2
_ANY_VERSION = -1
_NO_VERSION = -2


# -- Errors --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Stale:
    """If-Match named another version than the one the rules (or the schedule) are at."""

    version: int

    def response(self, what: str) -> dict[str, Any]:
        return json_response(
            412,
            {
                "error": "precondition_failed",
                "message": f"the {what} changed since that version; `version` is the current one: read, then send again",
                "version": self.version,
            },
        )


# -- The routes ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Request:
    event: Mapping[str, Any]
    store: Repositories
    admin_id: str
    local_hooks_base: str
    now: datetime

    def path_parameter(self, name: str) -> str:
        value = (self.event.get("pathParameters") or {}).get(name)
        return value if isinstance(value, str) else ""

    def wanted_version(self) -> int | None:
        """The version If-Match names: None without one, _ANY_VERSION for *, _NO_VERSION for anything that is
        not a version (it then matches none)."""
        raw = (self.event.get("headers") or {}).get("if-match")
        if not isinstance(raw, str):
            return None
        raw = raw.strip()
        if raw == "*":
            return _ANY_VERSION
        if raw.isascii() and raw.isdigit() and len(raw) <= 12:
            return int(raw)
        named = version_named(raw)
        return named if named is not None else _NO_VERSION


def handle_sla_admin(
    event: Mapping[str, Any], *, store: Repositories, access: AccessSettings, local_hooks_base: str, now: datetime
) -> dict[str, Any]:
    """Every admin route of the SLA rules; `now` is the moment of the request (saves are stamped with it, the
    dry run measures at it)."""
    route = _ROUTES.get(str(event.get("routeKey")))
    try:
        admin = caller_of(event, access).require(Role.ADMIN)
        if route is None:
            raise NotFound(f"no route {str(event.get('routeKey'))[:100]!r}")
        return route(_Request(event, store, admin.subject, local_hooks_base, now))
    except SwitchboardError as error:
        return error_response(error)


def _get_policies(request: _Request) -> dict[str, Any]:
    return json_response(200, _policies_json(request.store.sla_rules.current()))


def _put_policies(request: _Request) -> dict[str, Any]:
    document = _document(request.event, max_bytes=MAX_BODY_BYTES, expected='{"policies": [...]}')
    wanted = request.wanted_version()
    for _ in range(_SAVE_ATTEMPTS):
        rules = request.store.sla_rules.current()
        policies = valid_policy_list(document, rules, local_hooks_base=request.local_hooks_base)
        if not _holds(wanted, rules.version, exists=True):
            return _Stale(rules.version).response("rules")
        try:
            saved = request.store.sla_rules.save_policies(
                policies.policies, seen_version=rules.version, actor_id=request.admin_id, at=request.now
            )
        except WriteConflict:
            continue
        except RulesTooLarge as exc:
            raise InvalidRules([Problem(("policies",), str(exc))]) from None
        logger.info("sla policies saved", extra={"version": saved.version, "policies": len(saved.policies)})
        metrics.add_metric(name="SlaPoliciesSaved", unit="Count", value=1)
        return json_response(200, _policies_json(saved))
    raise RulesBusy("another admin saved the rules at the same moment, twice: read them, then send again")


def _get_schedules(request: _Request) -> dict[str, Any]:
    schedules = request.store.sla_rules.current().schedules
    listed = ScheduleList(schedules=[schedules[schedule_id] for schedule_id in sorted(schedules)])
    return json_response(200, listed.model_dump(mode="json"))


def _get_schedule(request: _Request) -> dict[str, Any]:
    schedule_id = request.path_parameter("schedule_id")
    schedule = request.store.sla_rules.current().schedules.get(schedule_id)
    if schedule is None:
        raise NotFound(f"no schedule {schedule_id[:MAX_ID_CHARS]!r}")
    return json_response(200, schedule.model_dump(mode="json"))


def _put_schedule(request: _Request) -> dict[str, Any]:
    schedule_id = _schedule_id(request.path_parameter("schedule_id"))
    document = _document(request.event, max_bytes=MAX_SCHEDULE_BODY_BYTES, expected="a schedule")
    rules_of_schedule = _validated(ScheduleRules, document, [])
    wanted = request.wanted_version()
    for _ in range(_SAVE_ATTEMPTS):
        rules = request.store.sla_rules.current()
        existing = rules.schedules.get(schedule_id)
        version = existing.version if existing is not None else 0
        if not _holds(wanted, version, exists=existing is not None):
            return _Stale(version).response("schedule")
        try:
            schedule = schedule_from(schedule_id, rules_of_schedule, version=version + 1, saved_at=request.now)
        except UnsupportedCountry as exc:
            # Only the holidays package knows which countries it has.
            raise InvalidRules([Problem(("country_holidays",), str(exc))]) from None
        except ValidationError as exc:
            # What only the expanded schedule can exceed (its holidays with the country's).
            raise InvalidRules(_model_problems(exc, document)) from None
        try:
            BusinessCalendar.of(schedule).add(request.now, timedelta(minutes=1))
        except NoWorkingTime as exc:
            # Holidays on every working day for years: refused here, so no ticket's clock ever meets it.
            raise InvalidRules([Problem(("holidays",), str(exc))]) from None
        try:
            request.store.sla_rules.save_schedule(
                schedule, seen_version=rules.version, actor_id=request.admin_id, at=request.now
            )
        except WriteConflict:
            continue
        except RulesTooLarge as exc:
            raise InvalidRules([Problem((), str(exc))]) from None
        logger.info("sla schedule saved", extra={"schedule_id": schedule_id, "version": schedule.version})
        metrics.add_metric(name="SlaScheduleSaved", unit="Count", value=1)
        return json_response(200, schedule.model_dump(mode="json"))
    raise RulesBusy("another admin saved the rules at the same moment, twice: read them, then send again")


def _post_dry_run(request: _Request) -> dict[str, Any]:
    document = _document(request.event, max_bytes=MAX_BODY_BYTES, expected='{"ticket_id": "...", "policies": [...]}')
    rules = request.store.sla_rules.current()
    wanted = _validated(DryRunRequest, document, reference_problems(document, rules, request.local_hooks_base))
    if wanted.policies is not None:
        rules = rules.model_copy(update={"policies": wanted.policies})
    found = request.store.tickets.ticket_record(wanted.ticket_id)
    if found is None:
        raise NotFound(f"ticket {wanted.ticket_id!r} does not exist")
    try:
        answer = dry_run(found.ticket, rules, request.now)
    except NoWorkingTime as exc:
        raise InvalidRequest(f"the policy's schedule cannot measure this ticket: {exc}") from None
    return json_response(200, answer.model_dump(mode="json"))


_ROUTES: dict[str, Callable[[_Request], dict[str, Any]]] = {
    "GET /admin/sla-policies": _get_policies,
    "PUT /admin/sla-policies": _put_policies,
    "POST /admin/sla-policies/dry-run": _post_dry_run,
    "GET /admin/schedules": _get_schedules,
    "GET /admin/schedules/{schedule_id}": _get_schedule,
    "PUT /admin/schedules/{schedule_id}": _put_schedule,
}
ROUTE_KEYS = frozenset(_ROUTES)


# -- The logic -------------------------------------------------------------------------------------------------


def dry_run(ticket: Ticket, rules: SlaRules, now: datetime) -> DryRunAnswer:
    """What `rules` would set on the ticket at `now`: its policy applied as if new to it (as a policy saved now is
    applied on the ticket's next change), each metric started where it would have started, never breached
    before `now`."""
    fresh = ticket.model_copy(update={"sla": None})
    sla = track(fresh, fresh, at=now, rules=rules).sla
    if sla is None:
        return DryRunAnswer(policy=None, metrics={})
    policy = rules.named(sla.policy)
    return DryRunAnswer(
        policy=sla.policy,
        metrics={
            metric: DryRunMetric(
                target_minutes=clock.target_minutes,
                business_hours=clock.business_hours,
                status=clock.status,
                due_at=clock.due_at,
                warn_at=clock.warn_at,
                breached_at=clock.breached_at,
                elapsed_seconds=elapsed(clock, now, measure_of(rules, policy, clock.business_hours)).total_seconds(),
            )
            for metric, clock in sla.metrics.items()
        },
    )


def valid_policy_list(document: Any, rules: SlaRules, *, local_hooks_base: str) -> PolicyList:
    """The body of PUT /admin/sla-policies as a PolicyList, or InvalidRules with every problem in it."""
    return _validated(PolicyList, document, reference_problems(document, rules, local_hooks_base))


def reference_problems(document: Any, rules: SlaRules, local_hooks_base: str) -> list[Problem]:
    """What the models cannot check alone, read from the body as sent (so that they are reported together with
    the models' own problems, even in a list the models refuse): each policy's schedule_id names a schedule of
    the current rules, and each notify webhook is a URL we may call (sla/notify.py)."""
    policies = document.get("policies") if isinstance(document, dict) else None
    if not isinstance(policies, list):
        return []
    problems = []
    for index, policy in enumerate(policies[:MAX_POLICIES]):
        if not isinstance(policy, dict):
            continue
        schedule_id = policy.get("schedule_id")
        if isinstance(schedule_id, str) and schedule_id and schedule_id not in rules.schedules:
            problems.append(
                Problem(
                    ("policies", index, "schedule_id"),
                    f"no schedule {schedule_id[:MAX_ID_CHARS]!r}: define it with PUT /admin/schedules/{{schedule_id}}",
                )
            )
        for where, url in _webhook_urls(policy.get("escalations")):
            problem = webhook_url_problem(url, local_hooks_base)
            if problem is not None:
                problems.append(Problem(("policies", index, *where), problem))
    return problems


def _webhook_urls(escalations: Any) -> list[tuple[tuple[str | int, ...], str]]:
    if not isinstance(escalations, list):
        return []
    found: list[tuple[tuple[str | int, ...], str]] = []
    for level_index, escalation in enumerate(escalations[:MAX_ESCALATION_LEVELS]):
        actions = escalation.get("actions") if isinstance(escalation, dict) else None
        if not isinstance(actions, list):
            continue
        for action_index, action in enumerate(actions[:_MAX_ACTIONS_SCANNED]):
            if isinstance(action, dict) and action.get("type") == "notify":
                url = action.get("webhook_url")
                if isinstance(url, str):
                    where = ("escalations", level_index, "actions", action_index, "webhook_url")
                    found.append((where, url))
    return found


def _validated[M: BaseModel](model: type[M], document: Any, problems: list[Problem]) -> M:
    """`document` as `model` when neither it nor the other checks found anything wrong; else InvalidRules with
    the model's problems and the others'."""
    try:
        validated = model.model_validate(document)
    except ValidationError as exc:
        raise InvalidRules(_model_problems(exc, document) + problems) from None
    if problems:
        raise InvalidRules(problems)
    return validated


def _model_problems(exc: ValidationError, document: Any) -> list[Problem]:
    """pydantic's errors as problems at their places in the body, never quoting what was sent (it may be long,
    or a secret in a URL)."""
    errors = exc.errors(include_url=False, include_context=False, include_input=False)[: 4 * MAX_LISTED_PROBLEMS]
    inner = {tuple(error["loc"][:depth]) for error in errors for depth in range(len(error["loc"]))}
    problems = []
    for error in errors:
        # A list whose items were all refused is also "too short after validation": its items' own errors say
        # what is wrong, and that one would only mislead.
        if error["type"] == "too_short" and tuple(error["loc"]) in inner:
            continue
        problems.append(Problem(_place_in(document, error["loc"]), _message(error["msg"])))
    return problems


def _place_in(document: Any, loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """pydantic's location as a path into the body: without the member's tag it adds inside a discriminated
    union (an action's "notify"), which is the value of the item's `type`, not a key of it."""
    place: list[str | int] = []
    node = document
    for part in loc:
        if isinstance(node, dict) and part not in node and node.get("type") == part:
            continue
        place.append(part)
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            node = None
    return tuple(place)


def _message(text: str) -> str:
    return text.removeprefix("Value error, ")


def _document(event: Mapping[str, Any], *, max_bytes: int, expected: str) -> Any:
    body = event.get("body") or ""
    encoded = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else b""
    if event.get("isBase64Encoded") or len(encoded) > max_bytes:
        raise InvalidRequest(f"send {expected} as JSON of at most {max_bytes} bytes")
    try:
        return read_json(encoded)
    except SwitchboardError as exc:
        raise InvalidRequest(f"the body must be {expected} as JSON") from exc


def _schedule_id(schedule_id: str) -> str:
    if _SCHEDULE_ID.fullmatch(schedule_id) is None:
        raise InvalidRequest(
            f"a schedule id is 1 to {MAX_ID_CHARS} letters, digits, '_', '.' or '-', starting with a letter or digit"
        )
    return schedule_id


def _holds(wanted: int | None, version: int, *, exists: bool) -> bool:
    """Whether the request's If-Match holds for what is at `version` (RFC 9110 §13.1.1: * holds for anything that
    exists; 0 names a schedule not defined yet)."""
    if wanted is None:
        return True
    if wanted == _ANY_VERSION:
        return exists
    return wanted == version


def _policies_json(rules: SlaRules) -> dict[str, Any]:
    answer = PolicyListAnswer(version=rules.version, policies=rules.policies, updated_at=rules.updated_at)
    return answer.model_dump(mode="json")
