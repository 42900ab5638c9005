"""Reads template.yaml the way CloudFormation would, for the local runner and the tests.

Resources are never defined twice: tables, queues and function wiring are taken from the
template, with intrinsic functions (Ref, GetAtt, Sub, If ...) resolved against local values.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = ROOT / "template.yaml"


# libyaml's loader where PyYAML was built with it: the pure-Python one takes most of a second on the template, and
# the test stack reads it for every test.
_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _CfnLoader(_SafeLoader):
    """SafeLoader that understands CloudFormation's short-form tags (!Ref, !GetAtt, !Sub ...)."""


def _tag(name: str):
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if name == "Fn::GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}

    return construct


for _short in ("Ref", "Condition"):
    _CfnLoader.add_constructor(f"!{_short}", _tag(_short))
for _short in (
    "GetAtt",
    "Sub",
    "If",
    "Equals",
    "Not",
    "And",
    "Or",
    "Join",
    "Select",
    "Split",
    "FindInMap",
    "Base64",
    "GetAZs",
    "ImportValue",
):
    _CfnLoader.add_constructor(f"!{_short}", _tag(f"Fn::{_short}"))


_PARSED: dict[tuple[str, int, int], dict[str, Any]] = {}


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The template as a fresh dict (callers resolve and change it), parsed once per file version."""
    stat = path.stat()
    version = (str(path), stat.st_mtime_ns, stat.st_size)
    if version not in _PARSED:
        _PARSED[version] = yaml.load(path.read_text(), Loader=_CfnLoader)
    return copy.deepcopy(_PARSED[version])


@dataclass(frozen=True)
class HttpRoute:
    method: str
    path: str
    authorized: bool
    # The route's AuthorizationScopes as written (intrinsics unresolved): see `scopes_of`.
    authorization_scopes: tuple[Any, ...] = ()

    def scopes_of(self, resolve: Callable[[Any], Any]) -> tuple[str, ...]:
        """The scopes API Gateway requires of this route, one of which a token must carry; () for none.
        An item resolving to AWS::NoValue is dropped, as CloudFormation drops it from the list."""
        resolved = (resolve(scope) for scope in self.authorization_scopes)
        return tuple(str(scope) for scope in resolved if scope is not None)


@dataclass(frozen=True)
class QueueSource:
    queue_logical_id: str
    batch_size: int
    report_batch_item_failures: bool


@dataclass(frozen=True)
class Schedule:
    name: str
    expression: str


@dataclass
class FunctionSpec:
    logical_id: str
    code_dir: Path
    handler: str
    environment: dict[str, Any]
    timeout: int
    routes: list[HttpRoute] = field(default_factory=list)
    queue_sources: list[QueueSource] = field(default_factory=list)
    schedules: list[Schedule] = field(default_factory=list)

    @property
    def module_name(self) -> str:
        return self.handler.rsplit(".", 1)[0]

    @property
    def function_name(self) -> str:
        return self.handler.rsplit(".", 1)[1]


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: body for name, body in template["Resources"].items() if body["Type"] == resource_type}


def functions(template: dict[str, Any]) -> list[FunctionSpec]:
    """Every AWS::Serverless::Function with its Globals applied and its events classified."""
    defaults = (template.get("Globals") or {}).get("Function") or {}
    specs = []
    for logical_id, body in resources_of_type(template, "AWS::Serverless::Function").items():
        props = body["Properties"]
        environment = {
            **((defaults.get("Environment") or {}).get("Variables") or {}),
            **((props.get("Environment") or {}).get("Variables") or {}),
        }
        spec = FunctionSpec(
            logical_id=logical_id,
            code_dir=ROOT / props["CodeUri"],
            handler=props["Handler"],
            environment=environment,
            timeout=int(props.get("Timeout", defaults.get("Timeout", 3))),
        )
        for event_name, event in (props.get("Events") or {}).items():
            event_props = event.get("Properties") or {}
            if event["Type"] == "HttpApi":
                auth = event_props.get("Auth") or {}
                spec.routes.append(
                    HttpRoute(
                        event_props["Method"].upper(),
                        event_props["Path"],
                        auth.get("Authorizer") != "NONE",
                        tuple(auth.get("AuthorizationScopes") or ()),
                    )
                )
            elif event["Type"] == "SQS":
                queue_ref = event_props["Queue"]["Fn::GetAtt"][0]
                spec.queue_sources.append(
                    QueueSource(
                        queue_ref,
                        int(event_props.get("BatchSize", 10)),
                        "ReportBatchItemFailures" in (event_props.get("FunctionResponseTypes") or []),
                    )
                )
            elif event["Type"] in ("Schedule", "ScheduleV2"):
                spec.schedules.append(
                    Schedule(
                        event_name,
                        event_props["Schedule"] if "Schedule" in event_props else event_props["ScheduleExpression"],
                    )
                )
        specs.append(spec)
    return specs


def local_secret_parameters(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Template Metadata.Switchboard.LocalSecrets: secret parameters the local runner seeds with dev values."""
    return ((template.get("Metadata") or {}).get("Switchboard") or {}).get("LocalSecrets") or {}


class Resolver:
    """Resolves intrinsic functions against parameter values and provisioned resources' attributes."""

    def __init__(self, template: dict[str, Any], parameters: dict[str, Any], region: str, account_id: str) -> None:
        self.template = template
        self.parameters = {
            name: spec.get("Default") for name, spec in (template.get("Parameters") or {}).items()
        } | parameters
        self.pseudo = {
            "AWS::Region": region,
            "AWS::AccountId": account_id,
            "AWS::StackName": "switchboard-local",
            "AWS::StackId": f"arn:aws:cloudformation:{region}:{account_id}:stack/switchboard-local/00000000-0000-4000-8000-000000000000",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": None,
        }
        self.refs: dict[str, Any] = {}
        self.attributes: dict[tuple[str, str], Any] = {}

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template["Conditions"][name]))

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            return {k: self.resolve(v) for k, v in value.items()}
        ((fn, arg),) = value.items()
        if fn == "Ref":
            return self._ref(arg)
        if fn == "Fn::GetAtt":
            logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
            return self.attributes[(logical_id, attribute)]
        if fn == "Fn::Sub":
            return self._sub(arg)
        if fn == "Fn::If":
            name, when_true, when_false = arg
            return self.resolve(when_true if self.condition(name) else when_false)
        if fn == "Fn::Equals":
            left, right = (self.resolve(v) for v in arg)
            return left == right
        if fn == "Fn::Not":
            return not self.resolve(arg[0])
        if fn == "Fn::And":
            return all(self.resolve(v) for v in arg)
        if fn == "Fn::Or":
            return any(self.resolve(v) for v in arg)
        if fn == "Condition":
            return self.condition(arg)
        if fn == "Fn::Join":
            separator, parts = arg
            return separator.join(str(p) for p in self.resolve(parts))
        if fn == "Fn::Split":
            separator, text = arg
            return str(self.resolve(text)).split(separator)
        if fn == "Fn::Select":
            index, items = arg
            return self.resolve(items)[int(index)]
        return {k: self.resolve(v) for k, v in value.items()}

    def _ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            value = self.parameters[name]
            kind = (self.template.get("Parameters") or {}).get(name, {}).get("Type")
            return value.split(",") if kind == "CommaDelimitedList" and isinstance(value, str) else value
        return self.refs[name]

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def replace(match: re.Match) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name and name not in self.pseudo:
                logical_id, attribute = name.split(".", 1)
                return str(self.attributes[(logical_id, attribute)])
            return str(self._ref(name))

        return re.sub(r"\$\{([^}!]+)\}", replace, text)
