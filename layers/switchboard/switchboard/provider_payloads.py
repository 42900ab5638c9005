"""What every reader of a provider's payload shares, chat adapters and mail providers alike: lenient provider
models, the bounds of provider timestamps, and turning whatever a payload's reading raises into a 400 that
names fields, never their values."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from switchboard.errors import MalformedPayload

# The last second and millisecond a datetime can hold (9999-12-31T23:59:59.999Z): a provider timestamp
# past them is malformed, not an OverflowError.
MAX_TIMESTAMP = 253402300799
MAX_TIMESTAMP_MS = 253402300799999


class Lenient(BaseModel):
    """A provider's payload model. Providers add fields without notice (Meta, LINE's "forward
    compatibility", each Bot API release, Kakao's flow and contexts): only what we rely on is validated."""

    model_config = ConfigDict(extra="ignore")


def dict_at(payload: Mapping[str, Any], key: str) -> dict[str, Any]:
    """payload[key] when it is an object, else an empty one: providers omit, null or retype what they do not send."""
    value = payload.get(key)
    return value if isinstance(value, dict) else {}


def list_at(payload: Mapping[str, Any], key: str) -> list[Any]:
    """payload[key] when it is an array, else an empty one."""
    value = payload.get(key)
    return value if isinstance(value, list) else []


def text_or_none(value: Any) -> str | None:
    """A non-empty string field of a payload read as a dict, else None."""
    return value if isinstance(value, str) and value else None


@contextmanager
def payload_errors(what: str) -> Iterator[None]:
    """Turns whatever reading a provider payload raises into MalformedPayload (400) that names the wrong
    fields and never their values: those are the customer's content."""
    try:
        yield
    except MalformedPayload:
        raise
    except ValidationError as exc:
        problems = [f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors()[:3]]
        raise MalformedPayload(f"not {what}: {'; '.join(problems)[:300]}") from exc
    except (ValueError, TypeError, KeyError, OverflowError, RecursionError) as exc:
        raise MalformedPayload(f"not {what}: unreadable field ({type(exc).__name__})") from exc
