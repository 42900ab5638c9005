"""Runs one function as Lambda would: a fresh interpreter whose environment holds only what the
Lambda runtime provides plus the variables template.yaml gives that function.

    python tests/infra/function_probe.py <FunctionLogicalId> <result.json>

The stack is provisioned in moto (in-process), the handler is loaded from its CodeUri with the shared
layer on the path, and the sample events (events/) that reach the function are played against it. Every AWS call the
function makes is recorded as the IAM action and resource ARN it is authorized against, next to the
function role's statements from the SAM-translated template, so the caller can compare the two.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from deployed_stack import iam_requests, leading_keys_of, resolved_statements, translate  # noqa: E402

if TYPE_CHECKING:
    from tests.support.cloudformation import ResponseListener

# What the Lambda runtime itself puts in every function's environment (credentials are the role's).
LAMBDA_RUNTIME_ENVIRONMENT = {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    "LANG": "en_US.UTF-8",
    "TZ": ":UTC",
}
EVENTS_DIR = ROOT / "events"


def sample_events_for(spec) -> dict[str, dict[str, Any]]:
    """The committed sample events (events/) that reach this function: its HTTP routes, its queue, its
    custom resource or its schedule."""
    routes = {f"{route.method} {route.path}" for route in spec.routes}
    # CloudFormation names a queue <stack>-<logical id>-<suffix>.
    queues = {f"-{source.queue_logical_id}-" for source in spec.queue_sources}
    chosen = {}
    for path in sorted(EVENTS_DIR.glob("*.json")):
        event = json.loads(path.read_text())
        from_queue = "Records" in event and any(q in event["Records"][0]["eventSourceARN"] for q in queues)
        from_cloudformation = f"-{spec.logical_id}-" in event.get("ServiceToken", "")
        # EventBridge names a function's schedule rule <stack>-<logical id><event name>-<suffix>.
        rules = {f"-{spec.logical_id}{schedule.name}-" for schedule in spec.schedules}
        from_schedule = any(rule in resource for rule in rules for resource in event.get("resources", []))
        if event.get("routeKey") in routes or from_queue or from_cloudformation or from_schedule:
            chosen[path.name] = event
    if not chosen:
        raise LookupError(f"no sample event in {EVENTS_DIR.name}/ reaches {spec.logical_id}")
    return chosen


_CLOUDFORMATION: ResponseListener | None = None


def _cloudformation() -> ResponseListener:
    """Started on the first custom resource sample only: most probes play none."""
    global _CLOUDFORMATION
    if _CLOUDFORMATION is None:
        from tests.support.cloudformation import ResponseListener

        _CLOUDFORMATION = ResponseListener()
    return _CLOUDFORMATION


def _create_rule_sets(admin, template_environment: dict[str, str]) -> None:
    """The receipt rule set the template declares (not provisioned locally: SES is not a stateful store)."""
    if "RECEIPT_RULE_SET_NAME" in template_environment:
        admin.client("ses").create_receipt_rule_set(RuleSetName=template_environment["RECEIPT_RULE_SET_NAME"])


def _store_announced_mail(admin, stack, samples: dict[str, dict[str, Any]]) -> None:
    """A mail-bucket notification only names its object: put there the sample mail SES would have stored."""
    from switchboard.email.intake import mail_objects

    for event in samples.values():
        for record in event.get("Records", []):
            for _, key in mail_objects(record["body"]) if "ObjectCreated" in record.get("body", "") else []:
                raw = (EVENTS_DIR / "email-ses-mail.eml").read_bytes()
                admin.client("s3").put_object(Bucket=stack.ref("MailBucket"), Key=key, Body=raw)


def _fresh(event: dict[str, Any]) -> dict[str, Any]:
    """Mailgun's signed timestamp must be recent: its sample is signed again for now, as Mailgun would sign it.
    A custom resource request answers CloudFormation at its ResponseURL: here, a local listener."""
    if "ServiceToken" in event:
        return event | {"ResponseURL": _cloudformation().url}
    if not str(event.get("routeKey", "")).startswith("POST /webhooks/email/mailgun"):
        return event
    from tests.support.drivers.email import resigned_now

    return event | {"body": resigned_now(event["body"], base64_body=event.get("isBase64Encoded", False))}


def observe(stack, admin) -> dict[str, int]:
    """What the events left behind: messages waiting on the inbound queue, tickets in the table."""
    attributes = admin.client("sqs").get_queue_attributes(
        QueueUrl=stack.ref("InboundQueue"), AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    tickets = admin.client("dynamodb").query(
        TableName=stack.ref("TicketsTable"),
        IndexName="ByCreated",
        KeyConditionExpression="created_pk = :all",
        ExpressionAttributeValues={":all": {"S": "TICKETS"}},
    )
    return {"queued": int(attributes["ApproximateNumberOfMessages"]), "tickets": tickets["Count"]}


def _table_hash_key(template) -> str:
    from infra.template import resources_of_type

    (table,) = resources_of_type(template, "AWS::DynamoDB::Table").values()
    return next(key["AttributeName"] for key in table["Properties"]["KeySchema"] if key["KeyType"] == "HASH")


def _arn_resolver(stack):
    by_physical = {}
    for (logical_id, attribute), value in stack.resolver.attributes.items():
        if attribute == "Arn":
            by_physical[stack.resolver.refs.get(logical_id)] = value

    def arn_of(service: str, name: str) -> str:
        if service == "secretsmanager" and name.startswith("arn:"):
            return name
        return by_physical[name]

    return arn_of


def run(logical_id: str) -> dict[str, Any]:
    import boto3
    from moto import mock_aws

    from infra.functions import LambdaContext, load_function, use_layer
    from infra.provision import REGION, provision
    from infra.template import functions

    use_layer()
    # The sample events are signed with the driver's sample secrets (only models are imported by it:
    # nothing that reads the environment is loaded before the function's own import below).
    from tests.support.drivers import DRIVERS

    with mock_aws():
        admin = boto3.Session(region_name=REGION)
        from events.order_samples import SAMPLE_SECRETS

        seed = {driver.name: dict(driver.secrets) for driver in DRIVERS} | SAMPLE_SECRETS
        stack = provision(admin, prefix="probe", seed=seed)
        spec = next(f for f in functions(stack.template) if f.logical_id == logical_id)
        statements = resolved_statements(translate(stack.template), logical_id, stack.resolver)
        template_environment = stack.environment_of(logical_id)

        os.environ.clear()
        os.environ.update(LAMBDA_RUNTIME_ENVIRONMENT | {"AWS_LAMBDA_FUNCTION_NAME": logical_id} | template_environment)

        calls: list[dict[str, Any]] = []
        arn_of = _arn_resolver(stack)

        hash_key = _table_hash_key(stack.template)

        def record(params, model, **_):
            service = model.service_model.signing_name
            keys = leading_keys_of(params, hash_key) if service == "dynamodb" else None
            for action, resource in iam_requests(service, model.name, params, arn_of):
                calls.append(
                    {
                        "operation": f"{service}:{model.name}",
                        "action": action,
                        "resource": resource,
                        "leading_keys": keys,
                    }
                )

        boto3.setup_default_session()
        boto3.DEFAULT_SESSION.events.register("before-parameter-build", record)

        handler = load_function(spec)
        context = LambdaContext(logical_id, "probe-request", spec.timeout)
        samples = sample_events_for(spec)
        _store_announced_mail(admin, stack, samples)
        _create_rule_sets(admin, template_environment)
        played = [
            {"event": name, "request": event, "response": handler(_fresh(event), context)}
            for name, event in samples.items()
        ]
        return {
            "function": logical_id,
            "environment": sorted(template_environment),
            "played": played,
            "left_behind": observe(stack, admin),
            "cloudformation_answers": [answer for _, answer in _CLOUDFORMATION.answers] if _CLOUDFORMATION else [],
            "calls": calls,
            "statements": [
                {"effect": s.effect, "actions": s.actions, "resources": s.resources, "leading_keys": s.leading_keys}
                for s in statements
            ],
        }


def main() -> int:
    logical_id, result_path = sys.argv[1], Path(sys.argv[2])
    try:
        result = run(logical_id)
    except Exception:  # noqa: BLE001 (the caller shows the child's traceback in its assertion message)
        result = {"function": logical_id, "error": traceback.format_exc()}
    result_path.write_text(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
