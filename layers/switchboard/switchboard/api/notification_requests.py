"""The bodies and answers of the notification-rules admin routes (api/notification_admin.py), apart from their
handlers so that the API's description (api/openapi.py) reads them without importing the write paths (as
api/sla_requests.py does for the SLA rules)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from switchboard.notifications.models import NotificationRules

# Facts a text template may name as {name}: what notifications/templates.py `facts_of` gives every event. A
# name outside these would reach the customer as written ("{order_no}"), so the admin API refuses it.
TEMPLATE_FACTS = frozenset(
    {
        "order_number",
        "customer_name",
        "carrier",
        "tracking_number",
        "tracking_url",
        "promised_date",
        "status",
        "shipment_status",
        "shop_name",
    }
)


class NotificationRulesAnswer(NotificationRules):
    """The rules as saved: what GET and PUT /admin/notification-rules answer. Sent back (edited) as the body of
    PUT, `version` says which version the edit was made on, and `updated_at` is ignored."""

    updated_at: datetime | None = Field(default=None, description="When the rules were last saved; null: never")
