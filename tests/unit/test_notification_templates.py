"""Templates (notifications/templates.py): the order's facts in the customer's language and time zone, rendered
into each channel's message; only known {names} are replaced, in linear time, whatever the template holds."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.models import NotifyChannel
from switchboard.notifications.models import (
    AlimTalkTemplateSpec,
    ChannelTemplates,
    EmailTemplateSpec,
    WhatsAppTemplateSpec,
)
from switchboard.notifications.templates import (
    STATUS_WORDS,
    Rendered,
    RenderedAlimTalk,
    RenderedEmail,
    facts_of,
    localized_date,
    pick_locale,
    render,
    render_for,
)
from switchboard.orders.events import OrderCustomer, OrderEventType, OrderSource
from switchboard.orders.state import OrderState, ShipmentState

E = OrderEventType
C = NotifyChannel
# Friday 4 December 2026, 18:00 in Seoul
PROMISED = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
SEEN = datetime(2026, 12, 1, tzinfo=UTC)


def order(**changes: object) -> OrderState:
    base = OrderState(
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
                promised_delivery_at=PROMISED,
                updated_at=SEEN,
            )
        },
        first_seen_at=SEEN,
        updated_at=SEEN,
    )
    return base.model_copy(update=changes)


# -- render ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("주문 {order_number}", "주문 1042"),
        ("{order_number}{order_number}", "10421042"),
        ("{unknown} {order_number}", "{unknown} 1042"),
        ("{{order_number}}", "{1042}"),
        ("{ order_number}", "{ order_number}"),
        ("{order_number", "{order_number"),
        ("order_number}", "order_number}"),
        ("}{order_number}{", "}1042{"),
        ("{0} {__class__} {order_number.__class__}", "{0} {__class__} {order_number.__class__}"),
        ("", ""),
    ],
)
def test_render_replaces_only_known_names(template: str, expected: str) -> None:
    assert render(template, {"order_number": "1042"}) == expected


def test_a_value_is_never_read_as_a_template() -> None:
    # Given a customer whose name looks like a placeholder
    facts = {"customer_name": "{order_number}", "order_number": "1042"}
    # Then it is shown as written
    assert render("{customer_name}님 {order_number}", facts) == "{order_number}님 1042"


@pytest.mark.parametrize(
    "hostile",
    [
        "{" * 100_000,
        "}" * 100_000,
        "{" * 50_000 + "}" * 50_000,
        "{a" * 50_000 + "}",
        "{order_number}" * 7_000,
        "{x}" * 33_000,
        "{" * 99_999 + "{order_number}",
    ],
    ids=["opening", "closing", "nested", "unclosed-names", "many-known", "many-unknown", "deep-then-known"],
)
def test_a_hostile_template_renders_in_one_pass(hostile: str) -> None:
    # Given a 100k-character template of braces, When rendered, Then it completes (linear: a quadratic scan of
    # these would take minutes) and the output grows with the input, each known name adding its value only
    facts = {"order_number": "1042"}
    out = render(hostile, facts)
    known = hostile.count("{order_number}")
    assert len(out) == len(hostile) + known * (len("1042") - len("{order_number}"))


@settings(max_examples=400)
@given(st.text(alphabet="{}ab_order_number", max_size=200))
def test_property_render_replaces_exactly_the_innermost_brace_pairs_naming_a_fact(template: str) -> None:
    # The reference: a regular expression over innermost {...} pairs (fine here, on short test inputs)
    facts = {"order_number": "1042", "a": "A"}
    expected = re.sub(r"\{([^{}]*)\}", lambda match: facts.get(match[1], match[0]), template)
    assert render(template, facts) == expected
    assert render(template, {}) == template


# -- locales and facts -------------------------------------------------------------------------------------------

KO, EN, JA = ChannelTemplates(sms="ko"), ChannelTemplates(sms="en"), ChannelTemplates(sms="ja")


@pytest.mark.parametrize(
    ("templates", "locale", "default", "expected"),
    [
        ({"ko": KO, "en": EN}, "ko-KR", "en", KO),
        ({"ko-KR": KO, "en": EN}, "ko_kr", "en", KO),
        ({"ko-KR": KO, "en": EN}, "ko", "en", KO),
        ({"ko": KO, "en": EN, "ja": JA}, "ja-JP", "ko", JA),
        ({"ko": KO, "en": EN}, "fr-FR", "en", EN),
        ({"ko": KO, "en": EN}, None, "ko", KO),
        ({"ja": JA}, "fr", "ko", JA),
        ({}, "ko", "ko", None),
    ],
)
def test_pick_locale(
    templates: dict[str, ChannelTemplates], locale: str | None, default: str, expected: ChannelTemplates | None
) -> None:
    assert pick_locale(templates, locale, default) == expected


@pytest.mark.parametrize(
    ("language", "zone", "expected"),
    [
        ("ko", "Asia/Seoul", "12월 4일 (금) 18:00"),
        ("en", "Asia/Seoul", "Fri 4 Dec, 18:00"),
        ("ja", "Asia/Tokyo", "12月4日(金) 18:00"),
        # the same instant for a customer in New York is Friday 04:00 there
        ("en", "America/New_York", "Fri 4 Dec, 04:00"),
        ("ko", "Europe/Berlin", "12월 4일 (금) 10:00"),
    ],
)
def test_dates_read_as_the_customer_writes_them(language: str, zone: str, expected: str) -> None:
    assert localized_date(PROMISED, language, zone) == expected  # type: ignore[arg-type]


def test_every_event_type_has_a_status_word_in_every_language() -> None:
    for words in STATUS_WORDS.values():
        assert set(words) == set(E) and all(words.values())
    assert {STATUS_WORDS[language][E.SHIPMENT_IN_TRANSIT] for language in ("ko", "en", "ja")} == {
        "배송 중",
        "In transit",
        "輸送中",
    }


def test_facts_of_a_shipment_event_in_korean() -> None:
    facts = facts_of(order(), E.SHIPMENT_IN_TRANSIT, "S-1", shop_name="민준상회", timezone="Asia/Seoul", locale="ko-KR")
    assert facts == {
        "order_number": "1042",
        "customer_name": "김민준",
        "carrier": "CJ대한통운",
        "tracking_number": "6543210987",
        "tracking_url": "https://trace.example/6543210987",
        "promised_date": "12월 4일 (금) 18:00",
        "status": "배송 중",
        "shipment_status": "배송 중",
        "shop_name": "민준상회",
    }


def test_facts_the_order_does_not_know_read_as_a_dash_and_the_customer_is_addressed_politely() -> None:
    # Given an order with no number, no customer name and no shipment (a refund)
    bare = order(number=None, customer=OrderCustomer(), shipments={})
    for locale, addressed in (("ja", "お客"), ("en", "there"), ("ko", "고객")):
        facts = facts_of(bare, E.REFUND_ISSUED, None, shop_name="Shop", timezone="Asia/Tokyo", locale=locale)
        # Then the order id stands for the number, the name is the polite stand-in, the rest is "-"
        assert facts["order_number"] == "A-1042" and facts["customer_name"] == addressed
        assert facts["carrier"] == facts["tracking_number"] == facts["promised_date"] == "-"
        assert facts["status"] == STATUS_WORDS[locale][E.REFUND_ISSUED]  # type: ignore[index]


def test_the_delay_apology_names_the_shipments_latest_status() -> None:
    facts = facts_of(order(), E.SHIPMENT_DELAYED, None, shop_name="Shop", timezone="Asia/Seoul", locale="en-US")
    assert (facts["status"], facts["shipment_status"]) == ("Delayed", "In transit")


# -- each channel's message --------------------------------------------------------------------------------------

FACTS = {"order_number": "1042", "customer_name": "김민준", "carrier": "CJ대한통운", "shop_name": "민준상회"}
FULL = ChannelTemplates(
    sms="[{shop_name}] {customer_name}님, 주문({order_number}) 배송 중 {carrier}",
    line="LINE {order_number}",
    telegram="TG {order_number}",
    whatsapp=WhatsAppTemplateSpec(
        name="shipment_in_transit", language="ko", parameters=("{customer_name}", "{order_number}", "{missing}", "")
    ),
    alimtalk=AlimTalkTemplateSpec(
        template_code="SB_IN_TRANSIT_KO",
        variables={"고객명": "{customer_name}", "주문번호": "{order_number}"},
        resend_text="[{shop_name}] {order_number} 배송 중",
        resend_title="{shop_name} 배송",
    ),
    email=EmailTemplateSpec(subject="[{shop_name}] 주문 {order_number}", body="{customer_name}님,\n{order_number}"),
)


def test_render_for_text_channels() -> None:
    assert render_for(FULL, C.SMS, FACTS) == Rendered(
        channel=C.SMS, text="[민준상회] 김민준님, 주문(1042) 배송 중 CJ대한통운"
    )
    assert render_for(FULL, C.LINE, FACTS) == Rendered(channel=C.LINE, text="LINE 1042")
    assert render_for(FULL, C.TELEGRAM, FACTS) == Rendered(channel=C.TELEGRAM, text="TG 1042")


def test_render_for_a_channel_without_a_template_is_none() -> None:
    assert render_for(FULL, C.MESSENGER, FACTS) is None
    assert render_for(FULL, C.INSTAGRAM, FACTS) is None
    for channel in C:
        assert render_for(ChannelTemplates(), channel, FACTS) is None


def test_render_for_whatsapp_fills_every_parameter_on_one_line() -> None:
    rendered = render_for(FULL, C.WHATSAPP, {**FACTS, "customer_name": "김\n민준   \t님"})
    assert rendered is not None and rendered.whatsapp is not None
    # an unknown name stays as written, an empty parameter becomes "-" (WhatsApp refuses empty ones)
    assert rendered.whatsapp.parameters == ("김 민준 님", "1042", "{missing}", "-")
    assert (rendered.whatsapp.name, rendered.whatsapp.language) == ("shipment_in_transit", "ko")


def test_render_for_alimtalk_fills_the_variables_and_the_fallback_sms() -> None:
    rendered = render_for(FULL, C.ALIMTALK, FACTS)
    assert rendered == Rendered(
        channel=C.ALIMTALK,
        text="[민준상회] 1042 배송 중",
        alimtalk=RenderedAlimTalk(
            template_code="SB_IN_TRANSIT_KO",
            parameters={"고객명": "김민준", "주문번호": "1042"},
            resend_text="[민준상회] 1042 배송 중",
            resend_title="민준상회 배송",
        ),
    )


def test_render_for_email_keeps_the_subject_on_one_line() -> None:
    rendered = render_for(FULL, C.EMAIL, {**FACTS, "shop_name": "Shop\r\nBcc: victim@example.com"})
    assert rendered is not None and rendered.email == RenderedEmail(
        subject="[Shop Bcc: victim@example.com] 주문 1042", body="김민준님,\n1042"
    )
