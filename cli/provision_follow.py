"""Following a provision's job until it ends, shared by `oneprovision` and its host verbs."""

import os
import sys
import time

from cli.client import CliError
from cli.output import progress_bar

TERMINAL = {"RUNNING", "ERROR", "DONE"}


def _poll_interval() -> float:
    return float(os.environ.get("ONEPROVISION_POLL", "1"))


def resolve(client, ref):
    return client.resolve("provisions", ref, "provision")


def print_line(line):
    stamp = line["at"][:19].replace("T", " ")
    print(f"{stamp} [{line['level']}] {line['message']}", flush=True)


def follow(client, provision_id: int, success: str, quiet_log: bool = False) -> int:
    """Follow the provision's latest job until the provision is in a terminal state."""
    interactive = sys.stdout.isatty()
    last_line = 0
    while True:
        provision = client.get(f"provisions/{provision_id}/")
        job = provision.get("job") or {}
        lines = client.get(
            f"provisions/{provision_id}/log/", after=last_line, job=job.get("id", "")
        )
        for line in lines:
            last_line = max(last_line, line["id"])
            if not interactive and not quiet_log:
                print_line(line)
        if interactive and job:
            bar = progress_bar(
                job["steps_done"], job["steps_total"] or 1, f"{job['step']} ({provision['state']})"
            )
            print("\r" + bar.ljust(78), end="", flush=True)
        job_done = not job or job.get("state") in ("SUCCESS", "FAILED")
        if provision["state"] in TERMINAL and job_done:
            if interactive:
                print()
            if provision["state"] == success:
                print(f"{provision['name']}: {provision['state']}")
                return 0
            raise CliError(
                f"provision {provision_id} failed at step "
                f"{provision['failed_step'] or '?'}: {provision['error']}"
            )
        time.sleep(_poll_interval())
