"""The local AWS: moto's server in this process, provisioned from template.yaml by infra.provision."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

import boto3

from infra import moto_atomic
from infra.provision import REGION, Stack, provision

# Credentials moto accepts; a developer's real profile must never be picked up by the local stack.
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}
_PROFILE_VARIABLES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")


def aws_environment(endpoint_url: str) -> dict[str, str]:
    """What a process needs for boto3 to talk to the local endpoint (boto3 honours AWS_ENDPOINT_URL)."""
    return {"AWS_ENDPOINT_URL": endpoint_url, "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION, **LOCAL_CREDENTIALS}


@dataclass
class LocalAws:
    server: Any
    endpoint_url: str
    stack: Stack

    @property
    def environment(self) -> dict[str, str]:
        return aws_environment(self.endpoint_url)

    def stop(self) -> None:
        self.server.stop()


def start_local_aws(port: int = 0, parameters: dict[str, str] | None = None) -> LocalAws:
    """Starts moto on 127.0.0.1 (port 0: any free port) and provisions the template's resources in it,
    with `parameters` overriding the template's parameter values."""
    from moto.server import ThreadedMotoServer

    # moto would log every request, and the SQS pollers long-poll once a second.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    moto_atomic.install()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    host, bound_port = server.get_host_and_port()
    endpoint_url = f"http://{host}:{bound_port}"
    try:
        for name in _PROFILE_VARIABLES:
            os.environ.pop(name, None)
        os.environ.update(aws_environment(endpoint_url))
        stack = provision(boto3.Session(region_name=REGION), parameters=parameters)
    except BaseException:
        server.stop()
        raise
    return LocalAws(server=server, endpoint_url=endpoint_url, stack=stack)
