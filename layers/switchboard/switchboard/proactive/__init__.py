"""Proactive notifications at work: the shop events applied (order_events.py), the notifications sent (sender.py)
and the scheduler (scheduler.py). Above the store and the pure `orders/` and `notifications/` they use, as the SLA
sweep sits above `sla/` (docs/architecture.md, "Where things live")."""
