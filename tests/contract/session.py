"""Every simulator exchange of the test session checked against DigitalOcean's contract.

Fixtures that start a simulator wrap it in `checked(sim)`: at the end of each test, every
request it answered (and the answer) is validated, a disagreement fails that test, and the
figures add up into SESSION, which the terminal summary prints.
"""

from contextlib import contextmanager

import pytest

from lab.docsim.contract import Recorder, Tally, check_exchanges, contract

SESSION = Tally(operations_in_contract=len(contract().operations))


@contextmanager
def checked(sim, *, requests: bool = True):
    """`requests=False` for tests that send malformed requests on purpose: their answers
    are still checked."""
    recorder = Recorder()
    sim.observe(recorder)
    yield recorder
    tally = check_exchanges(contract(), recorder.exchanges, requests=requests)
    SESSION.merge(tally)
    if tally.failures:
        lines = "\n".join(f"  {summary}: {problem}" for summary, problem in tally.failures[:30])
        pytest.fail(f"the DigitalOcean contract disagrees ({tally.figures()}):\n{lines}")


# Figures tests report for the terminal summary (test_contract's scenario).
REPORTS: list[str] = []
_printed = []


def terminal_summary(terminalreporter) -> None:
    """pytest_terminal_summary for the conftests of the directories that check exchanges;
    prints once however many of them pytest loaded."""
    if _printed or not (SESSION.answers or REPORTS):
        return
    _printed.append(True)
    terminalreporter.section("DigitalOcean contract")
    for line in REPORTS:
        terminalreporter.write_line(line)
    terminalreporter.write_line(f"every simulator exchange of the session: {SESSION.figures()}")
