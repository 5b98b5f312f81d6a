"""Warm SSH connections (hostexec/ssh_pool.py) against a loopback SSH server: one connection
per host and process however many commands, a new one after a failure, a host-key change or
a fork, and none kept when the pool is off."""

import os
import threading

import pytest

from hostexec import ssh_pool
from hostexec.keys import generate_ed25519
from hostexec.ssh import CommandFailed, HostKeyMismatch
from tests.ssh_server import SSHServer


@pytest.fixture
def host():
    client_key, host_key = generate_ed25519("portal"), generate_ed25519("host")
    server = SSHServer(host_key.private_openssh, client_key.public_openssh)
    server.client_key, server.pinned = client_key, host_key.public_openssh
    yield server
    ssh_pool.close_all()
    server.close()


def run(server, command, pinned=None):
    with ssh_pool.session(
        "127.0.0.1",
        port=server.port,
        private_key=server.client_key.private_openssh,
        host_key=pinned or server.pinned,
    ) as session:
        return session.run(command).stdout


def test_twenty_commands_use_one_connection(host):
    before = ssh_pool.opened()
    assert [run(host, f"echo {n}") for n in range(20)] == [f"{n}\n" for n in range(20)]
    assert host.accepted == 1
    assert ssh_pool.opened() - before == 1


def test_threads_wanting_one_host_share_one_connection(host):
    outputs = []
    threads = [
        threading.Thread(target=lambda n=n: outputs.append(run(host, f"sleep 0.2; echo {n}")))
        for n in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outputs) == sorted(f"{n}\n" for n in range(6))
    assert host.accepted == 1


def test_a_failed_command_keeps_the_connection(host):
    with pytest.raises(CommandFailed):
        run(host, "exit 3")
    assert run(host, "echo ok") == "ok\n"
    assert host.accepted == 1


def test_a_connection_cut_behind_its_back_is_replaced_before_use(host, settings):
    settings.SSH_POOL_CHECK_SECONDS = 0  # check before every reuse
    run(host, "true")
    host.drop_connections()  # the host rebooted
    assert run(host, "echo again") == "again\n"
    assert host.accepted == 2


def test_an_idle_connection_is_closed_and_a_new_one_opened(host, settings):
    run(host, "true")
    settings.SSH_POOL_IDLE_SECONDS = 0
    run(host, "true")
    assert host.accepted == 2


def test_a_changed_pinned_key_is_refused_and_never_served_the_old_connection(host):
    run(host, "true")
    other = generate_ed25519("impostor").public_openssh
    with pytest.raises(HostKeyMismatch):
        run(host, "true", pinned=other)
    assert host.accepted == 2  # a new connection was tried, and refused on its key


def test_a_forked_process_opens_its_own(host):
    run(host, "true")
    pid = os.fork()
    if pid == 0:
        ok = False
        try:
            ok = run(host, "echo child") == "child\n"
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert host.accepted == 2
    assert run(host, "echo parent") == "parent\n"  # the parent's connection is untouched
    assert host.accepted == 2


def test_off_means_a_connection_per_use(host, settings):
    settings.SSH_POOL_ENABLED = False
    run(host, "true")
    run(host, "true")
    assert host.accepted == 2
