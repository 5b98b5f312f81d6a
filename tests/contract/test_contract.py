"""The portal's DigitalOcean driver and the simulator, checked against DigitalOcean's own
OpenAPI contract (lab/docsim/contract): every request the driver makes in a deploy, a
repair, a host removal and a delete, and every answer of the simulator, errors included.

Every test that runs against the simulator is checked the same way at its end (the `sim`
fixtures, tests/contract/session.py); this one drives all of the driver on purpose and
reports the figures."""

import hashlib
import json
from pathlib import Path

import pytest

from hostexec.keys import generate_ed25519, md5_fingerprint
from lab.docsim.contract import Contract, Recorder, check_exchanges, contract
from lab.docsim.server import Exchange
from monitoring import drift
from providers.drivers import AuthenticationError, DigitalOceanDriver, TransientError
from provisions import firewall_rules, services
from provisions.choices import HostState, ProvisionState, ResourceKind
from provisions.models import CloudResource
from tests.contract import session
from tests.helpers import nothing_left, run_queued
from tests.provisions.conftest import SIM_TOKEN

SPEC = Path(__file__).resolve().parents[2] / "lab/docsim/contract/do-openapi-subset.json"
BILLING = SPEC.with_name("do-openapi-billing.json")
BILLING_SHA256 = "3cc4b9153e1822e35b548b78756687a3f7efe0b60955526374285d080d768358"
SPEC_SHA256 = "ec62a557d80607bfe43eed9beea478b0ce89b17eb9d8a9385022e8b733a67d9c"

# What the portal uses of DigitalOcean: each must be exercised, and so checked, here.
USED = {
    "account_get",
    "regions_list",
    "sizes_list",
    "images_list",
    "sshKeys_list",
    "sshKeys_get",
    "sshKeys_create",
    "sshKeys_delete",
    "tags_create",
    "tags_assign_resources",
    "tags_delete",
    "vpcs_list",
    "vpcs_get",
    "vpcs_create",
    "vpcs_delete",
    "droplets_create",
    "droplets_list",
    "droplets_get",
    "droplets_destroy",
    "droplets_destroy_byTag",
    "dropletActions_post",
    "actions_get",
    "firewalls_list",
    "firewalls_create",
    "firewalls_update",
    "firewalls_delete",
}


def test_the_vendored_contract_is_the_recorded_subset_with_its_licence():
    assert hashlib.sha256(SPEC.read_bytes()).hexdigest() == SPEC_SHA256
    assert "Apache License" in (SPEC.parent / "LICENSE").read_text()
    provenance = (SPEC.parent / "README.md").read_text()
    assert SPEC_SHA256 in provenance and "7c1300c" in provenance
    assert len(Contract(SPEC).operations) == 58
    assert hashlib.sha256(BILLING.read_bytes()).hexdigest() == BILLING_SHA256
    assert BILLING_SHA256 in provenance
    assert [op.operation_id for op in Contract(BILLING).operations] == ["balance_get"]


@pytest.mark.django_db(transaction=True)
def test_every_driver_request_and_simulator_answer_agrees_with_the_contract(
    sim, sim_provider, owner, hosts_configure_without_ssh
):
    recorder = Recorder()
    sim.observe(recorder)
    do = DigitalOceanDriver(SIM_TOKEN)

    # A deploy, as the job does it.
    provision = services.create_provision(owner, provider=sim_provider, name="ct", host_count=3)
    run_queued(provision)
    assert provision.state == ProvisionState.RUNNING, provision.error
    host = provision.hosts.order_by("id").first()

    # Drift and its repairs: a droplet powered off, then the firewall deleted, behind the
    # portal's back.
    do.droplet_action(host.droplet_id, "power_off", wait=True)
    drift.check_all(drift.TokenBudget())
    services.repair_provision(owner, run_queued(provision))
    run_queued(provision)
    assert do.get_droplet(host.droplet_id)["status"] == "active"
    firewall = next(f for f in do.firewalls() if f["name"] == provision.tag)
    do.delete_firewall(firewall["id"])
    drift.check_all(drift.TokenBudget())
    services.repair_provision(owner, run_queued(provision))
    run_queued(provision)
    firewall = next(f for f in do.firewalls() if f["name"] == provision.tag)
    # What security groups will do: PUT the provision's rules back (the whole firewall).
    do.update_firewall(
        firewall["id"],
        name=provision.tag,
        tags=[provision.tag],
        **firewall_rules.rules_for(provision).as_api(),
    )

    # The rest of the driver.
    assert do.account()["status"] == "active"
    assert do.regions() and do.sizes() and do.images()
    vpc = CloudResource.objects.get(provision=provision, kind=ResourceKind.VPC, name=provision.tag)
    assert do.get_vpc(vpc.cloud_id)["name"] == provision.tag
    do.tag_droplets("contract-extra", [host.droplet_id])
    do.delete_tag("contract-extra")
    public_key = generate_ed25519("spare").public_openssh
    spare = do.create_ssh_key("spare", public_key)
    assert do.ssh_key(spare["fingerprint"])["id"] == spare["id"]
    assert [k["name"] for k in do.ssh_keys()] == [provision.tag, "spare"]
    do.delete_ssh_key(md5_fingerprint(public_key))  # by fingerprint: colons percent-encoded
    with pytest.raises(AuthenticationError):
        DigitalOceanDriver("not-the-token").account()
    sim.spend(SIM_TOKEN, 250)
    with pytest.raises(TransientError, match="429"):
        DigitalOceanDriver(SIM_TOKEN, retries=0).regions()
    sim.server.limiter.reset()

    # A host removed, then the whole provision deleted.
    services.remove_host(owner, provision, provision.hosts.order_by("id").last())
    run_queued(provision)
    assert provision.hosts.filter(state=HostState.REMOVED).count() == 1, provision.error
    services.delete_provision(owner, provision)
    run_queued(provision)
    assert provision.state == ProvisionState.DONE, provision.error
    assert nothing_left(sim, provision.tag)

    tally = check_exchanges(contract(), recorder.exchanges)
    figures = f"driver scenario: {tally.figures()}"
    session.REPORTS.append(figures)
    print("\n" + figures)
    for operation, count in sorted(tally.covered.items()):
        print(f"  {operation}: {count}")
    assert tally.failures == []
    assert USED - set(tally.covered) == set()
    assert {401, 403, 404, 429} <= set(tally.statuses)


# -- the check itself finds what the README says was wrong ---------------------------------
RATE = {"ratelimit-limit": "5000", "ratelimit-remaining": "4999", "ratelimit-reset": "1"}
ERROR = {"id": "not_found", "message": "gone", "request_id": "r-1"}
TCP_22 = {"protocol": "tcp", "ports": "22", "sources": {"addresses": ["0.0.0.0/0"]}}
ICMP = {"protocol": "icmp", "ports": "0", "sources": {"addresses": ["0.0.0.0/0"]}}


def firewall_create(*rules, **extra) -> Exchange:
    body = {"name": "fw", "tags": ["t"], "inbound_rules": list(rules), **extra}
    return Exchange("POST", "/v2/firewalls", json.dumps(body).encode(), 400, RATE, ERROR)


def tag_answer(uri) -> Exchange:
    droplets = {"count": 0, "last_tagged_uri": uri}
    body = {"tag": {"name": "t", "resources": {**droplets, "droplets": droplets}}}
    return Exchange("GET", "/v2/tags/t", b"", 200, RATE, body)


DIVERGENCES = {
    "icmp rule without ports": (
        firewall_create(TCP_22, {k: v for k, v in ICMP.items() if k != "ports"}),
        "'ports' is a required property",
    ),
    "'all' for all ports": (firewall_create({**TCP_22, "ports": "all"}), "'all'"),
    "read-only id sent": (firewall_create(TCP_22, id="x"), "{'required': ['id']}"),
    "null last_tagged_uri": (tag_answer(None), "None is not of type 'string'"),
    "401 without rate-limit headers": (
        Exchange("GET", "/v2/account", b"", 401, {}, {**ERROR, "id": "unauthorized"}),
        "lacks an integer ratelimit-remaining header",
    ),
    "429 without retry-after": (
        Exchange("GET", "/v2/regions", b"", 429, RATE, {**ERROR, "id": "too_many_requests"}),
        "429 without an integer retry-after",
    ),
    "error without request_id": (
        Exchange("GET", "/v2/droplets/7", b"", 404, RATE, {"id": "not_found", "message": "m"}),
        '"request_id"',
    ),
    "success status not declared": (
        Exchange("DELETE", "/v2/droplets/7", b"", 200, RATE, None),
        "status 200 is not declared for droplets_destroy",
    ),
    "per_page on a single object": (
        Exchange("GET", "/v2/account?per_page=200", b"", 401, RATE, ERROR),
        "'per_page' is not declared",
    ),
    "path not in the contract": (
        Exchange("GET", "/v2/droplets/7/neighbors", b"", 404, RATE, ERROR),
        "not an operation of the contract",
    ),
    "integer path parameter": (
        Exchange("GET", "/v2/droplets/abc", b"", 404, RATE, ERROR),
        "'abc' is not of type 'integer'",
    ),
}


@pytest.mark.parametrize("case", DIVERGENCES)
def test_the_check_finds(case):
    exchange, problem = DIVERGENCES[case]
    failures = check_exchanges(contract(), [exchange]).failures
    assert any(problem in text for _, text in failures), failures


def test_the_check_passes_the_same_exchanges_once_right():
    fixed = [
        firewall_create(TCP_22, ICMP),
        tag_answer("/v2/droplets/7"),
        Exchange("GET", "/v2/account", b"", 401, RATE, {**ERROR, "id": "unauthorized"}),
        Exchange("DELETE", "/v2/droplets/7", b"", 204, RATE, None),
        Exchange("GET", "/v2/regions", b"", 429, {**RATE, "retry-after": "3"}, ERROR),
        Exchange("GET", "/v2/account/keys/ab%3Acd", b"", 404, RATE, ERROR),
    ]
    assert check_exchanges(contract(), fixed).failures == []
