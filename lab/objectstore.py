"""The lab's object storage: a real S3 API server (moto's server mode) standing in for
DigitalOcean Spaces, reached by the portal and by lab hosts only through its endpoint URL.

It checks signatures like Spaces does: the server starts with authentication on after the few
unauthenticated calls that make the lab's account (an IAM user allowed every S3 action, and its
access key), so a wrong key or secret is refused with S3's own error. The bucket is made with
that key, as a Spaces user makes theirs in DigitalOcean's control panel.

    with ObjectStore(port=0) as store:            # tests: on 0.0.0.0, a free port
        store.endpoint("198.18.0.1")               # what a lab host is given
        store.access_key, store.secret_key, store.bucket

`python -m lab up` runs one on port 8767 (lab/__main__.py) and prints its key.
"""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
from botocore.config import Config

# The calls made before authentication starts: create_user, put_user_policy, create_access_key.
BOOTSTRAP_CALLS = 3
REGION = "us-east-1"
ALLOW_S3 = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def client(service: str, endpoint: str, key: str = "bootstrap", secret: str = "bootstrap"):  # noqa: S107
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30),
    )


class ObjectStore:
    """A moto S3 server process with one account and one bucket."""

    def __init__(self, port: int = 0, host: str = "0.0.0.0", bucket: str = "edge-backups"):  # noqa: S104 - lab hosts reach it on the lab bridge
        self.host, self.port, self.bucket = host, port or free_port(), bucket
        self.access_key = self.secret_key = ""
        self.process: subprocess.Popen | None = None

    @property
    def local_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def endpoint(self, address: str = "127.0.0.1") -> str:
        return f"http://{address}:{self.port}"

    def start(self, log: Path | None = None) -> "ObjectStore":
        env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": str(BOOTSTRAP_CALLS)}
        out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - handed to the child
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(self.port)],
            env=env,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
        self._wait()
        self._bootstrap()
        return self

    def _wait(self, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto server exited with status {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"moto server did not listen on port {self.port}")

    def _bootstrap(self) -> None:
        iam = client("iam", self.local_url)
        iam.create_user(UserName="lab")
        iam.put_user_policy(UserName="lab", PolicyName="s3", PolicyDocument=ALLOW_S3)
        key = iam.create_access_key(UserName="lab")["AccessKey"]
        self.access_key, self.secret_key = key["AccessKeyId"], key["SecretAccessKey"]
        client("s3", self.local_url, self.access_key, self.secret_key).create_bucket(
            Bucket=self.bucket
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> "ObjectStore":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


if __name__ == "__main__":
    # `python -m lab.objectstore PORT`: a store in the foreground (lab/__main__.py runs it).
    store = ObjectStore(port=int(sys.argv[1]) if len(sys.argv) > 1 else 8767)
    store.start()
    print(
        f"endpoint {store.endpoint('198.18.0.1')} bucket {store.bucket} region {REGION} "
        f"access_key {store.access_key} secret_key {store.secret_key}",
        flush=True,
    )
    try:
        store.process.wait()
    except KeyboardInterrupt:
        store.stop()
