"""Where tests find the repository and the provider samples. The samples are copied byte for byte from the
team's shared/fixtures (their README says where each came from) into tests/fixtures/providers, so a clone
of the repository alone runs every test."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_FIXTURES = REPO_ROOT / "tests" / "fixtures" / "providers"
EVENTS_DIR = REPO_ROOT / "events"


def provider_fixture(channel: str, name: str) -> bytes:
    """A provider sample as raw bytes: signatures cover the exact bytes, so never re-serialize them."""
    return (SHARED_FIXTURES / channel / name).read_bytes()
