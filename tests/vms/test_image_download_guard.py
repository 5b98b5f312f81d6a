"""The image a host downloads: checked again when the deploy is built and pinned to the checked
address, so a droplet is never told to fetch its metadata service or a rebound name; and the
host script's curl itself (run here for real against local servers) follows no redirect and
speaks only http(s)."""

import hashlib
import os
import shutil
import subprocess

import pytest

from tests.local_http import fake_dns, serve
from vms import jobs, lxc
from vms.models import VM, Image
from vms.services import instantiate

pytestmark = pytest.mark.django_db

PUBLIC = "93.184.216.34"


@pytest.fixture
def host_scripts(monkeypatch):
    """Every script the portal would run on a host, instead of SSH."""
    ran = []
    monkeypatch.setattr(lxc, "_run", lambda host, script, env, log=None: ran.append(env) or "")
    return ran


def deploy(template, owner, url):
    Image.objects.filter(pk=template.image_id).update(url=url)
    vm = instantiate(owner, "Alpine", name="web", nics=["dc-public"])
    jobs.run_vm_job(vm.pk, "deploy")
    return VM.objects.get(pk=vm.pk)


def test_the_host_is_given_the_checked_address_to_download_from(
    template, owner, host_scripts, monkeypatch
):
    fake_dns(monkeypatch, {"images.test": [PUBLIC]})
    vm = deploy(template, owner, "https://images.test/alpine/rootfs.tar.gz")
    assert vm.state == "RUNNING", vm.failure_reason
    (env,) = host_scripts
    assert env["IMAGE_URL"] == "https://images.test:443/alpine/rootfs.tar.gz"
    assert env["IMAGE_RESOLVE"] == f"images.test:443:{PUBLIC}"


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/metadata/v1/user-data",
        "http://[fd00:ec2::254]/latest/user-data",
        "http://127.0.0.1:22/",
        "http://10.10.0.2/a.tar",
        "file:///etc/shadow",
    ],
)
def test_a_stored_internal_image_url_fails_the_deploy_before_the_host_is_asked(
    template, owner, host_scripts, url
):
    vm = deploy(template, owner, url)
    assert vm.state == "FAILURE" and host_scripts == []
    assert "image Alpine: URL refused: " in vm.failure_reason


def test_a_name_rebound_to_the_metadata_service_after_export_fails_the_deploy(
    owner, cluster, app, host_scripts, monkeypatch
):
    """Public when the app was exported, the metadata service when the VM deploys."""
    from marketplace import services as market

    fake_dns(monkeypatch, {"images.test": [[PUBLIC], ["169.254.169.254"]]})
    app.image_url = "http://images.test/a.tar"
    app.save()
    image, _ = market.export_app(owner, app.pk, "Alpine", "dc-image")
    vm = instantiate(owner, "Alpine", name="web", nics=["dc-public"])
    jobs.run_vm_job(vm.pk, "deploy")
    vm.refresh_from_db()
    assert vm.state == "FAILURE" and host_scripts == []
    assert vm.failure_reason.endswith("images.test: address not allowed")
    assert image.url == "http://images.test/a.tar"  # the pin is per deploy, not stored


needs_curl = pytest.mark.skipif(
    not (shutil.which("curl") and shutil.which("bash")), reason="needs bash and curl"
)


def run_image_step(tmp_path, url, resolve, body=b"image bytes"):
    """vm-deploy.sh as a host runs it, with a base directory of its own; the step after the
    download (unpacking) fails on these bytes, which is as far as these tests need it to go."""
    env = {
        "PATH": os.environ["PATH"],
        "ONE_EDGE_BASE": str(tmp_path),
        "VM": "one-1",
        "IMAGE_URL": url,
        "IMAGE_RESOLVE": resolve,
        "IMAGE_SHA256": hashlib.sha256(body).hexdigest(),
        # A proxy in the environment must not be used: it would resolve the name itself.
        "http_proxy": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
    }
    script = tmp_path / "vm-deploy.sh"
    script.write_text(lxc.script_text("vm-deploy.sh"))  # as shipped: its includes in place
    result = subprocess.run(
        ["bash", str(script)], env=env, capture_output=True, text=True, timeout=60
    )
    cached = (tmp_path / "images" / f"{env['IMAGE_SHA256']}.tar").exists()
    return result, cached


@needs_curl
def test_host_curl_connects_to_the_pinned_address(tmp_path):
    body = b"image bytes"
    with serve({"/a.tar": (200, {}, body)}) as mirror:
        url = f"http://images.test:{mirror.port}/a.tar"  # a name no resolver knows
        result, cached = run_image_step(tmp_path, url, f"images.test:{mirror.port}:127.0.0.1")
    assert "IMAGE downloaded and verified" in result.stdout, result.stderr
    assert cached and mirror.seen == ["/a.tar"]
    assert mirror.host_headers == [f"images.test:{mirror.port}"]


@needs_curl
def test_host_curl_follows_no_redirect(tmp_path):
    with serve() as internal:
        routes = {"/a.tar": (302, {"Location": internal.url("/latest/user-data")}, b"")}
        with serve(routes, host="127.0.0.2") as mirror:
            result, cached = run_image_step(
                tmp_path, mirror.url("/a.tar"), f"images.test:{mirror.port}:127.0.0.2"
            )
        assert internal.seen == [] and mirror.seen == ["/a.tar"]
    assert result.returncode == 47, result.stderr  # curl: maximum (0) redirects followed
    assert not cached and "IMAGE downloaded" not in result.stdout


@needs_curl
@pytest.mark.parametrize("url", ["file:///etc/hostname", "gopher://127.0.0.1:70/_x"])
def test_host_curl_speaks_only_http(tmp_path, url):
    result, cached = run_image_step(tmp_path, url, "")
    assert result.returncode != 0 and not cached
    assert "not supported" in result.stderr or "disabled" in result.stderr, result.stderr
