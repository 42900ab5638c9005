"""Brings the whole stack up from template.yaml, keeps it running, and takes it down in order."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from infra.fakes.outbound import Receipt
from infra.fakes.providers import FakeProviders
from infra.local import jwt
from infra.local.aws import LocalAws, start_local_aws
from infra.local.docs_page import DOCS_PATH, swagger_ui_page
from infra.local.http_gateway import HttpGateway, template_routes
from infra.local.notifications import seed_notification_rules
from infra.local.pollers import QueueBinding, SqsPoller
from infra.local.schedules import ScheduledRule, rules_for
from infra.local.workers import FunctionPool, WorkerSpec, WorkerStartFailed, lambda_environment
from infra.provision import LOCAL_JWT_AUDIENCE, LOCAL_JWT_ISSUER, REGION, Stack
from infra.template import ROOT, FunctionSpec, functions, resources_of_type

log = logging.getLogger("switchboard.local")

STATE_FILE = "local.json"


class SettingsError(ValueError):
    pass


class StartupError(Exception):
    """The stack cannot come up for a reason the developer can fix (a busy port, a function that fails to import)."""


@dataclass(frozen=True)
class RunnerSettings:
    port: int
    moto_port: int
    state_dir: Path
    redelivery_seconds: int
    concurrency: int

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> RunnerSettings:
        source = os.environ if env is None else env
        return cls(
            port=_int(source, "SWITCHBOARD_PORT", 3000, 0, 65535),
            moto_port=_int(source, "SWITCHBOARD_MOTO_PORT", 0, 0, 65535),
            state_dir=Path(source.get("SWITCHBOARD_STATE_DIR") or ROOT / ".switchboard").resolve(),
            redelivery_seconds=_int(source, "SWITCHBOARD_LOCAL_REDELIVERY_SECONDS", 1, 0, 43200),
            concurrency=_int(source, "SWITCHBOARD_LOCAL_CONCURRENCY", 2, 1, 16),
        )


def _int(source, name: str, default: int, low: int, high: int) -> int:
    raw = source.get(name)
    if raw in (None, ""):
        return default
    if not raw.strip().isdigit() or not low <= int(raw) <= high:
        raise SettingsError(f"{name} must be a whole number from {low} to {high}, not {raw!r}")
    return int(raw)


def receipt_poster(gateway_url: str, refs: Mapping[str, Any]):
    """Posts a fake provider's receipt to our webhook on a thread of its own, as the provider would; one for a
    queue ("sqs:<logical id>": SES's events, which SNS delivers) is sent to that queue of the local AWS."""
    import urllib3
    from botocore.exceptions import BotoCoreError, ClientError

    http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=2, read=30))
    sqs = boto3.client("sqs", region_name=REGION)

    def post(receipt: Receipt) -> None:
        url = receipt.target if receipt.target.startswith("http") else gateway_url + receipt.target

        def send() -> None:
            try:
                if receipt.queue is not None:
                    sqs.send_message(QueueUrl=str(refs[receipt.queue]), MessageBody=receipt.body.decode())
                else:
                    http.request("POST", url, body=receipt.body, headers=dict(receipt.headers))
            except (urllib3.exceptions.HTTPError, BotoCoreError, ClientError) as exc:
                log.warning("a fake %s receipt could not be posted: %s", receipt.provider, type(exc).__name__)

        threading.Thread(target=send, name=f"receipt:{receipt.provider}", daemon=True).start()

    return post


class LocalRunner:
    def __init__(self, settings: RunnerSettings) -> None:
        self.settings = settings
        self.stopping = threading.Event()
        self.aws: LocalAws | None = None
        self.providers: FakeProviders | None = None
        self.pools: dict[str, FunctionPool] = {}
        self.gateway: HttpGateway | None = None
        self.pollers: list[SqsPoller] = []
        self.rules: list[ScheduledRule] = []
        self.dev_token = ""
        self.dev_tokens: dict[str, str] = {}
        self.jwt_issuer = self.jwt_audience = ""
        self.specs: list[FunctionSpec] = []
        self._wrote_state = False

    @property
    def state_path(self) -> Path:
        return self.settings.state_dir / STATE_FILE

    def start(self) -> None:
        # The media fetcher downloads from fake providers, never the real ones, with the dev secrets' credentials.
        self.providers = FakeProviders().start()
        gateway_url = f"http://127.0.0.1:{self.settings.port}"
        self.aws = start_local_aws(
            self.settings.moto_port,
            {
                **self.providers.template_parameters(),
                # Twilio signs its status callbacks with the URL it was given: the local gateway's.
                "TwilioStatusCallbackUrl": f"{gateway_url}/webhooks/twilio",
            },
        )
        stack = self.aws.stack
        self.providers.use_channel_secrets(stack.channel_secrets)
        # Receipts go to the local gateway's webhooks, signed with the dev secrets, as the providers would post them.
        self.providers.receipt_sink = receipt_poster(gateway_url, stack.resolver.refs)
        self.specs = functions(stack.template)
        for spec in self.specs:
            worker = WorkerSpec(
                function_name=spec.logical_id,
                code_dir=spec.code_dir,
                handler=spec.handler,
                timeout_seconds=spec.timeout,
                environment=lambda_environment(spec, stack.environment_of(spec.logical_id), self.aws.environment),
            )
            self.pools[spec.logical_id] = FunctionPool(worker, self.settings.concurrency)
        # Interpreters start in parallel; waiting for them one by one would add up their import times.
        for pool in self.pools.values():
            pool.start()
        try:
            for pool in self.pools.values():
                pool.wait_ready()
        except WorkerStartFailed as exc:
            raise StartupError(str(exc)) from exc

        key = jwt.new_signing_key()
        authorizer = self._authorizer(key, stack)
        # The token carries whatever issuer and audience the template's authorizer resolves to locally.
        self.jwt_issuer, self.jwt_audience = (
            (authorizer.issuer, authorizer.audiences[0]) if authorizer else (LOCAL_JWT_ISSUER, LOCAL_JWT_AUDIENCE)
        )
        resolve = stack.resolver.resolve
        roles_claim, role_prefix = str(resolve({"Ref": "RolesClaim"})), str(resolve({"Ref": "RolePrefix"}))
        self.dev_tokens = {
            role: jwt.dev_token(
                key, self.jwt_issuer, self.jwt_audience, role, roles_claim=roles_claim, role_prefix=role_prefix
            )
            for role in jwt.DEV_ROLES
        }
        self.dev_token = self.dev_tokens["agent"]
        routes = template_routes(self.specs, self.pools, resolve, protected=authorizer is not None)
        try:
            self.gateway = HttpGateway(
                routes, authorizer, self.settings.port, pages={DOCS_PATH: swagger_ui_page(self.dev_token)}
            )
        except OSError as exc:
            raise StartupError(
                f"cannot listen on 127.0.0.1:{self.settings.port} ({exc.strerror}); set SWITCHBOARD_PORT to a free port"
            ) from exc
        self.gateway.start()

        sqs = boto3.client("sqs", region_name=REGION)
        for spec in self.specs:
            for source in spec.queue_sources:
                binding = QueueBinding.of(source, stack)
                self.pollers.append(
                    SqsPoller(
                        binding, self.pools[spec.logical_id], sqs, self.settings.redelivery_seconds, self.stopping
                    )
                )
            self.rules.extend(rules_for(spec.logical_id, spec.schedules, self.pools[spec.logical_id], self.stopping))
        for poller in self.pollers:
            poller.start()
        for rule in self.rules:
            rule.start()
        # A signed sample shop event produces a message with no set-up (docs/notifications.md, "make run").
        seed_notification_rules(stack, self.aws.endpoint_url)
        self._write_state()

    @staticmethod
    def _authorizer(key: bytes, stack: Stack) -> jwt.JwtAuthorizer | None:
        apis = resources_of_type(stack.template, "AWS::Serverless::HttpApi")
        for body in apis.values():
            authorizer = jwt.authorizer_of_api(body.get("Properties") or {}, stack.resolver.resolve, key)
            if authorizer is not None:
                return authorizer
        return None

    def _running(self) -> tuple[LocalAws, FakeProviders, HttpGateway]:
        if self.aws is None or self.providers is None or self.gateway is None:
            raise RuntimeError("the local stack is not running")
        return self.aws, self.providers, self.gateway

    def state(self) -> dict[str, Any]:
        aws, providers, gateway = self._running()
        stack = aws.stack
        return {
            "api_url": gateway.url,
            "docs_url": gateway.url + DOCS_PATH,
            "aws_endpoint_url": aws.endpoint_url,
            "region": REGION,
            "dev_token": self.dev_token,
            "dev_tokens": self.dev_tokens,
            "jwt": {"issuer": self.jwt_issuer, "audience": self.jwt_audience},
            "resources": {logical_id: str(value) for logical_id, value in stack.resolver.refs.items()},
            "secrets": stack.channel_secrets,
            "fake_providers": {
                "base_url": providers.base_url,
                "register_media": providers.base_url + "/__fake__/<provider>/<id>",
                **providers.template_parameters(),
            },
            "routes": [
                {
                    "method": route.method,
                    "path": route.path,
                    "url": gateway.url + route.path,
                    "function": spec.logical_id,
                    "authorized": route.authorized,
                    "scopes": list(route.scopes_of(stack.resolver.resolve)),
                }
                for spec in self.specs
                for route in spec.routes
            ],
            "pid": os.getpid(),
        }

    def _write_state(self) -> None:
        # Written last and atomically: its presence tells tools and tests the stack is ready.
        self.settings.state_dir.mkdir(parents=True, exist_ok=True)
        partial = self.state_path.with_suffix(".json.partial")
        partial.write_text(json.dumps(self.state(), indent=2) + "\n")
        os.replace(partial, self.state_path)
        self._wrote_state = True

    def stop(self) -> None:
        """Stops intake first, then lets in-flight invocations finish, then the workers, then AWS."""
        self.stopping.set()
        if self._wrote_state:
            # The endpoints it names are about to disappear; a stale file would send tools to a dead port.
            self.state_path.unlink(missing_ok=True)
        if self.gateway is not None:
            self.gateway.stop()
        for poller in self.pollers:
            poller.join()
        for rule in self.rules:
            rule.join()
        # Workers stop side by side: each is a process to signal and join, and one by one they added up to
        # most of the shutdown on a busy 2-core machine.
        stoppers = [threading.Thread(target=pool.stop, name=f"stop:{pool.name}") for pool in self.pools.values()]
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join()
        if self.aws is not None:
            self.aws.stop()
        if self.providers is not None:
            self.providers.stop()
