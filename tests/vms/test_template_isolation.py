"""Templates' isolation and limits: LXC_UNPRIVILEGED = no for operators only in the
API, the page, the CLI and marketplace export; the values the host script gets; the scripts."""

import re

import pytest
from django.core.exceptions import PermissionDenied

from cli import onetemplate
from marketplace import services as market
from marketplace.models import MarketplaceApp
from provisions import hostconfig
from vms import lxc
from vms import services as vms
from vms.models import VM, VMTemplate

pytestmark = pytest.mark.django_db


def patch(api, template, body):
    return api.patch(f"/api/templates/{template.pk}/", body, format="json")


def test_new_templates_are_unprivileged(template):
    assert template.lxc_unprivileged is True
    assert (template.cpu_quota, template.pids_max, template.swap_mb) == (None, None, None)


def test_owner_sets_limits_but_not_privileged(template, api):
    response = patch(api, template, {"pids_max": 128, "cpu_quota": "0.5", "swap_mb": 64})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["pids_max"], body["cpu_quota"], body["swap_mb"]) == (128, "0.50", 64)
    assert body["lxc_unprivileged"] is True

    response = patch(api, template, {"lxc_unprivileged": False})
    assert response.status_code == 403
    assert "only an operator may set LXC_UNPRIVILEGED = no" in response.json()["detail"]
    assert VMTemplate.objects.get(pk=template.pk).lxc_unprivileged is True
    # Asking for unprivileged (the default) is anyone's right.
    assert patch(api, template, {"lxc_unprivileged": "yes"}).status_code == 200


def test_operator_sets_privileged(template, operator_api):
    response = patch(operator_api, template, {"lxc_unprivileged": "no"})
    assert response.status_code == 200, response.content
    assert response.json()["lxc_unprivileged"] is False
    assert VMTemplate.objects.get(pk=template.pk).lxc_unprivileged is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"pids_max": 3}, "pids_max"),
        ({"cpu_quota": "0"}, "cpu_quota"),
        ({"memory_mb": 4}, "memory_mb"),
        ({"swap_mb": -1}, "swap_mb"),
    ],
)
def test_bad_limits_are_400(template, api, body, field):
    response = patch(api, template, body)
    assert response.status_code == 400
    assert field in response.content.decode()


def test_clearing_an_optional_limit(template, owner):
    vms.update_template(owner, template, {"pids_max": 100})
    vms.update_template(owner, template, {"pids_max": None})
    assert VMTemplate.objects.get(pk=template.pk).pids_max is None


def test_outsider_cannot_touch_it(template, outsider_api):
    assert patch(outsider_api, template, {"pids_max": 100}).status_code == 404


def test_the_host_script_gets_integers_and_privileged_only_when_asked(template, owner, cluster):
    vm = VM.objects.create(
        owner=owner, name="x", template=template, image=template.image, cpu=1, memory_mb=256
    )
    env = lxc.isolation(vm)
    assert env == {"PRIVILEGED": 0, "PIDS_MAX": 2048, "SWAP_MB": 0, "CPU_QUOTA_US": ""}
    VMTemplate.objects.filter(pk=template.pk).update(
        lxc_unprivileged=False, pids_max=64, cpu_quota="0.25", swap_mb=32
    )
    # The CPU quota is the VM's own (copied from its template when it is made; a resize
    # changes it), the other limits its template's.
    VM.objects.filter(pk=vm.pk).update(cpu_quota="0.25")
    vm.refresh_from_db()
    assert lxc.isolation(vm) == {
        "PRIVILEGED": 1,
        "PIDS_MAX": 64,
        "SWAP_MB": 32,
        "CPU_QUOTA_US": 25000,
    }
    # A VM whose template is gone: unprivileged, default limits.
    vm.template = None
    assert lxc.isolation(vm)["PRIVILEGED"] == 0


def test_export_of_an_app_asking_for_privileged(owner, operator, cluster, app):
    MarketplaceApp.objects.filter(pk=app.pk).update(
        template={"cpu": 1, "memory_mb": 256, "LXC_UNPRIVILEGED": "NO"}
    )
    with pytest.raises(PermissionDenied, match="only an operator"):
        market.export_app(owner, app.name, "Priv", "dc-image")
    assert not VMTemplate.objects.filter(name="Priv").exists()
    _, template = market.export_app(operator, app.name, "Priv", "dc-image")
    assert template.lxc_unprivileged is False


def test_page_form(template, owner, operator, client):
    client.force_login(owner)
    url = f"/vms/templates/{template.pk}/edit/"
    page = client.get(url)
    assert page.status_code == 200 and b"LXC_UNPRIVILEGED" in page.content
    form = {"cpu": "1", "memory_mb": "256", "pids_max": "100", "lxc_unprivileged": "yes"}
    assert client.post(url, form).status_code == 302
    assert VMTemplate.objects.get(pk=template.pk).pids_max == 100
    refused = client.post(url, {**form, "lxc_unprivileged": "no"})
    assert refused.status_code == 403
    assert b"only an operator may set LXC_UNPRIVILEGED = no" in refused.content
    assert VMTemplate.objects.get(pk=template.pk).lxc_unprivileged is True
    client.force_login(operator)
    assert client.post(url, {**form, "lxc_unprivileged": "no"}).status_code == 302
    assert VMTemplate.objects.get(pk=template.pk).lxc_unprivileged is False


@pytest.mark.django_db(transaction=True)
def test_cli_update(cli_env, capsys, template, operator, monkeypatch):
    from core.models import ApiToken

    assert onetemplate.main(["update", "Alpine", "--pids-max", "256", "--cpu-quota", "1.5"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert onetemplate.main(["show", "Alpine"]) == 0
    out, _ = capsys.readouterr()
    assert re.search(r"PIDS_MAX +: 256", out) and re.search(r"CPU_QUOTA +: 1.50", out)
    assert onetemplate.main(["update", "Alpine", "--lxc-unprivileged", "no"]) == 1
    _, err = capsys.readouterr()
    assert "only an operator may set LXC_UNPRIVILEGED = no" in err
    monkeypatch.setenv("PORTAL_TOKEN", ApiToken.issue(operator, "op")[1])
    assert onetemplate.main(["update", "Alpine", "--lxc-unprivileged", "no"]) == 0
    assert onetemplate.main(["show", "Alpine"]) == 0
    assert "LXC_UNPRIVILEGED : no" in capsys.readouterr().out


def test_scripts_are_unprivileged_by_default_and_never_unconfined():
    deploy = lxc.script_text("vm-deploy.sh")
    assert "# @include" not in deploy and "one_traversable()" in deploy
    assert "profile = unconfined" not in deploy
    assert "lxc.idmap = u 0 $ID_START $ID_COUNT" in deploy
    assert "lxc.apparmor.profile = generated" in deploy
    for limit in ("pids.max", "memory.swap.max", "cpu.max", "memory.memsw.limit_in_bytes"):
        assert limit in deploy
    assert "one_before_start" in lxc.script_text("vm-action.sh")
    setup = hostconfig.script()
    assert "# @include" not in setup and "/etc/subuid" in setup
    assert re.search(r"^VERSION=2$", setup, re.M) and hostconfig.VERSION == "2"


def test_host_configuration_gets_the_range_and_reserve(settings):
    settings.VM_IDMAP_START = 700000000
    env = hostconfig.isolation_env()
    assert env["ONE_SUBID_START"] == 700000000 and env["ONE_SUBID_COUNT"] == 65536
    assert env["ONE_VMS_PIDS_MAX"] > 0 and env["ONE_HOST_RESERVED_MB"] > 0
