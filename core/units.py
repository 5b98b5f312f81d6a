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
