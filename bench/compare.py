"""Before and after, back to back on one machine: run benchmarks against an older commit and
then against this checkout, and print both sets of tables (with `--out FILE`, also write them
there as markdown).

    .venv/bin/python -m bench.compare 6a53a00 vm_deploy provision_scaling --out FILE

The old commit is checked out in a temporary git worktree (nothing here changes) and its
bench/ and lab/ are replaced by this checkout's: the measuring stick (the scripts, the
simulator, the lab hosts and how their CPU is counted) is the same for both runs, and what
differs is the product, the portal's code and the scripts it ships to hosts. Both runs use
this virtualenv; each bench runs in its own process on its own throwaway database, exactly as
`make bench` runs it (bench/run_all.py).

Before each run the machine is left alone for `--settle` seconds (90 by default): a bench's
clean-up frees many inodes at once (an old commit's containers each had a whole unpacked
tree), and where the lab's disk is an ext4 without a journal, as this machine's root may be,
the kernel checks every new inode against those freed in the last minute or more, which made
the next run's first unpacking several times slower: the second run paid for the first.
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import common, run_all

SHARED = ("bench", "lab")  # taken from this checkout into the old one
CACHE = Path("lab") / "images" / "cache"  # the lab's built image (not in git)


def git(*args: str, cwd: Path = common.ROOT) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def old_checkout(commit: str, parent: Path) -> Path:
    """A worktree of `commit` with this checkout's bench/ and lab/ (and lab image cache)."""
    tree = parent / f"old-{commit[:12]}"
    git("worktree", "add", "--detach", str(tree), commit)
    for name in SHARED:
        shutil.rmtree(tree / name)
        shutil.copytree(
            common.ROOT / name,
            tree / name,
            ignore=shutil.ignore_patterns("__pycache__", "cache", "results"),
        )
    if (common.ROOT / CACHE).is_dir():
        (tree / CACHE).symlink_to(common.ROOT / CACHE, target_is_directory=True)
    return tree


def describe(cwd: Path) -> str:
    dirty = " + uncommitted changes" if git("status", "--porcelain", cwd=cwd) else ""
    return git("log", "-1", "--format=%h %s", cwd=cwd)[:90] + dirty


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old", help="the commit to compare with (before)")
    parser.add_argument("benches", nargs="+", choices=run_all.SCRIPTS)
    parser.add_argument("--out", type=Path, help="also write the comparison here (markdown)")
    parser.add_argument(
        "--settle", type=float, default=90.0, help="seconds of quiet before each run (90)"
    )
    options = parser.parse_args()
    old = git("rev-parse", "--verify", f"{options.old}^{{commit}}")

    parent = Path(tempfile.mkdtemp(prefix="bench-compare-"))
    sections, failed = [], 0
    try:
        tree = old_checkout(old, parent)
        runs = [("before", tree, describe(tree)), ("after", common.ROOT, describe(common.ROOT))]
        for name in options.benches:
            for label, cwd, what in runs:
                time.sleep(options.settle)
                output, code = run_all.run(name, cwd=cwd)
                failed += code != 0
                sections.append(f"## {name}: {label} ({what})\n\n{output}")
    finally:
        shutil.rmtree(parent, ignore_errors=True)
        git("worktree", "prune")  # forgets the worktree just removed

    report = (
        f"# Before and after: {', '.join(options.benches)}\n\n"
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {common.machine()}. "
        "The old commit ran with this checkout's bench/ and lab/ (bench/compare.py); "
        f"the two runs were back to back, each after {options.settle:.0f} s of quiet.\n\n"
        + "\n".join(sections)
    )
    if options.out:
        options.out.write_text(report)
        print(f"written to {options.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
