"""The outbound path: agent replies from the outbox to the providers, once each (docs/architecture.md)."""
