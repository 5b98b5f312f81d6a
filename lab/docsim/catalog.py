"""Static catalogues: regions, sizes and images, in the official API's shapes."""

REGIONS = {
    "nyc1": "New York 1",
    "nyc3": "New York 3",
    "ams3": "Amsterdam 3",
    "lon1": "London 1",
    "sfo3": "San Francisco 3",
    "sgp1": "Singapore 1",
    "fra1": "Frankfurt 1",
    "tor1": "Toronto 1",
    "blr1": "Bangalore 1",
    "syd1": "Sydney 1",
}

_SIZES = [
    # slug, memory MiB, vcpus, disk GB, transfer TB, monthly USD
    ("s-1vcpu-512mb-10gb", 512, 1, 10, 0.5, 4),
    ("s-1vcpu-1gb", 1024, 1, 25, 1.0, 6),
    ("s-1vcpu-2gb", 2048, 1, 50, 2.0, 12),
    ("s-2vcpu-2gb", 2048, 2, 60, 3.0, 18),
    ("s-2vcpu-4gb", 4096, 2, 80, 4.0, 24),
    ("s-4vcpu-8gb", 8192, 4, 160, 5.0, 48),
    ("s-8vcpu-16gb", 16384, 8, 320, 6.0, 96),
]

_IMAGES = [
    # id, slug, distribution, name
    (100001, "ubuntu-22-04-x64", "Ubuntu", "22.04 (LTS) x64"),
    (100002, "ubuntu-24-04-x64", "Ubuntu", "24.04 (LTS) x64"),
    (100003, "debian-12-x64", "Debian", "12 x64"),
    (100004, "centos-stream-9-x64", "CentOS", "Stream 9 x64"),
    (100005, "centos-8-x64", "CentOS", "8 x64"),
    (100006, "rockylinux-9-x64", "Rocky Linux", "9 x64"),
]


def region(slug: str) -> dict:
    return {
        "name": REGIONS[slug],
        "slug": slug,
        "available": True,
        "features": ["backups", "ipv6", "metadata", "install_agent", "storage", "image_transfer"],
        "sizes": [s[0] for s in _SIZES],
    }


def size(slug: str) -> dict | None:
    for s_slug, memory, vcpus, disk, transfer, monthly in _SIZES:
        if s_slug == slug:
            return {
                "slug": slug,
                "memory": memory,
                "vcpus": vcpus,
                "disk": disk,
                "transfer": transfer,
                "price_monthly": monthly,
                "price_hourly": round(monthly / 672, 5),
                "regions": sorted(REGIONS),
                "available": True,
                "description": "Basic",
            }
    return None


def sizes() -> list[dict]:
    return [size(s[0]) for s in _SIZES]


def image(ref) -> dict | None:
    for image_id, slug, distribution, name in _IMAGES:
        if str(ref) in (str(image_id), slug):
            return {
                "id": image_id,
                "name": name,
                "distribution": distribution,
                "slug": slug,
                "public": True,
                "regions": sorted(REGIONS),
                "type": "base",
                "min_disk_size": 7,
                "size_gigabytes": 2.36,
                "description": f"{distribution} {name}",
                "tags": [],
                "status": "available",
                "error_message": "",
                "created_at": "2024-04-23T00:00:00Z",
            }
    return None


def images() -> list[dict]:
    return [image(i[0]) for i in _IMAGES]
