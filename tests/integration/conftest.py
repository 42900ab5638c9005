import pytest


@pytest.fixture(autouse=True)
def _no_real_aws(aws_environment: None) -> None:
    """Integration tests only ever talk to moto in-process."""
