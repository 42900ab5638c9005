"""SES's notifications on agents' mail (SNS envelopes from MailEventsQueue) -> DeliveryReceipt (email/ses_events.py),
with SES's documented records (events/mail_event_samples.py), and the flow that puts them on the inbound queue."""

import copy
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from events.mail_event_samples import (
    BOUNCE,
    COMPLAINT,
    DELIVERY,
    REJECT,
    SES_MESSAGE_ID,
    SETUP_MESSAGE,
    notification,
    sns_envelope,
)
from switchboard import queue
from switchboard.email.mail_events import forward_mail_event
from switchboard.email.ses_events import MailEvent, read_notification
from switchboard.errors import MalformedPayload
from switchboard.models import Channel, DeliveryReceipt, DeliveryStatus
from tests.support.fakes import RecordingSqs


def receipt_of(event: dict) -> DeliveryReceipt:
    read = read_notification(notification(event))
    assert read.receipt is not None, read
    return read.receipt


def with_bounce(**changes) -> dict:
    event = copy.deepcopy(BOUNCE)
    event["bounce"].update(changes)
    return event


def test_a_delivery_makes_the_reply_delivered_when_ses_handed_it_over():
    assert receipt_of(DELIVERY) == DeliveryReceipt(
        channel=Channel.EMAIL,
        channel_account_id="sender@example.com",
        external_id=SES_MESSAGE_ID,
        recipient_id="recipient@example.com",
        status=DeliveryStatus.DELIVERED,
        provider_timestamp=datetime(2016, 10, 19, 23, 21, 4, 133000, tzinfo=UTC),
    )


def test_a_hard_bounce_fails_the_reply_saying_its_type_and_the_servers_answer():
    receipt = receipt_of(BOUNCE)

    assert receipt.status is DeliveryStatus.FAILED
    assert receipt.errors == ("bounced: Permanent/General (smtp; 550 5.1.1 user unknown)",)
    # The mail is SendEmail's MessageId, the mailbox the source's address (SES gives it with its name)
    assert (receipt.external_id, receipt.channel_account_id) == (SES_MESSAGE_ID, "sender@example.com")
    assert receipt.provider_timestamp == datetime(2017, 8, 5, 0, 41, 2, 669000, tzinfo=UTC)


def test_a_soft_bounce_is_final_too_since_ses_publishes_it_once_it_stopped_retrying():
    receipt = receipt_of(
        with_bounce(
            bounceType="Transient",
            bounceSubType="MailboxFull",
            bouncedRecipients=[{"emailAddress": "recipient@example.com", "diagnosticCode": "smtp; 452 4.2.2 full"}],
        )
    )

    assert receipt.status is DeliveryStatus.FAILED
    assert receipt.errors == ("bounced: Transient/MailboxFull (smtp; 452 4.2.2 full)",)


def test_a_bounce_reason_never_names_an_address():
    # Given a diagnostic code that quotes the recipient, as many servers' answers do
    diagnostic = "smtp; 550 5.1.1 <jane.doe@example.com>... User unknown (jane.doe@example.com)"
    receipt = receipt_of(
        with_bounce(bouncedRecipients=[{"emailAddress": "jane.doe@example.com", "diagnosticCode": diagnostic}])
    )

    assert receipt.errors == ("bounced: Permanent/General (smtp; 550 5.1.1 <address> User unknown <address>)",)
    assert "@" not in receipt.errors[0]


def test_a_bounce_without_a_diagnostic_says_its_type_alone():
    receipt = receipt_of(with_bounce(bounceType="Undetermined", bounceSubType="Undetermined", bouncedRecipients=[]))

    assert receipt.errors == ("bounced: Undetermined/Undetermined",)


def test_a_bounce_of_one_of_several_recipients_says_how_many_bounced():
    # Given a reply to the customer with one Cc, of which only the Cc bounced
    event = with_bounce(bouncedRecipients=[{"emailAddress": "cc@example.net"}])
    event["mail"]["destination"] = ["recipient@example.com", "cc@example.net"]

    assert receipt_of(event).errors == ("bounced: Permanent/General for 1 of 2 recipients",)


def test_a_complaint_fails_the_reply_as_marked_spam():
    receipt = receipt_of(COMPLAINT)

    assert (receipt.status, receipt.errors) == (DeliveryStatus.FAILED, ("marked as spam by the recipient",))
    assert receipt.provider_timestamp == datetime(2017, 8, 5, 0, 41, 2, 669000, tzinfo=UTC)


def test_a_complaint_on_the_account_suppression_list_says_the_mail_was_not_sent():
    event = copy.deepcopy(COMPLAINT)
    event["complaint"]["complaintSubType"] = "OnAccountSuppressionList"

    (reason,) = receipt_of(event).errors
    assert reason.startswith("not sent:") and "suppression list" in reason


def test_a_reject_fails_the_reply_as_ses_found_a_virus():
    receipt = receipt_of(REJECT)

    assert receipt.status is DeliveryStatus.FAILED
    assert receipt.errors == ("rejected by SES: it found a virus and delivered nothing (Bad content)",)
    # A reject has no time of its own: the mail's is the event's
    assert receipt.provider_timestamp == datetime(2016, 10, 14, 17, 38, 15, 211000, tzinfo=UTC)


def test_identity_feedback_notifications_read_the_same():
    # Given the notification SES sends for an identity's feedback (notificationType, no configuration set)
    event = copy.deepcopy(BOUNCE)
    event["notificationType"] = event.pop("eventType")

    assert receipt_of(event) == receipt_of(BOUNCE)


def test_the_senders_attempt_tag_names_the_attempt_so_an_unknown_reply_can_be_settled():
    # Given SES's event for a mail the sender tagged with its attempt (EmailTags, published in mail.tags)
    event = copy.deepcopy(DELIVERY)
    event["mail"]["tags"] = {**event["mail"]["tags"], "switchboard-attempt": ["a_0123456789abcdef01234567"]}

    assert receipt_of(event).attempt_id == "a_0123456789abcdef01234567"


@pytest.mark.parametrize("tag", [None, [], ["attempt-1"], ["a_0123"], [7], "a_0123456789abcdef01234567"])
def test_no_attempt_is_named_without_a_well_formed_tag(tag):
    event = copy.deepcopy(DELIVERY)
    if tag is not None:
        event["mail"]["tags"] = {"switchboard-attempt": tag}

    assert receipt_of(event).attempt_id is None


def test_a_redelivered_notification_makes_the_same_receipt_with_the_same_queue_deduplication_id():
    first, again = receipt_of(BOUNCE), read_notification(notification(BOUNCE, message_id="another")).receipt

    assert again == first and queue.deduplication_id(again) == queue.deduplication_id(first)


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        (SETUP_MESSAGE, "setup"),
        (
            json.dumps({**DELIVERY, "eventType": "DeliveryDelay", "deliveryDelay": {"delayType": "MailboxFull"}}),
            "DeliveryDelay",
        ),
        (json.dumps({**DELIVERY, "eventType": "Send", "send": {}}), "Send"),
        (json.dumps({"eventType": "Open", "mail": DELIVERY["mail"], "open": {}}), "Open"),
    ],
)
def test_what_settles_no_reply_is_read_as_nothing_to_record(message, kind):
    body = sns_envelope(message, message_id="m-1", timestamp="2016-10-14T05:00:00.000Z")

    assert read_notification(body) == MailEvent(kind=kind)


def test_an_sns_message_that_is_not_a_notification_is_nothing_to_record():
    body = json.dumps({"Type": "SubscriptionConfirmation", "Message": "You have chosen to subscribe ...", "Token": "t"})

    assert read_notification(body) == MailEvent(kind="sns:SubscriptionConfirmation")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        json.dumps({"Type": "Notification"}).encode(),  # no Message
        json.dumps({"Type": "Notification", "Message": "plain words"}).encode(),
        notification({"mail": DELIVERY["mail"]}).encode(),  # no eventType
        notification({**DELIVERY, "mail": {"messageId": "x"}}).encode(),  # a mail without its destination
        notification({"eventType": "Bounce", "mail": BOUNCE["mail"]}).encode(),  # a bounce without its object
        notification({**COMPLAINT, "complaint": None}).encode(),
    ],
)
def test_a_body_that_is_no_ses_notification_is_malformed(body):
    with pytest.raises(MalformedPayload):
        read_notification(body)


def test_a_malformed_event_is_reported_without_its_addresses():
    event = copy.deepcopy(BOUNCE)
    event["mail"]["destination"] = "kim.minjun@example.com"  # a string, not a list

    with pytest.raises(MalformedPayload) as raised:
        read_notification(notification(event))

    assert "@" not in raised.value.message and "mail.destination" in raised.value.message


@given(body=st.binary(max_size=400) | st.text(max_size=400).map(str.encode))
def test_any_body_is_read_or_refused_as_malformed(body):
    try:
        read = read_notification(body)
    except MalformedPayload:
        return
    assert read.receipt is None or read.receipt.channel is Channel.EMAIL


@given(
    event=st.fixed_dictionaries(
        {"eventType": st.sampled_from(["Bounce", "Complaint", "Delivery", "Reject"]), "mail": st.just(BOUNCE["mail"])},
        optional={
            "bounce": st.dictionaries(
                st.sampled_from(["bounceType", "bounceSubType", "timestamp"]), st.text(max_size=20)
            ),
            "complaint": st.dictionaries(st.sampled_from(["complaintSubType", "timestamp"]), st.text(max_size=20)),
            "delivery": st.none() | st.dictionaries(st.just("timestamp"), st.text(max_size=20)),
            "reject": st.none() | st.dictionaries(st.just("reason"), st.text(max_size=300)),
        },
    )
)
def test_hostile_ses_events_are_read_or_refused_as_malformed(event):
    try:
        read = read_notification(notification(event))
    except MalformedPayload:
        return
    assert read.receipt is not None and read.receipt.external_id == SES_MESSAGE_ID


# -- the flow: onto the inbound queue -----------------------------------------------------------------


def test_a_bounce_goes_onto_the_inbound_queue_as_the_writer_reads_it():
    sqs = RecordingSqs()

    outcome = forward_mail_event(notification(BOUNCE), queue.InboundQueue(sqs, "https://sqs/inbound.fifo"))

    (entry,) = sqs.entries
    assert outcome == "failed"
    assert sqs.sent == [receipt_of(BOUNCE)]
    assert entry["MessageDeduplicationId"] == queue.deduplication_id(receipt_of(BOUNCE))


def test_setup_messages_are_acknowledged_and_enqueue_nothing():
    sqs = RecordingSqs()
    body = sns_envelope(SETUP_MESSAGE, message_id="m-1", timestamp="2016-10-14T05:00:00.000Z")

    assert forward_mail_event(body, queue.InboundQueue(sqs, "https://sqs/inbound.fifo")) == "ignored"
    assert sqs.entries == []


def test_an_unreadable_notification_is_raised_so_its_record_returns_to_the_queue():
    sqs = RecordingSqs()

    with pytest.raises(MalformedPayload):
        forward_mail_event("{}", queue.InboundQueue(sqs, "https://sqs/inbound.fifo"))
    assert sqs.entries == []
