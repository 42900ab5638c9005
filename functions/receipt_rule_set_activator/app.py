"""CloudFormation custom resource: makes this stack's SES receipt rule set the active one, unless another is."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from switchboard import runtime
from switchboard.custom_resources.receipt_rule_set import activate_receipt_rule_set
from switchboard.observability import logger


@logger.inject_lambda_context
def handler(event: dict, context: LambdaContext) -> dict:
    return activate_receipt_rule_set(
        event,
        rule_set_name=runtime.rule_set_activator_settings().rule_set_name,
        ses=runtime.ses_client(),
        respond=runtime.cloudformation_responder(),
    )
