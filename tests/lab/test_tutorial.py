"""The document's tutorial, replayed with the CLI against a live portal, the simulator and the
lab: provision -> export the Alpine app -> instantiate -> ssh -> port-forward -> a web server in
the container answers on the forwarded host port."""

import re
import time

import pytest
import requests

from cli import onemarketapp, oneprovider, oneprovision, onetemplate, onevm
from core.models import ApiToken
from lab.hosts import net
from marketplace import sync
from marketplace.models import Marketplace
from tests.providers.samples import CORRECTED_YAML
from vms.models import VM, Image, PortBlock, VMTemplate

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]


def cli(capsys, module, *argv):
    code = module.main(list(argv))
    out, err = capsys.readouterr()
    assert code == 0, f"{module.__name__} {argv}: {err}"
    return out


def test_the_documents_tutorial(lab_world, capsys, outsider, monkeypatch):
    provider_yaml = lab_world["tmp"] / "provider.yaml"
    provider_yaml.write_text(CORRECTED_YAML.format(token="lab-token"))
    assert cli(capsys, oneprovider, "create", str(provider_yaml)).startswith("ID: ")

    # Step 1: deploy the edge cluster and wait for it.
    out = cli(
        capsys,
        oneprovision,
        "create",
        "--provider",
        "digitalocean-nyc3",
        "--name",
        "digitalocean-cluster",
        "--hosts",
        "1",
        "--wait",
    )
    assert "digitalocean-cluster: RUNNING" in out
    # What it costs, at the prices DigitalOcean (the simulator) publishes for the size.
    assert re.search(r"^cost: 1 x s-\S+ = \$0\.\d{4}/h, \$\d+\.\d\d/month$", out, re.M), out
    header, row = cli(capsys, oneprovision, "list").splitlines()
    assert header.split() == ["ID", "NAME", "CLUSTERS", "HOSTS", "NETWORKS", "DATASTORES", "STAT"]
    assert row.split()[1:] == ["digitalocean-cluster", "1", "1", "2", "2", "RUNNING"]

    # The lab marketplace lists the offline Alpine image once synced (an operator's action).
    sync.sync(Marketplace.objects.get(name="Edge Lab"))
    app = lab_world["image"].name  # e.g. "Alpine Linux 3.23"

    # Step 2: export the app to the cluster's image datastore.
    out = cli(capsys, onemarketapp, "export", app, "Alpine", "-d", "digitalocean-cluster-image")
    lines = out.splitlines()
    assert lines[0] == "IMAGE" and lines[1].strip().startswith("ID: ")
    assert lines[2] == "VMTEMPLATE" and lines[3].strip().startswith("ID: ")

    # Step 3: instantiate on the public network.
    out = cli(
        capsys,
        onetemplate,
        "instantiate",
        "Alpine",
        "--name",
        "alpine_test",
        "--nic",
        "digitalocean-cluster-public",
    )
    vm_id = int(out.split("VM ID: ")[1])
    vm = VM.objects.get(pk=vm_id)
    assert vm.state == "RUNNING", vm.failure_reason or list(
        vm.log.values_list("message", flat=True)
    )

    # Step 4: connect to the VM.
    release = cli(capsys, onevm, "ssh", "alpine_test", "--", "cat", "/etc/os-release")
    assert 'NAME="Alpine Linux"' in release and "ID=alpine" in release
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("cat /etc/os-release\nexit\n"))
    shell = cli(capsys, onevm, "ssh", "alpine_test")
    assert "localhost:~# cat /etc/os-release" in shell and "Alpine Linux" in shell

    # The port ranges of the document, and the forwarded port of 80.
    show = cli(capsys, onevm, "show", str(vm_id))
    assert "EXTERNAL_PORT_RANGE : 9001:9100" in show and "INTERNAL_PORT_RANGE : 1-100/9001" in show
    host_ip = vm.host.public_ip
    assert cli(capsys, onevm, "port-forward", str(vm_id), "80").strip() == f"{host_ip}@9080 -> 80"

    # A web server on port 80 in the container answers at HOST_IP:9080.
    cli(
        capsys,
        onevm,
        "ssh",
        "alpine_test",
        "--",
        "sh",
        "-c",
        'nohup sh -c \'while true; do printf "HTTP/1.0 200 OK\\r\\n\\r\\nhello from alpine" '
        "| nc -l -p 80; done' >/dev/null 2>&1 &",
    )
    body = None
    for _ in range(50):
        try:
            body = requests.get(f"http://{host_ip}:9080/", timeout=2).text
            break
        except requests.RequestException:
            time.sleep(0.2)
    assert body is not None and "hello from alpine" in body

    # Another user cannot see, ssh into or act on it.
    _, raw = ApiToken.issue(outsider, "nosy")
    monkeypatch.setenv("PORTAL_TOKEN", raw)
    for argv in (
        ["ssh", str(vm_id), "--", "id"],
        ["terminate", "alpine_test"],
        ["port-forward", str(vm_id)],
    ):
        assert onevm.main(argv) == 1
        assert "not found" in capsys.readouterr().err
    monkeypatch.setenv("PORTAL_TOKEN", ApiToken.issue(vm.owner, "again")[1])

    # Power off and resume go through the host too.
    cli(capsys, onevm, "poweroff", "alpine_test")
    assert VM.objects.get(pk=vm_id).state == "POWEROFF"
    cli(capsys, onevm, "resume", "alpine_test")
    assert VM.objects.get(pk=vm_id).state == "RUNNING"

    # An image whose checksum does not match is an error, never a running VM.
    bad = Image.objects.create(
        owner=vm.owner,
        name="tampered",
        datastore=vm.image.datastore,
        url=vm.image.url,
        sha256="0" * 64,
    )
    VMTemplate.objects.create(owner=vm.owner, name="tampered", image=bad)
    out = cli(
        capsys,
        onetemplate,
        "instantiate",
        "tampered",
        "--name",
        "bad",
        "--nic",
        "digitalocean-cluster-public",
    )
    bad_vm = VM.objects.get(pk=int(out.split("VM ID: ")[1]))
    assert bad_vm.state == "FAILURE" and "checksum mismatch" in bad_vm.failure_reason
    cli(capsys, onevm, "terminate", "bad")

    # Terminate: container gone, rules gone, ports released.
    cli(capsys, onevm, "terminate", "alpine_test")
    vm.refresh_from_db()
    assert vm.state == "DONE"
    assert not PortBlock.objects.filter(nic__vm=vm).exists()
    with pytest.raises(requests.RequestException):
        requests.get(f"http://{host_ip}:9080/", timeout=2)

    cli(capsys, oneprovision, "delete", "digitalocean-cluster", "--wait")
    assert not [ns for ns in net.namespaces() if ns.startswith("edgelab-")]
