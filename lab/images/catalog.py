"""What the cache holds: the image's metadata.json, its .sha256 file, and the catalogue that the
image server answers on /index.json (read by the portal's lab marketplace, marketplace/sync.py).

metadata.json names the tarball relative to the cache, so the cache can move; ImageInfo.path is
the absolute path of the tarball as a str.
"""

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from lab.images.wheel import sha256_of

log = logging.getLogger(__name__)

METADATA = "metadata.json"
RECIPE = 3  # bump when a change here makes a different tarball: the cache is then rebuilt
INDEX_FORMAT = "edge-lab-images/1"


@dataclass(frozen=True)
class ImageInfo:
    name: str  # the marketplace app name, "Alpine Linux 3.23"
    version: str  # /etc/os-release VERSION_ID (= /etc/alpine-release), "3.23.6"
    arch: str  # "amd64"
    path: str  # the tarball, absolute
    sha256: str
    size: int
    source: str  # the wheel's file name
    source_sha256: str
    created: str  # ISO 8601, UTC

    @property
    def filename(self) -> str:
        return Path(self.path).name

    @property
    def os(self) -> str:
        return "alpine"


def metadata_path(cache: Path) -> Path:
    return Path(cache) / METADATA


def write_metadata(cache: Path, info: ImageInfo, **extra) -> None:
    """metadata.json (written last: it is what makes the build count) and <tarball>.sha256."""
    cache = Path(cache)
    sha_file = cache / f"{info.filename}.sha256"
    _write_atomic(sha_file, f"{info.sha256}  {info.filename}\n")
    data = {
        "name": info.name,
        "os": info.os,
        "version": info.version,
        "arch": info.arch,
        "filename": info.filename,
        "sha256": info.sha256,
        "size": info.size,
        "source": info.source,
        "source_sha256": info.source_sha256,
        "created": info.created,
        "recipe": RECIPE,
        **extra,
    }
    _write_atomic(metadata_path(cache), json.dumps(data, indent=2) + "\n")


def read_metadata(cache: Path) -> dict | None:
    try:
        return json.loads(metadata_path(cache).read_text())
    except FileNotFoundError:
        return None
    except ValueError as exc:
        log.warning("%s: unreadable (%s)", metadata_path(cache), exc)
        return None


def image_info(cache: Path, data: dict) -> ImageInfo:
    return ImageInfo(
        name=data["name"],
        version=data["version"],
        arch=data["arch"],
        path=str(Path(cache).resolve() / data["filename"]),
        sha256=data["sha256"],
        size=data["size"],
        source=data["source"],
        source_sha256=data["source_sha256"],
        created=data["created"],
    )


def listed_image(cache: Path) -> ImageInfo | None:
    """The cache's image if its tarball is there with the recorded size (no hashing: cheap
    enough for every /index.json request)."""
    data = read_metadata(cache)
    if not data or "filename" not in data:
        return None
    info = image_info(cache, data)
    try:
        if os.path.getsize(info.path) != info.size:
            return None
    except OSError:
        return None
    return info


def verified_image(cache: Path) -> ImageInfo | None:
    """The cache's image if metadata, tarball and .sha256 file agree, hashing the tarball;
    None (and why, in the log) otherwise. Also None for a cache built by another recipe."""
    data = read_metadata(cache)
    if not data:
        return None
    if data.get("recipe") != RECIPE or "filename" not in data:
        log.info("cache: built by another recipe (%s, now %s)", data.get("recipe"), RECIPE)
        return None
    info = listed_image(cache)
    if info is None:
        log.info("cache: %s missing or of the wrong size", data["filename"])
        return None
    digest = sha256_of(Path(info.path))
    if digest != info.sha256:
        log.warning("cache: %s has sha256 %s, metadata says %s", info.filename, digest, info.sha256)
        return None
    sha_file = Path(cache) / f"{info.filename}.sha256"
    expected = f"{info.sha256}  {info.filename}\n"
    if not sha_file.exists() or sha_file.read_text() != expected:
        _write_atomic(sha_file, expected)  # derived from verified data: just put it back
    return info


def index(images: list[ImageInfo], base_url: str) -> dict:
    """The catalogue: one entry per image, URLs absolute under base_url."""
    base = base_url.rstrip("/")
    return {
        "format": INDEX_FORMAT,
        "images": [
            {
                "name": info.name,
                "os": info.os,
                "version": info.version,
                "arch": info.arch,
                "url": f"{base}/{info.filename}",
                "sha256": info.sha256,
                "sha256_url": f"{base}/{info.filename}.sha256",
                "size": info.size,
                "created": info.created,
            }
            for info in images
        ],
    }


def served_files(images: list[ImageInfo]) -> set[str]:
    """The only names the server hands out besides index.json."""
    names = {METADATA} if images else set()
    for info in images:
        names |= {info.filename, f"{info.filename}.sha256"}
    return names


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
