"""A ticket's lists are bounded by the model itself, so no write path can grow them past their maxima."""

from datetime import UTC, datetime

from switchboard.models import MAX_TAG_CHARS, MAX_TICKET_CC, MAX_TICKET_TAGS, Ticket

AT = datetime(2025, 6, 8, 12, 0, tzinfo=UTC)


def ticket(**lists) -> Ticket:
    return Ticket(
        id="t_0123456789abcdef01234567",
        number=1,
        status="open",
        channel="email",
        channel_account_id="help@support.example.com",
        conversation_key="email:help@support.example.com:thread-1",
        subject="배송 문의",
        requester={"contact_id": "c_1"},
        created_at=AT,
        updated_at=AT,
        **lists,
    )


def test_tags_keep_their_first_distinct_50_each_cut_to_80_characters():
    tags = [f"태그-{n % 70}-" + "x" * 200 for n in range(500)]

    kept = ticket(tags=tags).tags

    assert len(kept) == MAX_TICKET_TAGS and all(len(tag) == MAX_TAG_CHARS for tag in kept)
    assert kept[0] == tags[0][:MAX_TAG_CHARS]


def test_cc_keeps_the_first_100_addresses():
    addresses = [f"copied.{n}@example.com" for n in range(300)]

    assert ticket(cc=addresses).cc == tuple(addresses[:MAX_TICKET_CC])
