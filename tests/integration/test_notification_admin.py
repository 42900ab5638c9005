"""Admins set the notification rules through the deployed admin function on the in-process stack (moto): saved,
read back and versioned with their history, a stale or concurrent save never lost unseen, a refused body saving
nothing, and agents kept out."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from switchboard.notifications.defaults import DEFAULT_RULES
from switchboard.notifications.models import NotificationRules
from tests.support.lambda_events import ADMIN_CLAIMS, AGENT_CLAIMS, NO_ROLE_CLAIMS

OTHER_ADMIN = {**ADMIN_CLAIMS, "sub": "0c9b8a7d-6e5f-4a3b-2c1d-0e9f8a7b6c5d", "username": "admin.choi"}
PATH = "/admin/notification-rules"


def defaults_body(**changes: Any) -> dict[str, Any]:
    """The default rule set as JSON, as an admin would send it, with `changes`."""
    document = json.loads(DEFAULT_RULES.model_dump_json(exclude={"version"}))
    return {**document, **changes}


def send(stack, method: str, body: Any = None, *, claims=ADMIN_CLAIMS, if_match: str | None = None):
    headers = {"content-type": "application/json", **({"if-match": if_match} if if_match is not None else {})}
    payload = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
    return stack.http(method, PATH, headers=headers, body=payload, claims=claims)


def another_admin_saves(stack, shop_name: str) -> None:
    """Another admin's save, straight to the table (not through the function under test)."""
    rules = stack.repositories().notification_rules
    current = rules.in_force()
    rules.save(
        current.model_copy(update={"shop_name": shop_name}),
        current.version,
        actor_id=OTHER_ADMIN["sub"],
        at=datetime.now(UTC),
    )


class SavesFirst:
    """The function's DynamoDB client, with another admin's save committed just before each of the next `times`
    saves (TransactWriteItems) of the function: the race two admins run, made certain."""

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


def test_rules_are_saved_read_back_and_kept_version_by_version(stack):
    # Given rules never saved: nothing notifies
    never = send(stack, "GET")
    assert (never.status, never.headers["etag"], never.json()["version"], never.json()["rules"]) == (200, '"0"', 0, [])
    # When an admin saves the default rules, then changes the shop's name
    first = send(stack, "PUT", defaults_body())
    second = send(stack, "PUT", defaults_body(shop_name="민준상회"), if_match=first.headers["etag"])
    # Then each save moves the version on, its ETag saying which
    assert (first.status, first.json()["version"], first.headers["etag"]) == (200, 1, '"1"')
    assert (second.status, second.json()["version"], second.headers["etag"]) == (200, 2, '"2"')
    # And reading them gives what was saved last, as the processor and the sender read them
    read = send(stack, "GET")
    assert read.json() == second.json()
    rules = stack.repositories().notification_rules
    assert rules.in_force() == DEFAULT_RULES.model_copy(update={"version": 2, "shop_name": "민준상회"})
    # And every version is kept, by whom and when
    history = rules.history(1)
    assert history is not None
    assert (history.rules.shop_name, history.rules.version, history.updated_by) == (
        DEFAULT_RULES.shop_name,
        1,
        ADMIN_CLAIMS["sub"],
    )
    assert rules.history(3) is None


def test_what_get_answered_can_be_edited_and_sent_back(stack):
    # Given saved rules, read by an admin
    send(stack, "PUT", defaults_body())
    read = send(stack, "GET").json()
    # When the admin sends them back with quiet hours on
    edited = {**read, "quiet_hours": {"enabled": True, "start": "22:00", "end": "07:00"}}
    response = send(stack, "PUT", edited)
    # Then they are saved as the next version
    assert (response.status, response.json()["version"]) == (200, 2)
    assert response.json()["quiet_hours"] == {"enabled": True, "start": "22:00:00", "end": "07:00:00"}


def test_an_edit_of_rules_another_admin_saved_since_is_refused_with_the_current_version(stack):
    # Given an admin read the rules at version 1, and another admin saved version 2 since
    send(stack, "PUT", defaults_body())
    read = send(stack, "GET").json()
    another_admin_saves(stack, "theirs")
    # When the first admin sends their edit back (its version is the one they read), and with If-Match
    stale_body = send(stack, "PUT", {**read, "shop_name": "mine"})
    stale_header = send(stack, "PUT", defaults_body(shop_name="mine"), if_match='"1"')
    # Then both are refused with the version to read, and the other admin's rules stand
    for stale in (stale_body, stale_header):
        assert (stale.status, stale.json()["error"], stale.json()["version"]) == (412, "precondition_failed", 2)
    assert send(stack, "GET").json()["shop_name"] == "theirs"


def test_a_save_racing_another_admins_is_made_on_a_fresh_read(stack):
    # Given another admin's save commits between this save's read and its write
    send(stack, "PUT", defaults_body())
    dynamodb = stack.wrap_runtime_client("dynamodb", SavesFirst)
    dynamodb.before_save, dynamodb.times = lambda: another_admin_saves(stack, "theirs"), 1
    # When the admin saves without a precondition
    response = send(stack, "PUT", defaults_body(shop_name="mine"))
    # Then it is saved on top of the other admin's version: theirs is in the history, never overwritten unseen
    assert (response.status, response.json()["version"]) == (200, 3)
    history = stack.repositories().notification_rules.history(2)
    assert history is not None and (history.rules.shop_name, history.updated_by) == ("theirs", OTHER_ADMIN["sub"])


def test_a_save_that_keeps_losing_the_race_is_refused_with_409_and_saves_nothing(stack):
    # Given other admins' saves commit just before each of this save's writes
    dynamodb = stack.wrap_runtime_client("dynamodb", SavesFirst)
    names = iter(["first", "second", "third"])
    dynamodb.before_save, dynamodb.times = lambda: another_admin_saves(stack, next(names)), 2
    # When the admin saves
    response = send(stack, "PUT", defaults_body(shop_name="mine"))
    # Then it is a conflict to retry, and only the others' saves are in the rules
    assert (response.status, response.json()["error"]) == (409, "conflict")
    current = send(stack, "GET").json()
    assert (current["version"], current["shop_name"]) == (2, "second")


def test_a_refused_rule_set_lists_its_problems_and_saves_nothing(stack):
    # Given saved rules
    send(stack, "PUT", defaults_body())
    # When an admin sends rules with SMS twice in the chain and an SMS sender that is no E.164 number
    body = defaults_body(fallback_chain=["alimtalk", "sms", "sms"], senders={"sms_from": "010-1234-5678"})
    response = send(stack, "PUT", body)
    # Then both problems are listed at their places, and the rules stay at version 1
    assert response.status == 400
    assert [problem["loc"] for problem in response.json()["errors"]] == [["fallback_chain", 2], ["senders", "sms_from"]]
    assert stack.repositories().notification_rules.in_force().version == 1


@pytest.mark.parametrize("method", ["GET", "PUT"])
@pytest.mark.parametrize("claims", [AGENT_CLAIMS, NO_ROLE_CLAIMS], ids=["agent", "no-role"])
def test_an_agent_cannot_read_or_change_the_rules(stack, method, claims):
    response = send(stack, method, defaults_body() if method == "PUT" else None, claims=claims)
    assert (response.status, response.json()["error"]) == (403, "forbidden")
    assert stack.repositories().notification_rules.in_force() == NotificationRules()
