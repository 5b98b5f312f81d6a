"""The simulator speaks DigitalOcean's API well enough for two clients no one here wrote:
python-digitalocean (the library the driver wraps) and DigitalOcean's own pydo."""

import subprocess
import sys
import time

import digitalocean
import pytest
import requests
from pydo import Client

from hostexec.keys import generate_ed25519, md5_fingerprint
from lab.docsim import start_in_thread
from tests.contract.session import checked

TOKEN = "lab-token"
LINGER = 1.0  # seconds a deleted droplet stays its VPC's member


@pytest.fixture
def sim():
    # Requests here are the tests' own, some malformed on purpose: only answers are checked.
    server = start_in_thread(port=0, boot_delay=0.3, vpc_member_linger=LINGER)
    try:
        with checked(server, requests=False):
            yield server
    finally:
        server.stop()


@pytest.fixture
def tls_sim():
    server = start_in_thread(port=0, boot_delay=0.3, tls=True, vpc_member_linger=LINGER)
    try:
        with checked(server, requests=False):
            yield server
    finally:
        server.stop()


def test_python_digitalocean_full_cycle(sim):
    end_point = sim.url + "/v2/"
    manager = digitalocean.Manager(token=TOKEN, end_point=end_point)
    public_key = generate_ed25519("test").public_openssh
    key = digitalocean.SSHKey(token=TOKEN, end_point=end_point, name="k", public_key=public_key)
    key.create()
    key.load()
    assert key.fingerprint == md5_fingerprint(public_key)
    vpc = digitalocean.VPC(token=TOKEN, end_point=end_point, name="net", region="ams3")
    vpc.create()
    assert vpc.ip_range.endswith("/20")
    for index in range(3):
        droplet = digitalocean.Droplet(
            token=TOKEN,
            end_point=end_point,
            name=f"h{index}",
            region="ams3",
            size_slug="s-1vcpu-1gb",
            image="ubuntu-22-04-x64",
            ssh_keys=[key.id],
            tags=["cluster-a"],
            vpc_uuid=vpc.id,
        )
        droplet.create()
    droplets = manager.get_all_droplets(tag_name="cluster-a")
    assert sorted(d.name for d in droplets) == ["h0", "h1", "h2"]
    assert {d.status for d in droplets} == {"new"}
    time.sleep(0.4)
    droplets = manager.get_all_droplets(tag_name="cluster-a")
    assert {d.status for d in droplets} == {"active"}
    for droplet in droplets:
        kinds = {n["type"]: n["ip_address"] for n in droplet.networks["v4"]}
        assert kinds["public"].startswith("127.18.")  # no lab: loopback, never routed out
        assert kinds["private"].startswith(vpc.ip_range.rsplit(".", 2)[0])
        assert droplet.vpc_uuid == vpc.id
    firewall = digitalocean.Firewall(
        token=TOKEN,
        end_point=end_point,
        name="fw",
        tags=["cluster-a"],
        inbound_rules=[
            digitalocean.InboundRule(
                protocol="tcp", ports="22", sources=digitalocean.Sources(addresses=["0.0.0.0/0"])
            )
        ],
        outbound_rules=[],
    )
    firewall.create()
    assert [f.name for f in manager.get_all_firewalls()] == ["fw"]
    assert [k.name for k in manager.get_all_sshkeys()] == ["k"]
    manager.get_data("droplets?tag_name=cluster-a", type=digitalocean.baseapi.DELETE)
    assert manager.get_all_droplets(tag_name="cluster-a") == []
    state = sim.state()
    assert state["droplets"] == []


def test_pydo_droplets_vpcs_firewalls_keys(tls_sim):
    client = Client(token=TOKEN, endpoint=tls_sim.url, connection_verify=tls_sim.ca_file)
    assert client.account.get()["account"]["status"] == "active"
    key = client.ssh_keys.create(
        body={"name": "k", "public_key": generate_ed25519("x").public_openssh}
    )["ssh_key"]
    first = client.vpcs.create(body={"name": "first", "region": "sgp1"})["vpc"]
    second = client.vpcs.create(body={"name": "second", "region": "sgp1"})["vpc"]
    assert first["default"] is True and second["default"] is False
    from azure.core.exceptions import HttpResponseError

    with pytest.raises(HttpResponseError) as refused:
        client.vpcs.delete(first["id"])
    assert refused.value.status_code == 403
    created = client.droplets.create(
        body={
            "names": ["p1", "p2"],
            "region": "sgp1",
            "size": "s-1vcpu-1gb",
            "image": "ubuntu-22-04-x64",
            "ssh_keys": [key["fingerprint"]],
            "tags": ["py"],
            "vpc_uuid": second["id"],
        }
    )
    assert len(created["droplets"]) == 2
    listed = client.droplets.list(tag_name="py")
    assert listed["meta"]["total"] == 2
    one = client.droplets.get(created["droplets"][0]["id"])["droplet"]
    assert one["name"] == "p1" and one["vpc_uuid"] == second["id"]
    firewall = client.firewalls.create(
        body={
            "name": "fw",
            "tags": ["py"],
            "inbound_rules": [{"protocol": "icmp", "sources": {"addresses": ["0.0.0.0/0"]}}],
            "outbound_rules": [],
        }
    )["firewall"]
    assert client.firewalls.get(firewall["id"])["firewall"]["tags"] == ["py"]
    with pytest.raises(HttpResponseError) as members:
        client.vpcs.delete(second["id"])
    assert members.value.status_code == 403  # DigitalOcean's answer for a VPC with members
    client.droplets.destroy_by_tag(tag_name="py")
    client.firewalls.delete(firewall["id"])
    with pytest.raises(HttpResponseError) as lingering:
        client.vpcs.delete(second["id"])  # the droplets are gone, their memberships not yet
    assert lingering.value.status_code == 403
    time.sleep(LINGER + 0.1)
    client.vpcs.delete(second["id"])
    client.ssh_keys.delete(key["id"])
    state = tls_sim.state_snapshot()
    assert state["droplets"] == [] and state["firewalls"] == [] and state["ssh_keys"] == []
    assert [v["name"] for v in state["vpcs"]] == ["first"]


def test_pagination_links_and_total(sim):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {TOKEN}"
    for batch in range(5):
        names = [f"d{batch}-{i}" for i in range(9)]
        response = session.post(
            sim.url + "/v2/droplets",
            json={
                "names": names,
                "region": "nyc3",
                "size": "s-1vcpu-1gb",
                "image": "ubuntu-22-04-x64",
                "tags": ["many"],
            },
        )
        assert response.status_code == 202
    page = session.get(sim.url + "/v2/droplets", params={"per_page": 20}).json()
    assert page["meta"]["total"] == 45 and len(page["droplets"]) == 20
    assert page["links"]["pages"]["next"].endswith("/v2/droplets?per_page=20&page=2")
    assert page["links"]["pages"]["last"].endswith("/v2/droplets?per_page=20&page=3")
    last = session.get(page["links"]["pages"]["last"]).json()
    assert len(last["droplets"]) == 5 and "next" not in last["links"]["pages"]


def test_error_shapes(sim):
    bad = requests.get(sim.url + "/v2/account", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    assert bad.json()["id"] == "unauthorized" and bad.json()["message"]
    headers = {"Authorization": f"Bearer {TOKEN}"}
    missing = requests.get(sim.url + "/v2/droplets/1", headers=headers)
    assert missing.status_code == 404 and missing.json()["id"] == "not_found"
    invalid = requests.post(
        sim.url + "/v2/droplets",
        headers=headers,
        json={"name": "x", "region": "mars1", "size": "s-1vcpu-1gb", "image": "ubuntu-22-04-x64"},
    )
    assert invalid.status_code == 422
    assert invalid.json()["id"] == "unprocessable_entity"
    assert "mars1" in invalid.json()["message"]


def test_rate_limit_budget_and_headers(sim):
    sim.set_faults(rate_limit_hour=3)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    answers = [requests.get(sim.url + "/v2/regions", headers=headers) for _ in range(3)]
    assert [a.headers["ratelimit-remaining"] for a in answers] == ["2", "1", "0"]
    assert {a.headers["ratelimit-limit"] for a in answers} == {"3"}
    # The reset is when the oldest counted request expires: an hour after the first.
    first = int(answers[0].headers["ratelimit-reset"])
    assert 3599 <= first - time.time() <= 3601
    spent = requests.get(sim.url + "/v2/regions", headers=headers)
    assert spent.status_code == 429 and int(spent.headers["Retry-After"]) >= 3599
    assert spent.headers["ratelimit-remaining"] == "0"
    # Control endpoints are outside the API: not counted, not limited.
    assert requests.get(sim.url + "/_sim/state").status_code == 200


def test_faults_from_the_control_endpoint(sim):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    requests.post(sim.url + "/_sim/faults", json={"fault_5xx_every": 2, "latency_ms": 100})
    first = requests.get(sim.url + "/v2/regions", headers=headers)
    started = time.monotonic()
    second = requests.get(sim.url + "/v2/regions", headers=headers)
    assert first.status_code == 200 and second.status_code == 500
    assert time.monotonic() - started >= 0.09
    assert requests.post(sim.url + "/_sim/faults", json={"nope": 1}).status_code == 400


def test_never_active_and_errored_actions(sim):
    sim.set_faults(never_active="stuck", errored_actions=True, boot_delay=0)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    body = {
        "names": ["stuck-1", "fine-1"],
        "region": "nyc3",
        "size": "s-1vcpu-1gb",
        "image": "ubuntu-22-04-x64",
    }
    created = requests.post(sim.url + "/v2/droplets", headers=headers, json=body).json()
    statuses = {
        d["name"]: d["status"]
        for d in requests.get(sim.url + "/v2/droplets", headers=headers).json()["droplets"]
    }
    assert statuses == {"stuck-1": "new", "fine-1": "active"}
    droplet_id = created["droplets"][1]["id"]
    action = requests.post(
        f"{sim.url}/v2/droplets/{droplet_id}/actions", headers=headers, json={"type": "reboot"}
    ).json()["action"]
    time.sleep(0.6)
    action = requests.get(f"{sim.url}/v2/actions/{action['id']}", headers=headers).json()
    assert action["action"]["status"] == "errored"


class FakeHosts:
    def __init__(self, fail=False):
        self.created, self.destroyed, self.fail = [], [], fail

    def create(self, **kwargs):
        time.sleep(0.3)
        if self.fail:
            raise RuntimeError("no namespace for you")
        self.created.append(kwargs)

    def destroy(self, droplet_id):
        self.destroyed.append(droplet_id)

    def destroy_all(self):
        self.destroyed.append("all")


def test_lab_hook_creates_and_destroys_hosts():
    hosts = FakeHosts()
    with start_in_thread(port=0, boot_delay=0, lab_hosts=hosts) as sim:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        public_key = generate_ed25519("k").public_openssh
        key = requests.post(
            sim.url + "/v2/account/keys",
            headers=headers,
            json={"name": "k", "public_key": public_key},
        ).json()["ssh_key"]
        droplet = requests.post(
            sim.url + "/v2/droplets",
            headers=headers,
            json={
                "name": "h",
                "region": "lon1",
                "size": "s-1vcpu-1gb",
                "image": "debian-12-x64",
                "ssh_keys": [key["id"]],
                "user_data": "#cloud-config\n",
            },
        ).json()["droplet"]
        get = requests.get(f"{sim.url}/v2/droplets/{droplet['id']}", headers=headers).json()
        assert get["droplet"]["status"] == "new"  # the lab host is still booting
        time.sleep(0.5)
        get = requests.get(f"{sim.url}/v2/droplets/{droplet['id']}", headers=headers).json()
        assert get["droplet"]["status"] == "active"
        (args,) = hosts.created
        v4 = {n["type"]: n["ip_address"] for n in get["droplet"]["networks"]["v4"]}
        assert (args["public_ip"], args["private_ip"]) == (v4["public"], v4["private"])
        assert args["authorized_keys"] == [public_key]
        assert args["user_data"] == "#cloud-config\n"
        requests.delete(f"{sim.url}/v2/droplets/{droplet['id']}", headers=headers)
        assert hosts.destroyed == [droplet["id"]]


def test_lab_hook_failure_is_recorded():
    with start_in_thread(port=0, boot_delay=0, lab_hosts=FakeHosts(fail=True)) as sim:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        requests.post(
            sim.url + "/v2/droplets",
            headers=headers,
            json={"name": "h", "region": "lon1", "size": "s-1vcpu-1gb", "image": "debian-12-x64"},
        )
        time.sleep(0.5)
        (droplet,) = sim.state_snapshot()["droplets"]
        assert droplet["status"] == "new"
        assert droplet["lab_error"] == "no namespace for you"


def test_command_line_server_starts_and_stops():
    process = subprocess.Popen(
        [sys.executable, "-m", "lab.docsim", "--port", "0", "--boot-delay", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert line.startswith("docsim listening on http://127.0.0.1:")
        url = line.split()[-1]
        assert (
            requests.get(
                url + "/v2/account", headers={"Authorization": f"Bearer {TOKEN}"}
            ).status_code
            == 200
        )
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0, stderr
