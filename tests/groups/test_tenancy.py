"""Groups share objects by role: a member sees and changes the group's provisions and VMs, a
viewer only sees them (and is told so when they try), an outsider gets 404."""

import pytest
from django.test import Client

from core.groups import Membership, Role, personal_group
from core.tenancy import CHANGE, VIEW
from provisions.models import Provision
from vms import services as vm_services
from vms.models import VM

pytestmark = pytest.mark.django_db


@pytest.fixture
def shared(owner, cluster, template, django_user_model):
    """Alice's cluster and VM in her group; bob a member of it, carol a viewer."""
    vm = vm_services.instantiate(owner, "Alpine", name="web", nics=["dc-public"])
    group = personal_group(owner)
    bob = django_user_model.objects.create_user("bob", password="x")
    carol = django_user_model.objects.create_user("carol", password="x")
    Membership.objects.create(group=group, user=bob, role=Role.MEMBER)
    Membership.objects.create(group=group, user=carol, role=Role.VIEWER)
    return {"group": group, "vm": vm, "bob": bob, "carol": carol}


def test_new_objects_go_in_the_owners_primary_group(shared, owner, cluster):
    group = shared["group"]
    assert (group.name, cluster.group, shared["vm"].group) == ("alice", group, group)
    assert Membership.objects.get(user=owner, primary=True).role == Role.ADMIN


@pytest.mark.parametrize(("who", "sees", "changes"), [("bob", True, True), ("carol", True, False)])
def test_roles_decide_what_members_may_do(shared, cluster, who, sees, changes):
    user = shared[who]
    assert Provision.objects.for_user(user, VIEW).filter(pk=cluster.pk).exists() == sees
    assert Provision.objects.for_user(user, CHANGE).filter(pk=cluster.pk).exists() == changes
    assert VM.objects.for_user(user, CHANGE).filter(pk=shared["vm"].pk).exists() == changes


def test_the_pages_follow_the_roles_and_outsiders_still_get_404(shared, cluster, outsider):
    def client_of(user):
        client = Client()
        client.force_login(user)
        return client

    vm = shared["vm"]
    assert client_of(shared["carol"]).get(f"/vms/{vm.pk}/").status_code == 200
    refused = client_of(shared["carol"]).post(f"/vms/{vm.pk}/poweroff/", follow=True)
    assert "where you are a viewer: a viewer only reads" in refused.content.decode()
    assert VM.objects.get(pk=vm.pk).state == vm.state
    assert client_of(outsider).get(f"/vms/{vm.pk}/").status_code == 404
    assert client_of(outsider).get(cluster.get_absolute_url()).status_code == 404
    assert client_of(shared["bob"]).get(cluster.get_absolute_url()).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_new_users_racing_requests_make_one_primary_group(django_user_model):
    """Threads with their own connections (on PostgreSQL, CI's second pass, truly at once):
    one group, the same for all, and no error."""
    from core.groups import Group
    from tests.concurrency import run_in_threads

    dave = django_user_model.objects.create_user("dave", password="x")
    seen = []
    errors = run_in_threads(lambda i: seen.append(personal_group(dave).pk), 6)
    assert errors == []
    assert len(set(seen)) == 1 and Group.objects.filter(name__startswith="dave").count() == 1
