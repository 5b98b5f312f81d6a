"""A small SSH server on loopback for tests that need one without the lab (which needs root):
paramiko's server side, one host key, one authorised key, `exec` requests run with bash on
this machine. It counts the connections it accepted, so tests can say how many were opened."""

import base64
import socket
import subprocess
import threading

import paramiko

from hostexec.ssh import _load_private_key


class _Session(paramiko.ServerInterface):
    def __init__(self, authorized: paramiko.PKey):
        self.authorized = authorized

    def check_auth_publickey(self, username, key):
        if username == "root" and key.asbytes() == self.authorized.asbytes():
            return paramiko.AUTH_SUCCESSFUL
        return paramiko.AUTH_FAILED

    def get_allowed_auths(self, username):
        return "publickey"

    def check_channel_request(self, kind, chanid):
        if kind == "session":
            return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_exec_request(self, channel, command):
        threading.Thread(target=_run, args=(channel, command), daemon=True).start()
        return True


def _run(channel, command: bytes) -> None:
    stdin = b""
    while True:  # the client sends stdin, then EOF
        chunk = channel.recv(65536)
        if not chunk:
            break
        stdin += chunk
    done = subprocess.run(["bash", "-c", command.decode()], input=stdin, capture_output=True)
    channel.sendall(done.stdout)
    channel.sendall_stderr(done.stderr)
    channel.send_exit_status(done.returncode)
    channel.close()


class SSHServer:
    def __init__(self, host_key_pem: str, authorized_openssh: str):
        self.host_key = _load_private_key(host_key_pem)
        key_type, blob = authorized_openssh.split()[:2]
        self.authorized = paramiko.PKey.from_type_string(key_type, base64.b64decode(blob))
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.transports: list[paramiko.Transport] = []
        self._stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self._stop:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            transport = paramiko.Transport(client)
            transport.add_server_key(self.host_key)
            try:
                transport.start_server(server=_Session(self.authorized))
            except (paramiko.SSHException, OSError, EOFError):
                transport.close()  # a client gone mid-handshake, as sshd logs and goes on
                continue
            self.transports.append(transport)

    def drop_connections(self) -> None:
        """Cut every established connection (a host rebooted), keep listening."""
        for transport in self.transports:
            transport.close()
        self.transports.clear()

    def close(self) -> None:
        self._stop = True
        self.sock.close()
        self.drop_connections()
