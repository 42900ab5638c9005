"""How a request proves where it comes from: one constant-time comparison for every proof, and which
channel account's secret made it.

A channel's secret (Secrets Manager) holds its default account's credentials at the top level and, for
teams with several accounts, one object per account id under "accounts". Shared by the chat channels'
adapters, the mail providers' webhooks and the media fetcher's downloads.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from switchboard.errors import InvalidSignature

ChannelSecrets = Mapping[str, Any]


def same_secret(expected: str, presented: str) -> bool:
    """Constant-time equality of two strings, whatever characters they hold (a lone surrogate included):
    how every proof a provider presents is compared, so its timing tells an attacker nothing."""
    return hmac.compare_digest(expected.encode("utf-8", "surrogatepass"), presented.encode("utf-8", "surrogatepass"))


def proven_account(secrets: ChannelSecrets, setting: str, proves: Callable[[str], bool], refusal: str) -> str | None:
    """The account whose `setting` secret made the proof: None for the default (top-level) secret, else
    the key under "accounts". Each distinct secret is tried, from the body's bytes alone (nothing parsed).
    Raises InvalidSignature when none did. Which accounts the proof may speak for is settled after
    parsing, by require_proof_covers."""
    tried: set[str] = set()
    configured = False
    for account_id, account in every_account(secrets):
        secret = account.get(setting)
        if not isinstance(secret, str) or not secret or secret in tried:
            continue
        tried.add(secret)
        configured = True
        if proves(secret):
            return account_id
    raise InvalidSignature(refusal if configured else f"no {setting.replace('_', ' ')} is configured for this channel")


def require_proof_covers(events: Sequence[Any], secrets: ChannelSecrets, setting: str, proven: str | None) -> None:
    """Every account the events are filed under must have, as its own secret, the one that made the proof.

    An account configured under "accounts" with its own secret is covered by that secret only; the
    default secret covers every account not configured separately, so single-account setups are
    unchanged. Without this, app A's secret would vouch for a payload naming page B.
    """
    secret = str(account_secrets(secrets, proven).get(setting) or "")
    for account_id in {event.channel_account_id for event in events}:
        if not same_secret(str(account_secrets(secrets, account_id).get(setting) or ""), secret):
            raise InvalidSignature("the payload names an account whose own secret did not sign it")


def account_secrets(secrets: ChannelSecrets, account_id: str | None) -> ChannelSecrets:
    """The credentials of one channel account.

    A channel's secret holds its default account's credentials at the top level and, for teams with
    several accounts (two LINE channels, two Telegram bots, several pages), one object per account id
    under "accounts", whose keys override the defaults.
    """
    accounts = secrets.get("accounts")
    defaults = {key: value for key, value in secrets.items() if key != "accounts"}
    if account_id and isinstance(accounts, Mapping) and isinstance(accounts.get(account_id), Mapping):
        return {**defaults, **accounts[account_id]}
    return defaults


def every_account(secrets: ChannelSecrets) -> list[tuple[str | None, ChannelSecrets]]:
    """The default account (id None) and each named account, for proofs that do not name their account."""
    accounts = secrets.get("accounts")
    named = [(str(k), account_secrets(secrets, str(k))) for k in accounts] if isinstance(accounts, Mapping) else []
    return [(None, account_secrets(secrets, None)), *named]
