"""Run every benchmark (`make bench`) and write bench/results/latest.md: when, on what machine
and database, then each script's table and summary line.

Each script runs in its own process, so a crash in one is recorded and the others still run,
and each sets Django up on its own throwaway database. `python -m bench.run_all NAME...` runs
only the named scripts (and still rewrites the results file).
"""

import os
import platform
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from urllib.parse import urlsplit

from bench import common

SCRIPTS = (
    "provision_scaling",
    "host_config_cpu",
    "vm_deploy",
    "image_streaming",
    "portal_scale",
    "port_allocation",
    "monitoring",
    "load",
    "scale_out",
    "console",
    "vm_snapshots",
    "vm_resize",
    "vm_backups",
)
RESULTS = common.ROOT / "bench" / "results" / "latest.md"
SUMMARY_MARK = "**Summary:**"


def run(name: str, cwd=common.ROOT) -> tuple[str, int]:
    """The script's stdout (echoed as it comes, the benches take minutes) and exit code; on a
    failure without a summary line, one is added with the end of its stderr. `cwd`: the
    checkout whose code it runs (bench/compare.py runs another commit's)."""
    print(f"== bench.{name}", flush=True)
    with tempfile.TemporaryFile(mode="w+") as errors:
        process = subprocess.Popen(
            [sys.executable, "-m", f"bench.{name}"],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
        lines = []
        for line in process.stdout:
            print(line, end="", flush=True)
            lines.append(line)
        code = process.wait()
        errors.seek(0)
        stderr = errors.read()
    sys.stderr.write(stderr)
    output = "".join(lines).rstrip() + "\n"
    if code != 0:
        tail = "\n".join(stderr.strip().splitlines()[-15:])
        output += f"\nexit code {code}; end of stderr:\n\n```\n{tail}\n```\n"
        if SUMMARY_MARK not in output:
            output += f"\n{SUMMARY_MARK} FAILED (exit code {code}), see stderr above\n"
    return output, code


def header() -> str:
    lab = common.lab_problem()
    return "\n".join(
        [
            "# Benchmark results",
            "",
            "Written by `make bench` (bench/run_all.py); docs/performance.md explains each table.",
            "",
            f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            f"- machine: {os.cpu_count()} CPU ({_cpu_model()}), {_memory()} memory, "
            f"{platform.system()} {platform.release()}, load average "
            f"{os.getloadavg()[0]:.1f} at the start",
            f"- Python {platform.python_version()}",
            f"- database: {_database()}",
            f"- edge-host lab: {'used (root)' if lab is None else 'not used: ' + lab}",
            f"- code: {_git()}",
            "",
        ]
    )


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown model"


def _memory() -> str:
    try:
        with open("/proc/meminfo") as meminfo:
            kib = int(meminfo.readline().split()[1])  # MemTotal
        return f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        return "unknown"


def _database() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if common.is_postgres(url):
        parts = urlsplit(url)  # host and port only: never the password
        return (
            f"PostgreSQL at {parts.hostname}:{parts.port or 5432} (a throwaway database per "
            "script); SQLite-capable scripts use it too"
        )
    return "SQLite (a throwaway file per script); PostgreSQL parts skipped: DATABASE_URL not set"


def _git() -> str:
    def git(*args):
        result = subprocess.run(
            ["git", *args], cwd=common.ROOT, capture_output=True, text=True, check=False
        )
        return result.stdout.strip() if result.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD")
    if not commit:
        return "not a git checkout"
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return f"commit {commit}" + (" with uncommitted changes" if dirty else "")


def main(argv: list[str]) -> int:
    names = argv or list(SCRIPTS)
    unknown = [n for n in names if n not in SCRIPTS]
    if unknown:
        print(f"unknown bench {', '.join(unknown)}; choose from {', '.join(SCRIPTS)}")
        return 2
    top = header()
    sections, summaries, failed = [], [], []
    for name in names:
        output, code = run(name)
        sections.append(output)
        summary = next((line for line in output.splitlines() if line.startswith(SUMMARY_MARK)), "")
        summaries.append(f"- **{name}**: {summary.removeprefix(SUMMARY_MARK).strip()}")
        if code != 0:
            failed.append(name)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        top
        + "\n## Summaries\n\n"
        + "\n".join(summaries)
        + "\n\n## Tables\n\n"
        + "\n".join(sections)
    )
    print(f"wrote {RESULTS.relative_to(common.ROOT)}")
    if failed:
        print(f"failed: {', '.join(failed)} (exit codes recorded in the results file)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
