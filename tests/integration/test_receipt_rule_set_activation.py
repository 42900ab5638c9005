"""The custom resource that activates the stack's SES receipt rule set (ActivateReceiptRuleSet=true), invoked
as CloudFormation invokes it, answering at a pre-signed-URL stand-in on 127.0.0.1: it activates ours when
none is active, never replaces another team's, and on delete deactivates only its own."""

import json

import pytest

from tests.support.cloudformation import ResponseListener
from tests.support.paths import EVENTS_DIR
from tests.support.stack import aws_session

ACTIVATOR = "ReceiptRuleSetActivatorFunction"


@pytest.fixture
def cloudformation():
    """Where CloudFormation waits for the answer: (url, the answers PUT there with their Content-Type)."""
    listener = ResponseListener()
    yield listener.url, listener.answers
    listener.stop()


@pytest.fixture
def ses(stack):
    """The account's SES, with the stack's receipt rule set declared (CloudFormation creates it before this
    resource, which depends on the rule)."""
    client = aws_session().client("ses")
    client.create_receipt_rule_set(RuleSetName=stack_rule_set(stack))
    return client


def stack_rule_set(stack) -> str:
    return stack.environment_of(ACTIVATOR)["RECEIPT_RULE_SET_NAME"]


def request(kind: str, response_url: str) -> dict:
    event = json.loads((EVENTS_DIR / "receipt-rule-set-activation.json").read_text())
    return event | {"RequestType": kind, "ResponseURL": response_url}


def active(ses) -> str | None:
    return (ses.describe_active_receipt_rule_set().get("Metadata") or {}).get("Name")


def test_with_no_active_rule_set_ours_is_activated_and_cloudformation_is_told(stack, ses, cloudformation):
    # Given an account and region where no receipt rule set is active
    url, answers = cloudformation
    # When CloudFormation creates the resource
    stack.invoke(ACTIVATOR, request("Create", url))
    # Then ours is active, and CloudFormation got a SUCCESS naming it, sent without a Content-Type
    assert active(ses) == stack_rule_set(stack)
    ((content_type, answer),) = answers
    assert content_type in (None, "")
    assert (answer["Status"], answer["Data"]["ActiveRuleSet"], answer["LogicalResourceId"]) == (
        "SUCCESS",
        stack_rule_set(stack),
        "ActiveMailReceiptRuleSet",
    )


def test_another_teams_active_rule_set_is_never_replaced(stack, ses, cloudformation):
    # Given another team's rule set is active in the account and region
    url, answers = cloudformation
    ses.create_receipt_rule_set(RuleSetName="marketing-inbound")
    ses.set_active_receipt_rule_set(RuleSetName="marketing-inbound")
    # When CloudFormation creates the resource
    stack.invoke(ACTIVATOR, request("Create", url))
    # Then theirs stays active and the deploy fails, saying which set is in the way
    assert active(ses) == "marketing-inbound"
    ((_, answer),) = answers
    assert answer["Status"] == "FAILED" and "marketing-inbound" in answer["Reason"]


def test_delete_deactivates_ours_but_leaves_another_active_set_alone(stack, ses, cloudformation):
    url, answers = cloudformation
    # Given ours is active; When the resource is deleted; Then no rule set is active
    ses.set_active_receipt_rule_set(RuleSetName=stack_rule_set(stack))
    stack.invoke(ACTIVATOR, request("Delete", url))
    assert active(ses) is None
    # Given another set is active; When the resource is deleted again; Then that set stays active
    ses.create_receipt_rule_set(RuleSetName="marketing-inbound")
    ses.set_active_receipt_rule_set(RuleSetName="marketing-inbound")
    stack.invoke(ACTIVATOR, request("Delete", url))
    assert active(ses) == "marketing-inbound"
    assert [answer["Status"] for _, answer in answers] == ["SUCCESS", "SUCCESS"]


def test_the_event_cannot_choose_which_rule_set_is_activated(stack, ses, cloudformation):
    # Given a request whose properties name another rule set
    url, answers = cloudformation
    ses.create_receipt_rule_set(RuleSetName="someone-elses")
    event = request("Create", url)
    event["ResourceProperties"] = {**event["ResourceProperties"], "RuleSetName": "someone-elses"}
    # When it is handled
    stack.invoke(ACTIVATOR, event)
    # Then the stack's own rule set is the one activated
    assert active(ses) == stack_rule_set(stack)
