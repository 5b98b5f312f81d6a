"""Warm SSH connections: one authenticated connection per host in each process, reused.

A new SSH connection costs a TCP handshake, a key exchange and an authentication: several round
trips across a WAN and tens of milliseconds of CPU on a 1-vCPU droplet, for every VM deploy or
action. Here each process (a django-q2 worker, a web process) keeps the connection it opened to
a host and opens a new channel on it for each command, as `ssh -o ControlMaster` does.

What keeps it safe:
- The pool is keyed by address, port, user, the pinned host key and the private key: a host
  whose pinned key changed (re-pinned after a rebuild) gets a new connection and its old one is
  closed, so nothing is ever sent to a host on a key that is no longer trusted. It is the
  portal's own key to its own hosts; who may do what stays decided in the portal.
- A connection that failed (lost, timed out) is dropped at once; one unused for
  SSH_POOL_IDLE_SECONDS is closed; one unused for SSH_POOL_CHECK_SECONDS is checked with a
  channel open before it is reused, so a host rebooted meanwhile costs a reconnect, not a job.
- Per process: a forked worker never uses its parent's sockets.
- At most MAX_CHANNELS commands share a connection at once (sshd's MaxSessions is 10); beyond
  that a caller gets a connection of its own, closed after use.

Monitoring does not use it: its probe asks whether the host accepts SSH connections now, which
an established connection cannot tell (sshd's sessions outlive a dead listener).
"""

import hashlib
import logging
import os
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass

import paramiko
from django.conf import settings

from hostexec.ssh import CommandFailed, HostSession, SSHError

log = logging.getLogger(__name__)

MAX_CHANNELS = 8


@dataclass
class _Warm:
    session: HostSession
    last_used: float
    users: int = 0
    retired: bool = False  # out of the pool, closed when its last user is done


class _Pool:
    def __init__(self):
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.warm: dict[tuple, _Warm] = {}
        self.opening: dict[tuple, threading.Lock] = {}
        self.opened = 0  # connections opened by this process (bench/ counts them)

    def for_this_process(self) -> "_Pool":
        return self if self.pid == os.getpid() else _Pool()


_pool = _Pool()


def opened() -> int:
    """How many pooled connections this process has opened."""
    return _pool.for_this_process().opened


def close_all() -> None:
    """Close every warm connection of this process (tests; a worker shutting down)."""
    pool = _current()
    with pool.lock:
        entries = list(pool.warm.values())
        pool.warm.clear()
    for entry in entries:
        entry.session.close()


def _current() -> _Pool:
    global _pool
    pool = _pool.for_this_process()
    if pool is not _pool:
        # A forked child: forget the parent's connections without closing them (closing
        # would send an SSH disconnect on the parent's sockets).
        _pool = pool
    return pool


def _key(address, port, username, host_key: str, private_key: str) -> tuple:
    digest = hashlib.sha256(private_key.encode()).hexdigest()
    return (address, int(port), username, " ".join(host_key.split()[:2]), digest)


def _alive(entry: _Warm, now: float) -> bool:
    client = entry.session.client
    transport = client.get_transport() if client is not None else None
    if transport is None or not transport.is_active():
        return False
    if entry.users:
        return True  # in use by another thread right now
    unused = now - entry.last_used
    if unused > settings.SSH_POOL_IDLE_SECONDS:
        return False
    if unused > settings.SSH_POOL_CHECK_SECONDS:
        try:
            transport.open_session(timeout=entry.session.connect_timeout).close()
        except (paramiko.SSHException, OSError, EOFError):
            return False
    return True


@contextmanager
def session(
    address: str,
    *,
    private_key: str,
    host_key: str,
    port: int = 22,
    username: str = "root",
    wait: float = 0.0,
    connect_timeout: float = 10.0,
):
    """A connected HostSession to the host, warm if this process has one. Do not close it."""

    def fresh() -> HostSession:
        return HostSession(
            address,
            private_key=private_key,
            host_key=host_key,
            port=port,
            username=username,
            connect_timeout=connect_timeout,
        )

    if not settings.SSH_POOL_ENABLED:
        with fresh() as own:
            own.connect(wait=wait)
            yield own
        return
    pool = _current()
    key = _key(address, port, username, host_key, private_key)
    with pool.lock:
        opening = pool.opening.setdefault(key, threading.Lock())
    with opening:  # threads wanting the same host wait for one connection, not open several
        now = time.monotonic()
        with pool.lock:
            entry = pool.warm.get(key)
            crowded = entry is not None and entry.users >= MAX_CHANNELS
        if entry is not None and not crowded and not _alive(entry, now):
            _drop(pool, key, entry, "not alive")
            entry = None
        if entry is None:
            _drop_replaced(pool, key)
            created = fresh().connect(wait=wait)
            _keep_alive(created.client.get_transport())
            entry = _Warm(created, time.monotonic())
            with pool.lock:
                pool.warm[key] = entry
                pool.opened += 1
            log.debug("warm SSH connection opened to %s:%s", address, port)
        elif crowded:
            entry = None
        if entry is not None:
            with pool.lock:
                entry.users += 1
    if entry is None:  # every channel of the warm one busy: a connection of its own
        with fresh() as own:
            own.connect(wait=wait)
            yield own
        return
    try:
        yield entry.session
    except CommandFailed:
        raise  # the command failed, the connection is fine
    except SSHError:
        _drop(pool, key, entry, "failed")
        raise
    finally:
        with pool.lock:
            entry.users -= 1
            entry.last_used = time.monotonic()
            done = entry.retired and not entry.users
        if done:
            entry.session.close()


def _keep_alive(transport: paramiko.Transport) -> None:
    """SSH keep-alives keep NAT and firewall state open; TCP keep-alives find a peer that
    vanished without a word (a droplet destroyed, a partition) within about three intervals,
    where plain TCP would wait many minutes for retransmissions to give up."""
    interval = max(1, int(settings.SSH_KEEPALIVE_SECONDS))
    transport.set_keepalive(interval)
    sock = transport.sock
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for option, value in (
        ("TCP_KEEPIDLE", interval),
        ("TCP_KEEPINTVL", interval),
        ("TCP_KEEPCNT", 3),
    ):
        if hasattr(socket, option):  # Linux names; elsewhere the system's defaults
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)


def _drop(pool: _Pool, key: tuple, entry: _Warm, why: str) -> None:
    with pool.lock:
        if pool.warm.get(key) is entry:
            del pool.warm[key]
    log.debug("warm SSH connection to %s dropped: %s", key[0], why)
    entry.session.close()


def _drop_replaced(pool: _Pool, key: tuple) -> None:
    """Close connections to the same host and user made under other keys: its pinned key was
    changed, or the provision's key rotated."""
    with pool.lock:
        stale = [(k, e) for k, e in pool.warm.items() if k[:3] == key[:3] and k != key]
        for other, entry in stale:
            del pool.warm[other]
            entry.retired = bool(entry.users)  # a command still running on it ends first
    for _, entry in stale:
        if not entry.retired:
            entry.session.close()
