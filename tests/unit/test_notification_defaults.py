"""The default notification rules (notifications/defaults.py): valid rules, every shipment, return and refund event
notifying in Korean, English and Japanese on every channel they name, with no placeholder left unrendered."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from switchboard.models import NotifyChannel
from switchboard.notifications.defaults import DEFAULT_RULES
from switchboard.notifications.models import Category, ChannelTemplates, NotificationRules
from switchboard.notifications.templates import facts_of, pick_locale, render_for
from switchboard.orders.events import OrderCustomer, OrderEventType, OrderSource
from switchboard.orders.state import OrderState, ShipmentState

E = OrderEventType
C = NotifyChannel
SEEN = datetime(2026, 12, 1, tzinfo=UTC)
NOTIFYING = {kind for kind in E if kind.is_shipment} | {E.RETURN_RECEIVED, E.REFUND_ISSUED}
CHANNELS = (C.ALIMTALK, C.SMS, C.WHATSAPP, C.LINE, C.TELEGRAM, C.EMAIL)
ORDER = OrderState(
    order_key="generic#shop.example#A-1042",
    source=OrderSource.GENERIC,
    shop="shop.example",
    order_id="A-1042",
    number="1042",
    customer=OrderCustomer(name="김민준"),
    shipments={
        "S-1": ShipmentState(
            id="S-1",
            status=E.SHIPMENT_IN_TRANSIT,
            carrier="CJ대한통운",
            tracking_number="6543210987",
            tracking_url="https://trace.example/6543210987",
            promised_delivery_at=datetime(2026, 12, 4, 9, 0, tzinfo=UTC),
            updated_at=SEEN,
        )
    },
    first_seen_at=SEEN,
    updated_at=SEEN,
)


def all_templates() -> list[tuple[str, str, ChannelTemplates]]:
    """(what, locale, templates) for every rule and the delay apology."""
    found = [(rule.event_type.value, locale, t) for rule in DEFAULT_RULES.rules for locale, t in rule.templates.items()]
    found += [("delay_apology", locale, t) for locale, t in DEFAULT_RULES.delay_detection.templates.items()]
    return found


def rendered(
    event_type: OrderEventType, locale: str, channel: NotifyChannel, templates: ChannelTemplates | None = None
):
    rule = DEFAULT_RULES.rule_for(event_type)
    assert rule is not None
    chosen = templates or pick_locale(rule.templates, locale, DEFAULT_RULES.default_locale)
    assert chosen is not None
    facts = facts_of(ORDER, event_type, "S-1", shop_name="민준상회", timezone="Asia/Seoul", locale=locale)
    return render_for(chosen, channel, facts)


def test_the_defaults_are_valid_rules_and_survive_storage() -> None:
    stored = json.dumps(DEFAULT_RULES.model_dump(mode="json"), ensure_ascii=False)
    assert NotificationRules.model_validate_json(stored) == DEFAULT_RULES
    # one DynamoDB item holds them, far below its 400 KB
    assert len(stored.encode()) < 200_000


def test_every_shipment_return_and_refund_event_notifies_and_order_events_do_not() -> None:
    assert {rule.event_type for rule in DEFAULT_RULES.rules} == NOTIFYING
    assert all(DEFAULT_RULES.rule_for(kind) is not None for kind in NOTIFYING)
    assert all(DEFAULT_RULES.rule_for(kind) is None for kind in (E.ORDER_PLACED, E.ORDER_PAID, E.ORDER_CANCELLED))


def test_every_default_is_transactional() -> None:
    assert {rule.category for rule in DEFAULT_RULES.rules} == {Category.TRANSACTIONAL}


def test_the_fallback_chain_and_delay_detection() -> None:
    assert DEFAULT_RULES.fallback_chain == (C.ALIMTALK, C.SMS, C.EMAIL)
    assert DEFAULT_RULES.delay_detection.enabled
    assert set(DEFAULT_RULES.delay_detection.templates) == {"ko", "en", "ja"}


@pytest.mark.parametrize(
    ("what", "locale", "templates"), all_templates(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_locale_has_every_channel_and_renders_every_placeholder(
    what: str, locale: str, templates: ChannelTemplates
) -> None:
    assert locale in ("ko", "en", "ja")
    event_type = E.SHIPMENT_DELAYED if what == "delay_apology" else E(what)
    facts = facts_of(ORDER, event_type, "S-1", shop_name="민준상회", timezone="Asia/Seoul", locale=locale)
    for channel in CHANNELS:
        message = render_for(templates, channel, facts)
        assert message is not None, channel
        texts = [message.text]
        if message.alimtalk is not None:
            texts += [*message.alimtalk.parameters.values(), message.alimtalk.resend_title or ""]
            assert len(message.alimtalk.template_code) <= 20
            assert len(message.alimtalk.resend_title or "") <= 40  # NHN Cloud's LMS title
        if message.whatsapp is not None:
            texts += list(message.whatsapp.parameters)
            assert re.fullmatch(r"[a-z_]+", message.whatsapp.name)
        if message.email is not None:
            texts += [message.email.subject, message.email.body]
        # Then no {name} is left for the customer to see
        assert not any(re.search(r"\{[a-z_]+\}", text) for text in texts), (channel, texts)


def test_alimtalk_variables_and_whatsapp_parameters_name_the_same_facts_in_order() -> None:
    for what, _locale, templates in all_templates():
        assert templates.alimtalk is not None and templates.whatsapp is not None
        variables = dict(templates.alimtalk.variables)
        assert variables.pop("쇼핑몰") == "{shop_name}"
        assert tuple(variables.values()) == templates.whatsapp.parameters, what
        assert list(variables)[:2] == ["고객명", "주문번호"]
        if what.startswith("shipment."):
            assert {"택배사", "송장번호", "배송조회"} <= set(variables)


def test_alimtalk_template_codes_are_unique() -> None:
    codes = [t.alimtalk.template_code for _, _, t in all_templates() if t.alimtalk]
    assert len(codes) == len(set(codes))


def test_the_korean_shipping_message_reads_naturally() -> None:
    message = rendered(E.SHIPMENT_IN_TRANSIT, "ko-KR", C.SMS)
    assert message is not None
    assert message.text == (
        "[민준상회] 김민준님, 주문하신 상품(1042)이 배송 중입니다.\n"
        "택배사: CJ대한통운\n"
        "송장번호: 6543210987\n"
        "배송조회: https://trace.example/6543210987"
    )


def test_the_korean_alimtalk_carries_its_variables_and_the_same_text_for_failover() -> None:
    message = rendered(E.SHIPMENT_IN_TRANSIT, "ko", C.ALIMTALK)
    assert message is not None and message.alimtalk is not None
    assert message.alimtalk.template_code == "SB_IN_TRANSIT_KO"
    assert message.alimtalk.parameters == {
        "쇼핑몰": "민준상회",
        "고객명": "김민준",
        "주문번호": "1042",
        "택배사": "CJ대한통운",
        "송장번호": "6543210987",
        "배송조회": "https://trace.example/6543210987",
    }
    assert message.alimtalk.resend_text == rendered(E.SHIPMENT_IN_TRANSIT, "ko", C.SMS).text  # type: ignore[union-attr]
    assert message.alimtalk.resend_title == "배송 중 안내"


def test_the_english_and_japanese_messages() -> None:
    english = rendered(E.SHIPMENT_DELAYED, "en-US", C.SMS)
    assert english is not None and english.text.splitlines()[0] == (
        "[민준상회] Hi 김민준, your order 1042 is delayed. We are sorry for the wait. Expected: Fri 4 Dec, 18:00"
    )
    japanese = rendered(E.SHIPMENT_DELIVERED, "ja-JP", C.EMAIL)
    assert japanese is not None and japanese.email is not None
    assert japanese.email.subject == "[민준상회] 配達完了のお知らせ（ご注文 1042）"
    assert "ご注文の商品（1042）のお届けが完了しました。" in japanese.email.body


def test_whatsapp_templates_are_named_per_event_with_the_customers_language() -> None:
    message = rendered(E.SHIPMENT_CREATED, "ja", C.WHATSAPP)
    assert message is not None and message.whatsapp is not None
    assert (message.whatsapp.name, message.whatsapp.language) == ("order_shipped", "ja")
    assert message.whatsapp.parameters == (
        "김민준",
        "1042",
        "CJ대한통운",
        "6543210987",
        "https://trace.example/6543210987",
    )
