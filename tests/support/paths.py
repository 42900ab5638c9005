"""Where tests find the repository and the provider samples. In CI the repository is a fresh clone with
`shared/` beside it, so the samples live at <repo root>/../shared/fixtures."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_FIXTURES = REPO_ROOT.parent / "shared" / "fixtures"
EVENTS_DIR = REPO_ROOT / "events"


def provider_fixture(channel: str, name: str) -> bytes:
    """A provider sample as raw bytes: signatures cover the exact bytes, so never re-serialize them."""
    return (SHARED_FIXTURES / channel / name).read_bytes()
