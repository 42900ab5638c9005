"""SLA rules: the ordered policy list and the business-hours schedules it names, versioned.

| item                  | pk                     | sk             | holds                                               |
|-----------------------|------------------------|----------------|-----------------------------------------------------|
| current rules         | SLA#RULES              | CURRENT        | version, the policy list, every schedule, updated_at |
| a rules version       | SLA#RULES              | POLICIES#<v>   | the rules as saved at version v, by whom and when     |
| a schedule version    | SLA#SCHEDULE#<id>      | V#<v>          | the schedule as saved at its version v, by whom      |

Every ticket write reads the current rules: one item, one strongly consistent GetItem (a few KB: 1 read unit per
4 KB), so a policy saved is applied from the next ticket change on (Zendesk applies a changed policy when a
ticket is next updated). Saving bumps the version under a condition on the version read, with the history item
in the same transaction: two admins never overwrite each other unseen.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from switchboard.models import sortable_time
from switchboard.sla.policies import NO_RULES, SlaPolicy, SlaRules
from switchboard.sla.schedules import Schedule
from switchboard.store.table import Table, WriteConflict, key

_CURRENT = key("SLA#RULES", "CURRENT")
# The current rules are one item: at most 400 KB (DynamoDB's item size limit). The admin API refuses rules whose
# JSON is larger than this, leaving room for the item's other attributes.
MAX_RULES_BYTES = 350_000


class RulesTooLarge(ValueError):
    pass


class SlaRulesRepository:
    def __init__(self, table: Table) -> None:
        self._table = table

    def current(self) -> SlaRules:
        """The rules every ticket write applies (no policies at version 0 when none were ever saved)."""
        item = self._table.get(_CURRENT)
        if not item:
            return NO_RULES
        return SlaRules.model_validate_json(item["rules"]["S"])

    def policy_history(self, version: int) -> SlaRules | None:
        item = self._table.get(key("SLA#RULES", f"POLICIES#{version}"))
        return SlaRules.model_validate_json(item["rules"]["S"]) if item else None

    def save_policies(
        self, policies: tuple[SlaPolicy, ...], *, seen_version: int, actor_id: str, at: datetime
    ) -> SlaRules:
        """Replaces the policy list, if the rules still stand at `seen_version` (WriteConflict otherwise)."""
        current = self.current()
        if current.version != seen_version:
            raise WriteConflict(f"the rules are at version {current.version}, not {seen_version}")
        saved = current.model_copy(update={"version": seen_version + 1, "policies": policies, "updated_at": at})
        history = key("SLA#RULES", f"POLICIES#{saved.version}")
        self._commit(saved, seen_version, {**history, "rules": {"S": saved.model_dump_json()}}, actor_id, at)
        return saved

    def save_schedule(self, schedule: Schedule, *, seen_version: int, actor_id: str, at: datetime) -> SlaRules:
        """Adds or replaces a schedule (its own version in `schedule.version`); the rules' version moves too, so
        tickets re-target on their next change."""
        current = self.current()
        if current.version != seen_version:
            raise WriteConflict(f"the rules are at version {current.version}, not {seen_version}")
        saved = current.model_copy(
            update={
                "version": seen_version + 1,
                "schedules": {**current.schedules, schedule.id: schedule},
                "updated_at": at,
            }
        )
        history = key(f"SLA#SCHEDULE#{schedule.id}", f"V#{schedule.version}")
        self._commit(saved, seen_version, {**history, "schedule": {"S": schedule.model_dump_json()}}, actor_id, at)
        return saved

    def _commit(self, rules: SlaRules, seen_version: int, history: dict[str, Any], actor_id: str, at: datetime) -> None:
        document = rules.model_dump_json()
        if len(document.encode()) > MAX_RULES_BYTES:
            raise RulesTooLarge(f"the rules would take {len(document.encode())} bytes; at most {MAX_RULES_BYTES}")
        condition = "attribute_not_exists(pk)" if seen_version == 0 else "version = :seen"
        values = {":seen": {"N": str(seen_version)}} if seen_version else None
        self._table.transact(
            [
                self._table.put_action(
                    {**_CURRENT, "version": {"N": str(rules.version)}, "rules": {"S": document}}, condition, values
                ),
                self._table.put_action(
                    {**history, "actor_id": {"S": actor_id}, "saved_at": {"S": sortable_time(at)}},
                    "attribute_not_exists(pk)",
                ),
            ],
            first_is_message_index=False,
        )
