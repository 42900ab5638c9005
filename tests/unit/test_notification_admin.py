"""The admin API of the notification rules (api/notification_admin.py) without AWS: a refused rule set lists every
problem at its place, the provider and legal rules it checks, If-Match and the body's version refusing a stale
save, a save racing another admin's, and only admins reaching it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from switchboard.api.notification_admin import handle_notification_admin, valid_rules
from switchboard.api.notification_requests import TEMPLATE_FACTS
from switchboard.config import AccessSettings
from switchboard.notifications.defaults import DEFAULT_RULES
from switchboard.notifications.models import NotificationRules
from switchboard.notifications.templates import facts_of
from switchboard.orders.events import OrderEventType, OrderSource
from switchboard.orders.state import OrderState, ShipmentState
from switchboard.store.notification_rules import NO_RULES, SavedRules
from switchboard.store.table import WriteConflict
from tests.support.lambda_events import ADMIN_CLAIMS, AGENT_CLAIMS, NO_ROLE_CLAIMS, HttpResponse, http_api_event

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
NEVER_SAVED = SavedRules(rules=NO_RULES)
ROUTES = ["GET /admin/notification-rules", "PUT /admin/notification-rules"]


def in_transit_rule(**fields: Any) -> dict[str, Any]:
    return {
        "event_type": "shipment.in_transit",
        "templates": {
            "ko": {"sms": "[{shop_name}] 주문 {order_number} 배송 중: {carrier} {tracking_number}"},
            "en": {"email": {"subject": "Order {order_number} is on its way", "body": "Track it: {tracking_url}"}},
        },
        **fields,
    }


def rule_set(*rules: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A valid body: the rules given, delay detection opening a ticket only (no apology templates needed)."""
    return {"rules": list(rules), "delay_detection": {"enabled": True, "open_ticket": True}, **fields}


class RulesStore:
    """The rules at one version; `conflicts` saves lose to another admin's (WriteConflict) before one holds."""

    def __init__(self, saved: SavedRules = NEVER_SAVED, conflicts: int = 0) -> None:
        self.saved_rules = saved
        self.conflicts = conflicts
        self.saves: list[tuple[NotificationRules, int, str]] = []

    def saved(self) -> SavedRules:
        return self.saved_rules

    def in_force(self) -> NotificationRules:
        return self.saved_rules.rules

    def save(
        self, rules: NotificationRules, expected_version: int, *, actor_id: str, at: datetime
    ) -> NotificationRules:
        if self.conflicts:
            # Another admin's save commits first: the version moves on under this one.
            self.conflicts -= 1
            moved = self.saved_rules.rules.model_copy(update={"version": self.saved_rules.rules.version + 1})
            self.saved_rules = SavedRules(rules=moved, updated_at=at, updated_by="another-admin")
            raise WriteConflict("the rules moved on")
        assert expected_version == self.saved_rules.rules.version
        saved = rules.model_copy(update={"version": expected_version + 1})
        self.saves.append((saved, expected_version, actor_id))
        self.saved_rules = SavedRules(rules=saved, updated_at=at, updated_by=actor_id)
        return saved


def at_version(version: int, **fields: Any) -> RulesStore:
    rules = NotificationRules.model_validate({**rule_set(in_transit_rule()), **fields}).model_copy(
        update={"version": version}
    )
    return RulesStore(SavedRules(rules=rules, updated_at=NOW - timedelta(days=1), updated_by="admin-1"))


def call(
    route_key: str,
    *,
    body: Any = None,
    raw_body: bytes | None = None,
    headers: dict[str, str] | None = None,
    claims: dict[str, str] | None = ADMIN_CLAIMS,
    rules: RulesStore | None = None,
) -> HttpResponse:
    method, path = route_key.split(" ", 1)
    event = http_api_event(
        method=method,
        path=path,
        route_key=route_key,
        headers={"content-type": "application/json", **(headers or {})},
        body=raw_body if raw_body is not None else (json.dumps(body).encode() if body is not None else None),
        claims=claims,
    )
    store = SimpleNamespace(notification_rules=rules if rules is not None else RulesStore())
    return HttpResponse.of(handle_notification_admin(event, store=store, access=AccessSettings(), now=NOW))


def places(response: HttpResponse) -> dict[tuple, str]:
    assert (response.status, response.json()["error"]) == (400, "invalid_request"), response
    return {tuple(problem["loc"]): problem["msg"] for problem in response.json()["errors"]}


# -- every problem, at its place -----------------------------------------------------------------------------------


def test_a_refused_rule_set_names_every_problem_at_its_place_in_the_body():
    # Given rules with something wrong nearly everywhere: an unknown event type, a repeated rule, a template naming
    # a fact no event has, a locale with no message, a channel twice in the chain and one unknown, quiet hours
    # that end when they start, and senders in no provider's format
    body = {
        "rules": [
            in_transit_rule(templates={"ko": {"sms": "주문 {order_no} 배송 중"}, "en": {}}),
            in_transit_rule(),
            {"event_type": "order.exploded", "templates": {"ko": {"sms": "?"}}},
        ],
        "fallback_chain": ["sms", "email", "sms", "fax"],
        "quiet_hours": {"enabled": True, "start": "22:00", "end": "22:00:00"},
        "default_locale": "korean!",
        "default_timezone": "Asia/Atlantis",
        "senders": {
            "sms_from": "010-1234-5678",
            "alimtalk_sender_key": "too-short",
            "alimtalk_resend_number": "02-123-4567",
            "email_from": "Shop <orders@shop.example>",
        },
        "delay_detection": {"enabled": True},
    }
    # When an admin saves them
    found = places(call("PUT /admin/notification-rules", body=body))
    # Then every problem is answered at once, each where it is in the body
    assert found.keys() == {
        ("rules", 0, "templates", "ko", "sms"),
        ("rules", 0, "templates", "en"),
        ("rules", 1, "event_type"),
        ("rules", 2, "event_type"),
        ("fallback_chain", 2),
        ("fallback_chain", 3),
        ("quiet_hours", "end"),
        ("default_locale",),
        ("default_timezone",),
        ("senders", "sms_from"),
        ("senders", "alimtalk_sender_key"),
        ("senders", "alimtalk_resend_number"),
        ("senders", "email_from"),
        ("delay_detection", "templates"),
    }
    assert found[("rules", 0, "templates", "ko", "sms")].startswith("{order_no} is no fact of an order event")
    assert found[("rules", 1, "event_type")] == "shipment.in_transit is in the rules already, at 0"
    assert found[("fallback_chain", 2)] == "sms is in the chain already, at 0"
    assert found[("rules", 2, "event_type")].startswith("Input should be 'order.placed'")


def test_the_message_counts_the_problems_and_quotes_the_first():
    body = rule_set(in_transit_rule(templates={"ko": {"sms": "{when}"}}), fallback_chain=["sms", "sms"])
    response = call("PUT /admin/notification-rules", body=body)
    assert response.json()["message"].startswith(
        "2 problem(s), each in `errors`; the first: rules.0.templates.ko.sms: {when} is no fact of an order event"
    )


def test_the_rules_make_run_seeds_pass_every_check():
    # Given the default rule set (every shipment and refund event, ko/en/ja on six channels, delay apologies)
    document = json.loads(DEFAULT_RULES.model_dump_json())
    # Then an admin may save it as it is (and GET's answer of it, sent back, too)
    assert valid_rules(document).rules == DEFAULT_RULES.rules


def test_a_template_may_name_every_fact_an_order_event_has_and_only_those():
    # Given the facts the renderer gives an event (notifications/templates.py), for an order with a shipment
    order = OrderState(
        order_key="generic#shop#A-1042",
        source=OrderSource.GENERIC,
        shop="shop",
        order_id="A-1042",
        shipments={
            "S-1": ShipmentState(id="S-1", status=OrderEventType.SHIPMENT_IN_TRANSIT, updated_at=NOW),
        },
        first_seen_at=NOW,
        updated_at=NOW,
    )
    facts = facts_of(order, OrderEventType.SHIPMENT_IN_TRANSIT, "S-1", shop_name="샵", timezone="UTC", locale="ko")
    # Then the admin API takes exactly those names in a template
    assert set(facts) == TEMPLATE_FACTS
    every_fact = " ".join(f"{{{name}}}" for name in sorted(TEMPLATE_FACTS))
    valid_rules(rule_set(in_transit_rule(templates={"ko": {"sms": every_fact, "line": "{ not a fact } {}"}})))


def test_each_text_of_every_channel_is_checked_for_unknown_facts():
    # Given one locale with an unknown fact in each kind of text a channel has
    templates = {
        "ja": {
            "whatsapp": {"name": "order_update", "language": "ja", "parameters": ["{order_number}", "{eta}"]},
            "alimtalk": {
                "template_code": "SHIP_01",
                "variables": {"주문번호": "{order_number}", "도착": "{eta}"},
                "resend_text": "{eta}",
                "resend_title": "{eta}",
            },
            "email": {"subject": "{eta}", "body": "{eta} {eta}"},
            "telegram": "{eta}",
        }
    }
    # When the rule is saved
    found = places(call("PUT /admin/notification-rules", body=rule_set(in_transit_rule(templates=templates))))
    # Then each text is named once, at its own place
    where = ("rules", 0, "templates", "ja")
    assert found.keys() == {
        (*where, "whatsapp", "parameters", 1),
        (*where, "alimtalk", "variables", "도착"),
        (*where, "alimtalk", "resend_text"),
        (*where, "alimtalk", "resend_title"),
        (*where, "email", "subject"),
        (*where, "email", "body"),
        (*where, "telegram"),
    }


def test_an_email_subject_is_one_line():
    templates = {"en": {"email": {"subject": "Order {order_number}\r\nBcc: x@evil.example", "body": "."}}}
    found = places(call("PUT /admin/notification-rules", body=rule_set(in_transit_rule(templates=templates))))
    assert found == {("rules", 0, "templates", "en", "email", "subject"): "a subject is one line: no line breaks"}


def test_an_advertising_rule_needs_the_shops_name_an_opt_out_and_no_alimtalk():
    # Given an advertising rule with an AlimTalk template, no shop name and an empty opt-out instruction
    advertising = {
        "event_type": "order.placed",
        "category": "advertising",
        "templates": {"ko": {"alimtalk": {"template_code": "PROMO"}, "sms": "신상품 안내"}},
    }
    body = rule_set(advertising, shop_name=" ", opt_out_instruction="")
    # Then each of the three is refused: 정보통신망법 제50조 and Kakao's review of AlimTalk
    found = places(call("PUT /admin/notification-rules", body=body))
    assert found.keys() == {
        ("rules", 0, "templates", "ko", "alimtalk"),
        ("shop_name",),
        ("opt_out_instruction",),
    }
    # And with a name, the default opt-out instruction and SMS only, it is saved
    fixed = {**advertising, "templates": {"ko": {"sms": "신상품 안내"}}}
    assert call("PUT /admin/notification-rules", body=rule_set(fixed, shop_name="민준상회")).status == 200


def test_a_transactional_rule_may_use_alimtalk_without_a_shop_name():
    templates = {"ko": {"alimtalk": {"template_code": "SHIP_01", "variables": {"번호": "{order_number}"}}}}
    assert call("PUT /admin/notification-rules", body=rule_set(in_transit_rule(templates=templates))).status == 200


@pytest.mark.parametrize(
    ("delay", "refused"),
    [
        ({"enabled": True}, True),
        ({"enabled": True, "templates": {}}, True),
        (None, True),
        ({"enabled": True, "open_ticket": True}, False),
        ({"enabled": True, "templates": {"ko": {"sms": "{order_number} 배송이 늦어지고 있습니다"}}}, False),
        ({"enabled": False}, False),
    ],
    ids=["on-nothing", "on-empty-templates", "left-out", "ticket-only", "apology", "off"],
)
def test_delay_detection_that_is_on_apologizes_or_opens_a_ticket(delay, refused):
    body = {"rules": [in_transit_rule()], **({"delay_detection": delay} if delay is not None else {})}
    response = call("PUT /admin/notification-rules", body=body)
    if refused:
        assert list(places(response)) == [("delay_detection", "templates")]
    else:
        assert response.status == 200


@pytest.mark.parametrize(
    ("start", "end", "refused"),
    [("22:00", "22:00", True), ("00:00", "00:00:00", True), ("21:00", "08:00", False), ("13:00", "14:00", False)],
)
def test_quiet_hours_span_some_time(start, end, refused):
    body = rule_set(in_transit_rule(), quiet_hours={"enabled": True, "start": start, "end": end})
    response = call("PUT /admin/notification-rules", body=body)
    assert (response.status == 400) is refused


@pytest.mark.parametrize(
    ("sender", "value", "valid"),
    [
        ("sms_from", "+821012345678", True),
        ("sms_from", "+15005550006", True),
        ("sms_from", "01012345678", False),
        ("sms_from", "+0123456789", False),
        ("sms_from", "+8210123456789012", False),
        ("alimtalk_sender_key", "0123456789abcdef0123456789abcdef01234567", True),
        ("alimtalk_sender_key", "0123456789abcdef0123456789abcdef0123456", False),
        ("alimtalk_sender_key", "0123456789abcdef0123456789abcdef0123456-", False),
        ("alimtalk_resend_number", "15881234", True),
        ("alimtalk_resend_number", "0212345678", True),
        ("alimtalk_resend_number", "02-1234-5678", False),
        ("email_from", "orders@shop.example", True),
        ("email_from", "orders@localhost", False),
        ("email_from", "a@b.example, c@d.example", False),
        ("email_from", "@shop.example", False),
    ],
)
def test_senders_are_in_their_providers_formats(sender, value, valid):
    response = call("PUT /admin/notification-rules", body=rule_set(in_transit_rule(), senders={sender: value}))
    if valid:
        assert response.status == 200, response
    else:
        assert list(places(response)) == [("senders", sender)]


@pytest.mark.parametrize("locale", ["ko", "en", "ko-KR", "ja_JP", "zh-Hant-TW"])
def test_templates_are_keyed_by_locale_tags(locale):
    templates = {locale: {"sms": "{status}"}}
    assert call("PUT /admin/notification-rules", body=rule_set(in_transit_rule(templates=templates))).status == 200


@pytest.mark.parametrize("locale", ["korean", "k", "ko KR", "../ko", ""])
def test_a_templates_key_that_is_no_locale_is_refused(locale):
    templates = {locale: {"sms": "{status}"}}
    found = places(call("PUT /admin/notification-rules", body=rule_set(in_transit_rule(templates=templates))))
    assert list(found) == [("rules", 0, "templates", locale)]


def test_a_rule_needs_templates():
    found = places(call("PUT /admin/notification-rules", body=rule_set(in_transit_rule(templates={}))))
    assert list(found) == [("rules", 0, "templates")]


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'"rules"', b"null"])
def test_a_body_that_is_not_a_rule_set_is_refused(body):
    response = call("PUT /admin/notification-rules", raw_body=body)
    assert (response.status, response.json()["error"]) == (400, "invalid_request")


def test_a_body_larger_than_the_rules_item_can_hold_is_refused_unread():
    response = call("PUT /admin/notification-rules", raw_body=b" " * 350_001)
    assert response.status == 400
    assert "at most 350000 bytes" in response.json()["message"]


# -- saving, If-Match and the body's version ---------------------------------------------------------------------


def test_rules_never_saved_read_as_version_zero_where_nothing_notifies():
    response = call("GET /admin/notification-rules")
    assert (response.status, response.headers["etag"]) == (200, '"0"')
    assert response.json() == {**json.loads(NO_RULES.model_dump_json()), "updated_at": None}
    assert response.json()["rules"] == []


def test_a_save_moves_the_version_on_and_answers_what_was_saved():
    # Given rules at version 3
    store = at_version(3)
    # When an admin saves a new rule set on top of it
    response = call(
        "PUT /admin/notification-rules", body=rule_set(in_transit_rule(), shop_name="민준상회"), rules=store
    )
    # Then it is saved as version 4, by that admin, at the time of the request
    assert (response.status, response.headers["etag"]) == (200, '"4"')
    assert (response.json()["version"], response.json()["shop_name"]) == (4, "민준상회")
    assert response.json()["updated_at"] == "2026-12-03T09:00:00Z"
    ((saved, on_version, by),) = store.saves
    assert (saved.version, on_version, by) == (4, 3, ADMIN_CLAIMS["sub"])


@pytest.mark.parametrize("if_match", ["2", '"2"', 'W/"2"', "v3", "*3", "0"])
def test_a_save_on_another_version_is_refused_with_the_current_one(if_match):
    # Given rules at version 3
    store = at_version(3)
    # When an admin saves on top of another version
    response = call(
        "PUT /admin/notification-rules", body=rule_set(in_transit_rule()), headers={"if-match": if_match}, rules=store
    )
    # Then it is refused with the version to read again, and nothing is saved
    assert (response.status, response.headers["etag"]) == (412, '"3"')
    assert response.json() == {
        "error": "precondition_failed",
        "message": "the rules changed since that version; `version` is the current one: read, then send again",
        "version": 3,
    }
    assert store.saves == []


@pytest.mark.parametrize(("if_match", "saved"), [("3", True), ('"3"', True), ("*", True)])
def test_a_save_on_the_current_version_is_made(if_match, saved):
    response = call(
        "PUT /admin/notification-rules",
        body=rule_set(in_transit_rule()),
        headers={"if-match": if_match},
        rules=at_version(3),
    )
    assert (response.status, response.json()["version"]) == (200, 4)


def test_if_match_star_never_saves_rules_that_were_never_saved():
    response = call("PUT /admin/notification-rules", body=rule_set(in_transit_rule()), headers={"if-match": "*"})
    assert (response.status, response.json()["version"]) == (412, 0)


def test_what_get_answered_sent_back_edited_is_saved_only_on_the_version_it_was_read_at():
    # Given an admin read the rules at version 3, and another admin has saved version 4 since
    read = call("GET /admin/notification-rules", rules=at_version(3)).json()
    edited = {**read, "shop_name": "민준상회"}
    # When the first admin sends their edit back, without If-Match
    stale = call("PUT /admin/notification-rules", body=edited, rules=at_version(4))
    # Then the body's version is the precondition: refused, with the version to read
    assert (stale.status, stale.json()["version"]) == (412, 4)
    # And sent back on the version it was read at, it is saved (updated_at ignored)
    fresh = call("PUT /admin/notification-rules", body=edited, rules=at_version(3))
    assert (fresh.status, fresh.json()["version"], fresh.json()["shop_name"]) == (200, 4, "민준상회")


def test_if_match_is_the_precondition_over_the_bodys_version():
    body = {**rule_set(in_transit_rule()), "version": 1}
    response = call("PUT /admin/notification-rules", body=body, headers={"if-match": "3"}, rules=at_version(3))
    assert (response.status, response.json()["version"]) == (200, 4)


def test_a_save_racing_another_admins_is_made_on_a_fresh_read():
    # Given another admin's save commits between this save's read and its write
    store = at_version(3, shop_name="theirs")
    store.conflicts = 1
    # When the admin saves without a precondition
    response = call("PUT /admin/notification-rules", body=rule_set(in_transit_rule()), rules=store)
    # Then it is saved on top of the other admin's version
    assert (response.status, response.json()["version"]) == (200, 5)
    assert [on_version for _, on_version, _ in store.saves] == [4]


def test_a_save_that_keeps_losing_the_race_is_refused_with_409():
    store = at_version(3)
    store.conflicts = 2
    response = call("PUT /admin/notification-rules", body=rule_set(in_transit_rule()), rules=store)
    assert (response.status, response.json()["error"]) == (409, "conflict")
    assert store.saves == []


def test_a_save_with_a_precondition_that_loses_the_race_is_refused_as_stale():
    store = at_version(3)
    store.conflicts = 1
    response = call(
        "PUT /admin/notification-rules", body=rule_set(in_transit_rule()), headers={"if-match": "3"}, rules=store
    )
    assert (response.status, response.json()["version"]) == (412, 4)


def test_a_refused_body_saves_nothing():
    store = at_version(3)
    assert call("PUT /admin/notification-rules", body={"rules": "all"}, rules=store).status == 400
    assert store.saves == []


# -- who may -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("route_key", ROUTES)
@pytest.mark.parametrize(("claims", "status"), [(AGENT_CLAIMS, 403), (NO_ROLE_CLAIMS, 403), (None, 401)])
def test_only_an_admin_reaches_the_rules(route_key, claims, status):
    store = at_version(3)
    response = call(route_key, body=rule_set(in_transit_rule()), claims=claims, rules=store)
    assert (response.status, response.json()["error"]) == (status, "forbidden" if status == 403 else "unauthorized")
    assert store.saves == []


def test_a_route_the_function_does_not_serve_is_not_found():
    assert call("DELETE /admin/notification-rules").status == 404
