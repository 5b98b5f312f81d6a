import pytest
from rest_framework.test import APIClient

from core.choices import EventSource
from core.groups import Membership, Role, personal_group
from core.models import ApiToken
from core.transitions import transition
from vms import services as vm_services


@pytest.fixture
def team(owner, cluster, template, django_user_model):
    """Alice's RUNNING VM in her group, where she is admin; bob a member, carol a viewer."""
    vm = vm_services.instantiate(owner, "Alpine", name="web", nics=["dc-public"])
    transition(vm, "RUNNING", {"PENDING"}, source=EventSource.JOB, reason="up")
    group = personal_group(owner)
    people = {"group": group, "vm": vm}
    for name, role in (("bob", Role.MEMBER), ("carol", Role.VIEWER)):
        people[name] = django_user_model.objects.create_user(name, password=f"pw-{name}-123")
        Membership.objects.create(group=group, user=people[name], role=role)
    return people


def token_client(user, **scope) -> APIClient:
    """An API client with a fresh token of `user` (never used from anywhere yet)."""
    token, raw = ApiToken.issue(user, "audit-test", **scope)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    client.token = token
    client.raw_token = raw
    return client
