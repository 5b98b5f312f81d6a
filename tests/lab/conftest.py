"""Lab tests need root (network namespaces, LXC, iptables). Elsewhere they skip with a loud
reason; with EDGE_LAB_REQUIRED=1 (CI) a missing requirement is a failure, not a skip."""

import os
import shutil

import pytest

NEEDED_COMMANDS = ("ip", "sshd", "ssh-keygen", "lxc-start", "iptables")


def lab_problem() -> str | None:
    if os.geteuid() != 0:
        return "the edge-host lab needs root (network namespaces, LXC, iptables)"
    missing = [
        c
        for c in NEEDED_COMMANDS
        if shutil.which(c) is None and not os.path.exists(f"/usr/sbin/{c}")
    ]
    if missing:
        return f"the edge-host lab needs {', '.join(missing)} (run `make lab-deps`)"
    return None


def require_lab() -> None:
    problem = lab_problem()
    if problem is None:
        return
    if os.environ.get("EDGE_LAB_REQUIRED") == "1":
        pytest.fail(f"EDGE_LAB_REQUIRED=1 but {problem}")
    pytest.skip(f"LAB TEST SKIPPED: {problem}")


@pytest.fixture
def lab_hosts(tmp_path_factory):
    require_lab()
    from lab.hosts import LabHosts

    hosts = LabHosts(tmp_path_factory.mktemp("edge-lab"))
    yield hosts
    hosts.destroy_all()
