"""Counters kept in the database, buffered per process.

An increment only adds to a dict in this process; a daemon thread adds the dict to the
database every METRICS_FLUSH_SECONDS in one transaction of its own. So a counted call (a
DigitalOcean request, an SSH connection) never waits for the database, never writes inside the
caller's transaction (where a PostgreSQL row lock on a shared counter would hold up every other
job counting the same thing until that transaction ends), and a SIGKILLed process loses at most
one interval of counts. The buffer holds one entry per series, so it stays small even while the
database is unreachable.
"""

import json
import logging
import os
import threading

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F

log = logging.getLogger(__name__)

_lock = threading.Lock()
_pending: dict[tuple[str, str], float] = {}
_flusher: threading.Thread | None = None


def add(name: str, labels: dict[str, str], amount: float = 1.0) -> None:
    key = (name, json.dumps(labels, sort_keys=True, separators=(",", ":")))
    with _lock:
        _pending[key] = _pending.get(key, 0.0) + amount
        _start_flusher()


def flush() -> None:
    """Add what this process counted since the last flush to the database."""
    global _pending
    with _lock:
        batch, _pending = _pending, {}
    if not batch:
        return
    from core.models import MetricCounter

    try:
        with transaction.atomic():
            # Sorted: every process takes the counter rows' locks in the same order, so two
            # flushes never deadlock each other.
            for (name, labels), amount in sorted(batch.items()):
                series = name + labels
                updated = MetricCounter.objects.filter(series=series).update(
                    value=F("value") + amount
                )
                if not updated:
                    MetricCounter.objects.create(
                        series=series, name=name, labels=json.loads(labels), value=amount
                    )
    except DatabaseError as exc:
        # Kept for the next flush: a new series created by another process at the same moment
        # (unique series) or a database away for a while.
        log.warning("metrics not written yet (%s); retrying at the next flush", exc)
        with _lock:
            for key, amount in batch.items():
                _pending[key] = _pending.get(key, 0.0) + amount


def discard() -> None:
    """Forget what this process counted and has not written (tests start from nothing)."""
    with _lock:
        _pending.clear()


def _start_flusher() -> None:
    global _flusher
    interval = settings.METRICS_FLUSH_SECONDS
    if interval <= 0 or (_flusher is not None and _flusher.is_alive()):
        return
    _flusher = threading.Thread(target=_flush_forever, args=(interval,), daemon=True)
    _flusher.name = "metrics-flush"
    _flusher.start()


def _flush_forever(interval: float) -> None:
    stop = threading.Event()
    while not stop.wait(interval):
        try:
            flush()
        except Exception:  # the thread must outlive any one bad flush
            log.exception("metrics flush failed")
        finally:
            # A connection of its own, closed between flushes: web processes keep none open.
            connection.close()


def _after_fork_in_child() -> None:
    # A forked worker process starts with the parent's buffer (already the parent's to write)
    # and without its thread; and the lock may have been held at the fork.
    global _lock, _pending, _flusher
    _lock = threading.Lock()
    _pending = {}
    _flusher = None


os.register_at_fork(after_in_child=_after_fork_in_child)
