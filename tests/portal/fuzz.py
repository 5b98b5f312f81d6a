"""Run schemathesis over every operation of the portal's schema, in-process, and collect every
failure instead of stopping at the first: one run reports all that is wrong at once.

Each case runs in a savepoint that is rolled back, so every request sees the fixtures' data as
they were built (a DELETE in one case does not turn later ones into 404s), and the jobs that
services queue with `transaction.on_commit` never start.
"""

import logging
import traceback
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.core.cache import cache
from django.core.signals import got_request_exception, request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@dataclass
class Report:
    who: str
    operations: int = 0
    examples: int = 0
    # (operation, "failure title (status)") -> the first reproduction of that kind.
    failures: dict = field(default_factory=dict)
    # operation -> how often each status code came back: what the examples reached.
    statuses: dict = field(default_factory=lambda: defaultdict(Counter))

    def summary(self) -> str:
        return (
            f"schemathesis as {self.who}: {self.operations} operations, {self.examples} examples, "
            f"{len(self.failures)} failures"
        )

    def coverage(self) -> str:
        return "\n".join(
            f"  {operation}: " + " ".join(f"{code}x{n}" for code, n in sorted(counts.items()))
            for operation, counts in self.statuses.items()
        )

    def details(self) -> str:
        return "\n\n".join(
            f"--- {operation}: {title}\n{text}"
            for (operation, title), text in sorted(self.failures.items())
        )


@contextmanager
def keep_test_connection():
    """Django closes the database connection around each request, which would end the test's
    transaction; its own test client disconnects these receivers the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


class _Rollback(Exception):
    def __init__(self, response):
        self.response = response


class Run:
    """One user's run. `path_choices(operation)` lists path-parameter sets that name existing
    objects; `known_cases(operation)` lists Case arguments that should succeed (generated
    bodies rarely do: a random region or provision name is refused before anything is made)."""

    def __init__(
        self, schema, *, who, headers, path_choices, known_cases, max_examples, inspect=None
    ):
        self.schema = schema
        # inspect(operation label, response): called before each case's rollback, to look at
        # what the request changed.
        self.inspect = inspect
        self.headers = headers
        self.path_choices = path_choices
        self.known_cases = known_cases
        self.max_examples = max_examples
        self.report = Report(who)
        self.traceback = None

    def __call__(self) -> Report:
        got_request_exception.connect(self._record_traceback)
        # Thousands of 4xx log lines would bury the report; it has the 500s' tracebacks.
        quiet = logging.getLogger("django.request")
        level, quiet.level = quiet.level, logging.CRITICAL
        try:
            with keep_test_connection():
                for result in self.schema.get_all_operations():
                    self._operation(result.ok())
        finally:
            quiet.setLevel(level)
            got_request_exception.disconnect(self._record_traceback)
        return self.report

    def _record_traceback(self, sender, request=None, **kwargs):
        self.traceback = traceback.format_exc()

    def _strategy(self, operation):
        """Positive and negative cases, on real objects' IDs as well as on generated ones."""
        strategies = []
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategies.append(operation.as_strategy(mode))
            strategies += [
                operation.as_strategy(mode, path_parameters=p) for p in self.path_choices(operation)
            ]
        return st.one_of(strategies)

    def _operation(self, operation):
        self.report.operations += 1

        @settings(
            max_examples=self.max_examples,
            derandomize=True,  # the same cases every run: CI never flakes on a new example
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],  # no shrinking: every failure is recorded
            suppress_health_check=list(HealthCheck),
        )
        @given(case=self._strategy(operation))
        def generated(case):
            self._check(operation, case)

        generated()
        for arguments in self.known_cases(operation):
            self._check(operation, operation.Case(media_type="application/json", **arguments))

    def _check(self, operation, case):
        self.report.examples += 1
        self.traceback = None
        # API throttle counts live in the cache: each case starts with none, as each test does
        # (tests/conftest.py), or the run would soon be answered 429 throughout.
        cache.clear()
        try:
            with transaction.atomic():
                response = case.call(headers=self.headers)
                if self.inspect is not None:
                    self.inspect(operation.label, response)
                raise _Rollback(response)
        except _Rollback as done:
            response = done.response
        self.report.statuses[operation.label][response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=self.headers)
        except FailureGroup as group:
            for failure in group.exceptions:
                key = (operation.label, f"{failure.title} ({response.status_code})")
                if key not in self.report.failures:
                    self.report.failures[key] = str(group) + (
                        "\n" + self.traceback if self.traceback else ""
                    )
