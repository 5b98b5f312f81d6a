"""`onetemplate update --disk` and `onevm disk-resize`: sizes with units, read by the CLI."""

import pytest

from cli import onetemplate, onevm
from hostexec.ssh import CommandResult
from vms import lxc, services
from vms.models import VM, VMTemplate

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_cli_gives_sizes_with_units(template, capsys, cli_env):
    assert onetemplate.main(["update", "Alpine", "--disk", "2G"]) == 0
    assert VMTemplate.objects.get(pk=template.pk).disk_mb == 2048
    assert onetemplate.main(["show", "Alpine"]) == 0
    assert "DISK" in capsys.readouterr().out
    assert onetemplate.main(["update", "Alpine", "--disk", "2Q"]) == 2
    assert "--disk: size '2Q' is not a number" in capsys.readouterr().err
    assert VMTemplate.objects.get(pk=template.pk).disk_mb == 2048


def test_onevm_disk_resize(template, owner, cluster, capsys, cli_env, monkeypatch):
    vm = services.instantiate(owner, "Alpine", name="d", nics=["dc-public"])
    VM.objects.filter(pk=vm.pk).update(state="RUNNING", disk_mb=1024)
    vm.jobs.update(state="DONE")
    monkeypatch.setattr(
        lxc, "run_script", lambda host, script, env: CommandResult(0, "DISK 1024 -> 2048 MB", "")
    )
    assert onevm.main(["disk-resize", "d", "2G"]) == 0
    assert "VM d: disk 2048M" in capsys.readouterr().out
    assert onevm.main(["disk-resize", "d", "lots"]) == 2
    assert "SIZE: size 'lots' is not a number" in capsys.readouterr().err
    assert onevm.main(["disk-resize", "d", "1G"]) != 0
    assert "give a larger size" in capsys.readouterr().err
    assert onevm.main(["show", "d"]) == 0
    assert "DISK" in capsys.readouterr().out
    assert VM.objects.get(pk=vm.pk).disk_mb == 2048


def test_onevm_snapshot_verbs(template, owner, cluster, capsys, cli_env, monkeypatch):
    from vms import jobs
    from vms.models import VMJob, VMSnapshot

    vm = services.instantiate(owner, "Alpine", name="s", nics=["dc-public"])
    VM.objects.filter(pk=vm.pk).update(state="RUNNING", disk_mb=1024)
    vm.jobs.update(state="DONE")
    monkeypatch.setattr(
        lxc, "_run", lambda host, script, env, log=None: "FROZEN 85\nSIZE 1048576\n"
    )

    def run_jobs():
        for job in VMJob.objects.filter(vm=vm, state="QUEUED"):
            jobs.run_vm_job(vm.pk, job.action, job.pk)

    assert onevm.main(["snapshot-create", "s", "first"]) == 0
    assert "SNAPSHOT ID:" in capsys.readouterr().out
    run_jobs()
    assert onevm.main(["snapshot-list", "s"]) == 0
    listed = capsys.readouterr().out
    assert "first" in listed and "READY" in listed and "85 ms" in listed and "1.0M" in listed
    assert onevm.main(["snapshot-revert", "s", "nope"]) == 1
    assert "snapshot 'nope' of VM s not found" in capsys.readouterr().err
    assert onevm.main(["snapshot-revert", "s", "first"]) == 0
    assert "reverting to snapshot first" in capsys.readouterr().out
    run_jobs()
    assert onevm.main(["snapshot-delete", "s", "first"]) == 0
    run_jobs()
    assert not VMSnapshot.objects.exists()
