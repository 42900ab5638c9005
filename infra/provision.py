"""Creates the template's stateful resources (tables, queues, topics, buckets, dev secrets) in an AWS endpoint:
moto in-process for integration tests, moto server for the local runner."""

from __future__ import annotations

import json
import secrets as random_secrets
from dataclasses import dataclass, field
from typing import Any

from infra.template import Resolver, functions, load_template, local_secret_parameters, resources_of_type

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account
LOCAL_JWT_ISSUER = "https://switchboard.local/issuer"
LOCAL_API_ID = "sb1x2y3z4a"
LOCAL_JWT_AUDIENCE = "switchboard-local"
LOCAL_SUPPORT_DOMAIN = "shop.example"
LOCAL_MAILBOX = f"support@{LOCAL_SUPPORT_DOMAIN}"

_TABLE_PROPERTIES = (
    "AttributeDefinitions",
    "KeySchema",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
    "BillingMode",
    "DeletionProtectionEnabled",
)


@dataclass
class Stack:
    """What was provisioned: logical id -> physical name/URL/ARN, the resolved parameters, the dev secrets."""

    resolver: Resolver
    template: dict[str, Any]
    names: dict[str, str] = field(default_factory=dict)
    channel_secrets: dict[str, dict[str, str]] = field(default_factory=dict)

    def environment_of(self, logical_id: str) -> dict[str, str]:
        spec = next(f for f in functions(self.template) if f.logical_id == logical_id)
        return {name: str(self.resolver.resolve(value)) for name, value in spec.environment.items()}

    def ref(self, logical_id: str) -> Any:
        return self.resolver.refs[logical_id]

    def attribute(self, logical_id: str, attribute: str) -> Any:
        return self.resolver.attributes[(logical_id, attribute)]


def provision(
    session,
    *,
    prefix: str = "switchboard-local",
    template: dict[str, Any] | None = None,
    seed: dict[str, dict[str, str]] | None = None,
    parameters: dict[str, Any] | None = None,
) -> Stack:
    """Provisions everything into the endpoint `session` talks to. `seed` fixes channel secrets (tests);
    `parameters` override template parameters (the local fake providers' base URLs)."""
    template = template or load_template()
    resolver = Resolver(
        template,
        {
            "JwtIssuer": LOCAL_JWT_ISSUER,
            "JwtAudience": LOCAL_JWT_AUDIENCE,
            "SupportDomains": LOCAL_SUPPORT_DOMAIN,
            "DefaultMailbox": LOCAL_MAILBOX,
            **(parameters or {}),
        },
        region=REGION,
        account_id=ACCOUNT_ID,
    )
    stack = Stack(resolver=resolver, template=template)
    # The HTTP API is not provisioned (the local gateway serves it); its id names the URL Twilio's status
    # callbacks would reach in AWS, which the in-process stack's requests carry.
    stack.resolver.refs.setdefault("HttpApi", LOCAL_API_ID)
    _seed_secrets(session.client("secretsmanager"), stack, prefix, seed or {})
    _create_topics(session.client("sns"), stack, prefix)
    _create_queues(session.client("sqs"), stack, prefix)
    _create_tables(session.client("dynamodb"), stack, prefix)
    _create_buckets(session.client("s3"), stack, prefix)
    return stack


def _seed_secrets(client, stack: Stack, prefix: str, seed: dict[str, dict[str, str]]) -> None:
    for parameter, spec in local_secret_parameters(stack.template).items():
        channel = spec["channel"]
        # A download-credentials secret holds the same token as its channel's dev secret ("like"), as an
        # operator's would; keys the channel's secret lacks (a Twilio API key) get fresh dev values.
        like = seed.get(spec.get("like", "")) or stack.channel_secrets.get(spec.get("like", "")) or {}
        values = seed.get(channel) or {key: like.get(key) or random_secrets.token_urlsafe(24) for key in spec["keys"]}
        arn = client.create_secret(Name=f"{prefix}/{channel}", SecretString=json.dumps(values))["ARN"]
        stack.resolver.parameters[parameter] = arn
        stack.channel_secrets[channel] = values


def _create_topics(client, stack: Stack, prefix: str) -> None:
    for logical_id in resources_of_type(stack.template, "AWS::SNS::Topic"):
        arn = client.create_topic(Name=f"{prefix}-{logical_id}")["TopicArn"]
        stack.resolver.refs[logical_id] = arn
        stack.resolver.attributes[(logical_id, "TopicArn")] = arn


def _create_queues(client, stack: Stack, prefix: str) -> None:
    queues = resources_of_type(stack.template, "AWS::SQS::Queue")
    # Dead-letter queues first: a redrive policy names its target's ARN.
    ordered = sorted(queues, key=lambda logical_id: "RedrivePolicy" in queues[logical_id]["Properties"])
    for logical_id in ordered:
        props = queues[logical_id]["Properties"]
        fifo = bool(props.get("FifoQueue"))
        name = f"{prefix}-{logical_id}" + (".fifo" if fifo else "")
        attributes = {"VisibilityTimeout": str(props.get("VisibilityTimeout", 30))}
        if fifo:
            attributes["FifoQueue"] = "true"
            attributes["ContentBasedDeduplication"] = str(bool(props.get("ContentBasedDeduplication"))).lower()
        if "MessageRetentionPeriod" in props:
            attributes["MessageRetentionPeriod"] = str(props["MessageRetentionPeriod"])
        if "RedrivePolicy" in props:
            attributes["RedrivePolicy"] = json.dumps(stack.resolver.resolve(props["RedrivePolicy"]))
        url = client.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        stack.resolver.refs[logical_id] = url
        stack.resolver.attributes[(logical_id, "Arn")] = arn
        stack.resolver.attributes[(logical_id, "QueueName")] = name
        stack.resolver.attributes[(logical_id, "QueueUrl")] = url
        stack.names[logical_id] = url


def _create_tables(client, stack: Stack, prefix: str) -> None:
    for logical_id, body in resources_of_type(stack.template, "AWS::DynamoDB::Table").items():
        props = stack.resolver.resolve(body["Properties"])
        name = f"{prefix}-{logical_id}"
        request = {key: props[key] for key in _TABLE_PROPERTIES if key in props}
        if "SSESpecification" in props:
            # CloudFormation spells it SSEEnabled; the DynamoDB API spells it Enabled.
            request["SSESpecification"] = {"Enabled": bool(props["SSESpecification"].get("SSEEnabled"))}
        client.create_table(TableName=name, **request)
        ttl = props.get("TimeToLiveSpecification")
        if ttl:
            client.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
        arn = client.describe_table(TableName=name)["Table"]["TableArn"]
        stack.resolver.refs[logical_id] = name
        stack.resolver.attributes[(logical_id, "Arn")] = arn
        stack.names[logical_id] = name


def _create_buckets(client, stack: Stack, prefix: str) -> None:
    for logical_id, body in resources_of_type(stack.template, "AWS::S3::Bucket").items():
        props = stack.resolver.resolve(body.get("Properties") or {})
        # CloudFormation generates a lowercase name; S3 allows nothing else.
        name = f"{prefix}-{logical_id}".lower()
        client.create_bucket(Bucket=name)
        if "BucketEncryption" in props:
            # CloudFormation spells it ServerSideEncryptionByDefault; the S3 API ApplyServerSideEncryptionByDefault.
            rules = [
                {
                    "ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"],
                    **({"BucketKeyEnabled": rule["BucketKeyEnabled"]} if "BucketKeyEnabled" in rule else {}),
                }
                for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
            ]
            client.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
        if "VersioningConfiguration" in props:
            # The local stack keeps raw mail's versions as AWS does: an overwrite stays recoverable there too.
            client.put_bucket_versioning(
                Bucket=name, VersioningConfiguration={"Status": props["VersioningConfiguration"]["Status"]}
            )
        if "PublicAccessBlockConfiguration" in props:
            client.put_public_access_block(
                Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
            )
        if "NotificationConfiguration" in props:
            client.put_bucket_notification_configuration(
                Bucket=name, NotificationConfiguration=_notification_configuration(props["NotificationConfiguration"])
            )
        stack.resolver.refs[logical_id] = name
        stack.resolver.attributes[(logical_id, "Arn")] = f"arn:aws:s3:::{name}"
        stack.resolver.attributes[(logical_id, "DomainName")] = f"{name}.s3.amazonaws.com"
        stack.names[logical_id] = name


def _notification_configuration(cloudformation: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's spelling of bucket notifications (Queue, Filter.S3Key.Rules) in the S3 API's
    (QueueArn, Events, Filter.Key.FilterRules). Queues are created first, so their ARNs are resolved."""
    return {
        "QueueConfigurations": [
            {
                "QueueArn": queue["Queue"],
                "Events": [queue["Event"]],
                **(
                    {"Filter": {"Key": {"FilterRules": queue["Filter"]["S3Key"]["Rules"]}}} if "Filter" in queue else {}
                ),
            }
            for queue in cloudformation.get("QueueConfigurations", [])
        ]
    }
