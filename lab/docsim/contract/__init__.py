"""DigitalOcean's own API contract (its OpenAPI specification, cut to the paths the portal
uses; provenance and licence in this directory) and a check of exchanges against it.

    contract = Contract()
    recorder = Recorder()
    sim.observe(recorder)            # every API request the simulator answers
    ...                              # drive the portal against it
    tally = check_exchanges(contract, recorder.exchanges)
    assert not tally.failures, tally.failures
    print(tally.figures())
"""

import threading
from functools import cache

from lab.docsim.contract.check import Contract, Operation, Tally, check_exchanges

__all__ = ["Contract", "Operation", "Recorder", "Tally", "check_exchanges", "contract"]


class Recorder:
    """An observer for RunningSimulator.observe: keeps every exchange, in order."""

    def __init__(self):
        self._lock = threading.Lock()
        self.exchanges = []

    def __call__(self, exchange) -> None:
        with self._lock:
            self.exchanges.append(exchange)


@cache
def contract() -> Contract:
    """The contract, loaded once per process (the file is a megabyte of JSON)."""
    return Contract()
