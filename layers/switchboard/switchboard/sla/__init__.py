"""Service-level agreements: business time, policies, the clocks of the metrics, and the enforcer that acts on
breaches (docs/sla.md)."""
