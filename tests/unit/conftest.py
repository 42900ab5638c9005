import pytest


@pytest.fixture(autouse=True)
def _no_real_aws(aws_environment: None) -> None:
    """Unit tests use fakes; should one reach for boto3 anyway, it finds no account to talk to."""
