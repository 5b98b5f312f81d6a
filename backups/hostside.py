"""vm-backup.sh on a VM's host: the repository's secrets put at the top of the script's text
(they go over the SSH session's stdin, never on a command line a host's `ps` shows), the rest
of its inputs in its environment like every host script's."""

from pathlib import Path

from backups.models import BackupStore
from hostexec import scripts
from hostexec.ssh import env_prefix
from provisions import hostconfig
from vms import lxc

SCRIPTS = Path(__file__).parent / "hostscripts"
SCRIPT = "vm-backup.sh"
REPORTED = ("FROZEN ", "UPLOADED ", "SNAPSHOT ", "VERIFIED ", "DISK ", "STAGED ", "RESTORED ")
BackupError = lxc.LXCError


def secrets(store: BackupStore, repository_key: str) -> dict:
    return {
        "RESTIC_REPOSITORY": store.repository(repository_key),
        "RESTIC_PASSWORD": store.password(),
        "AWS_ACCESS_KEY_ID": store.access_key,
        "AWS_SECRET_ACCESS_KEY": store.secret(),
        "AWS_DEFAULT_REGION": store.region,
    }


def script_text(store: BackupStore, repository_key: str) -> str:
    text = scripts.load(SCRIPT, SCRIPTS, lxc.SCRIPTS, hostconfig.SCRIPT_DIR)
    return f"export {env_prefix(secrets(store, repository_key))}\n{text}"


def run(host, store: BackupStore, repository_key: str, env: dict, log=None) -> dict[str, str]:
    """Run vm-backup.sh on `host`; its report lines as {word: rest}. BackupError (an
    LXCError) naming the host and restic's own last lines when it fails."""
    with lxc.connected(host, SCRIPT, wait=10) as session:
        result = session.run_script(script_text(store, repository_key), env, timeout=6 * 3600)
    report: dict[str, str] = {}
    for line in result.stdout.splitlines():
        word, _, rest = line.partition(" ")
        report.setdefault(word, rest)
        if log is not None and line.startswith(REPORTED):
            log(f"{host.name}: {line}")
    report["_lines"] = result.stdout
    return report
