"""A VM's disk without the lab: its size from the template (DISK) or the default, the image as
its floor, growth refused when it would shrink, and the host script's refusals made clear."""

import subprocess

import pytest
from django.core.exceptions import ValidationError

from core.units import parse_size_mb
from hostexec.ssh import CommandResult
from monitoring.probe import parse
from vms import disks, lxc, services
from vms.models import VM, VMLogLine, VMTemplate

pytestmark = pytest.mark.django_db


def test_a_vm_gets_its_templates_disk_or_the_default(
    template, owner, cluster, settings, monkeypatch
):
    settings.VM_DISK_MB_DEFAULT = 3072
    default = services.instantiate(owner, "Alpine", name="a", nics=["dc-public"])
    assert default.disk_mb == 3072
    services.update_template(owner, template, {"disk_mb": 512})
    sized = services.instantiate(owner, "Alpine", name="b", nics=["dc-public"])
    assert VM.objects.get(pk=sized.pk).disk_mb == 512
    # The host script gets it as DISK_MB.
    env = {}
    monkeypatch.setattr(lxc, "_run", lambda host, script, e, log=None: env.update(e) or "DONE")
    monkeypatch.setattr(lxc, "image_env", lambda image: {})
    lxc.deploy(sized, list(sized.nics.select_related("network")), 9001)
    assert env["DISK_MB"] == 512


def test_a_template_disk_below_the_floor_or_the_image_is_refused(template, owner, settings):
    settings.VM_DISK_MB_MIN = 64
    with pytest.raises(ValidationError, match=r"DISK SIZE 10 MB is outside 64-"):
        services.update_template(owner, template, {"disk_mb": 10})
    template.image.size_bytes = 300 * 2**20
    template.image.save()
    with pytest.raises(ValidationError, match=r"outside 300-.*image .*'s 300 MB"):
        services.update_template(owner, template, {"disk_mb": 200})
    assert VMTemplate.objects.get(pk=template.pk).disk_mb is None
    services.update_template(owner, template, {"disk_mb": 300})
    services.update_template(owner, template, {"disk_mb": None})  # back to the default
    assert VMTemplate.objects.get(pk=template.pk).disk_mb is None


def test_the_api_takes_and_shows_a_templates_disk(template, api, outsider_api):
    url = f"/api/templates/{template.pk}/"
    response = api.patch(url, {"disk_mb": 4096}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["disk_mb"] == 4096
    response = api.patch(url, {"disk_mb": 1}, format="json")
    assert response.status_code == 400 and "disk_mb" in response.content.decode()
    assert outsider_api.patch(url, {"disk_mb": 8192}, format="json").status_code == 404
    assert VMTemplate.objects.get(pk=template.pk).disk_mb == 4096


@pytest.mark.parametrize(
    ("text", "mb"), [("2048", 2048), ("512M", 512), ("2G", 2048), ("1.5GB", 1536), ("1t", 2**20)]
)
def test_sizes_read_as_opennebula_writes_them(text, mb):
    assert parse_size_mb(text) == mb


@pytest.mark.parametrize("text", ["", "x", "0", "-5", "nan", "inf", "2Q"])
def test_bad_sizes_say_what_was_wrong(text):
    with pytest.raises(ValueError, match="size"):
        parse_size_mb(text)


@pytest.fixture
def running_vm(template, owner, cluster):
    vm = services.instantiate(owner, "Alpine", name="d", nics=["dc-public"])
    VM.objects.filter(pk=vm.pk).update(state="RUNNING", disk_mb=1024)
    vm.jobs.update(state="DONE")
    return VM.objects.get(pk=vm.pk)


def fake_host(monkeypatch, status=0, stdout="DISK 1024 -> 2048 MB (online)\nDF 2064208\n", err=""):
    calls = []

    def run_script(host, script, env):
        calls.append((script, env))
        return CommandResult(status, stdout if status == 0 else "", err)

    monkeypatch.setattr(lxc, "run_script", run_script)
    return calls


def test_growing_a_disk_runs_the_script_and_records_it(running_vm, owner, monkeypatch):
    calls = fake_host(monkeypatch)
    vm = disks.grow(owner, running_vm, 2048)
    assert calls == [("vm-disk.sh", {"VM": running_vm.container_name, "SIZE_MB": 2048})]
    assert VM.objects.get(pk=vm.pk).disk_mb == 2048
    line = VMLogLine.objects.filter(vm=vm).last().message
    assert "disk grown 1024 -> 2048 MB" in line and "online" in line


@pytest.mark.parametrize(
    ("change", "size", "message"),
    [
        ({}, 1024, "give a larger size"),
        ({}, 512, "a disk only grows"),
        ({"state": "PENDING"}, 4096, "is PENDING: a disk grows while"),
        ({"disk_mb": None}, 4096, "no disk of its own"),
        ({}, 2**40, "at most"),
    ],
)
def test_a_disk_that_cannot_grow_is_refused_and_nothing_runs(
    running_vm, owner, monkeypatch, change, size, message
):
    calls = fake_host(monkeypatch)
    VM.objects.filter(pk=running_vm.pk).update(**change)
    with pytest.raises(ValidationError, match=message):
        disks.grow(owner, running_vm, size)
    assert calls == []
    assert VM.objects.get(pk=running_vm.pk).disk_mb == change.get("disk_mb", 1024)


def test_the_host_scripts_refusal_is_a_clear_error(running_vm, owner, monkeypatch):
    fake_host(monkeypatch, status=4, err="ERROR one-1's disk is 4096 MB: shrinking is refused\n")
    with pytest.raises(ValidationError, match="did not grow VM d's disk: one-1's disk is 4096"):
        disks.grow(owner, running_vm, 2048)
    assert VM.objects.get(pk=running_vm.pk).disk_mb == 1024


def test_disk_resize_through_the_api_and_the_page(
    running_vm, api, outsider_api, client, owner, monkeypatch
):
    fake_host(monkeypatch)
    url = f"/api/vms/{running_vm.pk}/disk-resize/"
    assert outsider_api.post(url, {"size_mb": 4096}, format="json").status_code == 404
    response = api.post(url, {"size_mb": 512}, format="json")
    assert response.status_code == 400 and "larger size" in response.content.decode()
    response = api.post(url, {"size_mb": 1536}, format="json")
    assert response.status_code == 200 and response.json()["disk_mb"] == 1536
    client.force_login(owner)
    page = client.post(f"/vms/{running_vm.pk}/disk/", {"size": "3G"}, follow=True)
    assert "disk is now 3072 MB" in page.content.decode()
    page = client.post(f"/vms/{running_vm.pk}/disk/", {"size": "1G"}, follow=True)
    assert "give a larger size" in page.content.decode()
    page = client.post(f"/vms/{running_vm.pk}/disk/", {"size": "huge"}, follow=True)
    assert "Disk size: size &#x27;huge&#x27; is not a number" in page.content.decode()
    assert VM.objects.get(pk=running_vm.pk).disk_mb == 3072


def test_the_probe_reads_each_containers_disk_use():
    reading = parse(
        "BOOT b\nHOST 100 50 0.1 1024000 512000 2048000 1024000\n"
        "CT one-1 RUNNING 1000000000 1048576 10 20 51200\n"
        "CT one-2 STOPPED 0 0 0 0 -\nDONE\n"
    )
    assert reading.containers["one-1"].disk_used_mb == 50
    assert reading.containers["one-2"].disk_used_mb is None


def test_the_hook_refuses_a_start_whose_disk_is_not_mounted(tmp_path):
    # Where the host has AppArmor, LXC's hooks may not loop-mount (lxc-start's profile): the
    # portal's scripts mount the disk, and a start without it (an operator's lxc-start after a
    # reboot) is refused rather than letting the overlay write to the host's filesystem.
    script = f"BASE={tmp_path}\nsource {lxc.SCRIPTS / 'rootfs.sh'}\none_rootfs_hook_install\n"
    subprocess.run(["bash", "-c", script], check=True)
    hook = tmp_path / "bin" / "one-rootfs-hook"
    container = tmp_path / "lxc" / "one-7"
    (container / "disk").mkdir(parents=True)
    (container / "disk.img").write_bytes(b"")
    (container / "rootfs.lower").write_text(str(tmp_path / "prepared"))
    env = {"LXC_CONFIG_FILE": str(container / "config"), "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"}
    started = subprocess.run([hook, "mount"], env=env, capture_output=True, text=True)
    assert started.returncode == 9
    assert "disk" in started.stderr and "is not mounted: start the VM from the portal" in (
        started.stderr
    )
    # Stopping with nothing mounted is a no-op, for LXC's post-stop and the portal's cleanup.
    for action in ("unmount", "unmount-all"):
        assert subprocess.run([hook, action], env=env).returncode == 0


def test_a_disk_grows_only_into_the_hosts_room(running_vm, owner, monkeypatch, settings):
    calls = fake_host(monkeypatch)
    settings.HOST_RESERVED_DISK_MB = 1024
    host = running_vm.host
    host.disk_mb = 4096  # 3072 MiB for VMs' disks, 1024 of them this VM's
    host.save(update_fields=["disk_mb"])
    with pytest.raises(ValidationError, match=r"has 2048 MiB left for VMs' disks; growing to 4096"):
        disks.grow(owner, running_vm, 4096)
    assert calls == []
    disks.grow(owner, running_vm, 3072)
    assert VM.objects.get(pk=running_vm.pk).disk_mb == 3072
