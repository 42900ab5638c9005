"""Inbound-parse webhook providers of the email channel: each verifies a delivery and turns it into raw MIME."""
