"""What an operator relies on once the stack runs: alarms on every function and queue that reach someone,
a dashboard of the intake, log groups with a retention, a throttle per route, access logs without
tokens, the internet-facing Mailgun webhook confined to its replay tokens, and raw mail kept versioned.

Each check goes over every function, queue or route the template declares, so one added later without
its alarm, its log group or its throttle fails here."""

from __future__ import annotations

import io
import json
import logging
import re
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from deployed_stack import Statement, allows, leading_keys_of, resolved_statements
from hypothesis import given
from hypothesis import strategies as st

from infra.provision import REGION
from infra.template import Resolver, functions, load_template, resources_of_type

TEMPLATE = load_template()
FUNCTION_IDS = [spec.logical_id for spec in functions(TEMPLATE)]
QUEUES = resources_of_type(TEMPLATE, "AWS::SQS::Queue")
SOURCE_QUEUES = {q: body for q, body in QUEUES.items() if "RedrivePolicy" in body["Properties"]}
# Dead-letter queues of the queues, and of the functions EventBridge invokes (their failed events land there).
DEAD_LETTER_QUEUES = sorted(
    {body["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0] for body in SOURCE_QUEUES.values()}
    | {
        function["Properties"]["DeadLetterQueue"]["TargetArn"]["Fn::GetAtt"][0]
        for function in TEMPLATE["Resources"].values()
        if function["Type"] == "AWS::Serverless::Function" and "DeadLetterQueue" in function["Properties"]
    }
)
ALARM_ACTIONS = [
    {"Ref": "AlarmTopic"},
    {"Fn::If": ["HasAlarmTopicArn", {"Ref": "AlarmTopicArn"}, {"Ref": "AWS::NoValue"}]},
]
# API Gateway's account quota per region is 10,000 rps, but 2,500 in the newer regions.
SMALLEST_ACCOUNT_RATE_QUOTA = 2500
SHOP_EVENT_ROUTES = {"POST /webhooks/shopify", "POST /orders/events"}
# $context variables an access log line may hold: none of them carries a path, a query or a header.
ACCESS_LOG_VARIABLES = {
    "requestId",
    "requestTimeEpoch",
    "routeKey",
    "status",
    "responseLength",
    "responseLatency",
    "integrationStatus",
    "integrationLatency",
    "error.message",
    "integrationErrorMessage",
}
SUB_VARIABLE = re.compile(r"\$\{([^}!]+)\}")


def _alarms() -> dict[str, dict]:
    return {name: body["Properties"] for name, body in resources_of_type(TEMPLATE, "AWS::CloudWatch::Alarm").items()}


def _alarms_on(namespace: str, metric: str, dimension: dict) -> list[dict]:
    return [
        alarm
        for alarm in _alarms().values()
        if (alarm.get("Namespace"), alarm.get("MetricName")) == (namespace, metric) and dimension in alarm["Dimensions"]
    ]


def _parameter_default(name: str):
    return TEMPLATE["Parameters"][name]["Default"]


# -- alarms ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("logical_id", FUNCTION_IDS)
@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_every_function_alarms_on_its_first_error_and_throttle(logical_id, metric):
    # Given a function of the template, When its metric counts one failure in five minutes, Then one alarm fires
    (alarm,) = _alarms_on("AWS/Lambda", metric, {"Name": "FunctionName", "Value": {"Ref": logical_id}})
    assert (alarm["Statistic"], alarm["ComparisonOperator"], alarm["Threshold"]) == ("Sum", "GreaterThanThreshold", 0)
    assert alarm["Period"] * alarm["EvaluationPeriods"] <= 300
    assert alarm["TreatMissingData"] == "notBreaching"


@pytest.mark.parametrize("queue_id", sorted(SOURCE_QUEUES))
def test_every_consumed_queue_alarms_when_a_message_waits_past_a_retry(queue_id):
    # Given a queue a function consumes: a message older than one visibility timeout has failed at least once
    props = SOURCE_QUEUES[queue_id]["Properties"]
    (alarm,) = _alarms_on(
        "AWS/SQS",
        "ApproximateAgeOfOldestMessage",
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}},
    )
    # Then the alarm fires after a retry, long before the message is dead-lettered or expires
    dead_letter_after = props["VisibilityTimeout"] * props["RedrivePolicy"]["maxReceiveCount"]
    assert props["VisibilityTimeout"] < alarm["Threshold"] < dead_letter_after < props["MessageRetentionPeriod"]
    assert alarm["Statistic"] == "Maximum" and alarm["ComparisonOperator"] == "GreaterThanThreshold"


@pytest.mark.parametrize("queue_id", DEAD_LETTER_QUEUES)
def test_every_dead_letter_queue_alarms_on_its_first_message_and_before_it_drops_one(queue_id):
    dimension = {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}
    (depth,) = _alarms_on("AWS/SQS", "ApproximateNumberOfMessagesVisible", dimension)
    assert (depth["ComparisonOperator"], depth["Threshold"], depth["EvaluationPeriods"]) == (
        "GreaterThanThreshold",
        0,
        1,
    )
    # A dead letter left alone expires with the queue's retention: the age alarm asks for a redrive first.
    (age,) = _alarms_on("AWS/SQS", "ApproximateAgeOfOldestMessage", dimension)
    assert 0 < age["Threshold"] < QUEUES[queue_id]["Properties"]["MessageRetentionPeriod"]


def test_every_queue_of_the_template_is_watched():
    assert set(QUEUES) == set(SOURCE_QUEUES) | set(DEAD_LETTER_QUEUES)


def test_http_api_alarms_on_its_5xx_rate():
    (alarm,) = [a for a in _alarms().values() if "Metrics" in a]
    metrics = {m["Id"]: m for m in alarm["Metrics"]}
    (returned,) = [m for m in metrics.values() if m.get("ReturnData", True)]
    by_name = {m["MetricStat"]["Metric"]["MetricName"]: m_id for m_id, m in metrics.items() if "MetricStat" in m}
    assert set(by_name) == {"5xx", "Count"}
    assert returned["Expression"].replace(" ", "") == f"100*{by_name['5xx']}/{by_name['Count']}"
    for m_id in by_name.values():
        assert metrics[m_id]["MetricStat"]["Metric"]["Dimensions"] == [{"Name": "ApiId", "Value": {"Ref": "HttpApi"}}]
        assert metrics[m_id]["MetricStat"]["Stat"] == "Sum"
    assert 0 < alarm["Threshold"] <= 5 and alarm["TreatMissingData"] == "notBreaching"


def test_every_alarm_notifies_the_alarm_topic_and_the_operators_topic_when_set():
    alarms = _alarms()
    assert len(alarms) >= 2 * len(FUNCTION_IDS) + len(QUEUES) + len(DEAD_LETTER_QUEUES) + 1
    for name, alarm in alarms.items():
        assert alarm["AlarmActions"] == ALARM_ACTIONS, name
    topic = TEMPLATE["Resources"]["AlarmTopic"]
    assert topic["Type"] == "AWS::SNS::Topic"
    # CloudWatch cannot use the AWS managed SNS key (its policy admits no service): such a topic gets nothing.
    assert topic["Properties"].get("KmsMasterKeyId") != "alias/aws/sns", "CloudWatch cannot publish to this topic"
    assert TEMPLATE["Resources"]["AlarmEmailSubscription"]["Condition"] == "HasAlarmEmail"


def _rule_verdict(parameters: dict[str, str]) -> bool:
    """CloudFormation's Rules: a rule whose condition holds must have every assertion hold."""
    resolver = Resolver(TEMPLATE, parameters, region="us-east-1", account_id="123456789012")
    for rule in TEMPLATE["Rules"].values():
        if "RuleCondition" in rule and not resolver.resolve(rule["RuleCondition"]):
            continue
        if not all(resolver.resolve(assertion["Assert"]) for assertion in rule["Assertions"]):
            return False
    return True


@pytest.mark.parametrize(
    ("stage", "email", "topic", "deploys"),
    [
        ("prod", "", "", False),
        ("prod", "oncall@shop.example", "", True),
        ("prod", "", "arn:aws:sns:us-east-1:123456789012:pagerduty", True),
        ("dev", "", "", True),
    ],
)
def test_production_is_refused_without_an_alarm_target(stage, email, topic, deploys):
    # Given a stage and its alarm targets, When CloudFormation checks the template's rules, Then ...
    assert _rule_verdict({"Stage": stage, "AlarmEmail": email, "AlarmTopicArn": topic}) is deploys


def test_alarm_topic_parameter_takes_an_sns_topic_arn_or_nothing():
    pattern = re.compile(TEMPLATE["Parameters"]["AlarmTopicArn"]["AllowedPattern"])
    assert pattern.fullmatch("") and pattern.fullmatch("arn:aws:sns:ap-northeast-2:123456789012:chatbot-alarms")
    assert not pattern.fullmatch("oncall@shop.example")


# -- dashboard ------------------------------------------------------------------------------------


def _dashboard_body() -> tuple[dict, set[str]]:
    """The dashboard's JSON with every ${...} substituted as CloudFormation would, and the names used."""
    (dashboard,) = resources_of_type(TEMPLATE, "AWS::CloudWatch::Dashboard").values()
    text = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    names = set(SUB_VARIABLE.findall(text))
    # A name CloudFormation might resolve to any string, quotes and backslashes included, stays valid JSON.
    return json.loads(SUB_VARIABLE.sub(lambda m: f"{m.group(1)}-resolved", text)), names


def test_dashboard_body_is_json_once_substituted_and_names_only_resources_of_the_stack():
    body, names = _dashboard_body()
    assert body["widgets"]
    for name in names:
        logical_id = name.split(".", 1)[0]
        assert logical_id in TEMPLATE["Resources"] or name.startswith("AWS::"), name


def _dashboard_metrics() -> list[list]:
    body, _ = _dashboard_body()
    return [metric for widget in body["widgets"] for metric in widget["properties"]["metrics"]]


@pytest.mark.parametrize("logical_id", FUNCTION_IDS)
def test_dashboard_shows_every_functions_errors_and_p99_duration(logical_id):
    body, _ = _dashboard_body()
    shown = {
        (metric[1], widget["properties"]["stat"])
        for widget in body["widgets"]
        for metric in widget["properties"]["metrics"]
        if metric[0] == "AWS/Lambda" and metric[3] == f"{logical_id}-resolved"
    }
    assert {("Errors", "Sum"), ("Duration", "p99")} <= shown


@pytest.mark.parametrize("queue_id", sorted(QUEUES))
def test_dashboard_shows_every_queues_oldest_message_and_dead_letter_depth(queue_id):
    shown = {m[1] for m in _dashboard_metrics() if m[0] == "AWS/SQS" and m[3] == f"{queue_id}.QueueName-resolved"}
    assert "ApproximateAgeOfOldestMessage" in shown
    if queue_id in DEAD_LETTER_QUEUES:
        assert "ApproximateNumberOfMessagesVisible" in shown


def test_dashboard_shows_events_in_per_channel_and_written_per_outcome():
    # Switchboard's metrics are EMF from Powertools: namespace from the template, dimension "service".
    namespace = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
    expressions = [m[0]["expression"] for m in _dashboard_metrics() if isinstance(m[0], dict)]
    writer = next(s for s in functions(TEMPLATE) if s.logical_id == "TicketWriterFunction")
    assert f"SEARCH('{{{namespace},service}} MetricName=\"InboundEventsEnqueued\"', 'Sum', 300)" in expressions
    assert (
        f"SEARCH('{{{namespace},service}} service=\"{writer.environment['POWERTOOLS_SERVICE_NAME']}\"', 'Sum', 300)"
        in expressions
    )


# -- logs -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("logical_id", FUNCTION_IDS)
def test_every_function_logs_json_into_its_own_log_group_with_a_retention(translated, logical_id):
    logging_config = translated["Resources"][logical_id]["Properties"]["LoggingConfig"]
    assert logging_config["LogFormat"] == "JSON"
    group_id = logging_config["LogGroup"]["Ref"]
    group = TEMPLATE["Resources"][group_id]
    assert group["Type"] == "AWS::Logs::LogGroup"
    assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    others = [
        other
        for other in FUNCTION_IDS
        if other != logical_id
        and translated["Resources"][other]["Properties"]["LoggingConfig"]["LogGroup"] == {"Ref": group_id}
    ]
    assert not others, f"{logical_id} shares its log group with {others}"


def test_log_retention_defaults_to_30_days():
    assert _parameter_default("LogRetentionDays") == 30
    assert 30 in TEMPLATE["Parameters"]["LogRetentionDays"]["AllowedValues"]


def test_lambdas_log_level_filter_is_the_log_level_powertools_uses():
    # Powertools gives Lambda's level (AWS_LAMBDA_LOG_LEVEL) precedence over POWERTOOLS_LOG_LEVEL: the two
    # must name the same level, or records are dropped (or kept) against the operator's LogLevel.
    from aws_lambda_powertools.shared.constants import LAMBDA_ADVANCED_LOGGING_LEVELS

    config = TEMPLATE["Globals"]["Function"]["LoggingConfig"]
    mapping_name, _, key = config["ApplicationLogLevel"]["Fn::FindInMap"]
    assert config["ApplicationLogLevel"]["Fn::FindInMap"][1] == {"Ref": "LogLevel"}
    assert TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_LOG_LEVEL"] == {"Ref": "LogLevel"}
    for level in TEMPLATE["Parameters"]["LogLevel"]["AllowedValues"]:
        lambda_level = TEMPLATE["Mappings"][mapping_name][level][key]
        assert LAMBDA_ADVANCED_LOGGING_LEVELS[lambda_level] == level


def test_the_shared_logger_writes_one_json_line_lambda_can_filter_and_timestamp():
    # Given Lambda's runtime handler on the root logger (as in the python3.13 runtime), and the shared logger
    from aws_lambda_powertools import Logger

    from switchboard import observability

    runtime_output = io.StringIO()
    root_handler = logging.StreamHandler(runtime_output)
    logging.getLogger().addHandler(root_handler)
    try:
        output = io.StringIO()
        logger = Logger(service="probe_service", stream=output, **observability.LOGGER_FORMAT)
        # When the function logs once
        logger.info("webhook accepted", extra={"channel": "kakao"})
    finally:
        logging.getLogger().removeHandler(root_handler)
    # Then one JSON object is written, never wrapped again by the runtime's handler
    (line,) = output.getvalue().splitlines()
    record = json.loads(line)
    assert runtime_output.getvalue() == ""
    # And it carries what Lambda's JSON format needs to filter it: a level, and an RFC 3339 timestamp
    assert record["level"] == "INFO" and record["message"] == "webhook accepted"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)", record["timestamp"])
    assert abs(datetime.fromisoformat(record["timestamp"]) - datetime.now(UTC)) < timedelta(minutes=1)


def test_the_shared_logger_writes_rfc3339_json(monkeypatch):
    # Given the logger every function imports, writing into a buffer instead of stdout
    from switchboard import observability

    output = io.StringIO()
    monkeypatch.setattr(observability.logger.logger_handler, "stream", output)
    # When a function logs
    observability.logger.warning("webhook rejected", extra={"channel": "line"})
    # Then Lambda can take the line's level and timestamp as they are
    record = json.loads(output.getvalue().splitlines()[-1])
    assert record["level"] == "WARNING"
    assert datetime.fromisoformat(record["timestamp"]).tzinfo is not None and "T" in record["timestamp"]


def test_lambda_side_never_logs_the_event_it_was_given():
    # The raw path holds Kakao's skill token: the handlers' inject_lambda_context must not log the event.
    from infra.template import ROOT

    for spec in functions(TEMPLATE):
        handler = (spec.code_dir / "app.py").read_text()
        assert "log_event=True" not in handler.replace(" ", ""), spec.logical_id
    for path in (ROOT / "layers" / "switchboard" / "switchboard").rglob("*.py"):
        for line in path.read_text().splitlines():
            if "logger." in line:
                assert "rawPath" not in line and "raw_path" not in line and ".path" not in line, f"{path}: {line}"
    assert "POWERTOOLS_LOGGER_LOG_EVENT" not in TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]


# -- access log and per-route throttles -----------------------------------------------------------


def _stage(translated) -> dict:
    (stage,) = resources_of_type(translated, "AWS::ApiGatewayV2::Stage").values()
    return stage["Properties"]


def test_access_log_names_the_route_never_the_path_query_or_headers(translated):
    settings = _stage(translated)["AccessLogSettings"]
    variables = set(re.findall(r"\$context\.([A-Za-z0-9_.]+)", settings["Format"]))
    assert "routeKey" in variables and variables <= ACCESS_LOG_VARIABLES, variables - ACCESS_LOG_VARIABLES
    assert json.loads(settings["Format"])
    group = TEMPLATE["Resources"][settings["DestinationArn"]["Fn::GetAtt"][0]]
    assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def _openapi_route_keys(translated) -> set[str]:
    (api,) = resources_of_type(translated, "AWS::ApiGatewayV2::Api").values()
    return {
        f"{method.upper()} {path}" for path, methods in api["Properties"]["Body"]["paths"].items() for method in methods
    }


def test_every_public_webhook_route_has_its_own_throttle(translated, function_specs):
    public = {f"{r.method} {r.path}" for spec in function_specs.values() for r in spec.routes if not r.authorized}
    assert public and public <= _openapi_route_keys(translated)
    settings = _stage(translated)["RouteSettings"]
    for route_key in public:
        # Shop events come in sale-day bursts (10,000 in a minute): their routes have larger limits of their own.
        kind = "Order" if route_key in SHOP_EVENT_ROUTES else "Webhook"
        assert settings.get(route_key) == {
            "ThrottlingBurstLimit": {"Ref": f"{kind}RouteBurstLimit"},
            "ThrottlingRateLimit": {"Ref": f"{kind}RouteRateLimit"},
        }, route_key
    assert set(settings) <= _openapi_route_keys(translated), "a route setting names no route"


def test_agent_routes_take_the_agent_throttle(translated):
    assert _stage(translated)["DefaultRouteSettings"] == {
        "ThrottlingBurstLimit": {"Ref": "AgentRouteBurstLimit"},
        "ThrottlingRateLimit": {"Ref": "AgentRouteRateLimit"},
    }


def test_all_routes_at_full_rate_stay_within_the_smallest_account_quota(translated):
    # Given every route flooded at once at its default limit, Then API Gateway's account quota (shared by
    # every API of the account and region) is not exhausted: no flood locks the other routes out.
    settings = _stage(translated)["RouteSettings"]
    total = 0
    for route_key in _openapi_route_keys(translated):
        rate = settings.get(route_key, _stage(translated)["DefaultRouteSettings"])["ThrottlingRateLimit"]["Ref"]
        total += _parameter_default(rate)
    assert total <= SMALLEST_ACCOUNT_RATE_QUOTA, total
    for name in ("WebhookRouteRateLimit", "AgentRouteRateLimit", "AdminRouteRateLimit", "OrderRouteRateLimit"):
        burst = name.replace("Rate", "Burst")
        assert _parameter_default(burst) >= _parameter_default(name)


# -- IAM: the internet-facing Mailgun webhook touches replay tokens only --------------------------


@pytest.fixture(scope="module")
def mailgun_statements(translated, provisioned_stack) -> tuple[list[Statement], str]:
    return (
        resolved_statements(translated, "MailgunWebhookFunction", provisioned_stack.resolver),
        provisioned_stack.attribute("TicketsTable", "Arn"),
    )


class _RecordingTable:
    def __init__(self) -> None:
        self.puts: list[dict] = []

    def put_item(self, **params) -> dict:
        self.puts.append(params)
        return {}


@given(token=st.text(min_size=1, max_size=300), body=st.binary(max_size=64))
def test_the_replay_tokens_mailgun_claims_are_keys_its_role_may_write(mailgun_statements, token, body):
    # Given Mailgun's replay guard writing into a table that records the request
    from switchboard.email.providers.base import ReplayToken
    from switchboard.email.replay_guard import ReplayGuard
    from switchboard.store.replay_tokens import ReplayTokenRepository
    from switchboard.store.table import Table

    statements, table_arn = mailgun_statements
    table = _RecordingTable()
    # When it claims any token Mailgun may sign
    ReplayGuard("mailgun", ReplayTokenRepository(Table(table, "tickets")))(
        ReplayToken(value=token, expires_at=datetime.now(UTC) + timedelta(hours=8)), body
    )
    # Then each item it writes is one its role allows
    for put in table.puts:
        assert allows(statements, "dynamodb:PutItem", table_arn, leading_keys_of(put, "pk")), put["Item"]["pk"]


@given(pk=st.text(max_size=80).filter(lambda key: not key.startswith("REPLAY#")))
def test_mailgun_may_write_no_other_item_of_the_table(mailgun_statements, pk):
    # Given any partition key that is not a replay token's (tickets, contacts, conversations, held mail ...)
    statements, table_arn = mailgun_statements
    # Then the internet-facing webhook's role may not write, update or read it
    for action in ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:GetItem"):
        assert not allows(statements, action, table_arn, (pk,)), (action, pk)
    # And a request whose keys IAM cannot see (a query, a scan, a batch) is not allowed either
    assert not allows(statements, "dynamodb:PutItem", table_arn, None)
    assert not any(allows(statements, a, table_arn, None) for a in ("dynamodb:Query", "dynamodb:Scan"))


# -- raw mail is the source of truth --------------------------------------------------------------


def test_mail_bucket_is_versioned_and_no_version_outlives_the_retention_plus_its_grace():
    props = TEMPLATE["Resources"]["MailBucket"]["Properties"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    rules = props["LifecycleConfiguration"]["Rules"]
    for rule in rules:
        if "ExpirationInDays" in rule:
            # Expiring a versioned object only hides it: its noncurrent version must expire too.
            assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": {"Ref": "MailVersionRetentionDays"}}
    inbound = [r for r in rules if r.get("Prefix") == "inbound/"]
    assert any(r.get("ExpiredObjectDeleteMarker") is True for r in inbound)
    assert any(r.get("ExpirationInDays") == {"Ref": "MailRetentionDays"} for r in inbound)


def test_the_local_stack_versions_the_mail_bucket_as_the_template_does(provisioned_stack):
    # Given the template's stateful resources provisioned in moto, as the local runner and the tests do
    s3 = boto3.client("s3", region_name=REGION)
    bucket = provisioned_stack.names["MailBucket"]
    # When the bucket's versioning is read back
    versioning = s3.get_bucket_versioning(Bucket=bucket)
    # Then it is on, so a local overwrite of raw mail is recoverable as it is on AWS
    assert versioning.get("Status") == "Enabled"


# -- concurrency ----------------------------------------------------------------------------------

# Lambda's default concurrency per account and region; reserved concurrency is not used (README, Operations).
ACCOUNT_CONCURRENCY = 1000
# What the queue consumers together may take, so that a backlog (a flood of mail or media) always leaves
# most of the account to the webhooks and the agent API.
QUEUE_CONSUMERS_SHARE = 0.1


def test_queue_consumers_are_capped_and_leave_the_account_to_the_webhooks(translated):
    mappings = resources_of_type(translated, "AWS::Lambda::EventSourceMapping").values()
    caps = [mapping["Properties"].get("ScalingConfig", {}).get("MaximumConcurrency") for mapping in mappings]
    assert caps and all(caps), "every queue consumer needs ScalingConfig.MaximumConcurrency"
    assert sum(caps) <= QUEUE_CONSUMERS_SHARE * ACCOUNT_CONCURRENCY, caps
    lambdas = resources_of_type(translated, "AWS::Lambda::Function").values()
    assert not any("ReservedConcurrentExecutions" in function["Properties"] for function in lambdas)
