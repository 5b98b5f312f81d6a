"""Schemathesis over /api/schema/, in-process: every operation, as the owner of a running
cluster (provider, provision, hosts, networks, image, template, VM, job log, samples) and as an
outsider, must never answer 500 and must answer what the schema says (status code, content
type, body).

The figures of each run (operations, examples, failures) and the status codes each operation
answered are printed: `pytest -s` shows them.
"""

import pytest

from tests.portal import fuzz, fuzz_world
from tests.portal.fuzz_world import EXAMPLES, bearer, known_cases, path_choices

pytestmark = pytest.mark.django_db

# The fuzz world's fixtures, used here.
schema = fuzz_world.schema
world = fuzz_world.world


@pytest.mark.parametrize("who", ["owner", "outsider"])
def test_every_operation_answers_what_the_schema_says(request, schema, world, who):
    run = fuzz.Run(
        schema,
        who=who,
        headers=bearer(request.getfixturevalue(who)),
        path_choices=path_choices(world),
        known_cases=known_cases(world),
        max_examples=EXAMPLES,
    )
    report = run()
    print(report.summary())
    print(report.coverage())
    assert not report.failures, report.summary() + "\n\n" + report.details()
