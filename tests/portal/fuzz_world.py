"""The world the API fuzz runs in: the owner's running cluster with every kind of object, the
paths that name those objects, and the requests that succeed for the owner."""

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application

from core.models import ApiToken
from hostexec.keys import generate_ed25519
from marketplace.models import Marketplace, MarketplaceApp
from providers.models import Provider
from provisions.models import JobLogLine
from tests.conftest import TOKEN
from tests.factories import make_provider
from tests.monitoring.conftest import host_samples, vm_samples
from tests.portal import fuzz
from tests.providers.samples import CORRECTED_YAML
from vms import services as vm_services
from webhooks import services as webhook_services

# Generated examples per operation and user: 49 operations x 2 users x 30 stays within about
# a minute and a half on 2 cores.
EXAMPLES = 30


@pytest.fixture
def schema(db):
    with fuzz.keep_test_connection():
        return schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


@pytest.fixture
def world(owner, cluster, template, settings):
    """The owner's objects, by the collection their IDs are looked up in."""
    # test-connection reaches the closed DigitalOcean port of the test settings: fail at once.
    settings.DIGITALOCEAN_RETRIES = 0
    vm = vm_services.instantiate(owner, "Alpine", name="web", nics=["dc-public", "dc-private"])
    host = vm.host
    vm_samples(vm, [(None, 64, 0, 0), (5.0, 70, 1000, 2000)])
    host_samples(host, 3)
    job = cluster.jobs.get()
    JobLogLine.objects.create(job=job, level="info", message="deployed")
    spare = make_provider(owner, name="spare")  # used by nothing: it can be deleted
    shared = Provider.objects.filter(owner=None).first()
    hook, _ = webhook_services.create(owner, "https://hooks.example/edge", ["vm.state"])
    webhook_services.ping(owner, hook)  # a delivery in its log
    return {
        "providers": [cluster.provider_id, spare.pk, shared.pk],
        "provisions": [cluster.pk],
        "host_id": list(cluster.hosts.values_list("pk", flat=True)),
        "networks": list(cluster.networks.values_list("pk", flat=True)),
        "marketplaces": list(Marketplace.objects.values_list("pk", flat=True)[:2]),
        "marketplaceapps": [MarketplaceApp.objects.get(name="Alpine Linux 3.13").pk],
        "images": [template.image_id],
        "templates": [template.pk],
        "vms": [vm.pk],
        "hosts": [host.pk],
        "webhooks": [hook.pk],
        "job": job.pk,
    }


def path_choices(world):
    """Path parameters naming the world's objects: `/api/<collection>/{id}/...{host_id}`."""

    def choices(operation):
        names = {p.name for p in operation.path_parameters}
        if not names:
            return []
        collection = operation.path.split("/")[2]
        sets = [{"id": pk} for pk in world.get(collection, [])]
        if "host_id" in names:
            sets = [{**s, "host_id": h} for s in sets for h in world["host_id"]]
        return sets

    return choices


def known_cases(world):
    """Requests that succeed for the owner (an outsider gets 404 or 400 for them)."""
    provider, spare = world["providers"][:2]
    document = {
        "name": "edge-ams",
        "description": "mine",
        "provider": "digitalocean",
        "connection": {"token": TOKEN, "region": "ams3"},
        "inputs": [],
    }
    key = generate_ed25519("schemathesis").public_openssh
    cases = {
        "POST /api/providers/": [{"body": document}],
        "PUT /api/providers/{id}/": [{"path_parameters": {"id": spare}, "body": document}],
        "PATCH /api/providers/{id}/": [
            {"path_parameters": {"id": provider}, "body": {"description": "changed"}}
        ],
        "DELETE /api/providers/{id}/": [{"path_parameters": {"id": spare}}],
        "POST /api/providers/import/": [{"body": {"yaml": CORRECTED_YAML.format(token=TOKEN)}}],
        "PUT /api/providers/{id}/yaml/": [
            {
                "path_parameters": {"id": spare},
                "body": {"yaml": CORRECTED_YAML.format(token=TOKEN)},
            }
        ],
        "POST /api/provisions/": [{"body": {"name": "edge2", "provider": "do", "hosts": 1}}],
        "GET /api/provisions/{id}/log/": [
            {"path_parameters": {"id": world["provisions"][0]}, "query": {"job": world["job"]}}
        ],
        "POST /api/networks/": [{"body": {"provision": "dc", "name": "extra"}}],
        "POST /api/marketplaceapps/{id}/export/": [
            {
                "path_parameters": {"id": world["marketplaceapps"][0]},
                "body": {"name": "Alpine2", "datastore": "dc-image"},
            }
        ],
        "POST /api/templates/{id}/instantiate/": [
            {
                "path_parameters": {"id": world["templates"][0]},
                "body": {"name": "web2", "nics": ["dc-public"]},
            }
        ],
        "GET /api/vms/{id}/port-forward/": [
            {"path_parameters": {"id": world["vms"][0]}, "query": {"port": 80}}
        ],
        "PUT /api/account/ssh-key/": [{"body": {"ssh_public_key": key}}],
        "POST /api/webhooks/": [
            {"body": {"url": "https://hooks.example/other", "events": ["host.error"]}}
        ],
    }
    return lambda operation: cases.get(operation.label, [])


def bearer(user) -> dict:
    return {"Authorization": f"Bearer {ApiToken.issue(user, 'schemathesis')[1]}"}
