from tests.contract import session

pytest_terminal_summary = session.terminal_summary
