"""Every function in template.yaml is wired to code that exists, gets the configuration that code
reads, and holds the permissions for the AWS calls that code makes."""

from __future__ import annotations

import ast
import json
from dataclasses import replace
from pathlib import Path

import pytest
from botocore import xform_name
from botocore.session import get_session
from deployed_stack import Statement, allows, iam_requests, resolved_statements

from infra.functions import LAYER_DIR, load_function
from infra.template import ROOT, FunctionSpec, functions, load_template

PACKAGE_DIR = LAYER_DIR / "switchboard"
CONFIG_MODULE = PACKAGE_DIR / "config.py"
RUNTIME_MODULE = PACKAGE_DIR / "runtime.py"
STORE_DIR = PACKAGE_DIR / "store"
# The repositories callers use (store/<aggregate>.py), the shared table layer they go through (store/table.py),
# and the attributes by which one reaches the other and the client.
REPOSITORY_SUFFIX = "Repository"
TABLE_CLASS = "Table"
TABLE_ATTRIBUTE = "_table"
STORE_CLIENT_ATTRIBUTE = "_db"
AWS_SDK_PACKAGES = {"boto3", "botocore"}

FUNCTION_IDS = [spec.logical_id for spec in functions(load_template())]


def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _module_path(module: str) -> Path | None:
    """Source file of a `switchboard.*` module inside the layer, or None for anything else."""
    if module != "switchboard" and not module.startswith("switchboard."):
        return None
    base = LAYER_DIR.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _imported_modules(tree: ast.Module) -> set[str]:
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


def _constant_str(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _is_os_environ(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "environ"
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    )


def _literal_environment_reads(tree: ast.Module) -> set[str]:
    """Names read as os.environ["X"], os.environ.get("X") or os.getenv("X")."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and _is_os_environ(node.value) and _constant_str(node.slice):
            names.add(_constant_str(node.slice))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
            getter = node.func
            reads_environ = getter.attr == "get" and _is_os_environ(getter.value)
            reads_getenv = getter.attr == "getenv" and isinstance(getter.value, ast.Name) and getter.value.id == "os"
            if (reads_environ or reads_getenv) and _constant_str(node.args[0]):
                names.add(_constant_str(node.args[0]))
    return names


def _settings_aliases(tree: ast.Module) -> set[str]:
    """Environment variable names declared as pydantic Field aliases in the settings module."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Field":
            for keyword in node.keywords:
                if keyword.arg == "alias" and _constant_str(keyword.value):
                    names.add(_constant_str(keyword.value))
    return names


def _code_files() -> list[Path]:
    return sorted([*PACKAGE_DIR.rglob("*.py"), *(ROOT / "functions").rglob("*.py")])


def _handler_path(spec: FunctionSpec) -> Path:
    return spec.code_dir / (spec.module_name.replace(".", "/") + ".py")


def _runtime_attributes_used(spec: FunctionSpec) -> set[str]:
    return {
        node.attr
        for node in ast.walk(_parse(_handler_path(spec)))
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "runtime"
    }


def _settings_classes_reached(runtime_names: set[str]) -> set[str]:
    """Settings classes (from switchboard.config) that the given runtime.* functions use, transitively."""
    runtime = _parse(RUNTIME_MODULE)
    config_names = {
        alias.asname or alias.name
        for node in runtime.body
        if isinstance(node, ast.ImportFrom) and node.module == "switchboard.config"
        for alias in node.names
    }
    definitions = {node.name: node for node in runtime.body if isinstance(node, ast.FunctionDef)}
    classes, seen, pending = set(), set(), list(runtime_names)
    while pending:
        name = pending.pop()
        if name in seen or name not in definitions:
            continue
        seen.add(name)
        for node in ast.walk(definitions[name]):
            if isinstance(node, ast.Name):
                if node.id in config_names:
                    classes.add(node.id)
                elif node.id in definitions:
                    pending.append(node.id)
    return classes


def _settings_environment(class_names: set[str]) -> set[str]:
    from switchboard import config

    return {
        field.alias or name
        for class_name in class_names
        for name, field in getattr(config, class_name).model_fields.items()
    }


@pytest.mark.parametrize("logical_id", FUNCTION_IDS)
def test_handler_resolves_to_a_callable(function_specs, logical_id):
    handler = load_function(function_specs[logical_id])
    assert callable(handler)


@pytest.mark.parametrize("logical_id", FUNCTION_IDS)
def test_function_folder_holds_only_a_thin_handler(function_specs, logical_id):
    # Given the function's CodeUri folder
    spec = function_specs[logical_id]
    assert spec.code_dir.is_dir(), f"{logical_id}: CodeUri {spec.code_dir} does not exist"
    assert sorted(p.name for p in spec.code_dir.glob("*.py")) == [_handler_path(spec).name]
    tree = _parse(_handler_path(spec))
    # Then the handler module talks to no AWS SDK and reads no environment itself
    sdk_imports = {m for m in _imported_modules(tree) if m.split(".")[0] in AWS_SDK_PACKAGES}
    assert not sdk_imports, f"{logical_id} imports {sorted(sdk_imports)}; AWS clients belong in switchboard.runtime"
    assert not _literal_environment_reads(tree) and "os" not in _imported_modules(tree)
    # And it is only wiring: imports, a docstring, and handlers that look collaborators up and return one
    # call, without branches or loops (those are logic, and belong in the layer)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            *lookups, last = node.body
            assert isinstance(last, ast.Return) and isinstance(last.value, ast.Call), f"{logical_id}.{node.name}"
            assert all(isinstance(s, ast.Assign) and isinstance(s.value, ast.Call) for s in lookups), (
                f"{logical_id}.{node.name} holds logic: {[ast.unparse(s) for s in lookups]}"
            )
        else:
            is_docstring = isinstance(node, ast.Expr) and _constant_str(node.value) is not None
            assert isinstance(node, (ast.Import, ast.ImportFrom)) or is_docstring, ast.unparse(node)


def test_every_environment_variable_the_code_reads_is_set_for_some_function(function_specs):
    read = _settings_aliases(_parse(CONFIG_MODULE))
    for path in _code_files():
        read |= _literal_environment_reads(_parse(path))
    assert read, "found no environment reads at all: the scan is broken"
    provided = set().union(*(spec.environment for spec in function_specs.values()))
    assert read - provided == set(), "read by the code but set for no function in template.yaml"


@pytest.mark.parametrize("logical_id", FUNCTION_IDS)
def test_function_environment_holds_the_settings_its_handler_reads(function_specs, logical_id):
    spec = function_specs[logical_id]
    classes = _settings_classes_reached(_runtime_attributes_used(spec))
    assert classes, f"{logical_id} reads no settings class through switchboard.runtime: the scan is broken"
    missing = _settings_environment(classes) - set(spec.environment)
    assert not missing, (
        f"{logical_id} reads {sorted(missing)} ({', '.join(sorted(classes))}) but template.yaml does not set it"
    )


def test_powertools_is_configured_for_every_function(function_specs):
    service_names = [spec.environment.get("POWERTOOLS_SERVICE_NAME") for spec in function_specs.values()]
    assert all(service_names) and len(set(service_names)) == len(service_names), service_names
    for spec in function_specs.values():
        # Metrics.log_metrics refuses to flush without a namespace.
        if "log_metrics" in _handler_path(spec).read_text():
            assert spec.environment.get("POWERTOOLS_METRICS_NAMESPACE"), spec.logical_id


# -- run in a fresh interpreter with only the template's environment (function_probe.py) ----------


def _probe_result(probes, logical_id: str) -> dict:
    result = probes[logical_id]
    if "error" in result:
        pytest.fail(f"{logical_id} failed in its probe:\n{result['error']}", pytrace=False)
    return result


def _body(response: dict) -> dict:
    return json.loads(response["body"])


def _webhook_answers_meta(result):
    enqueued = 0
    for played in result["played"]:
        request, response = played["request"], played["response"]
        assert response["statusCode"] == 200, played
        if request["requestContext"]["http"]["method"] == "GET":
            assert response["body"] == request["queryStringParameters"]["hub.challenge"]
        else:
            enqueued += _body(response)["received"]
    assert enqueued >= 1 and result["left_behind"]["queued"] == enqueued


def _webhook_queues_its_samples(result):
    """Any channel's webhook: each signed sample is accepted (in the provider's own acknowledgement
    shape: JSON, Kakao's SkillResponse, Twilio's TwiML), handshakes echo the challenge, and the
    deliveries leave their events on the inbound queue."""
    posts = 0
    for played in result["played"]:
        request, response = played["request"], played["response"]
        assert response["statusCode"] == 200, played
        if request["requestContext"]["http"]["method"] == "GET":
            assert response["body"] == request["queryStringParameters"]["hub.challenge"]
        else:
            posts += 1
    assert posts >= 1 and result["left_behind"]["queued"] >= 1


def _writer_records_every_message(result):
    for played in result["played"]:
        assert played["response"] == {"batchItemFailures": []}, played["event"]
    assert result["left_behind"]["tickets"] >= 1
    # The image sample's attachment is asked for on the media queue.
    assert "sqs:SendMessage" in {call["action"] for call in result["calls"]}


def _api_serves_its_routes(result):
    # The table is empty: listings answer with no tickets, and a ticket route answers "no such ticket"
    # (so the template's path parameter reaches the code's route, rather than "no route").
    for played in result["played"]:
        response, route = played["response"], played["request"]["routeKey"]
        if route == "GET /tickets":
            assert response["statusCode"] == 200 and _body(response) == {"tickets": [], "next_cursor": None}, played
        else:
            assert response["statusCode"] == 404 and _body(response)["error"] == "not_found", played
            assert "does not exist" in _body(response)["message"]


def _fetcher_completes_every_job(result):
    # The probe's table is empty: the job's message is not there, so the job completes without a download
    # (tests/integration/test_media.py covers the downloads against the fake providers).
    for played in result["played"]:
        assert played["response"] == {"batchItemFailures": []}, played["event"]
    assert {call["action"] for call in result["calls"]} == {"dynamodb:GetItem"}


def _mail_webhook_keeps_its_samples(result):
    """A mail webhook answers 200 and keeps the raw mail in the mail bucket, for the intake to pick up."""
    for played in result["played"]:
        assert played["response"]["statusCode"] == 200, played
        assert _body(played["response"]) == {"received": 1}
    puts = [call["resource"] for call in result["calls"] if call["action"] == "s3:PutObject"]
    assert puts and all(":::switchboard-" in arn or "/inbound/" in arn for arn in puts), puts


def _intake_enqueues_every_mail(result):
    for played in result["played"]:
        assert played["response"] == {"batchItemFailures": []}, played["event"]
    assert result["left_behind"]["queued"] >= 1
    assert {"s3:GetObject", "sqs:SendMessage"} <= {call["action"] for call in result["calls"]}


def _release_finds_no_held_mail(result):
    # The probe's table holds no held mail: the release says so, and copies nothing into the intake
    # (tests/integration/test_held_mail_release.py releases real ones).
    for played in result["played"]:
        assert played["response"]["statusCode"] == 404 and _body(played["response"])["error"] == "not_found", played
    assert {call["action"] for call in result["calls"]} == {"dynamodb:GetItem"}


def _change_finds_no_ticket(result):
    # The probe's table holds no ticket: the change and the note say so, and write nothing
    # (tests/integration/test_ticket_changes.py changes real ones).
    for played in result["played"]:
        assert played["response"]["statusCode"] == 404 and _body(played["response"])["error"] == "not_found", played
    assert {call["action"] for call in result["calls"]} == {"dynamodb:GetItem"}


def _closer_finds_nothing_due(result):
    # The probe's table holds no solved ticket: the run closes nothing, and reads only the due index
    # (tests/integration/test_ticket_closing.py closes real ones).
    for played in result["played"]:
        assert played["response"] == {"listed": 0, "closed": 0, "skipped": 0, "more_due": False}, played
    assert {call["action"] for call in result["calls"]} == {"dynamodb:Query"}


def _sender_finds_no_attempt(result):
    # The probe's table holds no send attempt: the claim finds nothing to send, the record is done, and no
    # provider is called (tests/integration/test_replies.py sends real ones).
    for played in result["played"]:
        assert played["response"] == {"batchItemFailures": []}, played
    assert {call["action"] for call in result["calls"]} <= {"dynamodb:UpdateItem", "dynamodb:GetItem"}


def _sweep_finds_nothing_overdue(result):
    # Nothing is in the outbox: the sweep reads the due index only and queues nothing.
    for played in result["played"]:
        assert played["response"] == {"requeued": 0}, played
    assert {call["action"] for call in result["calls"]} == {"dynamodb:Query"}


def _mail_events_become_receipts(result):
    # SES's delivery, bounce and complaint become receipts on the inbound queue (the complaint's is the bounce's
    # twin, `failed` for the same mail, so the FIFO queue keeps one); SES's setup message is acknowledged.
    for played in result["played"]:
        assert played["response"] == {"batchItemFailures": []}, played["event"]
    assert result["left_behind"]["queued"] == 2
    assert {call["action"] for call in result["calls"]} == {"sqs:SendMessage"}


def _activator_answers_cloudformation(result):
    # The probe's account has no active rule set: ours becomes active, and CloudFormation hears so.
    (answer,) = result["cloudformation_answers"]
    assert answer["Status"] == "SUCCESS" and answer["Data"] == {"ActiveRuleSet": "switchboard-local-mail"}, answer
    assert "ses:SetActiveReceiptRuleSet" in {call["action"] for call in result["calls"]}


def _sla_admin_saves_and_reads_the_rules(result):
    # The probe's table is empty: no ticket to dry-run a policy on, no rules yet (version 0); the policy list is
    # saved on top of version 0 and a schedule on top of that, each moving the version on, and the listing
    # shows the schedule (tests/integration/test_sla_admin.py covers conflicts and refusals).
    answers = {played["request"]["routeKey"]: played["response"] for played in result["played"]}
    assert {route: answer["statusCode"] for route, answer in answers.items()} == {
        "POST /admin/sla-policies/dry-run": 404,
        "GET /admin/sla-policies": 200,
        "PUT /admin/sla-policies": 200,
        "PUT /admin/schedules/{schedule_id}": 200,
        "GET /admin/schedules": 200,
    }, result["played"]
    assert _body(answers["GET /admin/sla-policies"]) == {"version": 0, "policies": [], "updated_at": None}
    assert _body(answers["PUT /admin/sla-policies"])["version"] == 1
    assert _body(answers["PUT /admin/schedules/{schedule_id}"])["version"] == 1
    assert [schedule["id"] for schedule in _body(answers["GET /admin/schedules"])["schedules"]] == ["seoul-office"]
    assert {call["action"] for call in result["calls"]} == {"dynamodb:GetItem", "dynamodb:PutItem"}


def _sla_enforcer_finds_nothing_due(result):
    # The probe's table holds no SLA timer: the sweep reads the rules, its cursor and the last minutes' buckets
    # (nothing due), and moves its cursor (tests/integration/test_sla_lifecycle.py breaches real tickets).
    for played in result["played"]:
        response = played["response"]
        assert (response["timers_due"], response["failures"], response["events"]) == (0, 0, {}), played
        assert response["buckets_read"] > 0, played
    assert {call["action"] for call in result["calls"]} == {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"}


def _shop_events_are_accepted_and_queued(result):
    # The signed Shopify sample is verified, not yet seen (one GetItem of its record), and queued per order.
    for played in result["played"]:
        assert played["response"]["statusCode"] == 202, played
        assert _body(played["response"]) == {"accepted": True}
    assert {"dynamodb:GetItem", "sqs:SendMessage"} <= {call["action"] for call in result["calls"]}


def _order_events_are_recorded(result):
    # The probe's rules are empty (nothing notifies until an admin saves rules): the event and its order are
    # recorded once, and nothing is queued for the sender (tests/integration/test_order_processing.py notifies).
    for played in result["played"]:
        assert played["response"] == {"batchItemFailures": []}, played
    assert "sqs:SendMessage" not in {call["action"] for call in result["calls"]}


def _notification_sender_finds_no_notification(result):
    # The sample names a notification the probe's table does not hold: nothing to send, nothing failed.
    for played in result["played"]:
        assert played["response"] == {"batchItemFailures": []}, played


def _notification_scheduler_finds_nothing_due(result):
    for played in result["played"]:
        response = played["response"]
        assert (response["due_read"], response["enqueued"], response["failures"]) == (0, 0, 0), played
        assert response["buckets_read"] > 0, played


def _notification_admin_saves_and_reads_the_rules(result):
    answers = {played["request"]["routeKey"]: played["response"] for played in result["played"]}
    assert {route: answer["statusCode"] for route, answer in answers.items()} == {
        "GET /admin/notification-rules": 200,
        "PUT /admin/notification-rules": 200,
    }, result["played"]
    assert _body(answers["GET /admin/notification-rules"])["version"] == 0
    assert _body(answers["PUT /admin/notification-rules"])["version"] == 1


EXPECTED_OUTCOMES = {
    "OrderWebhookFunction": _shop_events_are_accepted_and_queued,
    "OrderEventsFunction": _order_events_are_recorded,
    "NotificationSenderFunction": _notification_sender_finds_no_notification,
    "NotificationSchedulerFunction": _notification_scheduler_finds_nothing_due,
    "NotificationAdminFunction": _notification_admin_saves_and_reads_the_rules,
    "AlimtalkWebhookFunction": _webhook_queues_its_samples,
    "ReceiptRuleSetActivatorFunction": _activator_answers_cloudformation,
    "EmailInboundFunction": _intake_enqueues_every_mail,
    "MailgunWebhookFunction": _mail_webhook_keeps_its_samples,
    "PostmarkWebhookFunction": _mail_webhook_keeps_its_samples,
    "SendGridWebhookFunction": _mail_webhook_keeps_its_samples,
    "WhatsAppWebhookFunction": _webhook_answers_meta,
    "MessengerWebhookFunction": _webhook_queues_its_samples,
    "InstagramWebhookFunction": _webhook_queues_its_samples,
    "LineWebhookFunction": _webhook_queues_its_samples,
    "TelegramWebhookFunction": _webhook_queues_its_samples,
    "KakaoWebhookFunction": _webhook_queues_its_samples,
    "TwilioWebhookFunction": _webhook_queues_its_samples,
    "TicketWriterFunction": _writer_records_every_message,
    "TicketsApiFunction": _api_serves_its_routes,
    "HeldMailReleaseFunction": _release_finds_no_held_mail,
    "TicketChangesFunction": _change_finds_no_ticket,
    "TicketCloserFunction": _closer_finds_nothing_due,
    "ChannelSenderFunction": _sender_finds_no_attempt,
    "OutboxSweepFunction": _sweep_finds_nothing_overdue,
    "MailEventsFunction": _mail_events_become_receipts,
    "MediaFetcherFunction": _fetcher_completes_every_job,
    "SlaAdminFunction": _sla_admin_saves_and_reads_the_rules,
    "SlaEnforcerFunction": _sla_enforcer_finds_nothing_due,
}


@pytest.mark.parametrize("logical_id", FUNCTION_IDS)
def test_function_works_with_only_the_environment_the_template_gives_it(probes, logical_id):
    result = _probe_result(probes, logical_id)
    assert logical_id in EXPECTED_OUTCOMES, f"say what {logical_id} must do with its sample events"
    EXPECTED_OUTCOMES[logical_id](result)


@pytest.mark.parametrize("logical_id", FUNCTION_IDS)
def test_every_aws_call_the_function_makes_is_allowed_by_its_role(probes, logical_id):
    result = _probe_result(probes, logical_id)
    assert result["calls"], f"{logical_id} made no AWS call in its probe: the recording is broken"
    statements = [
        Statement(s["effect"], tuple(s["actions"]), tuple(s["resources"]), _optional_tuple(s.get("leading_keys")))
        for s in result["statements"]
    ]
    denied = [
        call
        for call in result["calls"]
        if not allows(statements, call["action"], call["resource"], _optional_tuple(call.get("leading_keys")))
    ]
    assert not denied, f"{logical_id}'s role does not allow: {denied}"


def _optional_tuple(values: list[str] | None) -> tuple[str, ...] | None:
    return None if values is None else tuple(values)


# -- the table permissions every store method needs, from the store's source ----------------------


def _store_definitions() -> dict[tuple[str, str], ast.FunctionDef]:
    """Every function of the store package by (class name, or "" at module level, function name)."""
    found: dict[tuple[str, str], ast.FunctionDef] = {}
    for path in sorted(STORE_DIR.glob("*.py")):
        for node in _parse(path).body:
            if isinstance(node, ast.FunctionDef):
                found[("", node.name)] = node
            elif isinstance(node, ast.ClassDef):
                for member in node.body:
                    if isinstance(member, ast.FunctionDef):
                        found[(node.name, member.name)] = member
    return found


def _repository_methods() -> dict[str, tuple[str, str]]:
    """Public repository methods by name, each name unique across the repositories (so a call site names one)."""
    methods: dict[str, tuple[str, str]] = {}
    for owner, name in _store_definitions():
        if owner.endswith(REPOSITORY_SUFFIX) and not name.startswith("_"):
            assert name not in methods, f"{owner}.{name} and {methods[name][0]}.{name}: repository methods must differ"
            methods[name] = (owner, name)
    return methods


def _callee(owner: str, call: ast.Call, definitions, repositories) -> tuple[str, str] | None:
    """The store function a call inside `owner` reaches: self.<m>, self._table.<m>, self._<repository>.<m>, or a
    module-level function."""
    func = call.func
    if isinstance(func, ast.Name):
        return ("", func.id) if ("", func.id) in definitions else None
    if not isinstance(func, ast.Attribute):
        return None
    receiver = func.value
    if isinstance(receiver, ast.Name) and receiver.id == "self":
        return (owner, func.attr) if (owner, func.attr) in definitions else None
    if isinstance(receiver, ast.Attribute) and isinstance(receiver.value, ast.Name) and receiver.value.id == "self":
        if receiver.attr == TABLE_ATTRIBUTE:
            return (TABLE_CLASS, func.attr) if (TABLE_CLASS, func.attr) in definitions else None
        return repositories.get(func.attr)
    return None


def _dynamodb_requests_of(method_names: set[str], table_arn: str, index_names: list[str]) -> set[tuple[str, str]]:
    """(IAM action, resource) pairs the given repository methods need: the `self._db.<operation>(` calls they
    reach through the table layer, following calls within the store package, with transaction item kinds and
    index use read from the same code."""
    definitions, repositories = _store_definitions(), _repository_methods()
    operations, transaction_kinds, uses_index = set(), set(), False
    seen: set[tuple[str, str]] = set()
    pending = [repositories[name] for name in method_names]
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        for node in ast.walk(definitions[current]):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                receiver = node.func.value
                if (
                    isinstance(receiver, ast.Attribute)
                    and receiver.attr == STORE_CLIENT_ATTRIBUTE
                    and isinstance(receiver.value, ast.Name)
                    and receiver.value.id == "self"
                ):
                    operations.add(node.func.attr)
            if isinstance(node, ast.Call):
                callee = _callee(current[0], node, definitions, repositories)
                if callee is not None:
                    pending.append(callee)
            elif isinstance(node, ast.Dict):
                transaction_kinds |= {k.value for k in node.keys if isinstance(k, ast.Constant)} & {
                    "Put",
                    "Update",
                    "Delete",
                    "ConditionCheck",
                }
            elif _constant_str(node) == "IndexName":
                uses_index = True

    api_names = {xform_name(name): name for name in get_session().get_service_model("dynamodb").operation_names}
    table_name = "tickets"

    def arn_of(service: str, name: str) -> str:
        return table_arn

    requests = set()
    for operation in operations:
        api_name = api_names[operation]
        if api_name == "TransactWriteItems":
            params = {"TransactItems": [{kind: {"TableName": table_name}} for kind in sorted(transaction_kinds)]}
        elif api_name.startswith("Batch"):
            params = {"RequestItems": {table_name: {}}}
        else:
            params = {"TableName": table_name}
        requests |= set(iam_requests("dynamodb", api_name, params, arn_of))
        if api_name == "Query" and uses_index:
            requests |= {("dynamodb:Query", f"{table_arn}/index/{index}") for index in index_names}
    return requests


def _store_methods_called_by(spec: FunctionSpec) -> set[str]:
    """Public repository methods called from the handler's module and the switchboard modules it
    imports, transitively (the store package itself excluded)."""
    public = set(_repository_methods())
    called, seen = set(), set()
    pending = [_handler_path(spec)]
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        tree = _parse(path)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in public:
                called.add(node.func.attr)
        for module in _imported_modules(tree):
            source = _module_path(module)
            if source and not module.startswith("switchboard.store") and source != RUNTIME_MODULE:
                pending.append(source)
    return called


def _table(template) -> tuple[str, dict]:
    tables = {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::DynamoDB::Table"}
    assert len(tables) == 1, "the store serves one table"
    return next(iter(tables.items()))


@pytest.mark.parametrize("logical_id", FUNCTION_IDS)
def test_role_allows_every_table_operation_the_store_methods_it_calls_make(
    template, translated, provisioned_stack, function_specs, logical_id
):
    # Given the store methods this function's code calls, and the table requests those make
    spec = function_specs[logical_id]
    table_id, table = _table(template)
    indexes = [index["IndexName"] for index in table["Properties"].get("GlobalSecondaryIndexes", [])]
    needed = _dynamodb_requests_of(
        _store_methods_called_by(spec), provisioned_stack.attribute(table_id, "Arn"), indexes
    )
    # Then the function's role, as deployed, allows each of them (which keys a condition lets it touch is
    # checked on the calls the probe sees, test_every_aws_call_the_function_makes_is_allowed_by_its_role)
    statements = [
        replace(s, leading_keys=None) for s in resolved_statements(translated, logical_id, provisioned_stack.resolver)
    ]
    denied = sorted(request for request in needed if not allows(statements, *request))
    assert not denied, f"{logical_id} calls the store in ways its role does not allow: {denied}"
    if not needed:
        granted = [action for s in statements for action in s.actions if action.lower().startswith("dynamodb:")]
        assert not granted, f"{logical_id} never touches the table but is granted {granted}"


def test_store_scan_finds_the_read_and_write_paths(function_specs, provisioned_stack, template):
    # Guards the scan itself: the writer transacts and the API queries the indexes.
    table_id, _ = _table(template)
    arn = provisioned_stack.attribute(table_id, "Arn")
    writer = _dynamodb_requests_of(_store_methods_called_by(function_specs["TicketWriterFunction"]), arn, ["ByCreated"])
    api = _dynamodb_requests_of(_store_methods_called_by(function_specs["TicketsApiFunction"]), arn, ["ByCreated"])
    assert {("dynamodb:PutItem", arn), ("dynamodb:UpdateItem", arn), ("dynamodb:BatchGetItem", arn)} <= writer
    assert {("dynamodb:Query", arn), ("dynamodb:Query", f"{arn}/index/ByCreated")} <= api
    assert not any(action in {"dynamodb:PutItem", "dynamodb:UpdateItem"} for action, _ in api)


def test_media_fetcher_may_write_attachments_and_read_download_credentials_but_no_signing_secret(
    translated, provisioned_stack
):
    # Given the media fetcher's role as deployed
    statements = resolved_statements(translated, "MediaFetcherFunction", provisioned_stack.resolver)
    bucket_arn = provisioned_stack.attribute("AttachmentsBucket", "Arn")
    parameters = provisioned_stack.resolver.parameters
    # Then it may put (and abort multipart uploads of) objects under attachments/ only, and never read them back
    for action in ("s3:PutObject", "s3:AbortMultipartUpload"):
        assert allows(statements, action, f"{bucket_arn}/attachments/whatsapp/0a1b/0")
        assert not allows(statements, action, f"{bucket_arn}/elsewhere/0")
    assert not allows(statements, "secretsmanager:GetSecretValue", "*")
    assert not allows(statements, "s3:GetObject", f"{bucket_arn}/attachments/whatsapp/0a1b/0")
    # And it reads the download-credentials secrets of channels whose media needs them
    for name in ("WhatsApp", "Line", "Telegram", "Twilio"):
        assert allows(statements, "secretsmanager:GetSecretValue", parameters[f"{name}MediaSecretArn"]), name
    # And no channel's webhook signing secret, nor any other secret of the stack
    media_secrets = {parameters[f"{name}MediaSecretArn"] for name in ("WhatsApp", "Line", "Telegram", "Twilio")}
    for parameter, arn in parameters.items():
        if parameter.endswith("SecretArn") and arn not in media_secrets:
            assert not allows(statements, "secretsmanager:GetSecretValue", arn), parameter
