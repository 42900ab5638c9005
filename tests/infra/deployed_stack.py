"""What CloudFormation would create from template.yaml, for checks that need the deployed shape.

SAM's own translator expands the template (Globals, policy templates such as SQSSendMessagePolicy,
HttpApi routes and their authorizers) exactly as `sam deploy` does. Function roles' statements are
then resolved to ARNs against a provisioned stack (infra.provision), so they can be compared with the
AWS calls the code really makes. Shared by the infra tests and the function probe subprocess.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from infra.template import Resolver, load_template

_LOCAL_CODE = {"AWS::Serverless::Function": "CodeUri", "AWS::Serverless::LayerVersion": "ContentUri"}
_TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}
# IAM authorizes a few API operations under another operation's action.
_AUTHORIZED_AS = {("sqs", "SendMessageBatch"): "SendMessage", ("sqs", "DeleteMessageBatch"): "DeleteMessage"}


def translate(template: dict[str, Any] | None = None) -> dict[str, Any]:
    """The CloudFormation template `sam deploy` would submit (local code folders stand in as S3 URIs)."""
    from boto3.session import Session
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    sam_template = copy.deepcopy(template or load_template())
    for resource in sam_template["Resources"].values():
        code_property = _LOCAL_CODE.get(resource["Type"])
        if code_property:
            resource["Properties"][code_property] = "s3://switchboard-artifacts/code.zip"
    translator = Translator(
        managed_policy_map=None, sam_parser=Parser(), plugins=[], boto_session=Session(region_name="us-east-1")
    )
    return translator.translate(sam_template=sam_template, parameter_values={}, get_managed_policy_map=dict)


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    # Patterns of a `ForAllValues:StringLike: dynamodb:LeadingKeys` condition; None when it has none.
    leading_keys: tuple[str, ...] | None = None

    def matches(self, action: str, resource: str, leading_keys: tuple[str, ...] | None = None) -> bool:
        """`leading_keys` are the partition key values the request touches, None when not known (then a
        statement conditioned on them does not match: the check fails closed)."""
        if self.leading_keys is not None and (
            leading_keys is None
            or not all(any(fnmatchcase(key, pattern) for pattern in self.leading_keys) for key in leading_keys)
        ):
            return False
        return any(fnmatchcase(action.lower(), pattern.lower()) for pattern in self.actions) and any(
            fnmatchcase(resource, pattern) for pattern in self.resources
        )


def inline_statements(translated: dict[str, Any], function_logical_id: str) -> list[dict[str, Any]]:
    """The function role's inline policy statements, intrinsics unresolved. Managed policies SAM attaches
    (basic execution, X-Ray, SQS event-source polling) grant nothing the function's own code calls."""
    role_ref = translated["Resources"][function_logical_id]["Properties"]["Role"]
    role = translated["Resources"][role_ref["Fn::GetAtt"][0]]
    statements = []
    for policy in role["Properties"].get("Policies", []):
        found = policy["PolicyDocument"]["Statement"]
        statements.extend(found if isinstance(found, list) else [found])
    return statements


def resolved_statements(translated: dict[str, Any], function_logical_id: str, resolver: Resolver) -> list[Statement]:
    resolved = []
    for statement in inline_statements(translated, function_logical_id):
        actions = statement.get("Action", [])
        resources = resolver.resolve(statement.get("Resource", []))
        resolved.append(
            Statement(
                effect=statement["Effect"],
                actions=tuple([actions] if isinstance(actions, str) else actions),
                resources=tuple(str(r) for r in ([resources] if isinstance(resources, str) else resources)),
                leading_keys=_leading_key_patterns(statement.get("Condition") or {}),
            )
        )
    return resolved


def _leading_key_patterns(condition: dict[str, Any]) -> tuple[str, ...] | None:
    patterns = (condition.get("ForAllValues:StringLike") or {}).get("dynamodb:LeadingKeys")
    if patterns is None:
        return None
    return tuple([patterns] if isinstance(patterns, str) else patterns)


def allows(
    statements: list[Statement], action: str, resource: str, leading_keys: tuple[str, ...] | None = None
) -> bool:
    """IAM's evaluation for one principal: an explicit Deny wins, otherwise some Allow must match."""
    if any(s.effect == "Deny" and s.matches(action, resource, leading_keys) for s in statements):
        return False
    return any(s.effect == "Allow" and s.matches(action, resource, leading_keys) for s in statements)


def leading_keys_of(params: dict[str, Any], hash_key: str) -> tuple[str, ...] | None:
    """The partition key values a single-item DynamoDB request touches (None for any other request)."""
    item = params.get("Key") or params.get("Item")
    if not isinstance(item, dict) or hash_key not in item:
        return None
    (value,) = item[hash_key].values()
    return (str(value),)


def iam_requests(service: str, operation: str, params: dict[str, Any], arn_of) -> list[tuple[str, str]]:
    """The (IAM action, resource ARN) pairs one API call is authorized against.

    `arn_of(service, name)` turns a table name, queue URL or secret id into its ARN. DynamoDB authorizes
    a transaction item by item under the single-item actions, and an index query against the index ARN.
    """
    if service == "dynamodb":
        if operation in ("TransactWriteItems", "TransactGetItems"):
            requests = []
            for item in params["TransactItems"]:
                ((kind, body),) = item.items()
                action = "GetItem" if kind == "Get" else _TRANSACT_ACTIONS[kind]
                requests.append((f"dynamodb:{action}", arn_of("dynamodb", body["TableName"])))
            return requests
        if operation in ("BatchGetItem", "BatchWriteItem"):
            return [(f"dynamodb:{operation}", arn_of("dynamodb", table)) for table in params["RequestItems"]]
        table_arn = arn_of("dynamodb", params["TableName"])
        if params.get("IndexName"):
            table_arn = f"{table_arn}/index/{params['IndexName']}"
        return [(f"dynamodb:{operation}", table_arn)]
    if service == "sqs":
        action = _AUTHORIZED_AS.get((service, operation), operation)
        return [(f"sqs:{action}", arn_of("sqs", params["QueueUrl"]))]
    if service == "secretsmanager":
        return [(f"secretsmanager:{operation}", arn_of("secretsmanager", params["SecretId"]))]
    if service == "s3" and "Key" in params:
        # Object operations are authorized against the object's ARN; a multipart upload's parts as PutObject.
        action = _S3_AUTHORIZED_AS.get(operation, operation)
        return [(f"s3:{action}", f"{arn_of('s3', params['Bucket'])}/{params['Key']}")]
    return [(f"{service}:{operation}", "*")]


_S3_AUTHORIZED_AS = {
    "CreateMultipartUpload": "PutObject",
    "UploadPart": "PutObject",
    "CompleteMultipartUpload": "PutObject",
    "HeadObject": "GetObject",
}
