import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from rest_framework.test import APIClient

from audit.models import TokenAddress
from core.models import ApiToken

TOKEN = "dop_v1_" + "a1b2c3d4" * 8  # looks like a real DigitalOcean token


@pytest.fixture(autouse=True)
def no_real_digitalocean(settings):
    """No test reaches the real DigitalOcean API: the driver's default endpoint is a closed local
    port unless a test points it at the simulator."""
    settings.DIGITALOCEAN_API_URL = "http://127.0.0.1:9/v2/"
    # Refused at once there: retried briefly, so a page that asks for prices answers fast.
    settings.DIGITALOCEAN_BACKOFF = 0.01
    # The balance check a monitoring cycle may start: only in the tests about it.
    settings.COST_BALANCE_INTERVAL = 0


@pytest.fixture
def operator(db):
    return get_user_model().objects.create_user(
        "oper", password="pw-oper-123", is_staff=True, is_superuser=True
    )


@pytest.fixture
def owner(db):
    return get_user_model().objects.create_user("alice", password="pw-alice-123")


@pytest.fixture
def outsider(db):
    return get_user_model().objects.create_user("mallory", password="pw-mallory-123")


def _api_client(user):
    token, raw = ApiToken.issue(user, "test")
    # Used from the test client's address before: a token's first use from an address writes an
    # audit entry once (tests/audit measures it), and the query counts here are a request's own.
    TokenAddress.objects.create(token=token, address="127.0.0.1")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    client.raw_token = raw
    return client


@pytest.fixture
def api(owner):
    return _api_client(owner)


@pytest.fixture
def outsider_api(outsider):
    return _api_client(outsider)


@pytest.fixture
def operator_api(operator):
    return _api_client(operator)


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def outsider_client(client, outsider):
    client.force_login(outsider)
    return client


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


@pytest.fixture
def do_token():
    return TOKEN


@pytest.fixture(autouse=True)
def _empty_cache():
    # API throttle and failed-token counts live in the cache (per process, like a test's live
    # server): each test starts with none, so throttling stays on with the real rates.
    cache.clear()


@pytest.fixture(autouse=True)
def _metrics_written_only_when_flushed(settings):
    # The portal writes its counters from a thread every second; a test writes them when it
    # calls core.metrics.flush(), and starts with none pending.
    from core.metrics import store

    settings.METRICS_FLUSH_SECONDS = 0
    store.discard()


@pytest.fixture(autouse=True)
def _no_image_staging(settings):
    # Staging an exported image would SSH to every host of the cluster from inside the export
    # (jobs run inline in tests); the tests of staging turn it on.
    settings.IMAGE_STAGING = False


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2's deliberate slowness costs seconds per user fixture; tests do not need it.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _seed_data_for_transactional_tests(request):
    """Transactional tests flush the database afterwards, data migrations included; put the
    predefined providers and the default marketplaces back before each one."""
    marker = request.node.get_closest_marker("django_db")
    if not (marker and marker.kwargs.get("transaction")):
        return
    request.getfixturevalue("transactional_db")
    from marketplace.sync import load_catalog
    from providers.models import Provider
    from providers.predefined import predefined_providers

    for fields in predefined_providers():
        Provider.objects.get_or_create(
            name=fields["name"], owner=None, defaults={**fields, "predefined": True}
        )
    load_catalog()


@pytest.fixture
def cli_env(live_server, owner, monkeypatch):
    """Point the CLI at a live test server with the owner's API token."""
    _, raw = ApiToken.issue(owner, "cli")
    monkeypatch.setenv("PORTAL_URL", live_server.url)
    monkeypatch.setenv("PORTAL_TOKEN", raw)
    return live_server


@pytest.fixture
def cluster(owner):
    """A RUNNING 2-host provision 'dc' with no cloud behind it: its deploy marked done, its
    hosts RUNNING at 127.18.0.9 with 2 CPU and 2 GiB. VMs placed on it stay PENDING (their
    deploy jobs are queued on commit)."""
    from jobs.states import JobState
    from provisions import services
    from provisions.choices import HostState
    from provisions.models import Provision
    from tests.factories import make_provider

    provider = make_provider(owner, name="do")
    provision = services.create_provision(owner, provider=provider, name="dc", host_count=2)
    Provision.objects.filter(pk=provision.pk).update(state="RUNNING")
    provision.hosts.update(state=HostState.RUNNING, cpu=2, memory_mb=2048, public_ip="127.18.0.9")
    provision.jobs.update(state=JobState.SUCCESS)
    provision.refresh_from_db()
    return provision


@pytest.fixture
def app(db):
    """The catalogue's 'Alpine Linux 3.13', as if its marketplace had been synced."""
    from marketplace.choices import AppState
    from marketplace.models import MarketplaceApp

    app = MarketplaceApp.objects.get(name="Alpine Linux 3.13")
    app.state, app.sha256 = AppState.READY, "a" * 64
    app.image_url = "http://images.example/alpine.tar.xz"
    app.size_bytes = 2_800_000
    app.save()
    return app


@pytest.fixture
def template(owner, cluster, app):
    """The document's step 2: 'Alpine Linux 3.13' exported as template 'Alpine' into dc-image."""
    from marketplace import services as market

    return market.export_app(owner, "Alpine Linux 3.13", "Alpine", "dc-image")[1]


@pytest.fixture(scope="session", autouse=True)
def _no_sessions_left_on_the_test_database(django_db_setup, django_db_blocker):
    """PostgreSQL refuses to drop a database others are connected to. Tests start real worker
    processes and SIGKILL them; the server ends their sessions only once it notices, which may
    be after the suite. End any such session before pytest-django drops the test database."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    connection.close()


@pytest.fixture
def back_to_the_latest_schema():
    """For a data migration's test: the tests after it need every migration applied, whatever
    happens in it."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
