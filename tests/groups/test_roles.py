"""Every role on every face: a viewer of a group reads its objects and changes none of them
(each API operation fuzzed, each page posted to), a member changes them, an outsider gets 404.

What "changes none" means is measured, not assumed: every row of the group's provisions,
hosts, networks, security groups, images, templates, VMs and webhooks (and their jobs,
snapshots, backups, schedules and deliveries) is the same after each of the viewer's requests
as before it.
"""

import pytest
from django.test import Client
from django.urls import get_resolver
from django.urls.resolvers import URLResolver

from backups.models import BackupSchedule, VMBackup
from core.groups import Membership, Role, personal_group
from core.quotas import Quota
from costs.models import Budget
from provisions.models import Host, Job, Network, Provision
from provisions.secgroups.models import SecurityGroup
from tests.portal import fuzz, fuzz_world
from tests.portal.fuzz_world import EXAMPLES, bearer, known_cases, path_choices
from vms.models import VM, Image, VMJob, VMSnapshot, VMTemplate
from webhooks.models import Delivery, Webhook

pytestmark = pytest.mark.django_db

# The fuzz world's fixtures, used here.
schema = fuzz_world.schema
world = fuzz_world.world


def fingerprint(group) -> dict:
    """Every row of the group's objects, as values, and the rows that hang off them."""
    provisions = Provision.objects.filter(group=group)
    vms = VM.objects.filter(group=group)
    rows = {
        "provisions": provisions,
        "hosts": Host.objects.filter(provision__in=provisions),
        "networks": Network.objects.filter(provision__in=provisions),
        "secgroups": SecurityGroup.objects.filter(provision__in=provisions),
        "images": Image.objects.filter(group=group),
        "templates": VMTemplate.objects.filter(group=group),
        "vms": vms,
        "jobs": Job.objects.filter(provision__in=provisions),
        "vm_jobs": VMJob.objects.filter(vm__in=vms),
        "snapshots": VMSnapshot.objects.filter(vm__in=vms),
        "backups": VMBackup.objects.filter(vm__in=vms),
        "schedules": BackupSchedule.objects.all(),
        "webhooks": Webhook.objects.filter(group=group),
        "deliveries": Delivery.objects.filter(webhook__group=group),
        "quotas": Quota.objects.all(),
        "budgets": Budget.objects.filter(group=group),
    }
    return {name: list(query.order_by("pk").values()) for name, query in rows.items()}


@pytest.fixture
def roles(owner, world, django_user_model):
    """The owner's world in her group; bob a member, carol a viewer."""
    group = personal_group(owner)
    people = {"group": group}
    for name, role in (("bob", Role.MEMBER), ("carol", Role.VIEWER)):
        people[name] = django_user_model.objects.create_user(name, password="x")
        Membership.objects.create(group=group, user=people[name], role=role)
    return people


def test_a_viewer_fuzzing_every_api_operation_changes_nothing_of_the_group(
    schema,  # noqa: F811
    world,  # noqa: F811
    roles,
):
    before = fingerprint(roles["group"])
    changed = set()

    def inspect(label, response):
        if label.startswith("GET "):
            return  # reads: the outsider and owner runs check they answer, not what they do
        if fingerprint(roles["group"]) != before:
            changed.add(f"{label} ({response.status_code})")

    run = fuzz.Run(
        schema,
        who="viewer",
        headers=bearer(roles["carol"]),
        path_choices=path_choices(world),
        # The owner's successful requests, which a viewer must be refused.
        known_cases=known_cases(world),
        max_examples=EXAMPLES,
        inspect=inspect,
    )
    report = run()
    print(report.summary())
    assert not report.failures, report.summary() + "\n\n" + report.details()
    assert not changed, f"a viewer changed the group's objects with: {sorted(changed)}"


def _routes():
    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                yield "/" + prefix + str(pattern.pattern)

    return [r for r in walk(get_resolver().url_patterns) if "<" in r and "/api/" not in r]


def _fill(route, world) -> list[str]:
    """The route with the group's objects' IDs in it (every VM action, for the action route)."""
    collection = route.split("/")[1]
    pk = {
        "providers": world["providers"][0],
        "provisions": world["provisions"][0],
        "vms": world["vms"][0],
        "backups": world["vms"][0],
        "groups": Membership.objects.get(user__username="alice", primary=True).group_id,
    }.get(collection)
    if route.startswith("/vms/templates/"):
        pk = world["templates"][0]
    if pk is None:
        return []
    filled = route.replace("<int:pk>", str(pk))
    for name, value in (
        ("<int:host_pk>", world["hosts"][0]),
        ("<int:network_pk>", world["networks"][0]),
        ("<int:group_pk>", 1),
        ("<int:index>", 0),
        ("<int:snapshot>", 1),
        ("<int:backup>", 1),
    ):
        filled = filled.replace(name, str(value))
    if "<str:action>" in filled:
        from vms.services import ACTIONS

        return [filled.replace("<str:action>", action) for action in ACTIONS]
    return [filled]


# What a form could ask for; a refusal must come from the role, not from a missing field.
FORM = {
    "name": "renamed",
    "confirm": "yes",
    "hosts": "1",
    "cpu": "1",
    "memory_mb": "256",
    "disk_mb": "2048",
    "size_mb": "2048",
    "policy": "pack",
    "nic": "dc-public",
    "description": "changed",
}


def test_a_viewer_posting_to_every_page_changes_nothing_and_sees_the_group(world, roles):
    carol = Client()
    carol.force_login(roles["carol"])
    before = fingerprint(roles["group"])
    urls = [url for route in _routes() for url in _fill(route, world)]
    assert len(urls) > 40
    for url in urls:
        answer = carol.post(url, FORM)
        assert answer.status_code < 500, url
    assert fingerprint(roles["group"]) == before
    for page in ("/vms/{vms}/", "/provisions/{provisions}/"):
        url = page.format(vms=world["vms"][0], provisions=world["provisions"][0])
        assert carol.get(url).status_code == 200, url


def test_a_viewer_is_told_why_and_a_member_may_change(world, roles):
    vm = VM.objects.get(pk=world["vms"][0])
    carol, bob = Client(), Client()
    carol.force_login(roles["carol"])
    bob.force_login(roles["bob"])
    refused = carol.post(
        f"/api/vms/{vm.pk}/action/", {"action": "poweroff"}, content_type="application/json"
    )
    assert refused.status_code == 403
    assert "where you are a viewer" in refused.json()["detail"]
    template = VMTemplate.objects.get(pk=world["templates"][0])
    refused = carol.delete(f"/api/templates/{template.pk}/")
    assert refused.status_code == 403 and VMTemplate.objects.filter(pk=template.pk).exists()
    allowed = bob.patch(
        f"/api/templates/{template.pk}/", {"cpu": "0.5"}, content_type="application/json"
    )
    assert allowed.status_code == 200, allowed.content
    assert str(VMTemplate.objects.get(pk=template.pk).cpu) == "0.50"
