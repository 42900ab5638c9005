"""One adapter module per provider, each behind the `ChannelAdapter` interface in `base`."""
