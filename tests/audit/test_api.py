"""`/api/audit/`'s time filters on PostgreSQL's terms: an odd time is answered, never a 500."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("until=0299-01-19T09:32:12.031%2B18:15", 200),  # past PostgreSQL's offsets: in UTC
        ("since=0001-01-01T00:00:00%2B10:00", 400),  # before year 1 in UTC
        ("since=yesterday", 400),
    ],
)
def test_odd_times_are_answered_not_a_server_error(api, query, status):
    assert api.get(f"/api/audit/?{query}").status_code == status
