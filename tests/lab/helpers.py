"""What lab tests do on lab hosts and with worker processes: run a command on a host or in a
VM, wait for a condition, end a process group, check the droplets a provision made."""

import os
import signal
import time

import pytest
from django.db import connection

from hostexec.ssh import HostSession
from provisions.choices import ResourceKind
from provisions.models import CloudResource
from vms import lxc


def on_host(provision, host, command: str, timeout: float = 60.0) -> str:
    with HostSession(
        host.public_ip, private_key=provision.private_key(), host_key=provision.host_key_public
    ) as session:
        session.connect()
        result = session.run(command, check=False, timeout=timeout)
    return result.stdout + result.stderr


def in_vm(vm, script: str, timeout: float = 60.0):
    return lxc.execute(vm, ["sh", "-c", script], timeout=timeout)


def wait_for(predicate, what: str, seconds: float = 30.0, every: float = 0.3):
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {seconds:.0f} s waiting for {what}")
        time.sleep(every)


def host_output(host, command: str) -> str:
    provision = host.provision
    with HostSession(
        host.public_ip, private_key=provision.private_key(), host_key=provision.host_key_public
    ) as session:
        session.connect(wait=5)
        return session.run(command).stdout


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return (
        f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}"
    )


def kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def wait_until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def assert_exactly_the_requested_droplets(sim, provision, count: int):
    droplets = [d for d in sim.state_snapshot()["droplets"] if provision.tag in d["tags"]]
    assert len(droplets) == count, [d["name"] for d in droplets]
    assert len({d["name"] for d in droplets}) == count
    rows = CloudResource.objects.filter(provision=provision, kind=ResourceKind.DROPLET)
    assert sorted(int(r.cloud_id) for r in rows) == sorted(d["id"] for d in droplets)


def cloud_config(host_key) -> str:
    private = host_key.private_openssh.strip().replace("\n", "\n    ")
    return (
        "#cloud-config\nssh_keys:\n  ed25519_private: |\n    "
        + private
        + f"\n  ed25519_public: {host_key.public_openssh}\n"
    )
