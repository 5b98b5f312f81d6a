"""Simulator settings, shared by the command line and `start_in_thread`."""

from dataclasses import dataclass, field


@dataclass
class Options:
    host: str = "127.0.0.1"
    port: int = 8765
    tokens: list[str] = field(default_factory=lambda: ["lab-token"])
    email: str = "lab@example.com"
    lab: bool = False
    # Serve HTTPS with a self-signed certificate (clients that refuse plain HTTP, like pydo).
    tls: bool = False
    # Faults and timings, changeable at run time through POST /_sim/faults.
    boot_delay: float = 2.0
    latency_ms: float = 0.0
    rate_limit: int = 5000
    fault_429_every: int = 0
    retry_after: int = 1
    fault_5xx_every: int = 0
    fault_5xx_rate: float = 0.0
    seed: int | None = None
    errored_actions: bool = False
    never_active: str = ""

    FAULTS = (
        "boot_delay",
        "latency_ms",
        "rate_limit",
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
