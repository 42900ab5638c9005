"""The writer's handling of what the messaging channels add beyond a customer's message: echoes of
agent messages, edits, read watermarks, follow/unfollow, and one contact across channels by phone.

Events are given to the writer's public entry point (`record_event`) on the moto stack; the table
and the read API are checked afterwards.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from switchboard.models import (
    Attachment,
    Channel,
    DeliveryStatus,
    Direction,
    FollowChange,
    InboundMessage,
    MessageEdit,
    ReadWatermark,
    SenderIdentity,
)
from switchboard.tickets.writer import Outcome, record_event

SENT = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def _message(
    external_id: str,
    *,
    channel: Channel = Channel.MESSENGER,
    account: str = "page-1",
    customer: str = "psid-1",
    text: str | None = "배송이 언제 오나요?",
    phone: str | None = None,
    direction: Direction = Direction.INBOUND,
    at: datetime = SENT,
    attachments: tuple[Attachment, ...] = (),
) -> InboundMessage:
    return InboundMessage(
        channel=channel,
        channel_account_id=account,
        conversation_id=customer,
        external_id=external_id,
        sender=SenderIdentity(external_id=customer, display_name="김민준", phone_e164=phone),
        message_type="text",
        text=text,
        attachments=attachments,
        direction=direction,
        provider_timestamp=at,
        received_at=at + timedelta(seconds=1),
    )


def test_an_echo_of_an_agent_message_is_stored_as_the_agents_not_the_customers(stack):
    store = stack.repositories()
    # Given a customer's open conversation
    record_event(_message("mid.customer"), store)
    # When the page replies from Meta's inbox and Messenger echoes it to us
    outcome = record_event(
        _message("mid.echo", text="내일 도착합니다", direction=Direction.OUTBOUND, at=SENT + timedelta(minutes=2)),
        store,
    )
    # Then the timeline shows an outbound agent message, and the customer timestamps are untouched
    assert outcome is Outcome.APPENDED
    view = stack.only_ticket()
    echo = view["messages"][-1]
    assert (echo["direction"], echo["author_kind"], echo["delivery_status"]) == ("outbound", "agent", "sent")
    assert view["ticket"]["last_customer_message_at"] == "2026-11-02T09:30:00Z"


def test_an_echo_with_no_ticket_opens_one_waiting_on_the_customer(stack):
    # Given no conversation yet, When an agent writes first from another tool
    record_event(_message("mid.first-echo", direction=Direction.OUTBOUND), stack.repositories())
    # Then a pending ticket exists for the customer, with no customer message time
    ticket = stack.only_ticket()["ticket"]
    assert ticket["status"] == "pending"
    assert ticket["first_customer_message_at"] is None


def test_an_edit_replaces_the_text_and_keeps_what_was_first_written(stack):
    store = stack.repositories()
    # Given a stored Telegram message
    record_event(
        _message("42:7", channel=Channel.TELEGRAM, account="bot-1", customer="42", text="주소는 서울시 강남구"), store
    )
    edit = MessageEdit(
        channel=Channel.TELEGRAM,
        channel_account_id="bot-1",
        conversation_id="42",
        external_id="42:7",
        text="주소는 서울시 서초구",
        edited_at=SENT + timedelta(minutes=1),
    )
    # When the customer edits it, and the edit is redelivered, and an older edit arrives late
    first, again = record_event(edit, store), record_event(edit, store)
    stale = record_event(edit.model_copy(update={"text": "old", "edited_at": SENT + timedelta(seconds=30)}), store)
    # Then the message shows the latest text once, with the original kept
    assert (first, again, stale) == (Outcome.EDIT_RECORDED, Outcome.EDIT_IGNORED, Outcome.EDIT_IGNORED)
    (message,) = stack.only_ticket()["messages"]
    assert (message["text"], message["original_text"]) == ("주소는 서울시 서초구", "주소는 서울시 강남구")
    assert len(stack.tickets()) == 1


def test_an_edit_of_a_message_we_never_received_is_ignored(stack):
    edit = MessageEdit(
        channel=Channel.TELEGRAM,
        channel_account_id="bot-1",
        conversation_id="42",
        external_id="42:99",
        text="edited",
        edited_at=SENT,
    )
    assert record_event(edit, stack.repositories()) is Outcome.EDIT_IGNORED
    assert stack.tickets() == []


def test_a_read_watermark_marks_what_we_sent_before_it_read_and_nothing_after(stack):
    store = stack.repositories()
    # Given a ticket with two agent messages, one before and one after the watermark
    record_event(_message("mid.customer"), store)
    record_event(_message("mid.reply-1", direction=Direction.OUTBOUND, at=SENT + timedelta(minutes=1)), store)
    record_event(_message("mid.reply-2", direction=Direction.OUTBOUND, at=SENT + timedelta(minutes=5)), store)
    # When the customer's read watermark falls between them
    watermark = ReadWatermark(
        channel=Channel.MESSENGER,
        channel_account_id="page-1",
        conversation_id="psid-1",
        read_up_to=SENT + timedelta(minutes=2),
    )
    outcome = record_event(watermark, store)
    # Then only the earlier reply is read; a repeat changes nothing
    assert outcome is Outcome.RECEIPT_RECORDED
    statuses = {m["external_id"]: m["delivery_status"] for m in stack.only_ticket()["messages"]}
    assert statuses == {"mid.customer": None, "mid.reply-1": DeliveryStatus.READ.value, "mid.reply-2": "sent"}
    assert record_event(watermark, store) is Outcome.RECEIPT_IGNORED


def test_follow_and_unfollow_are_recorded_on_the_contact_newest_wins(stack):
    store = stack.repositories()

    def follow(event_id: str, following: bool, minutes: int) -> FollowChange:
        return FollowChange(
            channel=Channel.LINE,
            channel_account_id="bot-line",
            conversation_id="U1",
            event_id=event_id,
            sender=SenderIdentity(external_id="U1", display_name="이서연"),
            following=following,
            occurred_at=SENT + timedelta(minutes=minutes),
        )

    # Given a customer who adds the LINE account before ever writing
    assert record_event(follow("ev-1", True, 0), store) is Outcome.FOLLOW_RECORDED
    # When they block it, and the older follow event is redelivered afterwards
    assert record_event(follow("ev-2", False, 10), store) is Outcome.FOLLOW_RECORDED
    assert record_event(follow("ev-1", True, 0), store) is Outcome.FOLLOW_IGNORED
    # Then one contact exists, recorded as not following, and no ticket was opened
    (contact,) = stack.contacts()
    assert contact.display_name == "이서연"
    assert contact.follows["line:bot-line:U1"].following is False
    assert stack.tickets() == []


def test_a_follower_who_then_writes_keeps_one_contact(stack):
    store = stack.repositories()
    record_event(
        FollowChange(
            channel=Channel.LINE,
            channel_account_id="bot-line",
            conversation_id="U1",
            event_id="ev-1",
            sender=SenderIdentity(external_id="U1"),
            following=True,
            occurred_at=SENT,
        ),
        store,
    )
    record_event(_message("line-msg-1", channel=Channel.LINE, account="bot-line", customer="U1"), store)
    (contact,) = stack.contacts()
    assert stack.only_ticket()["ticket"]["requester"]["contact_id"] == contact.id


def test_a_verified_phone_number_joins_a_new_channel_identity_to_the_existing_contact(stack):
    store = stack.repositories()
    # Given a customer known from WhatsApp by their phone number
    record_event(
        _message("wamid.1", channel=Channel.WHATSAPP, account="waba", customer="821012345678", phone="+821012345678"),
        store,
    )
    # When the same number texts the SMS line, and someone with the same display name writes on Messenger
    record_event(
        _message("SM1", channel=Channel.SMS, account="+15550001111", customer="+821012345678", phone="+821012345678"),
        store,
    )
    record_event(_message("mid.other", channel=Channel.MESSENGER, account="page-1", customer="psid-9"), store)
    # Then the SMS identity joined the WhatsApp contact; the namesake on Messenger is someone else
    contacts = {c.phone_e164: c for c in stack.contacts()}
    assert len(contacts) == 2
    joined = contacts["+821012345678"]
    assert {i.key for i in joined.identities} == {"whatsapp:waba:821012345678", "sms:+15550001111:+821012345678"}
    requesters = {t["channel"]: t["requester"]["contact_id"] for t in stack.tickets()}
    assert requesters["whatsapp"] == requesters["sms"] == joined.id != requesters["messenger"]


def test_attachments_are_requested_again_on_redelivery_so_a_crash_never_loses_media(stack):
    store = stack.repositories()
    requested: list[str] = []

    class MediaJobs:
        def request_attachments(self, message: InboundMessage) -> None:
            requested.append(message.external_id)

    image = _message(
        "wamid.img",
        channel=Channel.WHATSAPP,
        account="waba",
        customer="8210",
        text=None,
        attachments=(Attachment(kind="image", provider_media_id="media-1", mime_type="image/jpeg"),),
    )
    # When the same image message is recorded twice (a redelivery after a crash), and a text message once
    outcomes = [record_event(image, store, MediaJobs()), record_event(image, store, MediaJobs())]
    record_event(_message("wamid.txt", channel=Channel.WHATSAPP, account="waba", customer="8210"), store, MediaJobs())
    # Then the message is stored once and its media is asked for each time; text asks for nothing
    assert outcomes == [Outcome.OPENED, Outcome.DUPLICATE]
    assert requested == ["wamid.img", "wamid.img"]
