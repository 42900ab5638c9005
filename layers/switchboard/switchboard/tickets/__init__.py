"""Ticket logic: threading, lifecycle and reopen rules. Pure logic; storage goes through switchboard.store."""
