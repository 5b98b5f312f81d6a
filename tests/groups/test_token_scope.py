"""API tokens limited to one group and a role at or below their owner's: they reach only that
group's objects, create only there, and change nothing with a viewer's role."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from core.group_services import create_group
from core.groups import Membership, Role, personal_group
from core.models import ApiToken
from vms import services as vm_services
from vms.models import VM

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(owner, cluster, template, django_user_model):
    """Alice (admin of `team` and of her own group) with a VM in each; bob a member of team."""
    team = create_group(owner, "team")
    bob = django_user_model.objects.create_user("bob", password="x")
    Membership.objects.create(group=team, user=bob, role=Role.MEMBER)
    own = vm_services.instantiate(owner, "Alpine", name="own", nics=["dc-public"])
    shared = vm_services.instantiate(owner, "Alpine", name="shared", nics=["dc-public"], group=team)
    return {"team": team, "bob": bob, "own": own, "shared": shared}


def _api(user, group=None, role=""):
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {ApiToken.issue(user, 't', None, group, role)[1]}"
    )
    return client


def test_a_group_token_reaches_only_its_group(world, owner):
    api = _api(owner, world["team"], Role.MEMBER)
    names = {vm["name"] for vm in api.get("/api/vms/").json()["results"]}
    assert names == {"shared"}
    assert api.get(f"/api/vms/{world['own'].pk}/").status_code == 404
    made = api.post(
        "/api/templates/1/instantiate/", {"name": "new", "nics": ["dc-public"]}, format="json"
    )
    # The template is in alice's own group, which this token does not reach.
    assert made.status_code == 404
    assert (
        api.post(
            f"/api/vms/{world['shared'].pk}/action/", {"action": "terminate"}, format="json"
        ).status_code
        == 202
    )


def test_a_viewer_token_of_an_admin_changes_nothing(world, owner):
    api = _api(owner, world["team"], Role.VIEWER)
    shared = world["shared"]
    assert api.get(f"/api/vms/{shared.pk}/").status_code == 200
    refused = api.post(f"/api/vms/{shared.pk}/action/", {"action": "poweroff"}, format="json")
    assert refused.status_code == 403 and "viewer's role" in refused.json()["detail"]
    refused = api.post(f"/api/vms/{shared.pk}/chown/", {"user": "bob"}, format="json")
    assert refused.status_code == 403
    assert VM.objects.get(pk=shared.pk).owner == owner


def test_a_member_token_of_an_admin_cannot_manage_the_group(world, owner):
    api = _api(owner, world["team"], Role.MEMBER)
    refused = api.post(f"/api/vms/{world['shared'].pk}/chown/", {"user": "bob"}, format="json")
    assert refused.status_code == 403 and "only an admin" in refused.json()["detail"]
    refused = api.post(
        f"/api/groups/{world['team'].pk}/members/", {"user": "bob", "role": "admin"}, format="json"
    )
    assert refused.status_code in (400, 404)
    assert Membership.objects.get(user=world["bob"]).role == Role.MEMBER


def test_a_token_is_never_above_its_owners_role(world):
    bob = Client()
    bob.force_login(world["bob"])
    answer = bob.post(
        "/account/tokens/", {"name": "ci", "group": world["team"].pk, "role": "admin"}
    )
    assert "you are a member in group team" in answer.content.decode()
    assert not ApiToken.objects.filter(owner=world["bob"]).exists()
    answer = bob.post(
        "/account/tokens/", {"name": "ci", "group": world["team"].pk, "role": "viewer"}
    )
    token = ApiToken.objects.get(owner=world["bob"])
    assert (token.group, token.role) == (world["team"], "viewer")
    assert "team (viewer)" in answer.content.decode()
    # Someone else's group is not offered, nor taken.
    answer = bob.post(
        "/account/tokens/", {"name": "x", "group": personal_group(world["shared"].owner).pk}
    )
    assert ApiToken.objects.filter(owner=world["bob"]).count() == 1


def test_a_group_token_creates_in_its_group_only(world, owner, template, cluster):
    for shared in (template, cluster):  # the token reaches the template and the cluster
        type(shared).objects.filter(pk=shared.pk).update(group=world["team"])
    api = _api(owner, world["team"], Role.MEMBER)
    url = f"/api/templates/{template.pk}/instantiate/"
    made = api.post(url, {"name": "new", "nics": ["dc-public"]}, format="json")
    assert made.status_code == 201 and made.json()["group"] == "team"
    body = {"name": "elsewhere", "nics": ["dc-public"], "group": "alice"}
    refused = api.post(url, body, format="json")
    assert refused.status_code == 400 and "limited to another group" in str(refused.json())
    assert not VM.objects.filter(name="elsewhere").exists()


def test_an_operators_member_token_does_not_manage_the_group(world, operator):
    api = _api(operator, world["team"], Role.MEMBER)
    refused = api.post(
        f"/api/groups/{world['team'].pk}/members/", {"user": "bob", "role": "admin"}, format="json"
    )
    assert refused.status_code == 400 and "only an admin" in str(refused.json())
    refused = api.post(f"/api/vms/{world['shared'].pk}/chown/", {"user": "bob"}, format="json")
    assert refused.status_code == 403
    assert Membership.objects.get(user=world["bob"]).role == Role.MEMBER
    assert VM.objects.get(pk=world["shared"].pk).owner.username == "alice"
