"""Notification rules (PUT /admin/notification-rules): which order events notify, their templates, the fallback
chain, quiet hours, delay detection and the shop's senders, versioned.

| item                  | pk            | sk      | holds                                                          |
|-----------------------|---------------|---------|----------------------------------------------------------------|
| current rules         | NOTIFY#RULES  | CURRENT | version, the rules (NotificationRules JSON), updated_at, actor_id |
| a rules version       | NOTIFY#RULES  | V#<v>   | the rules as saved at version v, by whom and when               |

The order-event processor and the scheduler read the current rules: one item, one strongly consistent GetItem.
Until an admin saves rules the rule set is empty (version 0): nothing notifies. Saving bumps the version under a
condition on the version the admin read, with the history item in the same transaction (as store/sla_rules.py):
two admins never overwrite each other unseen, and every version saved can be read back.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from switchboard.models import sortable_time
from switchboard.notifications.models import NotificationRules
from switchboard.store.table import Table, WriteConflict, key

_PK = "NOTIFY#RULES"
_CURRENT = key(_PK, "CURRENT")
# One item: at most 400 KB (DynamoDB's item size limit). The admin API refuses rules whose JSON is larger than
# this, leaving room for the item's other attributes.
MAX_RULES_BYTES = 350_000
NO_RULES = NotificationRules()


class RulesTooLarge(ValueError):
    pass


class SavedRules(BaseModel):
    """The rules as saved: their version is `rules.version`; `updated_at` and `updated_by` are None at version 0."""

    model_config = ConfigDict(frozen=True)

    rules: NotificationRules
    updated_at: datetime | None = None
    updated_by: str | None = None


class NotificationRulesRepository:
    def __init__(self, table: Table) -> None:
        self._table = table

    def in_force(self) -> NotificationRules:
        """The rules every order event is judged by: the empty rule set at version 0 until an admin saves some."""
        return self.saved().rules

    def saved(self) -> SavedRules:
        """The current rules with when and by whom they were saved."""
        return _saved_from(self._table.get(_CURRENT)) or SavedRules(rules=NO_RULES)

    def history(self, version: int) -> SavedRules | None:
        """The rules as saved at `version`, None for a version never saved."""
        return _saved_from(self._table.get(key(_PK, f"V#{version}")))

    def save(
        self, rules: NotificationRules, expected_version: int, *, actor_id: str, at: datetime
    ) -> NotificationRules:
        """Saves `rules` as version expected_version + 1 if the current rules are still at `expected_version`
        (0: none saved yet); WriteConflict otherwise, RulesTooLarge past MAX_RULES_BYTES. The version `rules`
        carries is ignored: the saved rules carry their new one."""
        saved = rules.model_copy(update={"version": expected_version + 1})
        document = saved.model_dump_json()
        if len(document.encode()) > MAX_RULES_BYTES:
            raise RulesTooLarge(f"the rules would take {len(document.encode())} bytes; at most {MAX_RULES_BYTES}")
        attributes = {
            "version": {"N": str(saved.version)},
            "rules": {"S": document},
            "updated_at": {"S": sortable_time(at)},
            "actor_id": {"S": actor_id},
        }
        if expected_version == 0:
            condition, values = "attribute_not_exists(pk)", None
        else:
            condition, values = "version = :seen", {":seen": {"N": str(expected_version)}}
        try:
            self._table.transact(
                [
                    self._table.put_action({**_CURRENT, **attributes}, condition, values),
                    self._table.put_action(
                        {**key(_PK, f"V#{saved.version}"), **attributes}, "attribute_not_exists(pk)"
                    ),
                ],
                first_is_message_index=False,
            )
        except WriteConflict as conflict:
            raise WriteConflict(f"the notification rules are no longer at version {expected_version}") from conflict
        return saved


def _saved_from(item: dict | None) -> SavedRules | None:
    if not item:
        return None
    return SavedRules(
        rules=NotificationRules.model_validate_json(item["rules"]["S"]),
        updated_at=datetime.fromisoformat(item["updated_at"]["S"]),
        updated_by=item["actor_id"]["S"],
    )
