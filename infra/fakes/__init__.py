"""Stand-ins for third-party services, for the tests and the local runner."""
