"""SLA notices: each notify action of an escalation, to each of its targets, delivered at least once.

| item   | pk                 | sk                                                           | index keys                |
|--------|--------------------|--------------------------------------------------------------|---------------------------|
| notice | TICKET#<ticket_id> | SLANOTICE#<metric>#<activation>#<level>#<action>#<target kind> | BySlaDue while undelivered |

A notice is created in the same transaction that records its escalation on the ticket (attribute_not_exists: once
per ticket, metric, activation, level and target), so it exists exactly once. Delivering it is the outbox's
claim, call, settle: the claim moves `tries` on under a condition, so two sweeps never both call; a sweep that
dies after its call leaves the notice claimed until its lease ends, and the next sweep calls again with the same
event id (docs/sla.md, "What can repeat").
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from switchboard.models import NoticeState, SlaNoticeDelivery, utc_now
from switchboard.store.sla_timers import due_keys
from switchboard.store.table import Table, from_attributes, key, ticket_pk, to_attributes

MAX_NOTICE_TRIES = 8


def notice_key(notice: SlaNoticeDelivery) -> dict[str, Any]:
    sk = (
        f"SLANOTICE#{notice.metric.value}#{notice.activation}#{notice.level}#{notice.action_index}#{notice.target_kind}"
    )
    return key(ticket_pk(notice.ticket_id), sk)


class SlaNotices:
    def __init__(self, table: Table, clock: Callable[[], datetime] = utc_now) -> None:
        self._table = table
        self._clock = clock

    def new_notice_actions(self, notices: list[SlaNoticeDelivery]) -> list[dict[str, Any]]:
        """Each notice created once, due at once: actions for the transaction that records the escalation."""
        return [self._table.put_action(self._item(notice), "attribute_not_exists(pk)") for notice in notices]

    def notice(self, pk: str, sk: str) -> SlaNoticeDelivery | None:
        item = self._table.get(key(pk, sk))
        return _notice_of(item) if item else None

    def claim(self, notice: SlaNoticeDelivery, *, now: datetime, lease_until: datetime) -> SlaNoticeDelivery | None:
        """The notice claimed for one call (tries + 1, due again when the lease ends), or None when another sweep
        claimed or settled it since it was read."""
        claimed = notice.model_copy(
            update={"state": NoticeState.SENDING, "tries": notice.tries + 1, "next_try_at": lease_until}
        )
        return claimed if self._replace(notice, claimed) else None

    def settle(
        self, claimed: SlaNoticeDelivery, *, state: NoticeState, next_try_at: datetime, error: str | None
    ) -> bool:
        """Records the call's outcome, if nobody claimed the notice again meanwhile: delivered, rejected and failed
        leave the timer index; pending is due again at `next_try_at`."""
        settled = claimed.model_copy(update={"state": state, "next_try_at": next_try_at, "last_error": error})
        return self._replace(claimed, settled)

    def _replace(self, seen: SlaNoticeDelivery, after: SlaNoticeDelivery) -> bool:
        return self._table.put_if(
            self._item(after),
            "tries = :tries AND #state = :state",
            {":tries": {"N": str(seen.tries)}, ":state": {"S": seen.state.value}},
            names={"#state": "state"},
        )

    def _item(self, notice: SlaNoticeDelivery) -> dict[str, Any]:
        item_key = notice_key(notice)
        undelivered = notice.state in (NoticeState.PENDING, NoticeState.SENDING)
        return {
            **item_key,
            **due_keys(item_key["pk"]["S"], notice.next_try_at if undelivered else None, self._clock()),
            **to_attributes(notice.model_dump(mode="json")),
        }


def _notice_of(item: dict[str, Any]) -> SlaNoticeDelivery:
    return SlaNoticeDelivery.model_validate(from_attributes(item))
