"""Run one function in several threads at once, each with its own database connection."""

import threading

from django.db import connections


def run_in_threads(work, count: int) -> list[Exception]:
    """Start `count` threads that call work(i) together (a barrier releases them at once) and
    return what they raised; each closes its connections so the test database can be dropped."""
    errors: list[Exception] = []
    start = threading.Barrier(count)

    def worker(index):
        try:
            start.wait()
            work(index)
        except Exception as exc:  # noqa: BLE001 - returned to the test, which asserts on it
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors
