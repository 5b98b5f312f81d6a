"""The groups migration on a database made by the previous schema, with data: every user gets
a primary group of their own, and their provisions, images, templates and VMs go in it."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

PREVIOUS = [
    ("core", "0004_adopt_portal_tables"),
    ("provisions", "0013_droplet_meters"),
    ("vms", "0013_recovery_policy"),
]
CURRENT = [("core", "0005_groups"), ("provisions", "0014_group"), ("vms", "0014_group")]


@pytest.mark.django_db(transaction=True)
def test_each_users_objects_go_in_their_own_new_group(back_to_the_latest_schema):
    executor = MigrationExecutor(connection)
    executor.migrate(PREVIOUS)
    old = executor.loader.project_state(PREVIOUS).apps
    User = old.get_model("auth", "User")
    Provider = old.get_model("providers", "Provider")
    Provision = old.get_model("provisions", "Provision")
    alice = User.objects.create(username="alice")
    bob = User.objects.create(username="bob")
    User.objects.create(username="nobody-owns-anything")
    provider = Provider.objects.create(name="do", region="nyc3", owner=alice)
    for owner, name in ((alice, "a1"), (alice, "a2"), (bob, "b1")):
        Provision.objects.create(
            name=name, provider=provider, owner=owner, size="s-1vcpu-1gb", image="debian-12-x64"
        )

    executor = MigrationExecutor(connection)
    executor.migrate(CURRENT)
    new = executor.loader.project_state(CURRENT).apps
    Membership = new.get_model("core", "Membership")
    Provision = new.get_model("provisions", "Provision")
    primary = {
        m.user.username: (m.group.name, m.role)
        for m in Membership.objects.filter(primary=True).select_related("user", "group")
    }
    assert primary == {
        "alice": ("alice", "admin"),
        "bob": ("bob", "admin"),
        "nobody-owns-anything": ("nobody-owns-anything", "admin"),
    }
    assert {p.name: p.group.name for p in Provision.objects.select_related("group")} == {
        "a1": "alice",
        "a2": "alice",
        "b1": "bob",
    }
