"""What sending through Meta's Graph API shares (WhatsApp Cloud API, Messenger, Instagram): the call, the
error body, and which errors are worth another attempt.

Graph answers an error as {"error": {"message", "type", "code", "error_subcode", "error_data",
"is_transient", "fbtrace_id"}} (Graph API, "Handling Errors":
https://developers.facebook.com/docs/graph-api/guides/error-handling). The `code` decides, not the HTTP
status: Graph answers most throttling with a 400, not a 429.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from pydantic import ValidationError

from switchboard.channels.sending import (
    OutboundRequest,
    ProviderAnswer,
    ProviderTimeout,
    ProviderUnreachable,
    SendContext,
    SendOutcome,
)
from switchboard.proof import ChannelSecrets, account_secrets
from switchboard.provider_payloads import Lenient

# Graph API, "Handling Errors": 1 (API Unknown) and 2 (API Service) are temporary, "wait and retry";
# 4 (application), 17 (user), 32 (page) and 613 are rate limits, "wait and retry" later.
GRAPH_RETRY_CODES = frozenset({1, 2, 4, 17, 32, 613})
# Graph API, "Handling Errors": 190 is an expired or invalid access token. Only an admin can fix it;
# once they have, the agent resends.
TOKEN_CODE = 190
CUSTOMER_SERVICE_WINDOW = timedelta(hours=24)


class GraphError(Lenient):
    message: str = ""
    type: str | None = None
    code: int | None = None
    error_subcode: int | None = None
    error_data: Any = None
    is_transient: bool = False
    fbtrace_id: str | None = None

    @property
    def code_text(self) -> str | None:
        """Our record of the error: "131047", or "10/2018278" where a subcode narrows it."""
        if self.code is None:
            return None
        return f"{self.code}/{self.error_subcode}" if self.error_subcode else str(self.code)

    @property
    def details(self) -> str | None:
        # WhatsApp puts its explanation in error_data.details; Messenger's error_data is often a bare string.
        if isinstance(self.error_data, Mapping):
            details = self.error_data.get("details")
            return details if isinstance(details, str) and details else None
        return None

    def readable(self) -> str:
        text = " ".join(part for part in (self.message.strip(), self.details) if part)
        return text or "Meta refused the message"


def graph_error_of(answer: ProviderAnswer) -> GraphError | None:
    document = answer.json()
    error = document.get("error") if isinstance(document, dict) else None
    if not isinstance(error, dict):
        return None
    try:
        return GraphError.model_validate(error)
    except ValidationError:
        return None


def access_token(secrets: ChannelSecrets, account_id: str, key: str) -> str | None:
    token = account_secrets(secrets, account_id).get(key)
    return token if isinstance(token, str) and token else None


def graph_send(
    request: OutboundRequest,
    context: SendContext,
    *,
    path: str,
    token: str | None,
    token_key: str,
    body: Mapping[str, Any],
    provider_message_id: Callable[[Any], str | None],
    retry_codes: frozenset[int],
    explain: Callable[[GraphError], str | None] = lambda error: None,
    base_url: str | None = None,
) -> SendOutcome:
    """One POST to `<graph>/<path>` (or `<base_url>/<path>`) with the token as a Bearer header (never in the
    query string, where proxies and access logs would keep it), read into an outcome."""
    if token is None:
        # Our configuration, not the provider's answer: failed with a reason an admin can act on, so a
        # resend works once the secret holds the token (a 5xx would retry a reply that cannot go out).
        return SendOutcome.rejected(
            "not_configured", f"No {token_key} is configured for channel account {request.channel_account_id}"
        )
    url = f"{(base_url or context.endpoints.graph).rstrip('/')}/{path}"
    try:
        answer = context.http.post(url, json_body=dict(body), headers={"Authorization": f"Bearer {token}"})
    except ProviderUnreachable as exc:
        return SendOutcome.retry(str(exc))
    except ProviderTimeout as exc:
        # No idempotency key on Graph's messages endpoints: the message may have gone out.
        return SendOutcome.unknown(str(exc))
    return graph_outcome(answer, provider_message_id, retry_codes=retry_codes, explain=explain)


def graph_outcome(
    answer: ProviderAnswer,
    provider_message_id: Callable[[Any], str | None],
    *,
    retry_codes: frozenset[int],
    explain: Callable[[GraphError], str | None] = lambda error: None,
) -> SendOutcome:
    if 200 <= answer.status < 300:
        return SendOutcome.sent(provider_message_id(answer.json()))
    error = graph_error_of(answer)
    if error is None:
        if answer.status == 429 or answer.status >= 500:
            return SendOutcome.retry(f"Meta answered {answer.status}", answer.retry_after_seconds())
        return SendOutcome.rejected(str(answer.status), f"Meta refused the message ({answer.status})")
    code = error.code_text
    if error.code in retry_codes or error.is_transient or answer.status == 429 or answer.status >= 500:
        return SendOutcome.retry(error.readable(), answer.retry_after_seconds(), code=code)
    if error.code == TOKEN_CODE:
        return SendOutcome.rejected(
            code or str(TOKEN_CODE),
            "Meta refused the access token (expired, revoked or lacking permission): an admin must renew it "
            f"in the channel secret, then resend. {error.readable()}",
        )
    return SendOutcome.rejected(code or str(answer.status), explain(error) or error.readable())
