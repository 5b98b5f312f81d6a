from tests.contract import session
from tests.provisions.conftest import hosts_configure_without_ssh, sim, sim_provider  # noqa: F401

pytest_terminal_summary = session.terminal_summary
