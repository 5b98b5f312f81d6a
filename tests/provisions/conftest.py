import pytest

from tests.contract import session
from tests.contract.session import checked
from tests.factories import make_provider

SIM_TOKEN = "lab-token"


@pytest.fixture
def sim(settings):
    """A DigitalOcean API simulator on a random port, with the driver pointed at it; every
    request the test makes and every answer are checked against DigitalOcean's contract."""
    from lab.docsim import start_in_thread

    # The real rate limits, with windows 20 times shorter (a minute lasts 3 s) so a test that
    # meets one is not held for a real minute; VPC members linger briefly, as they do for
    # minutes in DigitalOcean.
    server = start_in_thread(port=0, boot_delay=0.2, rate_time_scale=0.05, vpc_member_linger=0.3)
    settings.DIGITALOCEAN_API_URL = server.url + "/v2/"
    settings.DIGITALOCEAN_BACKOFF = 0.01
    settings.PROVISION_POLL_INTERVAL = 0.05
    settings.PROVISION_BOOT_TIMEOUT = 10
    settings.PROVISION_SSH_WAIT = 0
    settings.PROVISION_DELETE_TIMEOUT = 10
    settings.PROVISION_VPC_RELEASE_TIMEOUT = 10
    settings.JOBS_SYNC = False  # tests run the queued jobs themselves
    try:
        with checked(server):
            yield server
    finally:
        server.stop()


@pytest.fixture
def sim_provider(owner):
    return make_provider(owner, name="sim", token=SIM_TOKEN)


@pytest.fixture
def hosts_configure_without_ssh(monkeypatch):
    """Nothing answers SSH without the lab: host configuration succeeds without it, so a
    deploy job runs to its end (for tests about DigitalOcean; tests/lab has the hosts)."""
    from provisions.choices import HostState
    from provisions.models import Host
    from provisions.runs import DeployRun

    def configured(run):
        hosts = [h.pk for h in run.live_hosts()]
        Host.objects.filter(pk__in=hosts).update(state=HostState.RUNNING, cpu=2, memory_mb=2048)

    monkeypatch.setattr(DeployRun, "step_configure_hosts", configured)
    monkeypatch.setattr(DeployRun, "step_private_network", lambda run: None)


pytest_terminal_summary = session.terminal_summary
