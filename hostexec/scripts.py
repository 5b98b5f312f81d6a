"""The one loader of host scripts (host configuration, VM operations, monitoring probes).

A script ships as one text: each `# @include NAME.sh` line is replaced by that file's
functions, so no library has to be kept on the host in step with the portal's version. Every
script starts with the same prelude, which gives ONE_EDGE_BASE (where a host keeps the portal's
state) its default; lab hosts set their own.
"""

import re
from pathlib import Path

EDGE_BASE = "/var/lib/one-edge"
PRELUDE = f'ONE_EDGE_DEFAULT_BASE={EDGE_BASE}\n: "${{ONE_EDGE_BASE:=$ONE_EDGE_DEFAULT_BASE}}"\n'
INCLUDE = re.compile(r"^# @include (?P<name>[\w-]+\.sh)\n", re.M)


def load(name: str, *directories: Path) -> str:
    """Script `name` from the first of `directories` that has it, its includes looked up the
    same way, after the prelude."""

    def found(name: str) -> str:
        for directory in directories:
            if (directory / name).is_file():
                return (directory / name).read_text()
        raise FileNotFoundError(f"host script {name} not found in {[str(d) for d in directories]}")

    return PRELUDE + INCLUDE.sub(lambda match: found(match["name"]), found(name))
