"""Activates the stack's SES receipt rule set: a CloudFormation custom resource.

SES runs one receipt rule set per account and region, and CloudFormation can declare a rule set but not
make it the active one. This resource does, but only when it takes nothing away: if no rule set is active,
or ours already is. If another rule set is active (another stack or team receives mail in this account and
region), activating ours would silently stop their mail, so the deploy fails instead and says which set is
active (docs/channels/email.md: move its rules into ours, or receive through a webhook provider). On
delete, ours is deactivated only if it is still the active one.

The rule set's name comes from the function's environment, never from the event: whoever can invoke the
function cannot make it activate some other rule set.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, ValidationError

from switchboard.observability import logger

SUCCESS, FAILED = "SUCCESS", "FAILED"


class CustomResourceRequest(BaseModel):
    """The fields of CloudFormation's custom resource request that the answer must echo."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    RequestType: Literal["Create", "Update", "Delete"]
    ResponseURL: str
    StackId: str
    RequestId: str
    LogicalResourceId: str
    PhysicalResourceId: str | None = None


class AnotherRuleSetIsActive(Exception):
    """Activating ours would stop the mail of the rule set that is active now."""


def activate_receipt_rule_set(
    event: Mapping[str, Any], *, rule_set_name: str, ses, respond: Callable[[str, bytes], None]
) -> dict[str, Any]:
    """Handles one custom resource request and answers CloudFormation at its ResponseURL."""
    try:
        request = CustomResourceRequest.model_validate(event)
    except ValidationError as exc:
        # Without a ResponseURL there is nobody to answer; CloudFormation never sends such a request.
        raise ValueError(f"not a CloudFormation custom resource request ({exc.error_count()} problems)") from None
    status, reason, active = SUCCESS, "", None
    try:
        active = _apply(request.RequestType, rule_set_name, ses)
    except AnotherRuleSetIsActive as error:
        status, reason = FAILED, str(error)
    except ClientError as error:
        status, reason = FAILED, f"SES refused: {error.response['Error'].get('Code', 'error')}"
    answer = {
        "Status": status,
        "Reason": reason or f"active receipt rule set: {active or 'none'}",
        "PhysicalResourceId": request.PhysicalResourceId or f"active-receipt-rule-set/{rule_set_name}",
        "StackId": request.StackId,
        "RequestId": request.RequestId,
        "LogicalResourceId": request.LogicalResourceId,
        "Data": {"ActiveRuleSet": active or ""},
    }
    respond(request.ResponseURL, json.dumps(answer).encode())
    logger.info("receipt rule set request answered", extra={"request_type": request.RequestType, "status": status})
    return answer


def _apply(request_type: str, ours: str, ses) -> str | None:
    """The rule set active once the request is done."""
    active = (ses.describe_active_receipt_rule_set().get("Metadata") or {}).get("Name")
    if request_type == "Delete":
        if active == ours:
            ses.set_active_receipt_rule_set()  # no name: no rule set is active
            return None
        return active
    if active not in (None, ours):
        raise AnotherRuleSetIsActive(
            f"receipt rule set {active!r} is active in this account and region; activating {ours!r} would stop "
            "its mail. Move its rules into ours and activate ours, or deploy with ActivateReceiptRuleSet=false"
        )
    if active != ours:
        ses.set_active_receipt_rule_set(RuleSetName=ours)
    return ours


class CloudFormationResponder:
    """PUTs the answer to CloudFormation's pre-signed S3 URL (with no Content-Type: the URL is signed
    without one). A few quick retries; if all fail the function fails, and CloudFormation times out."""

    def __init__(self) -> None:
        import urllib3

        self._http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=5, read=10),
            retries=urllib3.Retry(
                total=3, backoff_factor=0.5, status_forcelist=(500, 502, 503, 504), allowed_methods=None
            ),
        )

    def __call__(self, url: str, body: bytes) -> None:
        response = self._http.request(
            "PUT", url, body=body, headers={"Content-Type": "", "Content-Length": str(len(body))}
        )
        if response.status >= 300:
            raise RuntimeError(f"CloudFormation's response URL answered {response.status}")
