"""The whole .eml corpus (tests/fixtures/email/corpus) through the SES path and the writer: every mail ends
where its golden's "thread" says (a new ticket, the ticket of the mail it answers, or held), and nothing
reaches a dead-letter queue."""

import json

import pytest

from switchboard.email.intake import mail_external_id
from switchboard.email.mime import parse_mail
from switchboard.models import Channel
from tests.support.drivers.email import SesDriver
from tests.support.paths import REPO_ROOT

pytestmark = pytest.mark.slow

CORPUS = REPO_ROOT / "tests" / "fixtures" / "email" / "corpus"
GOLDENS = {path.stem: json.loads(path.read_text()) for path in sorted(CORPUS.glob("*.json"))}
# Subject tokens in the corpus name ticket numbers ("[#12]"): the mails they point at are given those numbers.
TOKEN_TARGETS = {
    golden["thread"]["of"]: None for golden in GOLDENS.values() if golden["thread"].get("by") == "subject_token"
}


def external_id(name: str) -> str:
    parsed = parse_mail((CORPUS / f"{name}.eml").read_bytes())
    sender = parsed.sender.normalized if parsed.sender else "unknown@invalid"
    return mail_external_id(parsed, sender)


def token_number(name: str) -> int:
    """The number the mails answering `name` by subject token put in their subject."""
    import re

    for golden in GOLDENS.values():
        if golden["thread"].get("of") == name and golden["thread"].get("by") == "subject_token":
            return int(re.search(r"\[#(\d+)\]", golden["subject"]).group(1))
    raise LookupError(name)


def depth(name: str) -> int:
    """How many answers deep a mail is: 0 for one that answers nothing in the corpus."""
    of = GOLDENS[name]["thread"].get("of") if GOLDENS[name]["thread"]["decision"] == "joins" else None
    return 0 if of is None else 1 + depth(of)


def thread_root(name: str) -> str:
    return name if depth(name) == 0 else thread_root(GOLDENS[name]["thread"]["of"])


def delivery_order() -> list[str]:
    """Mails others answer come before their answers; token targets first, in number order."""
    targets = sorted(TOKEN_TARGETS, key=token_number)
    return targets + sorted((name for name in GOLDENS if name not in targets), key=lambda name: (depth(name), name))


def test_every_corpus_mail_threads_as_its_golden_says(stack):
    # Given a shop whose ticket counter stands where the corpus's subject tokens expect
    ses = stack.channel(SesDriver())
    store = stack.repositories()
    # When every corpus mail is stored by SES, mails being answered first, and the writer runs
    for name in delivery_order():
        if name in TOKEN_TARGETS:
            stack.dynamodb.put_item(
                TableName=stack.table_name,
                Item={
                    "pk": {"S": "COUNTER"},
                    "sk": {"S": "TICKET_NUMBER"},
                    "last_number": {"N": str(token_number(name) - 1)},
                },
            )
        assert ses.deliver((CORPUS / f"{name}.eml").read_bytes()).status == 200
        report = stack.drain_queue()
        assert report.failed_records == 0, (name, report)
    # Then each mail is where its golden says
    ticket_of = {}
    for name in GOLDENS:
        ref = store.messages.message_ref(Channel.EMAIL.value, external_id(name))
        ticket_of[name] = ref.ticket_id if ref else None
    wrong = []
    for name, golden in GOLDENS.items():
        thread = golden["thread"]
        if thread["decision"] == "held":
            held = store.held_mail.held_mail(external_id(name))
            if ticket_of[name] is not None or held is None or held.handling.value != thread["reason"]:
                wrong.append(f"{name}: expected held as {thread['reason']}, got ticket {ticket_of[name]} / held {held}")
        elif thread["decision"] == "joins":
            if ticket_of[name] is None or ticket_of[name] != ticket_of[thread["of"]]:
                wrong.append(f"{name}: expected on the ticket of {thread['of']} ({thread['by']})")
        else:
            sharing = [other for other, ticket in ticket_of.items() if other != name and ticket == ticket_of[name]]
            joiners = {other for other in GOLDENS if other != name and thread_root(other) == name}
            if ticket_of[name] is None or set(sharing) - joiners:
                wrong.append(f"{name}: expected a ticket of its own, shares with {sharing}")
    assert wrong == []
    assert stack.dead_lettered_count() == 0 and stack.dead_lettered_mail() == 0
