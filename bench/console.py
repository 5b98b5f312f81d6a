"""Consoles in the edge-host lab (root): the portal served over ASGI (uvicorn in a thread, as
`manage.py serve` runs it), a RUNNING Alpine VM on a lab host, and console WebSockets to it.

Figures: time from opening the WebSocket (what the page's Connect button does) to the shell's
prompt, over sessions opened one after another (each: token check, SSH connection with the
pinned key, PTY, lxc-attach, login shell); and the keystroke round trip in one session (a key
sent until its echo comes back: portal -> SSH -> PTY -> shell -> back), median and p95.
Targets: prompt in under 1 s (median), keystroke echo under 50 ms (p95).
Without the lab the table says why it was skipped.
"""

import sys
import time

from bench import common, labworld

TITLE = "console: connect to prompt and keystroke round trip in the lab"
PROVISION = "conbench"
SESSIONS = 20
KEYSTROKES = 200
TARGET_PROMPT = 1.0
TARGET_KEY_P95 = 0.050
HEADERS = ["measurement", "samples", "median ms", "p95 ms", "max ms"]
LABELS = [f"connect to prompt ({SESSIONS} sessions, one at a time)", "keystroke round trip"]


def main() -> int:
    lab, reason = labworld.lab_or_reason()
    if not lab:
        common.skipped(TITLE, reason, HEADERS, LABELS)
        return 0
    with common.django_env("console") as database:
        from django.conf import settings

        from core.models import ApiToken
        from lab.images import ensure_alpine_rootfs, start_image_server

        image = ensure_alpine_rootfs()
        settings.PROVISION_POLL_INTERVAL = 0.1
        settings.PROVISION_SSH_WAIT = 20
        settings.CONSOLE_MAX_PER_USER = SESSIONS + 1
        server, _ = start_image_server(host="0.0.0.0", cache=image.path.rsplit("/", 1)[0])  # noqa: S104
        try:
            with labworld.simulator(lab=True, boot_delay=0.2):
                vm = labworld.running_vm(image.name, server.server_address[1], PROVISION, "console")
                token = ApiToken.issue(vm.owner, "bench")[1]
                # The same helper the console tests use: uvicorn serving portal.asgi.
                from tests.asgi_server import serving

                with serving() as url:
                    prompts = [time_to_prompt(url, vm.pk, token) for _ in range(SESSIONS)]
                    keys = keystroke_round_trips(url, vm.pk, token)
        finally:
            server.shutdown()
            server.server_close()
    return report(prompts, keys, database)


def _open(url: str, vm_id: int, token: str):
    from websockets.sync.client import connect

    from core.console_protocol import VM_PATH

    return connect(
        url.replace("http://", "ws://") + VM_PATH.format(id=vm_id) + "?cols=80&rows=24",
        additional_headers={"Authorization": f"Bearer {token}"},
        compression=None,
        open_timeout=15,
    )


def _until_prompt(socket) -> None:
    seen = b""
    while b"# " not in seen:
        frame = socket.recv(timeout=15)
        if isinstance(frame, bytes):
            seen += frame


def time_to_prompt(url: str, vm_id: int, token: str) -> float:
    started = time.perf_counter()
    with _open(url, vm_id, token) as socket:
        _until_prompt(socket)
        elapsed = time.perf_counter() - started
    time.sleep(0.2)  # the session's end is recorded before the next opens
    return elapsed


def keystroke_round_trips(url: str, vm_id: int, token: str) -> list[float]:
    samples = []
    with _open(url, vm_id, token) as socket:
        _until_prompt(socket)
        # A key, then Backspace: the line never grows, and each echo is a few bytes.
        for i in range(KEYSTROKES):
            key = b"a" if i % 2 == 0 else b"\x7f"
            started = time.perf_counter()
            socket.send(key)
            while not isinstance(socket.recv(timeout=15), bytes):
                pass
            samples.append(time.perf_counter() - started)
    return samples


def report(prompts: list[float], keys: list[float], database: str) -> int:
    rows = [
        [label, len(values), *(f"{1000 * f(values):.1f}" for f in (common.median, common.p95, max))]
        for label, values in zip(LABELS, (prompts, keys), strict=True)
    ]
    common.table(
        TITLE,
        HEADERS,
        rows,
        [
            f"{database}; {common.machine()}; 1 lab host (a network namespace with sshd on this "
            "machine), Alpine container; uvicorn in this process, websockets client",
            "connect to prompt: WebSocket handshake, API token check, per-user limit (a DB "
            "transaction), SSH connect with the pinned host key, PTY, lxc-attach, `sh -l` "
            "until its prompt; not through a browser (Chromium adds its own page and JS time)",
            "keystroke round trip: one byte sent until the first output frame back (the echo)",
        ],
    )
    prompt_median, key_p95 = common.median(prompts), common.p95(keys)
    ok = prompt_median < TARGET_PROMPT and key_p95 < TARGET_KEY_P95
    common.summary(
        f"{common.verdict(ok)}: prompt in {1000 * prompt_median:.0f} ms median (target < "
        f"{1000 * TARGET_PROMPT:.0f} ms), keystroke echo {1000 * key_p95:.1f} ms p95 (target "
        f"< {1000 * TARGET_KEY_P95:.0f} ms)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
