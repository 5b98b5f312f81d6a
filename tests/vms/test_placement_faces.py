"""Placement from the API, the pages and the CLI: the placement policy set and changed, hosts'
capacity shown, `onevm deploy` for operators only, bad input refused with nothing changed."""

import pytest

from cli import oneprovision, onevm
from core.models import ApiToken
from core.quotas import Quota
from provisions.choices import HostState
from provisions.models import Host, Provision
from tests.cli.helpers import run_cli
from vms import services
from vms.models import VM, VMTemplate


@pytest.fixture
def waiting(template, owner):
    VMTemplate.objects.filter(name="Alpine").update(memory_mb=4096)
    vm = services.instantiate(owner, "Alpine", name="big", nics=["dc-public"])
    VMTemplate.objects.filter(name="Alpine").update(memory_mb=256)
    return vm


@pytest.mark.django_db
def test_policy_is_changed_by_the_api_and_bad_values_change_nothing(api, cluster):
    url = f"/api/provisions/{cluster.pk}/"
    assert api.get(url).json()["placement_policy"] == "striping"
    response = api.patch(url, {"placement_policy": "packing"}, format="json")
    assert response.status_code == 200 and response.json()["placement_policy"] == "packing"
    for body, message in [
        ({"placement_policy": "fastest"}, "'fastest' is not a placement policy; use one of"),
        ({"placement_policy": "packing", "size": "x"}, "cannot change size of a provision"),
        ({}, "This field is required"),
    ]:
        response = api.patch(url, body, format="json")
        assert response.status_code == 400 and message in response.content.decode(), body
    assert Provision.objects.get(pk=cluster.pk).placement_policy == "packing"


@pytest.mark.django_db
def test_outsider_cannot_see_or_change_the_policy(outsider_api, cluster):
    url = f"/api/provisions/{cluster.pk}/"
    assert outsider_api.patch(url, {"placement_policy": "packing"}).status_code == 404
    assert outsider_api.get(f"{url}hosts/").status_code == 404
    assert Provision.objects.get(pk=cluster.pk).placement_policy == "striping"


@pytest.mark.django_db
def test_create_takes_a_policy_and_refuses_a_bad_one(api, owner):
    from tests.factories import make_provider

    make_provider(owner, name="do")
    body = {"name": "p1", "provider": "do", "placement_policy": "load-aware"}
    response = api.post("/api/provisions/", body, format="json")
    assert response.status_code == 201 and response.json()["placement_policy"] == "load-aware"
    response = api.post("/api/provisions/", {**body, "name": "p2", "placement_policy": "x"})
    assert response.status_code == 400 and "is not a placement policy" in response.content.decode()
    assert not Provision.objects.filter(name="p2").exists()


@pytest.mark.django_db
def test_hosts_show_capacity_and_reservations(api, template, owner, cluster, settings):
    settings.VM_DISK_MB_DEFAULT = 2048
    settings.HOST_RESERVED_DISK_MB = 4096
    vm = services.instantiate(owner, "Alpine", name="a", nics=["dc-public"])
    hosts = api.get(f"/api/provisions/{cluster.pk}/hosts/").json()
    used = next(h for h in hosts if h["id"] == vm.host_id)
    assert used["capacity"] == [
        {"dimension": "cpu", "unit": "CPU", "total": 8, "reserved": 1, "free": 7},
        {"dimension": "memory", "unit": "MiB", "total": 1792, "reserved": 256, "free": 1536},
        # Not reported by host set-up yet (these hosts were never configured): no bound.
        {"dimension": "disk", "unit": "MiB", "total": None, "reserved": 2048, "free": None},
    ]
    Host.objects.filter(pk=vm.host_id).update(disk_mb=25600)  # a 25 GB droplet's filesystem
    hosts = api.get(f"/api/provisions/{cluster.pk}/hosts/").json()
    used = next(h for h in hosts if h["id"] == vm.host_id)
    assert used["capacity"][2] == {
        "dimension": "disk",
        "unit": "MiB",
        "total": 21504,
        "reserved": 2048,
        "free": 19456,
    }
    detail = api.get(f"/api/provisions/{cluster.pk}/").json()
    assert [h["capacity"] for h in detail["host_list"]] == [h["capacity"] for h in hosts]


@pytest.mark.django_db
@pytest.mark.parametrize("count", [1, 20])
def test_hosts_capacity_in_constant_queries(
    api, owner_client, template, owner, cluster, count, django_assert_num_queries
):
    for index in range(count - 2):
        Host.objects.create(provision=cluster, name=f"x{index}", state=HostState.RUNNING, cpu=1)
    cluster.hosts.update(memory_mb=100000, cpu=100)
    Quota.objects.create(user=owner, vms=100, cpu=100, memory_mb=100000)
    for index in range(count):
        services.instantiate(owner, "Alpine", name=f"vm{index}", nics=["dc-public"])
    # The same at 1 and 20 hosts and VMs: capacity is one aggregate query for all hosts.
    with django_assert_num_queries(9):
        api.get(f"/api/provisions/{cluster.pk}/hosts/")
    with django_assert_num_queries(8):
        api.get(f"/api/provisions/{cluster.pk}/")
    with django_assert_num_queries(17):  # the cost card's two included
        owner_client.get(f"/provisions/{cluster.pk}/")


@pytest.mark.django_db
def test_provision_page_shows_capacity_and_changes_the_policy(owner_client, template, cluster):
    page = owner_client.get(f"/provisions/{cluster.pk}/").content.decode()
    assert "memory 0 / 1792 MiB" in page and "cpu 0 / 8 CPU" in page
    assert 'value="striping" selected' in page
    response = owner_client.post(f"/provisions/{cluster.pk}/placement/", {"policy": "packing"})
    assert response.status_code == 302
    assert Provision.objects.get(pk=cluster.pk).placement_policy == "packing"
    owner_client.post(f"/provisions/{cluster.pk}/placement/", {"policy": "nope"})
    assert Provision.objects.get(pk=cluster.pk).placement_policy == "packing"


@pytest.mark.django_db
def test_vm_page_and_api_say_why_a_vm_waits(owner_client, api, waiting):
    reason = "no host with 4096 MiB memory free: largest free 1792 MiB on dc-host-0"
    assert reason in owner_client.get(f"/vms/{waiting.pk}/").content.decode()
    assert api.get(f"/api/vms/{waiting.pk}/").json()["placement_reason"] == reason


@pytest.mark.django_db
def test_deploy_is_for_operators_and_checked(api, operator_api, outsider_api, waiting, cluster):
    url = f"/api/vms/{waiting.pk}/deploy/"
    host = cluster.hosts.order_by("id").first()
    response = api.post(url, {"host": host.name})
    assert response.status_code == 403 and "only an operator" in response.content.decode()
    assert outsider_api.post(url, {"host": host.name}).status_code == 404
    for ref, message in [
        (host.name, "no host with 4096 MiB memory free: largest free 1792 MiB on dc-host-0"),
        ("nope", "host 'nope' not found; the VM's networks are in cluster dc"),
    ]:
        response = operator_api.post(url, {"host": ref})
        assert response.status_code == 400 and message in response.content.decode(), ref
    Host.objects.filter(pk=host.pk).update(memory_mb=8192, state=HostState.ERROR)
    response = operator_api.post(url, {"host": str(host.pk)})
    assert response.status_code == 400 and "is ERROR, not RUNNING" in response.content.decode()
    assert VM.objects.get(pk=waiting.pk).host is None
    Host.objects.filter(pk=host.pk).update(state=HostState.RUNNING)
    response = operator_api.post(url, {"host": host.name})
    assert response.status_code == 202 and response.json()["host"] == host.name
    response = operator_api.post(url, {"host": host.name})
    assert response.status_code == 400 and "is PENDING on dc-host-0" in response.content.decode()


@pytest.mark.django_db
def test_deploy_refuses_a_host_of_another_cluster(operator, operator_api, waiting, cluster):
    other = Provision.objects.create(
        name="other", provider=cluster.provider, owner=cluster.owner, state="RUNNING"
    )
    Host.objects.create(provision=other, name="far", state=HostState.RUNNING, memory_mb=9999)
    response = operator_api.post(f"/api/vms/{waiting.pk}/deploy/", {"host": "far"})
    assert response.status_code == 400
    assert "host 'far' is in cluster other; the VM's networks are in cluster dc" in (
        response.content.decode()
    )


@pytest.mark.django_db(transaction=True)
def test_cli_host_list_update_and_deploy(
    cli_env, capsys, settings, monkeypatch, template, owner, operator
):
    settings.JOBS_SYNC = False
    services.instantiate(owner, "Alpine", name="a", nics=["dc-public"])
    code, out, err = run_cli(capsys, oneprovision, "host", "list", "dc")
    assert (code, err) == (0, "")
    header, *rows = out.splitlines()
    assert header.split()[-3:] == ["ALLOCATED_CPU", "ALLOCATED_MEMORY", "ALLOCATED_DISK"]
    assert "1 / 8 (12%)" in rows[0] and "256M / 1792M (14%)" in rows[0]
    assert "2048M / ?" in rows[0]  # the disk: not reported by these hosts' set-up yet
    code, out, err = run_cli(capsys, oneprovision, "update", "dc", "--placement-policy", "pack")
    assert code == 1 and "'pack' is not a placement policy" in err
    code, out, err = run_cli(capsys, oneprovision, "update", "dc", "--placement-policy", "packing")
    assert (code, out) == (0, "dc: placement policy packing\n")
    VMTemplate.objects.filter(name="Alpine").update(memory_mb=4096)
    services.instantiate(owner, "Alpine", name="big", nics=["dc-public"])
    code, out, err = run_cli(capsys, onevm, "show", "big")
    assert "WAITING" in out and "no host with 4096 MiB memory free" in out
    code, out, err = run_cli(capsys, onevm, "deploy", "big", "dc-host-1")
    assert code == 1 and "only an operator may choose a VM's host" in err
    Host.objects.filter(name="dc-host-1").update(memory_mb=8192)
    _, raw = ApiToken.issue(operator, "op")
    monkeypatch.setenv("PORTAL_TOKEN", raw)
    code, out, err = run_cli(
        capsys, onevm, "deploy", str(VM.objects.get(name="big").pk), "dc-host-1"
    )
    assert (code, err) == (0, "")
    assert out.startswith("VM big placed on dc-host-1")


@pytest.mark.django_db
def test_provision_template_sets_the_policy_and_writes_it_back(owner):
    from provisions import services as provisioning
    from provisions import template_format
    from tests.factories import SIZED_TEMPLATE, sized_provider

    sized_provider(owner)
    with pytest.raises(template_format.TemplateError, match="placement: 'tight' is not a"):
        provisioning.create_from_template(owner, SIZED_TEMPLATE + "placement: tight\n")
    assert not Provision.objects.exists()
    made = provisioning.create_from_template(owner, SIZED_TEMPLATE + "placement: packing\n")
    assert made.placement_policy == "packing"
    provisioning.set_placement_policy(owner, made, "load-aware")
    dumped = template_format.dump(Provision.objects.get(pk=made.pk))
    assert "placement: load-aware" in dumped


@pytest.mark.django_db
def test_the_vm_page_offers_operators_a_host_to_deploy_on(
    client, owner, operator, waiting, cluster
):
    url = f"/vms/{waiting.pk}/"
    client.force_login(owner)
    assert 'id="deploy"' not in client.get(url).content.decode()
    page = client.post(f"/vms/{waiting.pk}/deploy/", {"host": "dc-host-0"}, follow=True)
    assert "only an operator" in page.content.decode()
    client.force_login(operator)
    operator_client = client
    html = operator_client.get(url).content.decode()
    assert 'id="deploy"' in html and "dc-host-0" in html
    host = cluster.hosts.order_by("id").first()
    page = operator_client.post(f"/vms/{waiting.pk}/deploy/", {"host": host.pk}, follow=True)
    assert "no host with 4096 MiB memory free" in page.content.decode()
    Host.objects.filter(pk=host.pk).update(memory_mb=8192)
    page = operator_client.post(f"/vms/{waiting.pk}/deploy/", {"host": host.pk}, follow=True)
    assert f"big placed on {host.name}; deploying." in page.content.decode()
    assert VM.objects.get(pk=waiting.pk).host_id == host.pk
