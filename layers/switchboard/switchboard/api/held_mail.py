"""POST /mail/held/release: an agent releases a held mail into the tickets (Zendesk's "recover" of a
suspended ticket): a quarantined mail SES wrongly judged spam, or an auto-reply that a person wrote after all.

The raw mail is copied to inbound/released/ in the mail bucket; its notification takes it through the intake
again, now as a customer mail, so it is parsed, threaded and deduplicated exactly like any mail. Only then is
the held mail marked released (and taken off the listing): a failure in between leaves it listed, and a
second release copies it again, which is harmless, since the writer stores a Message-ID once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from switchboard.api.agents import Role, caller_of
from switchboard.api.representation import json_body
from switchboard.api.write_requests import ReleaseRequest
from switchboard.config import AccessSettings
from switchboard.errors import NotFound, SwitchboardError
from switchboard.http import error_response, json_response
from switchboard.models import utc_now
from switchboard.observability import logger, metrics
from switchboard.store.held_mail import HeldMailRepository
from switchboard.store.mail_bucket import MailBucket, RawMailGone

_AGENT_ID_LIMIT = 128


# A release names one held mail: its external_id, at most 1,024 characters.
_MAX_BODY_BYTES = 8 * 1024


def handle_held_mail_release(
    event: Mapping[str, Any], *, store: HeldMailRepository, mail_bucket: MailBucket, access: AccessSettings
) -> dict[str, Any]:
    try:
        # Releasing puts a held (possibly hostile) mail in front of every agent: an admin's decision.
        released_by = _agent_label(caller_of(event, access).require(Role.ADMIN).subject)
        wanted = json_body(
            event, ReleaseRequest, max_bytes=_MAX_BODY_BYTES, expected='{"external_id": "<as GET /mail/held lists it>"}'
        )
        held = store.held_mail(wanted.external_id)
        if held is None:
            raise NotFound("no held mail with that external_id")
        if held.released_at is None:
            mail_bucket.copy_for_release(held.raw_mail_key, held.external_id, released_by)
            marked = store.mark_held_mail_released(held.external_id, released_by, utc_now())
            # None: another release marked it between our read and now; that first release stands.
            held = marked or store.held_mail(held.external_id) or held
            logger.info("held mail released", extra={"handling": held.handling.value})
            metrics.add_metric(name=f"HeldMailReleased_{held.handling.value}", unit="Count", value=1)
    except RawMailGone:
        return error_response(
            NotFound("the held mail's raw mail is no longer kept (MailRetentionDays): it cannot be released")
        )
    except SwitchboardError as error:
        return error_response(error)
    return json_response(202, {"held": held.model_dump(mode="json")})


def _agent_label(agent: str) -> str:
    """The agent's subject as it is recorded, on the held item and in the copy's S3 metadata, which is ASCII;
    an issuer's subject usually is (Cognito's is a UUID)."""
    printable = agent.isascii() and agent.isprintable()
    return agent[:_AGENT_ID_LIMIT] if printable else "agent"
