"""The one SSH module: every command the portal runs on a host goes through `HostSession`.

Host keys are pinned: the expected key is given by the caller (made by the portal and handed to
the droplet at creation), system known_hosts files are ignored, and any other key is refused
with both fingerprints in the message. Errors are classified like the cloud driver's:
`HostUnreachable` is worth retrying, `HostKeyMismatch` and `SSHAuthFailed` are not.
"""

import base64
import io
import logging
import shlex
import time
from dataclasses import dataclass

import paramiko

from core import metrics
from hostexec.keys import sha256_fingerprint

log = logging.getLogger(__name__)


class SSHError(Exception):
    pass


class HostUnreachable(SSHError):
    pass


class HostKeyMismatch(SSHError):
    pass


class SSHAuthFailed(SSHError):
    pass


class CommandFailed(SSHError):
    def __init__(self, command: str, result: "CommandResult"):
        tail = (result.stderr or result.stdout).strip().splitlines()[-5:]
        super().__init__(
            f"{command!r} exited with status {result.exit_status}: " + " | ".join(tail)
        )
        self.result = result


@dataclass
class CommandResult:
    exit_status: int
    stdout: str
    stderr: str


def _load_private_key(pem: str) -> paramiko.PKey:
    for key_class in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return key_class.from_private_key(io.StringIO(pem))
        except (paramiko.SSHException, ValueError):
            continue
    raise SSHError("the provision's private key cannot be loaded")


def _public_key(openssh_line: str) -> paramiko.PKey:
    key_type, blob = openssh_line.split()[:2]
    return paramiko.PKey.from_type_string(key_type, base64.b64decode(blob))


# A script on stdin, read whole and run. `bash -s` reads a script from a pipe one byte at a time
# (it must not read past the command it runs next): 15,000 read calls for a 15 KB script, about
# 5 ms of the host's CPU on every run of every host script. `$(</dev/stdin)` reads it in blocks
# without a process (`cat` where stdin cannot be opened by name, a socket).
READ_AND_RUN = '{ ONE_SCRIPT=$(</dev/stdin); } 2>/dev/null || ONE_SCRIPT=$(cat); eval "$ONE_SCRIPT"'


def script_command(env: dict[str, object]) -> str:
    """The command that runs a script sent on stdin with `env` (values quoted) under bash.
    sshd hands the command to the account's login shell: where that is bash (root's on the
    distributions droplets run on), the script runs in it, otherwise in a bash it execs. Starting
    a second bash for every script would cost the host about 1.5 ms of CPU on each VM deploy,
    action and configuration run; POSIX-mode bash (`sh`) gets its own bash all the same."""
    assigned = env_prefix(env)
    exports = f"export {assigned}; " if assigned else ""
    fallback = f"{assigned} exec bash -c {shlex.quote(READ_AND_RUN)}".strip()
    return (
        'if [ -n "${BASH_VERSION:-}" ] && ! shopt -qo posix; then '
        f"{exports}{READ_AND_RUN}; else {fallback}; fi"
    )


def env_prefix(env: dict[str, object]) -> str:
    """`K=v ...` with every value quoted: values may come from users."""
    parts = []
    for key, value in env.items():
        if not key.replace("_", "").isalnum():
            raise ValueError(f"invalid environment variable name {key!r}")
        parts.append(f"{key}={shlex.quote(str(value))}")
    return " ".join(parts)


class HostSession:
    def __init__(
        self,
        address: str,
        *,
        private_key: str,
        host_key: str,
        username: str = "root",
        port: int = 22,
        connect_timeout: float = 10.0,
    ):
        self.address = address
        self.port = port
        self.username = username
        self._pkey = _load_private_key(private_key)
        self._host_key = _public_key(host_key)
        self.connect_timeout = connect_timeout
        self.client: paramiko.SSHClient | None = None

    @property
    def expected_fingerprint(self) -> str:
        return sha256_fingerprint(f"{self._host_key.get_name()} {self._host_key.get_base64()}")

    def connect(self, wait: float = 0.0) -> "HostSession":
        """Connect, retrying refused/unreachable for up to `wait` seconds (a host booting)."""
        deadline = time.monotonic() + wait
        delay = 1.0
        while True:
            try:
                self._connect_once()
                return self
            except HostUnreachable:
                if time.monotonic() + delay > deadline:
                    # Counted once the wait is over: a booting host refusing at first is no
                    # failure.
                    metrics.count_ssh_failure("unreachable")
                    raise
                time.sleep(delay)
                delay = min(delay * 1.5, 5.0)
            except HostKeyMismatch:
                metrics.count_ssh_failure("host_key_mismatch")
                raise
            except SSHAuthFailed:
                metrics.count_ssh_failure("auth_failed")
                raise

    def _connect_once(self) -> None:
        client = paramiko.SSHClient()
        host_id = self.address if self.port == 22 else f"[{self.address}]:{self.port}"
        client.get_host_keys().add(host_id, self._host_key.get_name(), self._host_key)
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        try:
            client.connect(
                self.address,
                port=self.port,
                username=self.username,
                pkey=self._pkey,
                timeout=self.connect_timeout,
                banner_timeout=self.connect_timeout,
                auth_timeout=self.connect_timeout,
                allow_agent=False,
                look_for_keys=False,
            )
        except paramiko.BadHostKeyException as exc:
            client.close()
            got = sha256_fingerprint(f"{exc.key.get_name()} {exc.key.get_base64()}")
            raise HostKeyMismatch(
                f"host {self.address} presented SSH host key {got}, but {self.expected_fingerprint}"
                " is pinned for it: refusing to connect (the host was replaced or someone is "
                "intercepting; if the host was rebuilt on purpose, re-pin its key)"
            ) from None
        except paramiko.AuthenticationException:
            client.close()
            raise SSHAuthFailed(
                f"host {self.address} refused the provision's SSH key for {self.username}"
            ) from None
        except paramiko.SSHException as exc:
            client.close()
            if "not found in known_hosts" in str(exc):
                raise HostKeyMismatch(
                    f"host {self.address} offered no key of the pinned type; refusing to connect"
                ) from None
            raise HostUnreachable(
                f"cannot reach {self.address}:{self.port} over SSH: {exc}"
            ) from None
        except (TimeoutError, OSError, EOFError) as exc:
            client.close()
            raise HostUnreachable(
                f"cannot reach {self.address}:{self.port} over SSH: {exc}"
            ) from None
        self.client = client

    def run(
        self,
        command: str,
        *,
        stdin: str | None = None,
        timeout: float = 600.0,
        check: bool = True,
        name: str = "",
    ) -> CommandResult:
        """Run `command`; with `check`, a failure raises CommandFailed naming it by `name` (by
        default its first word)."""
        if self.client is None:
            raise SSHError("not connected")
        try:
            chan_in, chan_out, chan_err = self.client.exec_command(command, timeout=timeout)
            if stdin is not None:
                chan_in.write(stdin)
            chan_in.channel.shutdown_write()
            stdout = chan_out.read().decode(errors="replace")
            stderr = chan_err.read().decode(errors="replace")
            status = chan_out.channel.recv_exit_status()
        except (TimeoutError, paramiko.SSHException, OSError) as exc:
            metrics.count_ssh_failure("connection_lost")
            raise HostUnreachable(f"lost SSH connection to {self.address}: {exc}") from None
        result = CommandResult(status, stdout, stderr)
        if check and status != 0:
            raise CommandFailed(name or command.split(" ", 1)[0], result)
        return result

    def run_script(
        self,
        script: str,
        env: dict[str, object] | None = None,
        timeout: float = 900.0,
        check: bool = True,
    ) -> CommandResult:
        """Ship a whole script over stdin to bash: one command, not hundreds."""
        command = script_command(env or {})
        return self.run(command, stdin=script, timeout=timeout, check=check, name="bash script")

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
