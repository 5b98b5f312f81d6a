"""Two requests racing for the last unit of a quota cannot both pass: on PostgreSQL the
reservation's row locks make them queue (CI runs this file on both databases)."""

import pytest
from django.contrib.auth import get_user_model

from core import group_services
from core.groups import Role
from core.quotas import Quota
from provisions.models import Provision
from tests.concurrency import run_in_threads
from vms import services
from vms.models import VM, VMTemplate

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 6


@pytest.fixture(autouse=True)
def _queue_jobs_only(settings):
    settings.JOBS_SYNC = False


def test_members_racing_for_a_groups_last_vms_get_exactly_the_quota(owner, cluster, template):
    """Each thread is another member of the group: only the group's row lock orders them."""
    cluster.hosts.update(cpu=100, memory_mb=100000)
    team = group_services.create_group(owner, "edge-team")
    members = []
    for n in range(THREADS):
        user = get_user_model().objects.create_user(f"member{n}")
        group_services.set_member(owner, team, user.username, Role.MEMBER)
        members.append(user)
    Provision.objects.filter(pk=cluster.pk).update(group=team)
    VMTemplate.objects.filter(pk=template.pk).update(group=team)
    Quota.objects.create(group=team, vms=2)

    errors = run_in_threads(
        lambda n: services.instantiate(
            members[n], "Alpine", name=f"vm{n}", nics=["dc-public"], group=team
        ),
        THREADS,
    )

    assert VM.objects.filter(group=team).count() == 2
    assert len(errors) == THREADS - 2
    assert all("group edge-team: VMS 2 of 2 used" in str(exc) for exc in errors), errors
