"""Reading settings from the environment, failing loudly on bad values.

Every secret can also come from a file named by `<NAME>_FILE` (Docker/systemd secrets),
so it never has to sit in a process environment that `ps e` shows.
"""

import ipaddress
import os
import secrets
from pathlib import Path

from core.yesno import parse_yes_no


class ImproperlyConfiguredEnv(Exception):
    pass


def env_str(name: str, default: str | None = None) -> str | None:
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        try:
            return Path(file_name).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfiguredEnv(
                f"{name}_FILE={file_name!r} cannot be read: {exc}"
            ) from exc
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return parse_yes_no(value)
    except ValueError:
        raise ImproperlyConfiguredEnv(
            f"{name}={value!r} is not a boolean; use true or false"
        ) from None


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfiguredEnv(f"{name}={value!r} is not an integer") from None


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfiguredEnv(f"{name}={value!r} is not a number") from None


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    value = env_str(name)
    if value is None:
        return list(default or [])
    return [item.strip() for item in value.split(",") if item.strip()]


RATE_PERIODS = ("s", "sec", "second", "m", "min", "minute", "h", "hour", "d", "day")


def env_rate(name: str, default: str) -> str:
    """A DRF throttle rate such as `600/min`; DRF itself would only fail on the first request."""
    value = os.environ.get(name) or default
    count, _, period = value.partition("/")
    if not count.strip().isdigit() or period.strip() not in RATE_PERIODS:
        raise ImproperlyConfiguredEnv(
            f"{name}={value!r} is not a rate; use e.g. 600/min ({', '.join(RATE_PERIODS)})"
        )
    return f"{int(count)}/{period.strip()}"


def env_networks(name: str) -> list[str]:
    """Comma-separated networks (`198.18.0.1/32,10.0.0.0/8`; a bare address is its /32 or
    /128), each checked now so a typo stops the portal instead of silently allowing nothing."""
    networks = []
    for item in env_list(name):
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise ImproperlyConfiguredEnv(
                f"{name}: {item!r} is not a network; use CIDR such as 198.18.0.1/32"
            ) from None
    return networks


def persistent_secret(path: Path, make) -> str:
    """Read a secret from `path`, creating it (mode 0600) on first use.

    Used when no secret is configured, so a fresh install is never left with a
    well-known default key, and the key survives restarts.
    """
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # Another process (web server vs worker) created it first: use theirs.
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value


def random_secret_key() -> str:
    return secrets.token_urlsafe(50)
