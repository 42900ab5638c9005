"""What an agent may change on a ticket: Zendesk's status moves, every pair, the audit a change makes, and notes."""

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from switchboard.models import Channel, Direction, Priority, Requester, Ticket, TicketStatus
from switchboard.tickets.changes import AGENT_STATUSES, InvalidChange, TicketChange, apply_change, may_set_status
from switchboard.tickets.notes import note_external_id, note_on

AT = datetime(2025, 6, 9, 9, 30, tzinfo=UTC)


def ticket(status: TicketStatus = TicketStatus.NEW, **fields) -> Ticket:
    return Ticket(
        id="t_0123456789abcdef01234567",
        number=7,
        status=status,
        channel=Channel.WHATSAPP,
        channel_account_id="106540352242922",
        conversation_key="whatsapp:106540352242922:16505551234",
        subject="배송 문의",
        requester=Requester(contact_id="c_1", display_name="김민준"),
        created_at=datetime(2025, 6, 8, 21, 0, tzinfo=UTC),
        updated_at=datetime(2025, 6, 8, 21, 0, tzinfo=UTC),
        **fields,
    )


# Zendesk: agents set open, pending, on_hold and solved from any status but closed; new is only a first
# status; closed follows solved by automation and is final.
ALLOWED = {
    (current, wanted)
    for current in TicketStatus
    for wanted in TicketStatus
    if current is not TicketStatus.CLOSED and (wanted is current or wanted in AGENT_STATUSES)
}


@pytest.mark.parametrize("current", list(TicketStatus))
@pytest.mark.parametrize("wanted", list(TicketStatus))
def test_every_status_pair_follows_zendesk(current, wanted):
    # Given a ticket in `current`, When an agent asks for `wanted`
    change = TicketChange(status=wanted)
    if (current, wanted) in ALLOWED:
        after, audit = apply_change(ticket(current), change, actor_id="agent-1", at=AT, version=2)
        # Then it moves (with an audit) or, asked for where it is, stays without one
        assert after.status is wanted
        assert (audit is None) == (current is wanted)
    else:
        # Then it is refused, and nothing is made
        with pytest.raises(InvalidChange):
            apply_change(ticket(current), change, actor_id="agent-1", at=AT, version=2)
    assert may_set_status(current, wanted) == ((current, wanted) in ALLOWED)


def test_nothing_returns_to_new_and_closed_is_never_set_by_hand():
    assert not any(may_set_status(s, TicketStatus.NEW) for s in TicketStatus if s is not TicketStatus.NEW)
    assert not any(may_set_status(s, TicketStatus.CLOSED) for s in TicketStatus if s is not TicketStatus.CLOSED)


def test_a_closed_ticket_takes_no_change_at_all():
    with pytest.raises(InvalidChange, match="final"):
        apply_change(ticket(TicketStatus.CLOSED), TicketChange(tags=("vip",)), actor_id="a", at=AT, version=5)


def test_a_change_records_each_changed_field_once_with_before_and_after():
    # Given an open, normal ticket assigned to agent-1
    current = ticket(TicketStatus.OPEN, assignee_id="agent-1", tags=("배송",))
    # When agent-2 takes it, raises its priority, keeps its status and adds a tag
    change = TicketChange.model_validate(
        {"status": "open", "priority": "urgent", "assignee_id": "agent-2", "tags": ["배송", "vip", "vip"]}
    )
    after, audit = apply_change(current, change, actor_id="agent-2", at=AT, version=4)
    # Then the ticket has the new values and the time of the change
    assert (after.priority, after.assignee_id, after.tags, after.updated_at) == (
        Priority.URGENT,
        "agent-2",
        ("배송", "vip"),
        AT,
    )
    # And the audit names the agent, the version it made, and only what changed
    assert audit is not None and (audit.actor_id, audit.ticket_version, audit.at) == ("agent-2", 4, AT)
    assert [(c.field, c.before, c.after) for c in audit.changes] == [
        ("assignee_id", "agent-1", "agent-2"),
        ("priority", "normal", "urgent"),
        ("tags", ["배송"], ["배송", "vip"]),
    ]


def test_null_unassigns_but_a_left_out_field_stays():
    current = ticket(TicketStatus.OPEN, assignee_id="agent-1", group_id="returns")
    after, audit = apply_change(
        current, TicketChange.model_validate({"assignee_id": None}), actor_id="a", at=AT, version=2
    )
    assert (after.assignee_id, after.group_id) == (None, "returns")
    assert audit is not None and [(c.field, c.before, c.after) for c in audit.changes] == [
        ("assignee_id", "agent-1", None)
    ]


@pytest.mark.parametrize("field", ["status", "priority", "tags"])
def test_a_required_field_cannot_be_nulled(field):
    with pytest.raises(InvalidChange, match="cannot be null"):
        apply_change(ticket(), TicketChange.model_validate({field: None}), actor_id="a", at=AT, version=2)


@pytest.mark.parametrize(
    "body",
    [
        {"status": "deleted"},
        {"priority": "asap"},
        {"tags": ["two words"]},
        {"tags": [""]},
        {"tags": ["x" * 81]},
        {"tags": [f"t{i}" for i in range(51)]},
        {"assignee_id": ""},
        {"assignee_id": "a" * 129},
        {"requester": "someone else"},
        {"subject": "renamed"},
    ],
)
def test_a_body_that_is_not_a_change_is_refused_by_its_model(body):
    with pytest.raises(ValidationError):
        TicketChange.model_validate(body)


def test_a_note_is_internal_by_its_agent_and_leaves_the_status_alone():
    # Given a pending ticket
    current = ticket(TicketStatus.PENDING, message_count=3)
    # When an agent adds a note
    note, after = note_on(current, text="고객 재문의 시 환불 안내", agent_id="agent-1", idempotency_key="k-1", at=AT)
    # Then it is an internal, non-public message by that agent, and the ticket only counts it
    assert (note.direction, note.public, note.author_id, note.message_type) == (
        Direction.INTERNAL,
        False,
        "agent-1",
        "note",
    )
    assert (after.status, after.message_count, after.updated_at) == (TicketStatus.PENDING, 4, AT)


def test_a_notes_id_is_one_per_agent_and_key():
    same = note_external_id("agent-1", "k-1")
    assert same == note_external_id("agent-1", "k-1")
    assert len({same, note_external_id("agent-2", "k-1"), note_external_id("agent-1", "k-2")}) == 3
