"""Turning a notification rule's templates and an order's facts into the message one channel sends.

Templates name the facts as `{order_number}`, `{customer_name}`, `{carrier}`, `{tracking_number}`,
`{tracking_url}`, `{promised_date}`, `{status}`, `{shipment_status}` and `{shop_name}`. `render` replaces exactly
those names and leaves every other brace as written, in one left-to-right pass (linear in the template, whatever
braces it holds); it never uses str.format, so a template cannot reach attributes or crash on a stray brace, and
a fact's value (a customer's name from the shop) is never read as a template itself.

Facts are in the customer's language (ko, en or ja; others read English) and time zone. A fact the order does not
know reads "-": WhatsApp refuses an empty template parameter (Twilio error 63013), and "송장번호: -" reads as "none yet".
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from switchboard.models import NotifyChannel
from switchboard.notifications.consent import zone_of
from switchboard.notifications.models import ChannelTemplates, WhatsAppTemplateSpec
from switchboard.orders.events import OrderEventType
from switchboard.orders.state import OrderState, ShipmentState

Language = Literal["ko", "en", "ja"]
UNKNOWN = "-"
E = OrderEventType

# What each event is called, in words a customer reads in a message or a subject line.
STATUS_WORDS: dict[Language, dict[OrderEventType, str]] = {
    "ko": {
        E.ORDER_PLACED: "주문 접수",
        E.ORDER_PAID: "결제 완료",
        E.ORDER_CANCELLED: "주문 취소",
        E.SHIPMENT_CREATED: "상품 출고",
        E.SHIPMENT_IN_TRANSIT: "배송 중",
        E.SHIPMENT_OUT_FOR_DELIVERY: "배송 출발",
        E.SHIPMENT_ATTEMPTED_DELIVERY: "배송 시도(부재)",
        E.SHIPMENT_DELIVERED: "배송 완료",
        E.SHIPMENT_FAILURE: "배송 실패",
        E.SHIPMENT_DELAYED: "배송 지연",
        E.SHIPMENT_READY_FOR_PICKUP: "수령 가능",
        E.RETURN_RECEIVED: "반품 입고",
        E.REFUND_ISSUED: "환불 완료",
    },
    "en": {
        E.ORDER_PLACED: "Order placed",
        E.ORDER_PAID: "Payment received",
        E.ORDER_CANCELLED: "Order cancelled",
        E.SHIPMENT_CREATED: "Shipped",
        E.SHIPMENT_IN_TRANSIT: "In transit",
        E.SHIPMENT_OUT_FOR_DELIVERY: "Out for delivery",
        E.SHIPMENT_ATTEMPTED_DELIVERY: "Delivery attempted",
        E.SHIPMENT_DELIVERED: "Delivered",
        E.SHIPMENT_FAILURE: "Delivery failed",
        E.SHIPMENT_DELAYED: "Delayed",
        E.SHIPMENT_READY_FOR_PICKUP: "Ready for pickup",
        E.RETURN_RECEIVED: "Return received",
        E.REFUND_ISSUED: "Refund issued",
    },
    "ja": {
        E.ORDER_PLACED: "ご注文受付",
        E.ORDER_PAID: "お支払い完了",
        E.ORDER_CANCELLED: "ご注文キャンセル",
        E.SHIPMENT_CREATED: "発送済み",
        E.SHIPMENT_IN_TRANSIT: "輸送中",
        E.SHIPMENT_OUT_FOR_DELIVERY: "配達中",
        E.SHIPMENT_ATTEMPTED_DELIVERY: "不在持ち戻り",
        E.SHIPMENT_DELIVERED: "配達完了",
        E.SHIPMENT_FAILURE: "配達不能",
        E.SHIPMENT_DELAYED: "配送遅延",
        E.SHIPMENT_READY_FOR_PICKUP: "受け取り可能",
        E.RETURN_RECEIVED: "返品受領",
        E.REFUND_ISSUED: "返金完了",
    },
}
# How a customer is addressed when the shop sent no name: "고객님", "Hi there", "お客様".
UNNAMED_CUSTOMER: dict[Language, str] = {"ko": "고객", "en": "there", "ja": "お客"}

_WEEKDAYS: dict[Language, tuple[str, ...]] = {
    "ko": ("월", "화", "수", "목", "금", "토", "일"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    "ja": ("月", "火", "水", "木", "金", "土", "日"),
}
_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RenderedAlimTalk(_Model):
    template_code: str
    parameters: dict[str, str]  # NHN Cloud's templateParameter: #{key} -> value
    resend_text: str | None = None  # 대체발송 content (SMS/LMS)
    resend_title: str | None = None  # LMS title


class RenderedEmail(_Model):
    subject: str
    body: str


class Rendered(_Model):
    """One channel's message, ready for its adapter. `text` is what the customer reads as well as we know it (the
    text itself; for template channels the fallback text or the parameters): the timeline copy."""

    channel: NotifyChannel
    text: str
    whatsapp: WhatsAppTemplateSpec | None = None
    alimtalk: RenderedAlimTalk | None = None
    email: RenderedEmail | None = None


def language_of(locale: str | None) -> Language:
    """ko, en or ja from a BCP 47 tag ("ko-KR", "ja_JP"); any other language reads English."""
    language = (locale or "").replace("_", "-").split("-")[0].lower()
    if language == "ko":
        return "ko"
    if language == "ja":
        return "ja"
    return "en"


def pick_locale(templates: dict[str, ChannelTemplates], locale: str | None, default: str) -> ChannelTemplates | None:
    """The templates for the contact's locale: the exact tag ("ko-KR"), then its language ("ko"), then the rules'
    default locale and its language, then the first locale listed; None only when there are none."""
    by_tag = {_tag(key): value for key, value in templates.items()}
    for wanted in (locale, default):
        if not wanted:
            continue
        tag = _tag(wanted)
        found = by_tag.get(tag) or by_tag.get(tag.split("-")[0])
        if found is None:
            found = next((value for key, value in by_tag.items() if key.split("-")[0] == tag.split("-")[0]), None)
        if found is not None:
            return found
    return next(iter(templates.values()), None)


def facts_of(
    state: OrderState,
    event_type: OrderEventType,
    shipment_id: str | None,
    *,
    shop_name: str,
    timezone: str,
    locale: str,
) -> dict[str, str]:
    """What a template may say about the order, in the customer's language and time zone. The shipment is the one
    named, else the one that moved last (for an order event, or when the id is unknown)."""
    language = language_of(locale)
    shipment = _shipment(state, shipment_id)
    promised = shipment.promised_delivery_at if shipment is not None else None
    return {
        "order_number": state.number or state.order_id,
        "customer_name": state.customer.name or UNNAMED_CUSTOMER[language],
        "carrier": (shipment.carrier if shipment else None) or UNKNOWN,
        "tracking_number": (shipment.tracking_number if shipment else None) or UNKNOWN,
        "tracking_url": (shipment.tracking_url if shipment else None) or UNKNOWN,
        "promised_date": localized_date(promised, language, timezone) if promised else UNKNOWN,
        "status": STATUS_WORDS[language][event_type],
        "shipment_status": STATUS_WORDS[language][shipment.status] if shipment else STATUS_WORDS[language][event_type],
        "shop_name": shop_name,
    }


def localized_date(moment: datetime, language: Language, timezone: str) -> str:
    """A date and time as customers write it: "12월 4일 (금) 18:00", "Fri 4 Dec, 18:00", "12月4日(金) 18:00"."""
    local = moment.astimezone(zone_of(timezone))
    weekday = _WEEKDAYS[language][local.weekday()]
    clock = f"{local.hour:02d}:{local.minute:02d}"
    if language == "ko":
        return f"{local.month}월 {local.day}일 ({weekday}) {clock}"
    if language == "ja":
        return f"{local.month}月{local.day}日({weekday}) {clock}"
    return f"{weekday} {local.day} {_MONTHS_EN[local.month - 1]}, {clock}"


def render(text: str, facts: dict[str, str]) -> str:
    """`text` with every placeholder (a fact's name in braces) naming a key of `facts` replaced by its value; other braces stay as
    written. One pass: each character is looked at a bounded number of times, so a hostile template of any length
    renders in linear time."""
    out: list[str] = []
    position = 0
    while True:
        opening = text.find("{", position)
        if opening < 0:
            break
        closing = text.find("}", opening + 1)
        if closing < 0:
            break
        # The innermost "{" before this "}" starts the only name that can end here; what lies before it has no
        # "}" and so holds no name.
        start = text.rfind("{", opening, closing)
        name = text[start + 1 : closing]
        value = facts.get(name)
        out.append(text[position:start])
        out.append(value if value is not None else text[start : closing + 1])
        position = closing + 1
    out.append(text[position:])
    return "".join(out)


def render_for(templates: ChannelTemplates, channel: NotifyChannel, facts: dict[str, str]) -> Rendered | None:
    """The message for `channel` from one locale's templates, or None when that channel has no template there."""
    match channel:
        case NotifyChannel.WHATSAPP:
            return _whatsapp(templates.whatsapp, facts)
        case NotifyChannel.ALIMTALK:
            spec = templates.alimtalk
            if spec is None:
                return None
            parameters = {key: render(value, facts) for key, value in spec.variables.items()}
            resend_text = render(spec.resend_text, facts) if spec.resend_text is not None else None
            alimtalk = RenderedAlimTalk(
                template_code=spec.template_code,
                parameters=parameters,
                resend_text=resend_text,
                resend_title=_one_line(render(spec.resend_title, facts)) if spec.resend_title is not None else None,
            )
            text = resend_text or "\n".join(f"{key}: {value}" for key, value in parameters.items())
            return Rendered(channel=channel, text=text, alimtalk=alimtalk)
        case NotifyChannel.EMAIL:
            if templates.email is None:
                return None
            # A subject is one header line: a newline in a fact (a customer's name) must not start another header.
            email = RenderedEmail(
                subject=_one_line(render(templates.email.subject, facts)), body=render(templates.email.body, facts)
            )
            return Rendered(channel=channel, text=f"{email.subject}\n\n{email.body}", email=email)
        case _:
            template: str | None = getattr(templates, channel.value)
            if template is None:
                return None
            return Rendered(channel=channel, text=render(template, facts))


def _whatsapp(spec: WhatsAppTemplateSpec | None, facts: dict[str, str]) -> Rendered | None:
    if spec is None:
        return None
    # WhatsApp refuses a template parameter that is empty or holds more than four spaces in a row or newlines
    # (Twilio error 63013, "Channel policy violation"): each is one line, and "-" when empty.
    parameters = tuple(_one_line(render(parameter, facts)) or UNKNOWN for parameter in spec.parameters)
    rendered = spec.model_copy(update={"parameters": parameters})
    return Rendered(channel=NotifyChannel.WHATSAPP, text=f"{spec.name}: {' / '.join(parameters)}", whatsapp=rendered)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _tag(locale: str) -> str:
    return locale.replace("_", "-").lower()


def _shipment(state: OrderState, shipment_id: str | None) -> ShipmentState | None:
    if shipment_id is not None and shipment_id in state.shipments:
        return state.shipments[shipment_id]
    return max(state.shipments.values(), key=lambda s: (s.updated_at, s.id), default=None)
