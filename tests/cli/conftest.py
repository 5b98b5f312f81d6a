import pytest


@pytest.fixture
def queued_jobs(settings):
    """Jobs are queued, never run: no host exists behind the test clusters."""
    settings.JOBS_SYNC = False
