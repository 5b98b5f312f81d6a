"""OpenNebula-style output: tables with upper-case headers, numbers right-aligned."""

import json
import sys


def table(columns: list[str], rows: list[list], out=None) -> None:
    out = out or sys.stdout
    text_rows = [["" if cell is None else str(cell) for cell in row] for row in rows]
    widths = [max([len(col)] + [len(row[i]) for row in text_rows]) for i, col in enumerate(columns)]
    numeric = [
        bool(text_rows) and all(row[i].isdigit() for row in text_rows if row[i])
        for i in range(len(columns))
    ]

    def fmt(cells):
        parts = [
            cell.rjust(w) if num else cell.ljust(w)
            for cell, w, num in zip(cells, widths, numeric, strict=True)
        ]
        return " ".join(parts).rstrip()

    print(fmt(columns), file=out)
    for row in text_rows:
        print(fmt(row), file=out)


def properties(title: str, pairs: list[tuple[str, object]], out=None) -> None:
    out = out or sys.stdout
    print(title.upper(), file=out)
    width = max(len(key) for key, _ in pairs) + 1
    for key, value in pairs:
        print(f"{key.upper():<{width}}: {'' if value is None else value}", file=out)


def as_json(data, out=None) -> None:
    print(json.dumps(data, indent=2, sort_keys=True), file=out or sys.stdout)


def progress_bar(done: int, total: int, label: str = "", width: int = 30) -> str:
    total = max(total, 1)
    filled = round(width * min(done, total) / total)
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {label}".rstrip()


def command_result(result: dict) -> int:
    """A remote command's output (an exec endpoint's answer) on our own streams; its status."""
    sys.stdout.write(result["stdout"])
    sys.stderr.write(result["stderr"])
    sys.stdout.flush()
    return result["exit_status"]
