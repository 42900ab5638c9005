"""Fault injection around a boto3 client: count the calls a run makes, then make the Nth fail once.

The wrapper sits where the function's code meets its client, so a fault reaches our code the way an
error does once the SDK has given up retrying: as an exception out of the call.
"""

from __future__ import annotations

import threading
from enum import Enum
from typing import Any

from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

_ENDPOINT = "https://dynamodb.us-east-1.amazonaws.com/"


class Fault(Enum):
    REFUSED = "refused"
    """The service answered 500 InternalServerError; nothing was applied."""
    UNREACHABLE = "unreachable"
    """The connection failed before the request left; nothing was applied."""
    RESPONSE_LOST = "response lost"
    """The request was applied, but its response never arrived."""

    @property
    def applied(self) -> bool:
        return self is Fault.RESPONSE_LOST

    def error(self, operation: str) -> Exception:
        if self is Fault.REFUSED:
            return ClientError(
                {
                    "Error": {"Code": "InternalServerError", "Message": "Internal server error (injected)"},
                    "ResponseMetadata": {"HTTPStatusCode": 500},
                },
                operation,
            )
        if self is Fault.UNREACHABLE:
            return EndpointConnectionError(endpoint_url=_ENDPOINT)
        return ReadTimeoutError(endpoint_url=_ENDPOINT)


class FaultyClient:
    """Passes every call through to `client`, recording its operation; the armed call fails once."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._operations = set(client.meta.method_to_api_mapping)
        self._lock = threading.Lock()
        self.calls: list[str] = []
        self._armed: tuple[int, Fault] | None = None

    def arm(self, call_number: int, fault: Fault) -> None:
        """Call `call_number` (1-based, counted from now) fails with `fault`; the count restarts."""
        with self._lock:
            self.calls = []
            self._armed = (call_number, fault)

    def disarm(self) -> None:
        with self._lock:
            self.calls = []
            self._armed = None

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name not in self._operations:
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            operation = self._client.meta.method_to_api_mapping[name]
            with self._lock:
                self.calls.append(operation)
                fault = self._armed[1] if self._armed and self._armed[0] == len(self.calls) else None
            if fault is not None and not fault.applied:
                raise fault.error(operation)
            result = attribute(*args, **kwargs)
            if fault is not None:
                raise fault.error(operation)
            return result

        return call
