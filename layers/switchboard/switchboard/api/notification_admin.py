"""The admin API of the notification rules (docs/notifications.md): which order events notify, with which
templates per locale and channel, the fallback chain, quiet hours, delay detection and the shop's senders.

    GET /admin/notification-rules    the rules as they stand, with their version (also the ETag) and updated_at
    PUT /admin/notification-rules    the whole rule set, replacing the previous one: its version + 1

Both routes need the admin role. A body that is not valid is answered 400 with every problem found, each with its
location in the body (`errors`), not only the first: pydantic's, plus the checks that need more than one field or a
provider's rule (rule_problems below lists them).

Saves are versioned (store/notification_rules.py). `If-Match: <version>` (or `"<version>"`, the ETag GET gave)
saves only on top of that version, else 412 with the version as it is (RFC 9110 §13.1.1); without If-Match, the
body's own `version` (what GET answered, sent back edited) is the precondition. Without either, a save is made on the
version just read: a concurrent save of another admin is re-read and the save tried once more, then 409.

The problems and refusals are the SLA admin API's (api/admin_problems.py), without importing api/sla_admin.py: that
module loads the SLA engine and its holiday calendars, over half a second of this function's cold start.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, time
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from switchboard.api.admin_problems import MAX_LISTED_PROBLEMS, InvalidRules, Problem, RulesBusy
from switchboard.api.agents import Role, caller_of
from switchboard.api.notification_requests import TEMPLATE_FACTS, NotificationRulesAnswer
from switchboard.api.representation import etag_of, version_named
from switchboard.config import AccessSettings
from switchboard.errors import InvalidRequest, NotFound, SwitchboardError
from switchboard.http import error_response, json_response
from switchboard.http_request import read_json
from switchboard.models import NotifyChannel
from switchboard.notifications.models import MAX_RULES, NotificationRules
from switchboard.observability import logger, metrics
from switchboard.orders.events import OrderEventType
from switchboard.store.notification_rules import MAX_RULES_BYTES, RulesTooLarge, SavedRules
from switchboard.store.table import WriteConflict

if TYPE_CHECKING:
    from switchboard.store.repositories import Repositories

# The rules are one item of at most MAX_RULES_BYTES; a body larger than that could never be saved.
MAX_BODY_BYTES = MAX_RULES_BYTES
# Every problem is listed up to here; past it the message says how many more there were.
# A save is tried on the version read, then once more on a fresh read if another admin saved in between.
_SAVE_ATTEMPTS = 2
_ANY_VERSION = -1
_NO_VERSION = -2

# E.164: "+", a country code that does not start with 0, at most 15 digits in all (ITU-T E.164 §6.1); Twilio
# takes its sending numbers in this form (as channels/twilio.py reads them).
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
# NHN Cloud AlimTalk API v2.2, "메시지 치환 발송 요청": senderKey is "발신 키(40자)", 40 characters.
_SENDER_KEY_CHARS = 40
# A Korean sender number as NHN Cloud takes resendSendNo (and Kakao its 대체발송 sender): digits only, the
# number registered for SMS sending (e.g. 0212345678, 15881234).
_SENDER_NUMBER = re.compile(r"[0-9]{7,13}")
# A BCP 47 tag as the rules key their templates: a language, then subtags (ko, en, ko-KR, zh-Hant-TW); "_" is
# taken for "-" as notifications/templates.py pick_locale reads it (ko_KR).
_LOCALE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8}){0,4}")
# A {name} a text template names; one pass, no backtracking.
_FACT = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]{0,63})\}")
_TEXT_CHANNELS = ("sms", "line", "telegram", "messenger", "instagram")
_CHANNEL_NAMES = ", ".join(channel.value for channel in NotifyChannel)
_DEFAULT_OPT_OUT = NotificationRules.model_fields["opt_out_instruction"].default


# -- Errors --------------------------------------------------------------------------------------------------


# -- The routes ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Request:
    event: Mapping[str, Any]
    store: Repositories
    admin_id: str
    now: datetime


def handle_notification_admin(
    event: Mapping[str, Any], *, store: Repositories, access: AccessSettings, now: datetime
) -> dict[str, Any]:
    """Every admin route of the notification rules; `now` is the moment of the request (saves are stamped with
    it)."""
    route = _ROUTES.get(str(event.get("routeKey")))
    try:
        admin = caller_of(event, access).require(Role.ADMIN)
        if route is None:
            raise NotFound(f"no route {str(event.get('routeKey'))[:100]!r}")
        return route(_Request(event, store, admin.subject, now))
    except SwitchboardError as error:
        return error_response(error)


def _get_rules(request: _Request) -> dict[str, Any]:
    return _rules_response(request.store.notification_rules.saved())


def _put_rules(request: _Request) -> dict[str, Any]:
    document = _document(request.event)
    sent = valid_rules(document)
    wanted = _wanted_version(request.event, sent)
    rules = NotificationRules.model_validate(sent.model_dump(exclude={"updated_at"}))
    for _ in range(_SAVE_ATTEMPTS):
        current = request.store.notification_rules.in_force()
        if not _holds(wanted, current.version):
            return _stale(current.version)
        try:
            saved = request.store.notification_rules.save(
                rules, current.version, actor_id=request.admin_id, at=request.now
            )
        except WriteConflict:
            continue
        except RulesTooLarge as exc:
            raise InvalidRules([Problem((), str(exc))]) from None
        logger.info("notification rules saved", extra={"version": saved.version, "rules": len(saved.rules)})
        metrics.add_metric(name="NotificationRulesSaved", unit="Count", value=1)
        return _rules_response(SavedRules(rules=saved, updated_at=request.now, updated_by=request.admin_id))
    raise RulesBusy("another admin saved the rules at the same moment, twice: read them, then send again")


_ROUTES: dict[str, Callable[[_Request], dict[str, Any]]] = {
    "GET /admin/notification-rules": _get_rules,
    "PUT /admin/notification-rules": _put_rules,
}
ROUTE_KEYS = frozenset(_ROUTES)


def _rules_response(saved: SavedRules) -> dict[str, Any]:
    answer = NotificationRulesAnswer.model_validate({**saved.rules.model_dump(), "updated_at": saved.updated_at})
    return json_response(200, answer.model_dump(mode="json"), {"etag": etag_of(saved.rules.version)})


def _stale(version: int) -> dict[str, Any]:
    return json_response(
        412,
        {
            "error": "precondition_failed",
            "message": "the rules changed since that version; `version` is the current one: read, then send again",
            "version": version,
        },
        {"etag": etag_of(version)},
    )


def _wanted_version(event: Mapping[str, Any], sent: NotificationRulesAnswer) -> int | None:
    """The version the save is conditional on: If-Match's (_ANY_VERSION for *, _NO_VERSION for anything that is
    not a version, which then matches none), else the body's own `version`, else None (the version just read)."""
    raw = (event.get("headers") or {}).get("if-match")
    if isinstance(raw, str):
        raw = raw.strip()
        if raw == "*":
            return _ANY_VERSION
        if raw.isascii() and raw.isdigit() and len(raw) <= 12:
            return int(raw)
        named = version_named(raw)
        return named if named is not None else _NO_VERSION
    return sent.version if "version" in sent.model_fields_set else None


def _holds(wanted: int | None, version: int) -> bool:
    """Whether the save's precondition holds for the rules at `version` (RFC 9110 §13.1.1: * holds for rules that
    exist, that is, were saved once; 0 names rules never saved)."""
    if wanted is None:
        return True
    if wanted == _ANY_VERSION:
        return version > 0
    return wanted == version


def _document(event: Mapping[str, Any]) -> Any:
    body = event.get("body") or ""
    encoded = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else b""
    if event.get("isBase64Encoded") or len(encoded) > MAX_BODY_BYTES:
        raise InvalidRequest(f"send the notification rules as JSON of at most {MAX_BODY_BYTES} bytes")
    try:
        return read_json(encoded)
    except SwitchboardError as exc:
        raise InvalidRequest("the body must be the notification rules as JSON") from exc


# -- The checks ------------------------------------------------------------------------------------------------


def valid_rules(document: Any) -> NotificationRulesAnswer:
    """The body of PUT /admin/notification-rules, or InvalidRules with every problem in it: the models' own, and
    rule_problems'."""
    problems = rule_problems(document)
    try:
        validated = NotificationRulesAnswer.model_validate(document)
    except ValidationError as exc:
        raise InvalidRules(_model_problems(exc) + problems) from None
    if problems:
        raise InvalidRules(problems)
    return validated


def rule_problems(document: Any) -> list[Problem]:
    """What the models cannot check alone, read from the body as sent (so that they are reported together with the
    models' own problems, even in rules the models refuse):

    - each event type has one rule (at the repeat), each channel is once in the fallback chain;
    - every locale's templates give a message on at least one channel, and name only facts the events have;
    - an advertising rule needs the shop's name and an opt-out instruction, and has no AlimTalk template;
    - delay detection that is on sends an apology or opens a ticket;
    - quiet hours start and end apart; the default locale a BCP 47 tag, the default time zone an IANA one;
    - the senders in their providers' formats.
    """
    if not isinstance(document, dict):
        return []
    problems: list[Problem] = []
    rules = document.get("rules")
    if isinstance(rules, list):
        problems += _rules_problems(rules[:MAX_RULES], document)
    # Left out, delay detection is the model's default: on, with no templates.
    delay = document.get("delay_detection", {})
    if isinstance(delay, dict):
        problems += _delay_problems(delay)
    chain = document.get("fallback_chain")
    if isinstance(chain, list):
        problems += _repeats(chain, ("fallback_chain",), set(NotifyChannel), "the chain")
    quiet = document.get("quiet_hours")
    if isinstance(quiet, dict) and _same_time(quiet.get("start", "21:00"), quiet.get("end", "08:00")):
        problems.append(Problem(("quiet_hours", "end"), "quiet hours end when they start: give the hours they span"))
    problems += _defaults_problems(document)
    senders = document.get("senders")
    if isinstance(senders, dict):
        problems += _sender_problems(senders)
    return problems


def _rules_problems(rules: list[Any], document: dict[str, Any]) -> list[Problem]:
    problems = _repeats(
        [rule.get("event_type") if isinstance(rule, dict) else None for rule in rules],
        ("rules",),
        set(OrderEventType),
        "the rules",
        inner="event_type",
    )
    advertising = False
    for index, rule in enumerate(rules):
        if not isinstance(rule, dict):
            continue
        templates = rule.get("templates")
        where: tuple[str | int, ...] = ("rules", index, "templates")
        if isinstance(templates, dict):
            problems += _templates_problems(templates, where)
        if rule.get("category") == "advertising":
            advertising = True
            problems += _advertising_template_problems(templates, where)
    if advertising:
        # 정보통신망법 제50조 ④: an advertisement names its sender and a free way to refuse it; notifications/
        # consent.py `advertising_text` puts both in every Korean advertising message.
        if not _filled(document.get("shop_name")):
            problems.append(Problem(("shop_name",), "an advertising rule needs the shop's name: ads name their sender"))
        if not _filled(document.get("opt_out_instruction", _DEFAULT_OPT_OUT)):
            problems.append(
                Problem(("opt_out_instruction",), "an advertising rule needs a free opt-out instruction (080 number)")
            )
    return problems


def _advertising_template_problems(templates: Any, where: tuple[str | int, ...]) -> list[Problem]:
    # Kakao reviews AlimTalk templates as informational messages and rejects those with promotion (NHN Cloud's
    # AlimTalk template review, TSC04); advertising goes by FriendTalk, which Switchboard does not send.
    if not isinstance(templates, dict):
        return []
    return [
        Problem((*where, locale, "alimtalk"), "AlimTalk carries informational messages only, never advertising")
        for locale, channels in templates.items()
        if isinstance(channels, dict) and channels.get("alimtalk") is not None
    ]


def _delay_problems(delay: dict[str, Any]) -> list[Problem]:
    templates = delay.get("templates")
    problems = _templates_problems(templates, ("delay_detection", "templates")) if isinstance(templates, dict) else []
    if delay.get("enabled", True) is True and not delay.get("open_ticket") and not templates:
        problems.append(
            Problem(
                ("delay_detection", "templates"),
                "delay detection is on, yet neither apologizes (no templates) nor opens a ticket: give templates, "
                "set open_ticket, or set enabled false",
            )
        )
    return problems


def _templates_problems(templates: dict[Any, Any], where: tuple[str | int, ...]) -> list[Problem]:
    """Each locale's key a BCP 47 tag, its templates a message on at least one channel naming known facts only."""
    problems = []
    for locale, channels in templates.items():
        place = (*where, locale)
        if not (isinstance(locale, str) and len(locale) <= 35 and _LOCALE.fullmatch(locale)):
            problems.append(Problem(place, "a locale is a BCP 47 tag such as ko, en or ko-KR"))
        if not isinstance(channels, dict):
            continue
        if all(channels.get(channel.value) is None for channel in NotifyChannel):
            problems.append(Problem(place, f"no message on any channel: give at least one of {_CHANNEL_NAMES}"))
        problems += _text_problems(channels, place)
        email = channels.get("email")
        subject = email.get("subject") if isinstance(email, dict) else None
        if isinstance(subject, str) and ("\r" in subject or "\n" in subject):
            problems.append(Problem((*place, "email", "subject"), "a subject is one line: no line breaks"))
    return problems


def _text_problems(channels: dict[str, Any], place: tuple[str | int, ...]) -> list[Problem]:
    """A placeholder naming a fact no event has: it would reach the customer as written."""
    problems = []
    for where, text in _texts(channels):
        for name in _unknown_facts(text):
            problems.append(
                Problem(
                    (*place, *where),
                    f"{{{name}}} is no fact of an order event; templates name {', '.join(sorted(TEMPLATE_FACTS))}",
                )
            )
    return problems


def _texts(channels: dict[str, Any]) -> list[tuple[tuple[str | int, ...], Any]]:
    """Every text template of one locale, with where it is under that locale."""
    texts: list[tuple[tuple[str | int, ...], Any]] = [((name,), channels.get(name)) for name in _TEXT_CHANNELS]
    whatsapp, alimtalk, email = (channels.get(name) for name in ("whatsapp", "alimtalk", "email"))
    if isinstance(whatsapp, dict) and isinstance(whatsapp.get("parameters"), list):
        texts += [(("whatsapp", "parameters", i), text) for i, text in enumerate(whatsapp["parameters"])]
    if isinstance(alimtalk, dict):
        variables = alimtalk.get("variables")
        if isinstance(variables, dict):
            texts += [(("alimtalk", "variables", name), text) for name, text in variables.items()]
        texts += [(("alimtalk", name), alimtalk.get(name)) for name in ("resend_text", "resend_title")]
    if isinstance(email, dict):
        texts += [(("email", name), email.get(name)) for name in ("subject", "body")]
    return texts


def _unknown_facts(text: Any) -> list[str]:
    if not isinstance(text, str):
        return []
    unknown = []
    for found in _FACT.finditer(text):
        if found.group(1) not in TEMPLATE_FACTS and found.group(1) not in unknown:
            unknown.append(found.group(1))
    return unknown


def _repeats(
    values: list[Any], where: tuple[str | int, ...], known: set[str], what: str, *, inner: str | None = None
) -> list[Problem]:
    """A value (among `known`: an unknown one is pydantic's to report) given again, at each repeat."""
    first: dict[str, int] = {}
    problems = []
    for index, value in enumerate(values):
        if not isinstance(value, str) or value not in known:
            continue
        if value in first:
            place = (*where, index, inner) if inner else (*where, index)
            problems.append(Problem(place, f"{value} is in {what} already, at {first[value]}"))
        else:
            first[value] = index
    return problems


def _same_time(start: Any, end: Any) -> bool:
    """Whether two times the body gives are the same instant of the day (a time pydantic refuses is not)."""
    try:
        return _time_of(start) == _time_of(end)
    except (TypeError, ValueError):
        return False


def _time_of(value: Any) -> time:
    if not isinstance(value, str) or len(value) > 32:
        raise ValueError("not a time")
    return time.fromisoformat(value)


def _defaults_problems(document: dict[str, Any]) -> list[Problem]:
    problems = []
    locale = document.get("default_locale")
    if isinstance(locale, str) and not (len(locale) <= 35 and _LOCALE.fullmatch(locale)):
        problems.append(Problem(("default_locale",), "a locale is a BCP 47 tag such as ko, en or ko-KR"))
    zone = document.get("default_timezone")
    if isinstance(zone, str) and not _is_time_zone(zone):
        problems.append(Problem(("default_timezone",), "an IANA time zone such as Asia/Seoul"))
    return problems


def _is_time_zone(name: str) -> bool:
    if not 1 <= len(name) <= 64:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _sender_problems(senders: dict[str, Any]) -> list[Problem]:
    problems = []
    sms_from = senders.get("sms_from")
    if isinstance(sms_from, str) and not _E164.fullmatch(sms_from):
        problems.append(Problem(("senders", "sms_from"), "an E.164 number such as +821012345678"))
    sender_key = senders.get("alimtalk_sender_key")
    if isinstance(sender_key, str) and not (
        len(sender_key) == _SENDER_KEY_CHARS and sender_key.isascii() and sender_key.isalnum()
    ):
        problems.append(
            Problem(("senders", "alimtalk_sender_key"), f"NHN Cloud's senderKey: {_SENDER_KEY_CHARS} letters or digits")
        )
    resend_number = senders.get("alimtalk_resend_number")
    if isinstance(resend_number, str) and not _SENDER_NUMBER.fullmatch(resend_number):
        problems.append(
            Problem(("senders", "alimtalk_resend_number"), "a registered sender number, digits only: 0212345678")
        )
    email_from = senders.get("email_from")
    if isinstance(email_from, str) and not _is_address(email_from):
        problems.append(Problem(("senders", "email_from"), "an address such as orders@shop.example"))
    return problems


def _is_address(text: str) -> bool:
    """One plain address (local@domain.tld), never a display name or a list: it goes into From as it is."""
    local, at, domain = text.rpartition("@")
    plain = text.isprintable() and not any(c.isspace() or c in '<>,;"()[]\\' for c in text)
    return bool(at and local and plain and "@" not in local and "." in domain.strip(".") and len(text) <= 320)


def _filled(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _model_problems(exc: ValidationError) -> list[Problem]:
    """pydantic's errors as problems at their places in the body, never quoting what was sent. The models' own
    "one rule per event_type" is left to rule_problems, which says where the repeat is."""
    errors = exc.errors(include_url=False, include_context=False, include_input=False)[: 4 * MAX_LISTED_PROBLEMS]
    return [
        Problem(tuple(error["loc"]), error["msg"].removeprefix("Value error, "))
        for error in errors
        if not (error["loc"] == () and "one rule per event_type" in error["msg"])
    ]
