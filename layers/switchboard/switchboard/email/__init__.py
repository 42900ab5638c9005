"""The email channel: raw MIME in, a normalized `InboundMessage` out, whichever way the mail arrived."""
