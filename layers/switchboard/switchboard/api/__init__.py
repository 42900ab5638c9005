"""Agent-facing HTTP API logic."""
