"""Simulator settings, shared by the command line and `start_in_thread`."""

from dataclasses import dataclass, field


@dataclass
class Options:
    host: str = "127.0.0.1"
    port: int = 8765
    tokens: list[str] = field(default_factory=lambda: ["lab-token"])
    email: str = "lab@example.com"
    lab: bool = False
    # With lab: droplets made from the Debian 12 image boot as QEMU guests (lab.droplets).
    vm_droplets: bool = False
    # Serve HTTPS with a self-signed certificate (clients that refuse plain HTTP, like pydo).
    tls: bool = False
    # Faults and timings, changeable at run time through POST /_sim/faults.
    boot_delay: float = 2.0
    # Droplet actions (power_on, reboot...) complete this long after they started.
    action_delay: float = 0.5
    # A deleted droplet stays a member of its VPC this long (DigitalOcean: a few minutes), so
    # the VPC cannot be deleted right after its droplets.
    vpc_member_linger: float = 20.0
    latency_ms: float = 0.0
    # DigitalOcean's real limits (lab.docsim.ratelimit), on by default. rate_time_scale
    # shrinks the windows (not the limits): 0.01 makes a minute 0.6 s and an hour 36 s.
    rate_limit_hour: int = 5000
    rate_limit_minute: int = 250
    keys_list_limit: int = 10
    rate_time_scale: float = 1.0
    fault_429_every: int = 0
    retry_after: int = 1
    fault_5xx_every: int = 0
    fault_5xx_rate: float = 0.0
    seed: int | None = None
    errored_actions: bool = False
    never_active: str = ""

    FAULTS = (
        "boot_delay",
        "action_delay",
        "vpc_member_linger",
        "latency_ms",
        "rate_limit_hour",
        "rate_limit_minute",
        "keys_list_limit",
        "rate_time_scale",
        "fault_429_every",
        "retry_after",
        "fault_5xx_every",
        "fault_5xx_rate",
        "errored_actions",
        "never_active",
    )

    def faults(self) -> dict:
        return {name: getattr(self, name) for name in self.FAULTS}

    def set_faults(self, **changes) -> None:
        for name, value in changes.items():
            if name not in self.FAULTS:
                raise ValueError(f"unknown fault {name!r}; known: {', '.join(self.FAULTS)}")
            current = getattr(self, name)
            setattr(self, name, type(current)(value))
