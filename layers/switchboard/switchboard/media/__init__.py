"""Attachments: the writer asks for them (jobs), the media fetcher downloads them from the provider into S3 (fetch)."""
