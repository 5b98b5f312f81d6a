"""The edge-host lab: each simulated droplet becomes a real host on this machine (needs root).

A host is a network namespace `edgelab-<droplet id>` with a "public" address on the root-namespace
bridge `edgelab0` (198.18.0.1/15, reachable from the portal), a private address on a per-VPC
bridge (no address in the root namespace, so only hosts of that VPC reach it, as on
DigitalOcean), and an OpenSSH server with the droplet's keys. Hosts share the filesystem; all
per-host state lives in `<base>/hosts/<id>/`, and sessions get `ONE_EDGE_BASE` pointing there.
The simulator's cloud firewalls are enforced on the public interface (`cloudfw`).
"""

from lab.hosts.manager import LabHostError, LabHosts

__all__ = ["LabHostError", "LabHosts"]
