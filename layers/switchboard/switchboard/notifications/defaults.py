"""The notification rules a new installation starts with (`make run` seeds them; PUT /admin/notification-rules
replaces them): every shipment event, return.received and refund.issued notify, all transactional, in Korean,
English and Japanese, on AlimTalk, SMS, WhatsApp, LINE, Telegram and email; the delay apology likewise.

The provider-side templates these name must be registered and approved before they send:

- AlimTalk (NHN Cloud, reviewed by Kakao: TSC03 approved): template code `SB_<EVENT>_<LANG>`, whose body uses the
  variables listed in `variables` as #{고객명}, #{주문번호} ... Informational content only: AlimTalk refuses
  templates with promotion. `resend_text` is the 대체발송 SMS/LMS when KakaoTalk cannot deliver.
- WhatsApp (category utility): template `name` in `ko`, `en` and `ja`, body parameters in this order: {{1}}
  customer name, {{2}} order number, then for shipment events {{3}} carrier, {{4}} tracking number, {{5}}
  tracking link, then {{6}} promised date (delayed, delay apology) and {{7}} the shipment's status (apology).
- SMS, LINE and Telegram send the text as is; email has a subject and a plain-text body.

Messenger and Instagram have no default: outside Meta's 24-hour window a business may only send tagged messages,
and no tag covers a shipping update any more, so those contacts go down the fallback chain.
"""

from __future__ import annotations

from dataclasses import dataclass

from switchboard.notifications.models import (
    AlimTalkTemplateSpec,
    ChannelTemplates,
    DelayDetection,
    EmailTemplateSpec,
    EventRule,
    NotificationRules,
    WhatsAppTemplateSpec,
)
from switchboard.notifications.templates import Language
from switchboard.orders.events import OrderEventType

E = OrderEventType
LANGUAGES: tuple[Language, ...] = ("ko", "en", "ja")
_WHATSAPP_LANGUAGE: dict[Language, str] = {"ko": "ko", "en": "en", "ja": "ja"}


@dataclass(frozen=True)
class _Message:
    """One event's message: its provider template names and, per language, the sentence that says what happened."""

    code: str  # AlimTalk: SB_<code>_<LANG>, at most 20 characters
    whatsapp_name: str
    sentence: dict[Language, str]
    tracking: bool = True  # the carrier, tracking number and link follow
    promised_date: bool = False
    shipment_status: bool = False


_MESSAGES: dict[OrderEventType | None, _Message] = {
    E.SHIPMENT_CREATED: _Message(
        "SHIPPED",
        "order_shipped",
        {
            "ko": "주문하신 상품({order_number})이 출고되었습니다.",
            "en": "your order {order_number} has shipped.",
            "ja": "ご注文の商品（{order_number}）を発送いたしました。",
        },
    ),
    E.SHIPMENT_IN_TRANSIT: _Message(
        "IN_TRANSIT",
        "shipment_in_transit",
        {
            "ko": "주문하신 상품({order_number})이 배송 중입니다.",
            "en": "your order {order_number} is on its way.",
            "ja": "ご注文の商品（{order_number}）は配送中です。",
        },
    ),
    E.SHIPMENT_OUT_FOR_DELIVERY: _Message(
        "OUT_DELIVERY",
        "out_for_delivery",
        {
            "ko": "주문하신 상품({order_number})이 배송을 출발했습니다. 오늘 도착할 예정입니다.",
            "en": "your order {order_number} is out for delivery and should arrive today.",
            "ja": "ご注文の商品（{order_number}）は本日お届け予定です。ただいま配達中です。",
        },
    ),
    E.SHIPMENT_ATTEMPTED_DELIVERY: _Message(
        "ATTEMPTED",
        "delivery_attempted",
        {
            "ko": "주문하신 상품({order_number})을 배송하려 했으나 전해 드리지 못했습니다. "
            "택배사 안내에 따라 다시 받아보실 수 있습니다.",
            "en": "we tried to deliver your order {order_number} but could not hand it over. "
            "The carrier will tell you how to get it.",
            "ja": "ご注文の商品（{order_number}）をお届けにあがりましたが、お渡しできませんでした。"
            "配送業者のご案内に沿って再配達をご依頼ください。",
        },
    ),
    E.SHIPMENT_DELIVERED: _Message(
        "DELIVERED",
        "order_delivered",
        {
            "ko": "주문하신 상품({order_number})의 배송이 완료되었습니다. 이용해 주셔서 감사합니다.",
            "en": "your order {order_number} has been delivered. Thank you for shopping with us.",
            "ja": "ご注文の商品（{order_number}）のお届けが完了しました。ご利用ありがとうございました。",
        },
    ),
    E.SHIPMENT_FAILURE: _Message(
        "FAILED",
        "delivery_failed",
        {
            "ko": "주문하신 상품({order_number})의 배송 중 문제가 생겨 전해 드리지 못했습니다. "
            "불편을 드려 죄송합니다. 문의해 주시면 바로 도와드리겠습니다.",
            "en": "something went wrong delivering your order {order_number}, and it could not be delivered. "
            "We are sorry. Contact us and we will help right away.",
            "ja": "ご注文の商品（{order_number}）は配送中に問題が発生し、お届けできませんでした。"
            "ご迷惑をおかけし申し訳ございません。お問い合わせいただければ、すぐに対応いたします。",
        },
    ),
    E.SHIPMENT_DELAYED: _Message(
        "DELAYED",
        "delivery_delayed",
        {
            "ko": "주문하신 상품({order_number})의 배송이 지연되고 있습니다. 불편을 드려 죄송합니다. "
            "도착 예정: {promised_date}",
            "en": "your order {order_number} is delayed. We are sorry for the wait. Expected: {promised_date}",
            "ja": "ご注文の商品（{order_number}）の配送が遅れております。ご迷惑をおかけし申し訳ございません。"
            "お届け予定：{promised_date}",
        },
        promised_date=True,
    ),
    E.SHIPMENT_READY_FOR_PICKUP: _Message(
        "PICKUP",
        "ready_for_pickup",
        {
            "ko": "주문하신 상품({order_number})을 찾아가실 수 있습니다. 수령 장소에서 받아 가 주세요.",
            "en": "your order {order_number} is ready for pickup.",
            "ja": "ご注文の商品（{order_number}）のお受け取りの準備ができました。受け取り場所でお受け取りください。",
        },
    ),
    E.RETURN_RECEIVED: _Message(
        "RETURN_RCVD",
        "return_received",
        {
            "ko": "반품하신 상품(주문 {order_number})이 도착했습니다. 확인 후 환불을 진행해 드리겠습니다.",
            "en": "we have received your return for order {order_number}. We will refund you once we have checked it.",
            "ja": "ご返品の商品（ご注文 {order_number}）を受け取りました。確認後、返金の手続きを進めます。",
        },
        tracking=False,
    ),
    E.REFUND_ISSUED: _Message(
        "REFUNDED",
        "refund_issued",
        {
            "ko": "주문({order_number})의 환불이 완료되었습니다. 결제 수단에 따라 반영까지 며칠 걸릴 수 있습니다.",
            "en": "your refund for order {order_number} has been issued. "
            "It may take a few days to show, depending on how you paid.",
            "ja": "ご注文（{order_number}）の返金手続きが完了しました。お支払い方法により、反映まで数日かかる場合があります。",
        },
        tracking=False,
    ),
    # The scheduler's apology when a promised date passes without a delivery (DelayDetection.templates).
    None: _Message(
        "DELAY_SORRY",
        "delivery_delay_apology",
        {
            "ko": "주문하신 상품({order_number})이 안내해 드린 도착 예정일({promised_date})까지 도착하지 않아 "
            "죄송합니다. 빠르게 받아보실 수 있도록 확인하겠습니다. 현재 배송 상태: {shipment_status}",
            "en": "your order {order_number} has not arrived by {promised_date} as we promised, and we are sorry. "
            "We are looking into it. Current status: {shipment_status}",
            "ja": "ご注文の商品（{order_number}）が、お届け予定日（{promised_date}）を過ぎてもお届けできておらず、"
            "誠に申し訳ございません。至急確認いたします。現在の状況：{shipment_status}",
        },
        promised_date=True,
        shipment_status=True,
    ),
}

_GREETING: dict[Language, str] = {
    "ko": "[{shop_name}] {customer_name}님, ",
    "en": "[{shop_name}] Hi {customer_name}, ",
    "ja": "[{shop_name}] {customer_name}様、",
}
_TRACKING: dict[Language, str] = {
    "ko": "택배사: {carrier}\n송장번호: {tracking_number}\n배송조회: {tracking_url}",
    "en": "Carrier: {carrier}\nTracking number: {tracking_number}\nTrack it: {tracking_url}",
    "ja": "配送業者：{carrier}\n追跡番号：{tracking_number}\n配送状況の確認：{tracking_url}",
}
_EMAIL_SUBJECT: dict[Language, str] = {
    "ko": "[{shop_name}] {status} 안내 (주문 {order_number})",
    "en": "[{shop_name}] {status}: order {order_number}",
    "ja": "[{shop_name}] {status}のお知らせ（ご注文 {order_number}）",
}
_EMAIL_OPENING: dict[Language, str] = {
    "ko": "{customer_name}님, 안녕하세요. {shop_name}입니다.",
    "en": "Hi {customer_name},",
    "ja": "{customer_name}様\n\nいつも{shop_name}をご利用いただきありがとうございます。",
}
_EMAIL_CLOSING: dict[Language, str] = {
    "ko": "감사합니다.\n{shop_name} 드림",
    "en": "Thank you,\n{shop_name}",
    "ja": "{shop_name}",
}
_LMS_TITLE: dict[Language, str] = {"ko": "{status} 안내", "en": "{status}", "ja": "{status}のお知らせ"}


def _text(message: _Message, language: Language) -> str:
    lines = [_GREETING[language] + message.sentence[language]]
    if message.tracking:
        lines.append(_TRACKING[language])
    return "\n".join(lines)


def _email(message: _Message, language: Language) -> EmailTemplateSpec:
    sentence = message.sentence[language]
    sentence = sentence[:1].upper() + sentence[1:]
    parts = [_EMAIL_OPENING[language], sentence]
    if message.tracking:
        parts.append(_TRACKING[language])
    parts.append(_EMAIL_CLOSING[language])
    return EmailTemplateSpec(subject=_EMAIL_SUBJECT[language], body="\n\n".join(parts))


def _facts_named(message: _Message) -> list[tuple[str, str]]:
    """(AlimTalk variable, fact) in the order WhatsApp numbers its parameters."""
    named = [("고객명", "customer_name"), ("주문번호", "order_number")]
    if message.tracking:
        named += [("택배사", "carrier"), ("송장번호", "tracking_number"), ("배송조회", "tracking_url")]
    if message.promised_date:
        named.append(("도착예정일", "promised_date"))
    if message.shipment_status:
        named.append(("배송상태", "shipment_status"))
    return named


def _templates(message: _Message) -> dict[str, ChannelTemplates]:
    named = _facts_named(message)
    templates: dict[str, ChannelTemplates] = {}
    for language in LANGUAGES:
        text = _text(message, language)
        templates[language] = ChannelTemplates(
            alimtalk=AlimTalkTemplateSpec(
                template_code=f"SB_{message.code}_{language.upper()}",
                variables={"쇼핑몰": "{shop_name}", **{variable: "{" + fact + "}" for variable, fact in named}},
                resend_text=text,
                resend_title=_LMS_TITLE[language],
            ),
            whatsapp=WhatsAppTemplateSpec(
                name=message.whatsapp_name,
                language=_WHATSAPP_LANGUAGE[language],
                parameters=tuple("{" + fact + "}" for _variable, fact in named),
            ),
            sms=text,
            line=text,
            telegram=text,
            email=_email(message, language),
        )
    return templates


DEFAULT_RULES = NotificationRules(
    rules=tuple(
        EventRule(event_type=event_type, templates=_templates(message))
        for event_type, message in _MESSAGES.items()
        if event_type is not None
    ),
    delay_detection=DelayDetection(templates=_templates(_MESSAGES[None])),
    shop_name="Switchboard",
)
