"""`/api/groups/`: made by anyone (its admin), members managed by its admins, never shown to
outsiders, deleted only when empty, never left without an admin."""

import pytest

from core.groups import Membership, personal_group

pytestmark = pytest.mark.django_db


def test_a_group_made_shared_and_emptied(api, outsider_api, owner, outsider, operator_api):
    made = api.post("/api/groups/", {"name": "edge-team"}, format="json")
    assert made.status_code == 201, made.content
    gid = made.json()["id"]
    assert made.json()["members"][0]["user"] == "alice"
    assert outsider_api.get(f"/api/groups/{gid}/").status_code == 404
    assert outsider_api.post(f"/api/groups/{gid}/members/", {"user": "carol"}).status_code == 404

    added = api.post(f"/api/groups/{gid}/members/", {"user": outsider.username, "role": "viewer"})
    assert added.status_code == 200
    assert {m["user"]: m["role"] for m in added.json()["members"]} == {
        "alice": "admin",
        outsider.username: "viewer",
    }
    # A viewer sees the group, cannot manage it.
    assert outsider_api.get(f"/api/groups/{gid}/").status_code == 200
    refused = outsider_api.post(f"/api/groups/{gid}/members/", {"user": outsider.username})
    assert refused.status_code == 400 and "only an admin" in refused.json()["detail"]

    last = api.delete(f"/api/groups/{gid}/members/alice/")
    assert last.status_code == 400 and "last admin" in last.json()["detail"]
    assert api.delete(f"/api/groups/{gid}/members/{outsider.username}/").status_code == 204
    assert api.delete(f"/api/groups/{gid}/").status_code == 204
    assert operator_api.get("/api/groups/").status_code == 200


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"name": "9lives"}, "name", "starting with a letter"),
        ({"name": "alice"}, "name", "exists"),
    ],
)
def test_bad_group_names_are_refused(api, owner, body, field, words):
    personal_group(owner)
    answer = api.post("/api/groups/", body, format="json")
    assert answer.status_code == 400
    assert words in str(answer.json()["errors"][field])


def test_a_group_that_holds_objects_or_is_primary_is_not_deleted(api, owner, cluster):
    group = personal_group(owner)
    refused = api.delete(f"/api/groups/{group.pk}/")
    assert refused.status_code == 400
    assert "still holds 1 provision(s)" in refused.json()["detail"]
    assert Membership.objects.filter(group=group).exists()
