"""The simulator behaves as DigitalOcean does where the schema alone does not say how
(lab/docsim/contract/README.md): addresses only once active, an action per created droplet,
VPC members that linger, 403 for a VPC with members, keys deleted by fingerprint, firewall
ports as the API spells them, and events that happen whether or not anyone polls."""

import time
from urllib.parse import quote

import pytest
import requests

from hostexec.keys import generate_ed25519, md5_fingerprint
from lab.docsim import start_in_thread
from tests.contract.session import checked

TOKEN = "lab-token"
H = {"Authorization": f"Bearer {TOKEN}"}
BOOT, LINGER = 0.3, 1.0


@pytest.fixture
def sim():
    server = start_in_thread(port=0, boot_delay=BOOT, vpc_member_linger=LINGER, action_delay=0.2)
    try:
        with checked(server, requests=False):
            yield server
    finally:
        server.stop()


def api(sim, method, path, **kwargs):
    return requests.request(method, sim.url + path, headers=H, timeout=10, **kwargs)


def create(sim, names, **extra):
    body = {
        "names": names,
        "region": "ams3",
        "size": "s-1vcpu-1gb",
        "image": "debian-12-x64",
        "tags": ["realism"],
        **extra,
    }
    answer = api(sim, "POST", "/v2/droplets", json=body)
    assert answer.status_code == 202, answer.text
    return answer.json()


def test_a_new_droplet_has_no_addresses_until_it_is_active(sim):
    created = create(sim, ["a"])["droplets"][0]
    assert created["status"] == "new" and created["networks"] == {"v4": [], "v6": []}
    listed = api(sim, "GET", "/v2/droplets", params={"tag_name": "realism"}).json()
    assert listed["droplets"][0]["networks"]["v4"] == []
    time.sleep(BOOT + 0.1)
    droplet = api(sim, "GET", f"/v2/droplets/{created['id']}").json()["droplet"]
    assert droplet["status"] == "active"
    assert {n["type"] for n in droplet["networks"]["v4"]} == {"public", "private"}


def test_a_multi_create_links_one_create_action_per_droplet(sim):
    sim.set_faults(boot_delay=30)  # still booting while the actions are read
    answer = create(sim, ["m1", "m2", "m3"])
    actions = answer["links"]["actions"]
    assert len(actions) == 3 and {a["rel"] for a in actions} == {"create"}
    ids = [a["id"] for a in actions]
    assert len(set(ids)) == 3
    by_droplet = {
        api(sim, "GET", f"/v2/actions/{i}").json()["action"]["resource_id"]: i for i in ids
    }
    assert sorted(by_droplet) == sorted(d["id"] for d in answer["droplets"])
    statuses = {api(sim, "GET", f"/v2/actions/{i}").json()["action"]["status"] for i in ids}
    assert statuses == {"in-progress"}  # a create completes when its droplet is up


def test_events_happen_on_their_own_clock_whoever_asks(sim):
    """Nobody polls the droplet, yet its create action completes when it boots, and a
    reboot's action completes after the action delay seen from any endpoint."""
    answer = create(sim, ["clock"])
    action_id = answer["links"]["actions"][0]["id"]
    time.sleep(BOOT + 0.1)
    action = api(sim, "GET", f"/v2/actions/{action_id}").json()["action"]
    assert action["status"] == "completed" and action["completed_at"]
    droplet_id = answer["droplets"][0]["id"]
    reboot = api(sim, "POST", f"/v2/droplets/{droplet_id}/actions", json={"type": "reboot"})
    assert reboot.json()["action"]["status"] == "in-progress"
    time.sleep(0.3)
    listed = api(sim, "GET", "/v2/actions").json()["actions"]
    assert {a["status"] for a in listed} == {"completed"}


def test_a_vpc_with_members_is_refused_with_403_until_they_are_released(sim):
    vpc_a = api(sim, "POST", "/v2/vpcs", json={"name": "first", "region": "ams3"}).json()["vpc"]
    vpc = api(sim, "POST", "/v2/vpcs", json={"name": "own", "region": "ams3"}).json()["vpc"]
    assert vpc_a["default"] and not vpc["default"]
    droplet = create(sim, ["member"], vpc_uuid=vpc["id"])["droplets"][0]
    refused = api(sim, "DELETE", f"/v2/vpcs/{vpc['id']}")
    assert refused.status_code == 403 and refused.json()["id"] == "forbidden"
    assert api(sim, "DELETE", f"/v2/droplets/{droplet['id']}").status_code == 204
    # The droplet is gone; DigitalOcean still counts it a member for a while.
    members = api(sim, "GET", f"/v2/vpcs/{vpc['id']}/members").json()["members"]
    assert [m["name"] for m in members] == ["member"]
    assert api(sim, "DELETE", f"/v2/vpcs/{vpc['id']}").status_code == 403
    time.sleep(LINGER + 0.1)
    assert api(sim, "GET", f"/v2/vpcs/{vpc['id']}/members").json()["members"] == []
    assert api(sim, "DELETE", f"/v2/vpcs/{vpc['id']}").status_code == 204


def test_an_ssh_key_is_found_and_deleted_by_its_percent_encoded_fingerprint(sim):
    public_key = generate_ed25519("k").public_openssh
    api(sim, "POST", "/v2/account/keys", json={"name": "k", "public_key": public_key})
    encoded = quote(md5_fingerprint(public_key), safe="")
    assert "%3A" in encoded
    assert api(sim, "GET", f"/v2/account/keys/{encoded}").json()["ssh_key"]["name"] == "k"
    assert api(sim, "DELETE", f"/v2/account/keys/{encoded}").status_code == 204
    assert api(sim, "GET", "/v2/account/keys").json()["ssh_keys"] == []


def test_firewall_ports_are_spelled_as_the_api_does(sim):
    everywhere = {"addresses": ["0.0.0.0/0"]}
    body = {
        "name": "fw",
        "inbound_rules": [
            {"protocol": "icmp", "sources": everywhere},  # no ports: DigitalOcean says "0"
            {"protocol": "tcp", "ports": "22", "sources": everywhere},
            {"protocol": "udp", "ports": "9001-9100", "sources": everywhere},
        ],
        "outbound_rules": [{"protocol": "tcp", "ports": "0", "destinations": everywhere}],
    }
    firewall = api(sim, "POST", "/v2/firewalls", json=body).json()["firewall"]
    assert [r["ports"] for r in firewall["inbound_rules"]] == ["0", "22", "9001-9100"]
    for ports in ("all", "1-99999", "100-10", ""):
        bad = {**body, "name": "bad", "outbound_rules": [{**body["outbound_rules"][0]}]}
        bad["outbound_rules"][0]["ports"] = ports
        answer = api(sim, "POST", "/v2/firewalls", json=bad)
        assert answer.status_code == 400, ports
        assert "ports" in answer.json()["message"]
    no_peers = {"name": "bad", "inbound_rules": [{"protocol": "tcp", "ports": "22"}]}
    assert api(sim, "POST", "/v2/firewalls", json=no_peers).status_code == 400


def test_a_tag_with_nothing_tagged_has_no_null_uri(sim):
    tag = api(sim, "POST", "/v2/tags", json={"name": "empty"}).json()["tag"]
    assert tag["resources"]["count"] == 0
    assert "last_tagged_uri" not in tag["resources"]
    assert "last_tagged_uri" not in tag["resources"]["droplets"]
    create(sim, ["tagged"], tags=["empty"])
    tag = api(sim, "GET", "/v2/tags/empty").json()["tag"]
    assert tag["resources"]["droplets"]["last_tagged_uri"].startswith("/v2/droplets/")
