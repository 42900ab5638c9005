"""An admin releases a held mail (POST /mail/held/release): it goes through the intake again as a customer
mail and lands on a ticket once, however often, however concurrently, and whatever fails in between."""

import json
from datetime import UTC, datetime

import pytest

from switchboard.models import MailHandling
from tests.support.drivers import Customer
from tests.support.drivers.email import SesDriver, raw_mail
from tests.support.faults import Fault, FaultyClient
from tests.support.lambda_events import ADMIN_CLAIMS, AGENT_CLAIMS, NO_ROLE_CLAIMS
from tests.support.stack import run_together

SENT = datetime(2025, 6, 8, 12, 0, tzinfo=UTC)
MINJUN = Customer("minjun.kim@example.com", "김민준")
SPAM_VERDICT = b"X-SES-Spam-Verdict: FAIL\r\nX-SES-Virus-Verdict: PASS\r\n"


@pytest.fixture
def mail(stack):
    """Delivers raw mail the way SES does and runs the intake and the writer over it."""
    ses = stack.channel(SesDriver())

    def deliver(raw: bytes) -> None:
        assert ses.deliver(raw).status == 200
        assert stack.drain_queue().failed_records == 0

    return deliver


def customer_mail(message_id: str = "refund@mail.example.com", *, headers=()) -> bytes:
    return raw_mail(
        MINJUN,
        message_id=message_id,
        text="환불 부탁드립니다. 주문번호 2025-0042",
        sent_at=SENT,
        subject="환불 요청",
        thread_headers=False,
        extra_headers=headers,
    )


def release(stack, external_id: str, *, claims=ADMIN_CLAIMS, body: bytes | None = None):
    payload = json.dumps({"external_id": external_id}).encode() if body is None else body
    return stack.http(
        "POST", "/mail/held/release", headers={"content-type": "application/json"}, body=payload, claims=claims
    )


def intake_and_writer_run(stack, *, workers: int = 1) -> None:
    """What the mail bucket's notification sets off: the intake reads the released copy, the writer files it."""
    assert stack.drain_mail_queue().failed_records == 0
    assert stack.drain_queue(workers=workers).failed_records == 0


def held_listing(stack, reason: str) -> list[str]:
    return [h["external_id"] for h in stack.api_get("/mail/held", {"reason": reason}).json()["held"]]


def test_a_mail_ses_wrongly_judged_spam_is_released_onto_a_ticket(stack, mail):
    # Given a customer's mail SES marked as spam, held in quarantine
    mail(SPAM_VERDICT + customer_mail())
    assert stack.tickets() == [] and held_listing(stack, "quarantined") == ["refund@mail.example.com"]
    # When an admin releases it and the intake and writer run
    answer = release(stack, "refund@mail.example.com")
    intake_and_writer_run(stack)
    # Then it is a customer's mail on a new ticket, no longer listed as held, and the held record says who released it
    assert answer.status == 202
    (ticket,) = stack.tickets()
    (message,) = stack.ticket(ticket["id"])["messages"]
    assert (ticket["requester"]["display_name"], message["external_id"], message["text"]) == (
        "김민준",
        "refund@mail.example.com",
        "환불 부탁드립니다. 주문번호 2025-0042",
    )
    assert (message["email"]["handling"], message["email"]["handling_reason"]) == (
        "customer",
        "released from held mail by an agent",
    )
    assert held_listing(stack, "quarantined") == []
    held = stack.repositories().held_mail.held_mail("refund@mail.example.com")
    assert held.released_by == ADMIN_CLAIMS["sub"] and held.released_at is not None
    assert answer.json()["held"]["released_by"] == ADMIN_CLAIMS["sub"]


def test_releasing_again_or_at_once_lands_the_mail_once(stack, mail):
    # Given an out-of-office reply about no ticket, held
    mail(customer_mail("away@mail.example.com", headers=(("Auto-Submitted", "auto-replied"),)))
    assert held_listing(stack, "auto_reply") == ["away@mail.example.com"]
    # When two agents release it at the same moment, and one of them clicks again later
    answers = run_together([lambda: release(stack, "away@mail.example.com") for _ in range(2)])
    intake_and_writer_run(stack, workers=2)
    answers.append(release(stack, "away@mail.example.com"))
    intake_and_writer_run(stack)
    # Then every answer is the same accepted release, and the mail is one message on one ticket
    assert [a.status for a in answers] == [202, 202, 202]
    assert len({a.json()["held"]["released_at"] for a in answers}) == 1
    (ticket,) = stack.tickets()
    assert ticket["message_count"] == 1


def test_a_release_whose_marking_fails_is_retried_to_the_same_single_message(stack, mail):
    # Given a quarantined mail, and the table refusing the release's marking once (after the copy was made)
    mail(SPAM_VERDICT + customer_mail())
    dynamodb: FaultyClient = stack.wrap_runtime_client("dynamodb", FaultyClient)
    dynamodb.arm(2, Fault.REFUSED)  # 1: read the held mail, 2: mark it released
    # When the agent releases it, sees the failure, and tries again
    with pytest.raises(Exception, match="InternalServerError"):
        release(stack, "refund@mail.example.com")
    dynamodb.disarm()
    intake_and_writer_run(stack)
    assert held_listing(stack, "quarantined") == ["refund@mail.example.com"]
    assert release(stack, "refund@mail.example.com").status == 202
    intake_and_writer_run(stack)
    # Then the mail is on its ticket once, and no longer held
    (ticket,) = stack.tickets()
    assert ticket["message_count"] == 1 and held_listing(stack, "quarantined") == []


def test_a_released_reply_joins_the_ticket_its_headers_name(stack, mail):
    # Given a ticket opened by a customer's mail, and their reply to it quarantined by SES
    mail(customer_mail("first@mail.example.com"))
    mail(
        SPAM_VERDICT + customer_mail("second@mail.example.com", headers=(("In-Reply-To", "<first@mail.example.com>"),))
    )
    assert stack.only_ticket()["ticket"]["message_count"] == 1 and held_listing(stack, "quarantined") == [
        "second@mail.example.com"
    ]
    # When the reply is released
    assert release(stack, "second@mail.example.com").status == 202
    intake_and_writer_run(stack)
    # Then it is threaded like any customer mail: In-Reply-To puts it on that ticket
    (ticket,) = stack.tickets()
    assert [m["external_id"] for m in stack.ticket(ticket["id"])["messages"]] == [
        "first@mail.example.com",
        "second@mail.example.com",
    ]


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        pytest.param(
            json.dumps({"external_id": "nobody@mail.example.com"}).encode(), 404, "not_found", id="unknown-id"
        ),
        pytest.param(b"{}", 400, "invalid_request", id="no-id"),
        pytest.param(b'{"external_id": ""}', 400, "invalid_request", id="empty-id"),
        pytest.param(b'{"external_id": "a", "also": 1}', 400, "invalid_request", id="unknown-field"),
        pytest.param(b"not json", 400, "invalid_request", id="not-json"),
        pytest.param(b'["refund@mail.example.com"]', 400, "invalid_request", id="not-an-object"),
    ],
)
def test_a_release_that_names_no_held_mail_changes_nothing(stack, mail, body, status, error):
    # Given a quarantined mail
    mail(SPAM_VERDICT + customer_mail())
    keys = stack.mail_keys()
    # When a release names no held mail, or is not a release at all
    answer = release(stack, "", body=body)
    # Then it is refused with a JSON error, nothing is copied and the mail stays held
    assert (answer.status, answer.json()["error"]) == (status, error)
    assert stack.mail_keys() == keys and held_listing(stack, "quarantined") == ["refund@mail.example.com"]


def test_a_release_without_an_agent_fails_closed(stack, mail):
    mail(SPAM_VERDICT + customer_mail())
    event_without_claims = release(stack, "refund@mail.example.com", claims={})
    assert (event_without_claims.status, event_without_claims.json()["error"]) == (401, "unauthorized")
    assert held_listing(stack, "quarantined") == ["refund@mail.example.com"]


@pytest.mark.parametrize("claims", [AGENT_CLAIMS, NO_ROLE_CLAIMS], ids=["agent", "no role"])
def test_only_an_admin_may_release_held_mail(stack, mail, claims):
    # Given a quarantined mail
    mail(SPAM_VERDICT + customer_mail())
    keys = stack.mail_keys()
    # When a valid token without the admin role asks to release it
    answer = release(stack, "refund@mail.example.com", claims=claims)
    # Then it is forbidden, nothing is copied back into the intake and the mail stays held
    assert (answer.status, answer.json()["error"]) == (403, "forbidden")
    assert stack.mail_keys() == keys and held_listing(stack, "quarantined") == ["refund@mail.example.com"]
    assert stack.repositories().held_mail.held_mail("refund@mail.example.com").released_at is None


def test_a_held_mail_whose_raw_mail_has_expired_cannot_be_released_and_stays_listed(stack, mail):
    # Given a quarantined mail whose raw mail the bucket's retention has removed
    mail(SPAM_VERDICT + customer_mail())
    held = stack.repositories().held_mail.held_mail("refund@mail.example.com")
    stack.s3.delete_object(Bucket=stack.mail_bucket, Key=held.raw_mail_key)
    # When an agent releases it
    answer = release(stack, "refund@mail.example.com")
    # Then they hear why, and it stays held rather than vanishing
    assert (answer.status, answer.json()["error"]) == (404, "not_found") and "no longer kept" in answer.json()[
        "message"
    ]
    assert held_listing(stack, "quarantined") == ["refund@mail.example.com"]
    assert stack.repositories().held_mail.held_mail("refund@mail.example.com").handling is MailHandling.QUARANTINED
