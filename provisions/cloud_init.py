"""The user data every host droplet boots with (cloud-init's cloud-config).

Two jobs, both done by the droplet itself while the portal is still waiting for it:
- pin the host's SSH key: the portal made the key pair, so the first connection already knows
  what to expect (no trust on first use);
- start installing what host configuration needs (LXC, iptables, FRR, the id-mapping tools),
  so the apt work of a fresh Ubuntu droplet (one to two minutes on a 1-vCPU droplet) overlaps
  the boot wait and the other hosts' SSH wait instead of following them. Host configuration
  waits for cloud-init to finish (`cloud-init status --wait`) and then only checks: apt is never
  run by both at once, and a host whose cloud-init failed is finished by host configuration's
  own install.

Built with yaml.safe_dump, never by string pasting: the private key is multi-line.
"""

import yaml

from hostexec import scripts
from provisions.models import Provision

# Debian/Ubuntu package names. FRR is needed only with private networks, but knowing that at
# boot would tie the droplets to the networks of the day; installing it costs little on the
# droplet's own time.
# pigz and openssl: a host's first deploy of an image unpacks and checks it faster (rootfs.sh
# uses them where present; openssl comes with the distribution's images already). curl fetches
# the images (rootfs.sh): a minimal Debian 12 has no curl. restic writes and reads the VMs'
# backups (backups/hostscripts/vm-backup.sh).
BOOT_PACKAGES = [
    "lxc",
    "iptables",
    "iproute2",
    "frr",
    "uidmap",
    "pigz",
    "openssl",
    "curl",
    "restic",
]

# Host configuration reads this to know the packages came from cloud-init.
MARKER = f"{scripts.EDGE_BASE}/cloud-init.done"


def user_data(provision: Provision) -> str:
    config = {
        "ssh_deletekeys": True,
        "ssh_keys": {
            "ed25519_private": provision.host_key_private().strip() + "\n",
            "ed25519_public": provision.host_key_public.strip(),
        },
        "package_update": True,
        "packages": BOOT_PACKAGES,
        "runcmd": [["mkdir", "-p", scripts.EDGE_BASE], ["touch", MARKER]],
    }
    return "#cloud-config\n" + yaml.safe_dump(config, sort_keys=False, default_flow_style=False)
