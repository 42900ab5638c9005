"""Switchboard shared package: models, channel adapters, ticket logic and data access."""
