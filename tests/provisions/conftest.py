import pytest

from tests.providers.test_api import make_provider

SIM_TOKEN = "lab-token"


@pytest.fixture
def sim(settings):
    """A DigitalOcean API simulator on a random port, with the driver pointed at it."""
    from lab.docsim import start_in_thread

    server = start_in_thread(port=0, boot_delay=0.2)
    settings.DIGITALOCEAN_API_URL = server.url + "/v2/"
    settings.DIGITALOCEAN_BACKOFF = 0.01
    settings.PROVISION_POLL_INTERVAL = 0.05
    settings.PROVISION_BOOT_TIMEOUT = 10
    settings.PROVISION_SSH_WAIT = 0
    settings.PROVISION_DELETE_TIMEOUT = 10
    settings.JOBS_SYNC = False  # tests run the queued jobs themselves
    yield server
    server.stop()


@pytest.fixture
def sim_provider(owner):
    return make_provider(owner, name="sim", token=SIM_TOKEN)
