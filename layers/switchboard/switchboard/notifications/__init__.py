"""Proactive notifications: the admin's rules, consent and quiet hours, the channel chosen per contact, and the
sender and scheduler that send each one once (docs/notifications.md)."""
