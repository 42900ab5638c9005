"""KakaoTalk channel chatbots (Kakao i Open Builder skills).

Kakao calls the skill server synchronously for every utterance that reaches a block using the skill:
POST of a SkillPayload {"intent", "userRequest": {"utterance", "user": {"id", "properties"}, "block",
"params", ...}, "bot": {"id"}, "action": {"params", ...}} that must be answered within 5 seconds with a
SkillResponse {"version": "2.0", "template": {"outputs": [...]}}, or the customer sees an error.
(Kakao's "응답 타입별 JSON 포맷" and "AI 챗봇 콜백 개발 가이드": skill timeout 5 s.) Here the answer is
a fixed acknowledgement; the message goes through the inbound queue like any other channel's.

Kakao does not sign requests. The skill is configured with a secret token, sent either as the
X-Switchboard-Token header (the skill's header settings) or as the last path segment of the URL.

Kakao gives the message no id. Its key is derived from the bot, the user, the block, what was said
and the 10-second window it arrived in: a repeat of the same request inside the window is one
message, and so are two identical utterances from one customer to one block inside 10 seconds (the
trade-off: nothing in the payload tells them apart). A block with Kakao's callback option carries a
one-time callbackUrl issued per request, which identifies the request exactly and is used instead.

Replies: a skill cannot push. Kakao shows the customer only what the skill answers within 5 seconds, or,
on an approved AI-chatbot block, what is posted once to its callbackUrl within a minute ("AI 챗봇 콜백 개발
가이드": "callbackUrl valid time: 1min", usable once). Neither can carry an agent's reply written minutes
later. Free agent chat on KakaoTalk is 상담톡, sold through Kakao's official dealers (Kakao 비즈메시지,
"상담톡"), and notices outside a conversation are AlimTalk templates. Kakao's Event API, where a chatbot
starts a message (charged per message, showing a block the bot defines), is meant for notices and is not used
for replies. So `window` always refuses with channel_cannot_push, and `send` refuses too, should anything
reach it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import Field

from switchboard.channels.base import Acknowledges, ChannelAdapter, Sends
from switchboard.channels.sending import OutboundRequest, SendContext, SendOutcome, WindowVerdict
from switchboard.errors import InvalidSignature
from switchboard.http import json_response
from switchboard.http_request import WebhookRequest, read_json
from switchboard.models import Attachment, Channel, InboundEvent, InboundMessage, SenderIdentity
from switchboard.proof import ChannelSecrets, every_account, same_secret
from switchboard.provider_payloads import Lenient, payload_errors

TOKEN_HEADER = "x-switchboard-token"
PROOF_SECRET = "skill_token"
# One SkillPayload per POST; an utterance is at most 1,000 characters (Kakao i Open Builder, 발화 입력).
MAX_BODY_BYTES = 256 * 1024
DEDUP_WINDOW_SECONDS = 10
MEDIA_KINDS = {"image", "video", "audio", "file"}
# KakaoTalk's photo picker sends at most 30 photos at once; the secure image plugin hands them over as one
# list. More than that is not Kakao's doing: the first 30 are kept and the message says how many were not.
MAX_SECURE_IMAGES = 30
KAKAO_CDN = "kakaocdn.net"
# A simpleText bubble holds at most 1,000 characters (Kakao, "응답 타입별 JSON 포맷", SimpleText.text).
MAX_TEXT_CHARS = 1000
CANNOT_PUSH = "channel_cannot_push"
CANNOT_PUSH_REASON = (
    "KakaoTalk chatbots cannot send a message on their own: Kakao shows the customer only the chatbot's "
    "immediate answer to what they just wrote. An agent's reply can reach them through KakaoTalk's "
    "consultation chat (상담톡, from a Kakao dealer) or, for order and delivery notices, an AlimTalk template."
)


class _User(Lenient):
    # botUserKey: at most 70 characters per Kakao's guide; 256 is the model's bound for any id.
    id: str = Field(min_length=1, max_length=256)
    type: str | None = None
    properties: dict[str, Any] | None = None


class _Block(Lenient):
    id: str = Field(min_length=1, max_length=256)
    name: str | None = None


class _UserRequest(Lenient):
    utterance: str
    user: _User
    block: _Block
    params: dict[str, Any] | None = None
    callbackUrl: str | None = None


class _Bot(Lenient):
    id: str = Field(min_length=1, max_length=256)
    name: str | None = None


class _Action(Lenient):
    params: dict[str, Any] | None = None


class _SkillPayload(Lenient):
    userRequest: _UserRequest
    bot: _Bot
    action: _Action | None = None


class KakaoAdapter(ChannelAdapter, Acknowledges, Sends):
    webhook = Channel.KAKAO.value
    max_body_bytes = MAX_BODY_BYTES
    proof_secret = PROOF_SECRET
    max_text_chars = MAX_TEXT_CHARS

    def __init__(self, ack_text: str) -> None:
        self.ack_text = ack_text

    def verify(self, request: WebhookRequest, secrets: ChannelSecrets) -> str | None:
        presented = [
            token for token in (request.header(TOKEN_HEADER), request.path_params.get("token")) if token is not None
        ]
        if not presented:
            raise InvalidSignature(f"missing {TOKEN_HEADER} header (or token in the webhook path)")
        for account_id, account in every_account(secrets):
            expected = account.get("skill_token", "")
            if expected and all(same_secret(expected, token) for token in presented):
                # A token configured under "accounts" names its bot; the default token names none.
                return account_id
        raise InvalidSignature("skill token does not match")

    def parse(self, body: bytes, received_at: datetime, account_id: str | None = None) -> Sequence[InboundEvent]:
        with payload_errors("a Kakao skill payload"):
            document = read_json(body)
            payload = _SkillPayload.model_validate(document)
            # Which bots the token may speak for is the webhook flow's check (proof_secret), a 401.
            return [_message(payload, received_at)]

    def acknowledge(self, events: Sequence[InboundEvent]) -> dict:
        """The SkillResponse Kakao shows the customer at once: a simpleText with the configured text, or, when the
        utterance is an opt-out or opt-in keyword (수신거부, 재수신 ...), its confirmation: a chatbot speaks only in
        its answer, so this is the one place the customer can be told (tickets/consent_replies.py records it)."""
        text = self.ack_text
        if len(events) == 1 and isinstance(events[0], InboundMessage):
            from switchboard.notifications.keywords import confirmation_for, keyword_in

            keyword = keyword_in(events[0].text)
            if keyword is not None:
                text = confirmation_for(keyword[1], keyword[0] == "opt_out")
        response = {"version": "2.0", "template": {"outputs": [{"simpleText": {"text": text}}]}}
        return json_response(200, response, headers={"content-type": "application/json; charset=utf-8"})

    def refusal(self, request: OutboundRequest) -> str | None:
        return None  # nothing reaches `send`: the window refuses every reply (channel_cannot_push)

    def resend_is_safe(self, request: OutboundRequest) -> bool:
        return False

    def window(
        self, *, last_customer_message_at: datetime | None, now: datetime, human_agent: bool, template: bool
    ) -> WindowVerdict:
        # Whatever the time or the kind of reply: a skill speaks only in its answer to a request.
        return WindowVerdict.closed(CANNOT_PUSH_REASON, allowed=("alimtalk_template",), code=CANNOT_PUSH)

    def send(self, request: OutboundRequest, secrets: ChannelSecrets, context: SendContext) -> SendOutcome:
        # `window` refuses every reply before it is accepted; one that still arrives here is refused, not sent.
        return SendOutcome.rejected(CANNOT_PUSH, CANNOT_PUSH_REASON)


def message_key(
    *, bot_id: str, user_id: str, block_id: str, utterance: str, media_urls: tuple[str, ...], received_at: datetime
) -> str:
    """The key of a request without a callbackUrl: its content and the 10-second window it arrived in."""
    window = int(received_at.timestamp()) // DEDUP_WINDOW_SECONDS * DEDUP_WINDOW_SECONDS
    return _key("kakao-utterance", bot_id, user_id, block_id, utterance, *media_urls, str(window))


def callback_key(callback_url: str) -> str:
    """The key of a request Kakao issued a one-time callbackUrl for. The URL itself is a credential
    (it lets anyone answer the customer for a minute), so only its hash is kept."""
    return _key("kakao-callback", callback_url)


def _key(kind: str, *parts: str) -> str:
    return f"{kind}:" + hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:40]


def _message(payload: _SkillPayload, received_at: datetime) -> InboundMessage:
    request = payload.userRequest
    properties = request.user.properties or {}
    attachments, left_out = _attachments(
        request.params or {}, (payload.action.params if payload.action else None) or {}
    )
    media_urls = tuple(attachment.url or "" for attachment in attachments)
    if request.callbackUrl:
        external_id = callback_key(request.callbackUrl)
    else:
        external_id = message_key(
            bot_id=payload.bot.id,
            user_id=request.user.id,
            block_id=request.block.id,
            utterance=request.utterance,
            media_urls=media_urls,
            received_at=received_at,
        )
    # When a customer sends a photo, Kakao puts its URL in the utterance as well: that is no text.
    said_a_media_url = request.utterance in media_urls or _kakao_cdn_https(request.utterance) in media_urls
    text = None if said_a_media_url else (request.utterance or None)
    if left_out:
        text = f"{text}\n" if text else ""
        text += f"[{left_out} more images not kept: at most {MAX_SECURE_IMAGES} per message]"
    return InboundMessage(
        truncated=("attachments",) if left_out else (),
        channel=Channel.KAKAO,
        channel_account_id=payload.bot.id,
        # botUserKey: the customer within this bot, which is who replies go to.
        conversation_id=request.user.id,
        external_id=external_id,
        # plusfriendUserKey identifies the customer across the KakaoTalk channel (the key Kakao's
        # channel tools show); botUserKey when Kakao leaves it out.
        sender=SenderIdentity(external_id=_plusfriend_user_key(properties) or request.user.id),
        message_type=attachments[0].kind if attachments else "text",
        text=text,
        attachments=attachments,
        # The payload carries no time of its own.
        provider_timestamp=received_at,
        received_at=received_at,
    )


def _plusfriend_user_key(properties: dict[str, Any]) -> str | None:
    # The v2 guide spells it plusfriendUserKey; v1 payloads (and the v1 guide's sample) plusfriend_user_key.
    for name in ("plusfriendUserKey", "plusfriend_user_key"):
        value = properties.get(name)
        if isinstance(value, str) and 0 < len(value) <= 256:
            return value
    return None


def _attachments(request_params: dict[str, Any], action_params: dict[str, Any]) -> tuple[tuple[Attachment, ...], int]:
    """Media the customer sent: userRequest.params.media {"type", "url"} when they attach a photo or file
    in chat, and the secure image plugin's action.params.secureimage {"secureUrls": "List(url, ...)"}; and
    how many secure images were left out (past MAX_SECURE_IMAGES). A media parameter of no media type is a
    link (kind "link"): recorded with its URL, never fetched."""
    attachments: list[Attachment] = []
    media = _object(request_params.get("media"))
    url = _web_url(media.get("url"))
    if url is not None:
        kind = media.get("type")
        if kind in MEDIA_KINDS:
            attachments.append(Attachment(kind="document" if kind == "file" else kind, url=_kakao_cdn_https(url)))
        else:
            attachments.append(Attachment(kind="link", url=url))
    secure = _object(action_params.get("secureimage"))
    urls = secure.get("secureUrls")
    left_out = 0
    if isinstance(urls, str):
        listed = urls.removeprefix("List(").removesuffix(")")
        found = [url for url in map(_web_url, (part.strip() for part in listed.split(","))) if url is not None]
        left_out = max(0, len(found) - MAX_SECURE_IMAGES)
        attachments.extend(Attachment(kind="image", url=_kakao_cdn_https(url)) for url in found[:MAX_SECURE_IMAGES])
    return tuple(attachments), left_out


def _web_url(value: Any) -> str | None:
    return value if isinstance(value, str) and value.startswith(("https://", "http://")) else None


def _kakao_cdn_https(url: str) -> str:
    """Kakao's secure image plugin names its CDN with http:// (the guide's sample: http://secure.kakaocdn.net/
    dna/...?credential=...&signature=...); the CDN serves the same signed path over https, and the media
    fetcher requests nothing but https. Any other host is left as it came (and refused by the fetcher)."""
    if not url.startswith("http://"):
        return url
    host = url[len("http://") :].split("/", 1)[0].split("?", 1)[0].lower()
    if host == KAKAO_CDN or host.endswith("." + KAKAO_CDN):
        return "https://" + url[len("http://") :]
    return url


def _object(value: Any) -> dict[str, Any]:
    """Kakao passes parameter values as JSON text or as objects, depending on the plugin."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


# The sending adapter (switchboard/outbound/adapters.py), which refuses every reply; the webhook builds its own
# with the configured acknowledgement text.
ADAPTER = KakaoAdapter(ack_text="")
