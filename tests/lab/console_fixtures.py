"""A RUNNING lab VM 'alpine_test' (the document's tutorial VM) and the portal served over ASGI,
for the console tests."""

import pytest

from marketplace import services as market
from marketplace import sync
from marketplace.models import Marketplace
from provisions import services
from provisions.choices import ProvisionState
from tests.asgi_server import serving
from tests.factories import make_provider
from vms import services as vm_services


@pytest.fixture
def alpine_test(lab_world, owner):
    provider = make_provider(owner, name="lab", token="lab-token")
    provision = services.create_provision(owner, provider=provider, name="con", host_count=1)
    provision.refresh_from_db()
    assert provision.state == ProvisionState.RUNNING, provision.error
    sync.sync(Marketplace.objects.get(name="Edge Lab"))
    market.export_app(owner, lab_world["image"].name, "Alpine", "con-image")
    vm = vm_services.instantiate(owner, "Alpine", name="alpine_test", nics=["con-public"])
    vm.refresh_from_db()
    assert vm.state == "RUNNING", vm.failure_reason
    return vm


@pytest.fixture
def asgi_url(lab_world):
    with serving() as url:
        yield url
