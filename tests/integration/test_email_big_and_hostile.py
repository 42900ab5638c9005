"""The SES path with what no webhook carries: a 25 MB mail, and any bytes at all stored as a mail."""

import hashlib
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.drivers.email import SesDriver
from tests.support.hostile import hostile_bodies
from tests.support.mail_corpus import big_mail, big_mail_files, corpus_mails

pytestmark = pytest.mark.slow

TWENTY_FIVE_MB = 25 * 1024 * 1024
# Far below DynamoDB's 400 KB item limit, whatever the mail.
ITEM_BUDGET_BYTES = 100 * 1024


def item_size(item: dict) -> int:
    return len(json.dumps(item, ensure_ascii=False).encode())


def test_a_25_mb_mail_becomes_a_ticket_whose_items_stay_small_and_whose_files_are_stored_whole(stack):
    # Given a customer's 25 MB mail with a scanned contract, photos and a zip
    raw = big_mail(TWENTY_FIVE_MB)
    # When SES stores it and the intake and writer run
    assert stack.channel(SesDriver()).deliver(raw).status == 200
    stack.drain_queue()
    # Then one ticket holds it, every table item is far below DynamoDB's limit,
    (listed,) = stack.tickets()
    assert max(item_size(item) for item in stack.table_items()) < ITEM_BUDGET_BYTES
    # and every attachment is stored with the bytes, size and sha256 the customer sent
    (message,) = stack.ticket(listed["id"])["messages"]
    files = [a for a in message["attachments"] if a["kind"] != "html_body"]
    expected = big_mail_files(TWENTY_FIVE_MB)
    assert [(a["filename"], a["size_bytes"], a["sha256"]) for a in files] == [
        (f.filename, len(f.data), hashlib.sha256(f.data).hexdigest()) for f in expected
    ]
    assert all(hashlib.sha256(stack.attachment_bytes(a["storage_key"])).hexdigest() == a["sha256"] for a in files)


def mangled_corpus_mail() -> st.SearchStrategy[bytes]:
    """A real mail from the corpus with a slice cut out, or bytes overwritten: what a broken relay delivers."""
    mails = [path.read_bytes() for path in corpus_mails()]

    def mangle(drawn):
        raw, start, length, noise = drawn
        start %= len(raw)
        return raw[:start] + noise + raw[start + length :]

    return st.tuples(st.sampled_from(mails), st.integers(0, 20_000), st.integers(0, 400), st.binary(max_size=64)).map(
        mangle
    )


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(raw=st.one_of(hostile_bodies(SesDriver()), mangled_corpus_mail()))
def test_whatever_bytes_are_stored_as_a_mail_the_intake_files_them_and_nothing_is_dead_lettered(stack, raw):
    # Given any bytes at all stored as a received mail
    stack.empty_table()
    # When SES's notification reaches the intake and the writer runs
    assert stack.channel(SesDriver()).deliver(raw).status == 200
    report = stack.drain_queue()
    # Then the mail is filed (a ticket message or a held mail), never retried to a dead-letter queue
    assert report.failed_records == 0, report
    kinds = {item["sk"]["S"].split("#")[0] for item in stack.table_items()}
    assert kinds & {"MSG", "HELD"}, kinds
    assert stack.dead_lettered_mail() == 0 and stack.dead_lettered_count() == 0
