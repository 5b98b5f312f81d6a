"""Sizes as people read them, shared by the pages and the CLI (pure Python, no Django)."""


def human_bytes(value) -> str:
    """OpenNebula's short sizes: 512 -> '512B', 1258291 -> '1.2M'; None -> '-'."""
    if value is None:
        return "-"
    size, unit = float(value), "B"
    for bigger in ("K", "M", "G", "T"):
        if abs(size) < 1024:
            break
        size, unit = size / 1024, bigger
    return f"{int(size)}B" if unit == "B" else f"{size:.1f}{unit}"


SIZE_UNITS_MB = {"M": 1, "MB": 1, "G": 1024, "GB": 1024, "T": 1024 * 1024, "TB": 1024 * 1024}


def parse_size_mb(text) -> int:
    """A size as OpenNebula's templates give it, in MB: '2048' (MB), '512M', '2G', '1.5GB'.
    ValueError naming what was wrong otherwise."""
    raw = str(text).strip().upper().replace(" ", "")
    number, unit = raw, "M"
    for suffix in sorted(SIZE_UNITS_MB, key=len, reverse=True):
        if raw.endswith(suffix):
            number, unit = raw[: -len(suffix)], suffix
            break
    try:
        value = float(number)
    except ValueError:
        raise ValueError(
            f"size {text!r} is not a number of MB or a size like 512M, 2G, 1T"
        ) from None
    if value != value or value <= 0 or value == float("inf"):  # NaN, zero, negative
        raise ValueError(f"size {text!r} must be more than zero")
    return int(value * SIZE_UNITS_MB[unit] + 0.5)
