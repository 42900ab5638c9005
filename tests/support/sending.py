"""The sending context the adapters' unit tests call through: real HTTP to the fake providers on 127.0.0.1."""

from __future__ import annotations

from switchboard.channels.sending import SendContext, SendEndpoints, SendHttp


def send_context(base_url: str, *, read_timeout: float = 10.0, connect_timeout: float = 1.0) -> SendContext:
    """Every provider's API base under `base_url`, where FakeProviders serves them."""
    return SendContext(
        http=SendHttp(connect_timeout=connect_timeout, read_timeout=read_timeout),
        endpoints=SendEndpoints(
            graph=f"{base_url}/graph/v21.0",
            line_api=f"{base_url}/line-api",
            telegram=f"{base_url}/telegram",
            twilio=f"{base_url}/twilio",
        ),
    )
