"""QUOTAS sections and `quota` verbs shared by `onegroup` and `oneuser`: what is used of each
limit, as OpenNebula shows it, and the options an operator sets them with."""

from cli.client import CliError
from cli.output import table
from core.units import parse_size_mb

# option -> (API field, how the value is read); sizes accept 512M, 4G, 1T like templates do.
OPTIONS = {
    "vms": ("vms", str),
    "running-vms": ("running_vms", str),
    "cpu": ("cpu", str),
    "memory": ("memory_mb", "size"),
    "disk": ("disk_mb", "size"),
    "hosts": ("hosts", str),
    "port-blocks": ("port_blocks", str),
    "snapshots": ("snapshot_mb", "size"),
    "backups": ("backup_mb", "size"),
    "spend": ("spend", str),
}


def add_options(parser) -> None:
    for option, (field, kind) in OPTIONS.items():
        what = "a size: 512M, 4G (MB without a unit)" if kind == "size" else "a number"
        parser.add_argument(
            f"--{option}", dest=field, metavar="N", help=f"{what}; 'default' clears it"
        )


def body(args) -> dict:
    """The limits given on the command line, as the API takes them."""
    found = {}
    for option, (field, kind) in OPTIONS.items():
        value = getattr(args, field)
        if value is None:
            continue
        if kind == "size" and value.strip().lower() != "default":
            try:
                value = str(parse_size_mb(value))
            except ValueError as exc:
                raise CliError(f"--{option}: {exc}") from None
        found[field] = value
    if not found:
        options = ", ".join(f"--{option}" for option in OPTIONS)
        raise CliError(f"give at least one limit: {options}")
    return found


def show(lines: list[dict]) -> None:
    print("QUOTAS")
    table(
        ["RESOURCE", "USED", "LIMIT"],
        [[line["label"], line["used_text"], line["limit_text"]] for line in lines],
    )
