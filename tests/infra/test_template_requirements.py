"""The properties the deployed stack must have: runtime, queueing and dead-lettering, alarms, table
durability, route authorization, and secrets kept out of the template. Checked on the template as SAM
translates it where SAM fills things in (Globals, HttpApi routes), on the template as written elsewhere."""

from __future__ import annotations

import re

import pytest

from infra.template import ROOT, Resolver, local_secret_parameters, resources_of_type

DATA_MODEL_DOC = ROOT / "docs" / "data-model.md"
STORE_MODULE = ROOT / "layers" / "switchboard" / "switchboard" / "store" / "__init__.py"
RUNTIME = "python3.13"
ARCHITECTURE = "arm64"
DEAD_LETTER_AFTER_RECEIVES = 5
# Lambda's guidance for SQS event sources: queue visibility timeout at least six times the function timeout.
VISIBILITY_TO_TIMEOUT_RATIO = 6


def _properties(template: dict, logical_id: str) -> dict:
    return template["Resources"][logical_id]["Properties"]


def _consumer_of(function_specs, queue_id: str) -> tuple[str, str]:
    """(function, queue) for the SQS event source on `queue_id`; there is exactly one."""
    sources = [
        (spec.logical_id, source.queue_logical_id)
        for spec in function_specs.values()
        for source in spec.queue_sources
        if source.queue_logical_id == queue_id
    ]
    assert len(sources) == 1, sources
    return sources[0]


def _writer_queue(function_specs) -> tuple[str, str]:
    """The inbound queue and the ticket writer that consumes it."""
    return _consumer_of(function_specs, "InboundQueue")


# Every queue a function consumes: the inbound FIFO queue (writer) and the media queue (media fetcher).
CONSUMED_QUEUES = ["InboundQueue", "MediaQueue", "MailQueue", "MailEventsQueue"]


def _dead_letter_queue(template: dict, queue_id: str) -> str:
    target = _properties(template, queue_id)["RedrivePolicy"]["deadLetterTargetArn"]
    assert target["Fn::GetAtt"][1] == "Arn", target
    return target["Fn::GetAtt"][0]


def _openapi_routes(translated: dict) -> dict[str, dict]:
    """'GET /tickets' -> its OpenAPI operation, from the HttpApi SAM generates."""
    (api,) = resources_of_type(translated, "AWS::ApiGatewayV2::Api").values()
    paths = api["Properties"]["Body"]["paths"]
    return {
        f"{method.upper()} {path}": operation
        for path, methods in paths.items()
        for method, operation in methods.items()
    }


def _jwt_authorizers(translated: dict) -> dict[str, dict]:
    (api,) = resources_of_type(translated, "AWS::ApiGatewayV2::Api").values()
    schemes = api["Properties"]["Body"]["components"]["securitySchemes"]
    return {
        name: scheme["x-amazon-apigateway-authorizer"]
        for name, scheme in schemes.items()
        if scheme.get("x-amazon-apigateway-authorizer", {}).get("type") == "jwt"
    }


def test_every_function_runs_python313_on_arm64(translated):
    lambdas = resources_of_type(translated, "AWS::Lambda::Function")
    assert lambdas
    for logical_id, body in lambdas.items():
        assert body["Properties"]["Runtime"] == RUNTIME, logical_id
        assert body["Properties"]["Architectures"] == [ARCHITECTURE], logical_id


def test_shared_layer_is_built_for_the_same_runtime_and_architecture(template):
    layers = resources_of_type(template, "AWS::Serverless::LayerVersion")
    assert layers
    for logical_id, body in layers.items():
        assert RUNTIME in body["Properties"]["CompatibleRuntimes"], logical_id
        assert ARCHITECTURE in body["Properties"]["CompatibleArchitectures"], logical_id
        assert body["Metadata"] == {"BuildMethod": RUNTIME, "BuildArchitecture": ARCHITECTURE}, logical_id


def test_inbound_queue_is_fifo_and_deduplicates_by_explicit_id(template, function_specs):
    # The webhook sets MessageDeduplicationId from channel + provider message id. Content-based
    # deduplication would miss redeliveries: each is normalized again with a new received_at.
    _, queue_id = _writer_queue(function_specs)
    queue = _properties(template, queue_id)
    assert queue["FifoQueue"] is True
    assert queue["ContentBasedDeduplication"] is False


@pytest.mark.parametrize("consumed_queue", CONSUMED_QUEUES)
def test_queue_dead_letters_after_five_receives(template, function_specs, consumed_queue):
    _, queue_id = _consumer_of(function_specs, consumed_queue)
    queue = _properties(template, queue_id)
    assert queue["RedrivePolicy"]["maxReceiveCount"] == DEAD_LETTER_AFTER_RECEIVES
    dead_letter = _properties(template, _dead_letter_queue(template, queue_id))
    # A FIFO queue's dead-letter queue must be FIFO too, a standard one's standard; keep messages long
    # enough to investigate.
    assert dead_letter.get("FifoQueue", False) is queue.get("FifoQueue", False)
    assert dead_letter["MessageRetentionPeriod"] >= queue["MessageRetentionPeriod"]


@pytest.mark.parametrize("consumed_queue", CONSUMED_QUEUES)
def test_queue_visibility_outlasts_its_consumer(template, function_specs, consumed_queue):
    consumer_id, queue_id = _consumer_of(function_specs, consumed_queue)
    visibility = _properties(template, queue_id)["VisibilityTimeout"]
    assert visibility >= VISIBILITY_TO_TIMEOUT_RATIO * function_specs[consumer_id].timeout


def test_outbound_queue_is_fifo_and_dead_letters_only_past_the_senders_own_retries(template, function_specs):
    # The sender retries a busy provider itself (MAX_TRIES calls, each receive one of them); only a crash
    # loop should reach the dead-letter queue, and the attempt stays in the outbox for the sweep anyway.
    from switchboard.outbound.sender import MAX_TRIES

    consumer_id, queue_id = _consumer_of(function_specs, "OutboundQueue")
    queue = _properties(template, queue_id)
    assert queue["FifoQueue"] is True and queue["ContentBasedDeduplication"] is False
    assert queue["RedrivePolicy"]["maxReceiveCount"] > MAX_TRIES
    assert _properties(template, _dead_letter_queue(template, queue_id))["FifoQueue"] is True
    assert queue["VisibilityTimeout"] >= VISIBILITY_TO_TIMEOUT_RATIO * function_specs[consumer_id].timeout


def test_media_queue_is_a_standard_queue(template, function_specs):
    # Media jobs need no order, and a repeated job is skipped by the fetcher.
    _, queue_id = _consumer_of(function_specs, "MediaQueue")
    assert not _properties(template, queue_id).get("FifoQueue", False)


@pytest.mark.parametrize(
    ("bucket_id", "expiry_rule", "retention"),
    [
        ("AttachmentsBucket", "ExpireAttachments", "AttachmentRetentionDays"),
        ("MailBucket", "ExpireMail", "MailRetentionDays"),
    ],
)
def test_buckets_are_private_encrypted_tls_only_and_expiring(template, bucket_id, expiry_rule, retention):
    assert set(resources_of_type(template, "AWS::S3::Bucket")) == {"AttachmentsBucket", "MailBucket"}
    bucket = _properties(template, bucket_id)
    (encryption,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert bucket["PublicAccessBlockConfiguration"] == dict.fromkeys(
        ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"), True
    )
    assert bucket["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    rules = {rule["Id"]: rule for rule in bucket["LifecycleConfiguration"]["Rules"]}
    assert rules[expiry_rule]["ExpirationInDays"] == {"Ref": retention}
    assert all(rule["Status"] == "Enabled" for rule in rules.values())
    assert any(
        statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for statement in _bucket_policy(template, bucket_id)["Statement"]
    )


def _bucket_policy(template, bucket_id):
    (policy,) = [
        body["Properties"]["PolicyDocument"]
        for body in resources_of_type(template, "AWS::S3::BucketPolicy").values()
        if body["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    return policy


def test_only_ses_of_this_account_may_write_mail_into_the_mail_bucket(template):
    allows = [
        statement for statement in _bucket_policy(template, "MailBucket")["Statement"] if statement["Effect"] == "Allow"
    ]
    (ses,) = allows
    assert ses["Principal"] == {"Service": "ses.amazonaws.com"} and ses["Action"] == "s3:PutObject"
    assert ses["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert "receipt-rule-set/" in ses["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Sub"]


def test_ses_stores_mail_for_the_support_domains_with_its_spam_and_virus_scan(template):
    rule = _properties(template, "MailReceiptRule")["Rule"]
    assert rule["Enabled"] and rule["ScanEnabled"] and rule["Recipients"] == {"Ref": "SupportDomains"}
    (action,) = rule["Actions"]
    assert action["S3Action"] == {"BucketName": {"Ref": "MailBucket"}, "ObjectKeyPrefix": "inbound/ses/"}
    assert _properties(template, "MailReceiptRule")["RuleSetName"] == {"Ref": "MailReceiptRuleSet"}


def test_every_new_mail_object_is_announced_to_the_email_intake(template, function_specs):
    (notification,) = _properties(template, "MailBucket")["NotificationConfiguration"]["QueueConfigurations"]
    assert notification["Event"] == "s3:ObjectCreated:*"
    assert notification["Queue"] == {"Fn::GetAtt": ["MailQueue", "Arn"]}
    assert notification["Filter"]["S3Key"]["Rules"] == [{"Name": "prefix", "Value": "inbound/"}]
    assert _consumer_of(function_specs, "MailQueue")[0] == "EmailInboundFunction"


def test_queue_consumers_report_partial_batch_failures(function_specs):
    sources = [source for spec in function_specs.values() for source in spec.queue_sources]
    assert sources and all(source.report_batch_item_failures for source in sources)


@pytest.mark.parametrize("consumed_queue", CONSUMED_QUEUES)
def test_an_alarm_fires_as_soon_as_the_dead_letter_queue_holds_a_message(template, function_specs, consumed_queue):
    _, queue_id = _consumer_of(function_specs, consumed_queue)
    dead_letter_id = _dead_letter_queue(template, queue_id)
    alarms = [
        body["Properties"]
        for body in resources_of_type(template, "AWS::CloudWatch::Alarm").values()
        if {"Name": "QueueName", "Value": {"Fn::GetAtt": [dead_letter_id, "QueueName"]}}
        in body["Properties"].get("Dimensions", [])
        and body["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    ]
    assert len(alarms) == 1, f"expected one alarm on {dead_letter_id}"
    alarm = alarms[0]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
    assert alarm["EvaluationPeriods"] == 1 and alarm["TreatMissingData"] == "notBreaching"
    action = alarm["AlarmActions"][0]
    assert template["Resources"][action["Ref"]]["Type"] == "AWS::SNS::Topic"


def test_ticket_table_is_on_demand_recoverable_encrypted_and_expiring(template):
    (table,) = resources_of_type(template, "AWS::DynamoDB::Table").values()
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"] == {"SSEEnabled": True}
    assert props["TimeToLiveSpecification"]["Enabled"] is True and props["TimeToLiveSpecification"]["AttributeName"]
    assert table["DeletionPolicy"] == "Retain" and table["UpdateReplacePolicy"] == "Retain"


def test_every_index_is_documented_in_the_data_model(template):
    doc = DATA_MODEL_DOC.read_text()
    (table,) = resources_of_type(template, "AWS::DynamoDB::Table").values()
    indexes = table["Properties"]["GlobalSecondaryIndexes"]
    assert indexes
    for index in indexes:
        assert index["IndexName"] in doc, f"{index['IndexName']} is not in {DATA_MODEL_DOC.name}"
        for key in index["KeySchema"]:
            assert key["AttributeName"] in doc, f"{index['IndexName']} key {key['AttributeName']} is not documented"


def test_every_item_type_of_the_store_is_documented_in_the_data_model():
    # The key-schema table at the top of the store module is the source; docs/data-model.md mirrors it.
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in STORE_MODULE.read_text().splitlines()
        if line.startswith("|") and not line.startswith("|-")
    ]
    documented = [(item, pk, sk) for item, pk, sk, *_ in rows[1:] if item]
    assert rows and rows[0][:3] == ["item", "pk", "sk"], "could not read the key-schema table of the store module"
    doc = DATA_MODEL_DOC.read_text()
    for item, pk, sk in documented:
        assert pk in doc and sk in doc, f"{item} ({pk} / {sk}) is not in {DATA_MODEL_DOC.name}"


def test_ticket_routes_require_a_jwt_and_webhook_routes_are_public(translated, function_specs):
    routes = _openapi_routes(translated)
    authorizers = _jwt_authorizers(translated)
    assert set(authorizers) == {"AgentJwt"}
    declared = {f"{route.method} {route.path}": route for spec in function_specs.values() for route in spec.routes}
    assert set(routes) == set(declared)
    for route_key, operation in routes.items():
        schemes = {name for requirement in operation["security"] for name in requirement}
        public = PUBLIC_DOCUMENT_ROUTES | SIGNED_SHOP_ROUTES
        if route_key.split(" ", 1)[1].startswith("/webhooks/") or route_key in public:
            # Providers and shops cannot present our tokens; their requests are authenticated by signature instead.
            # The API's description is public (api/openapi.py).
            assert schemes == {"NONE"}, route_key
        else:
            assert schemes == {"AgentJwt"}, route_key
    assert {"GET /tickets", "GET /tickets/{ticket_id}"} <= set(routes)


# The agents' API document (GET /openapi.json): public, as Swagger UI reads it before a token is typed.
PUBLIC_DOCUMENT_ROUTES = {"GET /openapi.json"}
# Shops' own backends post signed events here (docs/notifications.md): public like a webhook, proven by a signature.
SIGNED_SHOP_ROUTES = {"POST /orders/events"}
AGENT_ROUTES = {
    "GET /tickets",
    "GET /tickets/{ticket_id}",
    "GET /tickets/{ticket_id}/messages",
    "GET /tickets/{ticket_id}/messages/{message_key}",
    "GET /tickets/{ticket_id}/audits",
    "PATCH /tickets/{ticket_id}",
    "POST /tickets/{ticket_id}/notes",
    "GET /mail/held",
    "GET /contacts/{contact_id}",
    "PATCH /contacts/{contact_id}",
    "POST /tickets/{ticket_id}/replies",
    "POST /tickets/{ticket_id}/messages/{message_key}/resend",
    "GET /contacts/{contact_id}/orders",
    "GET /contacts/{contact_id}/notifications",
}
ADMIN_ROUTES = {
    "POST /mail/held/release",
    "GET /admin/sla-policies",
    "PUT /admin/sla-policies",
    "POST /admin/sla-policies/dry-run",
    "GET /admin/schedules",
    "GET /admin/schedules/{schedule_id}",
    "PUT /admin/schedules/{schedule_id}",
    "GET /admin/notification-rules",
    "PUT /admin/notification-rules",
}


@pytest.mark.parametrize(
    ("parameters", "agent", "admin"),
    [
        ({}, set(), set()),
        (
            {"RolesClaim": "scope", "RolePrefix": "switchboard/"},
            {"switchboard/agent", "switchboard/admin"},
            {"switchboard/admin"},
        ),
        ({"RolesClaim": "scp", "RolePrefix": ""}, {"agent", "admin"}, {"admin"}),
    ],
    ids=["cognito-groups", "resource-server-scopes", "scp-claim"],
)
def test_the_gateway_checks_role_scopes_per_route_when_roles_are_scopes(template, translated, parameters, agent, admin):
    # Given the stack as deployed with these role parameters
    resolver = Resolver(template, parameters, "us-east-1", "123456789012")
    routes = _openapi_routes(translated)
    # (every agents' route is one or the other, so a new route must say which role it needs)
    assert {
        key
        for key in routes
        if not key.split(" ", 1)[1].startswith("/webhooks/") and key not in PUBLIC_DOCUMENT_ROUTES | SIGNED_SHOP_ROUTES
    } == AGENT_ROUTES | ADMIN_ROUTES
    # Then each agent route admits either role's scope, release only the admin's, and with groups none is
    # required at the gateway (the function checks the groups)
    for route_key in AGENT_ROUTES | ADMIN_ROUTES:
        (requirement,) = routes[route_key]["security"]
        scopes = {scope for scope in resolver.resolve(requirement["AgentJwt"]) if scope is not None}
        assert scopes == (admin if route_key in ADMIN_ROUTES else agent), route_key


def test_the_agents_functions_read_roles_as_the_parameters_say(function_specs):
    for logical_id in (
        "TicketsApiFunction",
        "TicketChangesFunction",
        "HeldMailReleaseFunction",
        "SlaAdminFunction",
        "NotificationAdminFunction",
    ):
        environment = function_specs[logical_id].environment
        assert (environment["ROLES_CLAIM"], environment["ROLE_PREFIX"]) == (
            {"Ref": "RolesClaim"},
            {"Ref": "RolePrefix"},
        )


def test_jwt_authorizer_checks_issuer_and_audience_from_parameters(translated):
    authorizer = _jwt_authorizers(translated)["AgentJwt"]
    assert authorizer["identitySource"] == "$request.header.Authorization"
    assert authorizer["jwtConfiguration"] == {"issuer": {"Ref": "JwtIssuer"}, "audience": {"Ref": "JwtAudience"}}


def test_new_routes_are_protected_by_default(template):
    (api,) = resources_of_type(template, "AWS::Serverless::HttpApi").values()
    assert api["Properties"]["Auth"]["DefaultAuthorizer"] == "AgentJwt"


def test_channel_secrets_come_from_secrets_named_by_parameters(template, function_specs):
    secret_parameters = local_secret_parameters(template)
    assert "WhatsAppSecretArn" in secret_parameters
    for parameter in secret_parameters:
        declared = template["Parameters"][parameter]
        assert declared["Type"] == "String" and "Default" not in declared, parameter
        readers = [spec for spec in function_specs.values() if {"Ref": parameter} in spec.environment.values()]
        assert readers, f"no function is given {parameter}"
        for spec in readers:
            policies = _properties(template, spec.logical_id)["Policies"]
            assert {"AWSSecretsManagerGetSecretValuePolicy": {"SecretArn": {"Ref": parameter}}} in policies


def test_no_secret_value_is_written_into_the_template(template):
    text = (ROOT / "template.yaml").read_text()
    for spec in local_secret_parameters(template).values():
        for key in spec["keys"]:
            # Keys may be named (metadata, descriptions); they must never be assigned a value.
            assert not re.search(rf"\b{key}\s*[:=]\s*\S", text, re.IGNORECASE), key
