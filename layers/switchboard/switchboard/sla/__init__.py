"""Service-level agreements, pure: business time, policies, the clocks of the metrics, what a due ticket records and
does (escalations.py), and the notify calls. The sweep that reads the timers and writes is tickets/sla_enforcer.py
(docs/sla.md)."""
