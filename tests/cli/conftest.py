import pytest

from portal.models import ApiToken


@pytest.fixture
def cli_env(live_server, owner, monkeypatch):
    """Point the CLI at a live test server with the owner's API token."""
    _, raw = ApiToken.issue(owner, "cli")
    monkeypatch.setenv("PORTAL_URL", live_server.url)
    monkeypatch.setenv("PORTAL_TOKEN", raw)
    return live_server
