"""`/api/webhooks/`: only a group's admins and the operators make, see and change its webhooks;
members and viewers are told so, another tenant gets 404; the secret is shown once."""

import pytest

from core import crypto
from tests.webhooks.helpers import EVENTS, client_of, signature_ok
from webhooks import services
from webhooks.models import Delivery, Webhook

pytestmark = pytest.mark.django_db

URL = "https://hooks.example/edge"  # does not resolve: accepted, checked again when sent


def create(user, **body):
    return client_of(user).post(
        "/api/webhooks/", {"url": URL, "events": ["vm.state"], **body}, format="json"
    )


def test_an_admin_creates_one_and_sees_its_secret_once(people):
    answer = create(people["alice"], events=EVENTS)
    assert answer.status_code == 201, answer.content
    made = answer.json()
    secret = made["secret"]
    assert secret.startswith("whsec_") and len(secret) > 40
    assert made["group"] == "alice" and made["events"] == EVENTS and made["active"] is True
    assert made["secret_hint"] == "****" + secret[-4:]
    hook = Webhook.objects.get()
    assert secret not in hook.secret_encrypted and crypto.decrypt(hook.secret_encrypted) == secret
    alice = client_of(people["alice"])
    shown = alice.get(f"/api/webhooks/{hook.pk}/").json()
    listed = alice.get("/api/webhooks/").json()["results"]
    assert "secret" not in shown and [h["id"] for h in listed] == [hook.pk]
    assert secret not in str(shown) + str(listed)


def test_rotating_shows_a_new_secret_once(people):
    hook, old = services.create(people["alice"], URL, ["vm.state"])
    alice = client_of(people["alice"])
    answer = alice.post(f"/api/webhooks/{hook.pk}/rotate-secret/")
    assert answer.status_code == 200
    new = answer.json()["secret"]
    assert new != old and Webhook.objects.get().get_secret() == new
    assert "secret" not in alice.get(f"/api/webhooks/{hook.pk}/").json()


@pytest.mark.parametrize("who", ["bob", "carol"])
def test_members_and_viewers_neither_make_nor_see_the_groups_webhooks(people, who):
    refused = create(people[who], group="alice")
    assert refused.status_code == 403
    assert "only its admins and the operators manage its webhooks" in refused.json()["detail"]
    hook, _ = services.create(people["alice"], URL, ["vm.state"])
    them = client_of(people[who])
    assert them.get("/api/webhooks/").json()["results"] == []
    for answer in (
        them.get(f"/api/webhooks/{hook.pk}/"),
        them.patch(f"/api/webhooks/{hook.pk}/", {"active": False}, format="json"),
        them.delete(f"/api/webhooks/{hook.pk}/"),
        them.post(f"/api/webhooks/{hook.pk}/rotate-secret/"),
        them.post(f"/api/webhooks/{hook.pk}/ping/"),
        them.get(f"/api/webhooks/{hook.pk}/deliveries/"),
    ):
        assert answer.status_code == 404
    assert Webhook.objects.get().active and Webhook.objects.get().get_secret()
    assert not Delivery.objects.exists()


def test_another_tenant_gets_404_and_cannot_name_the_group(people, outsider):
    hook, _ = services.create(people["alice"], URL, ["vm.state"])
    mallory = client_of(outsider)
    assert mallory.get(f"/api/webhooks/{hook.pk}/").status_code == 404
    assert mallory.delete(f"/api/webhooks/{hook.pk}/").status_code == 404
    refused = create(outsider, group="alice")
    assert refused.status_code == 400 and "not found" in refused.json()["errors"]["group"][0]
    # Her own group is fine.
    assert create(outsider).json()["group"] == "mallory"
    assert Webhook.objects.count() == 2


def test_an_operator_manages_any_groups_webhooks(people, operator):
    hook, _ = services.create(people["alice"], URL, ["vm.state"])
    oper = client_of(operator)
    assert create(operator, group="alice").status_code == 201
    assert len(oper.get("/api/webhooks/?group=alice").json()["results"]) == 2
    changed = oper.patch(
        f"/api/webhooks/{hook.pk}/",
        {"events": ["host.error", "vm.state"], "active": False},
        format="json",
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["events"] == ["vm.state", "host.error"]
    assert changed.json()["active"] is False
    assert oper.delete(f"/api/webhooks/{hook.pk}/").status_code == 204
    assert Webhook.objects.count() == 1


def test_a_token_limited_below_admin_reaches_no_webhook(people, django_user_model):
    from core.groups import Group, Membership, Role
    from core.models import ApiToken

    hook, _ = services.create(people["alice"], URL, ["vm.state"])
    other = Group.objects.create(name="other")
    Membership.objects.create(group=other, user=people["alice"], role=Role.ADMIN)

    def bearer(group, role):
        client = client_of(people["alice"])
        raw = ApiToken.issue(people["alice"], f"{group.name}-{role}", group=group, role=role)[1]
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        return client

    assert bearer(people["group"], "admin").get(f"/api/webhooks/{hook.pk}/").status_code == 200
    assert bearer(people["group"], "member").get(f"/api/webhooks/{hook.pk}/").status_code == 404
    assert bearer(other, "admin").get(f"/api/webhooks/{hook.pk}/").status_code == 404
    refused = bearer(people["group"], "member").post(
        "/api/webhooks/", {"url": URL, "events": ["vm.state"]}, format="json"
    )
    assert refused.status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"events": []}, "events"),
        ({"events": ["vm.gone"]}, "events"),
        ({"url": "https://127.0.0.1/"}, "url"),
        ({"url": "https://user:pw@hooks.example/"}, "url"),
        ({"url": "http://hooks.example/"}, "url"),
        ({"url": ""}, "url"),
    ],
)
def test_bad_bodies_are_refused_naming_the_field(people, body, field):
    answer = create(people["alice"], **body)
    assert answer.status_code == 400, answer.content
    assert field in answer.json()["errors"]


def test_a_change_to_a_bad_url_is_refused(people):
    hook, _ = services.create(people["alice"], URL, ["vm.state"])
    answer = client_of(people["alice"]).patch(
        f"/api/webhooks/{hook.pk}/", {"url": "https://169.254.169.254/"}, format="json"
    )
    assert answer.status_code == 400 and "url" in answer.json()["errors"]
    assert Webhook.objects.get().url == URL


def test_ping_is_delivered_and_logged(
    people, receiver, settings, django_capture_on_commit_callbacks
):
    alice = client_of(people["alice"])
    made = create(people["alice"], url=receiver.url()).json()
    settings.JOBS_SYNC = True
    with django_capture_on_commit_callbacks(execute=True):
        answer = alice.post(f"/api/webhooks/{made['id']}/ping/")
    assert answer.status_code == 202 and answer.json()["event"] == "ping"
    [got] = receiver.seen
    assert signature_ok(made["secret"], got.headers["Webhook-Signature"], got.body)
    log = alice.get(f"/api/webhooks/{made['id']}/deliveries/").json()
    assert [(d["event"], d["state"], d["attempts"]) for d in log] == [("ping", "DELIVERED", 1)]
    assert alice.get(f"/api/webhooks/{made['id']}/deliveries/?state=FAILED").json() == []


def test_the_webhooks_list_costs_the_same_queries_for_more_rows(people):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    alice = client_of(people["alice"])
    services.create(people["alice"], URL, ["vm.state"])

    def count():
        with CaptureQueriesContext(connection) as captured:
            assert alice.get("/api/webhooks/").status_code == 200
        return len(captured)

    count()  # the token's first use is written once
    few = count()
    for _ in range(20):
        services.create(people["alice"], URL, ["vm.state"])
    assert count() == few


def test_a_nul_in_the_group_filter_is_a_400(api):
    answer = api.get("/api/webhooks/?group=%00x")
    assert answer.status_code == 400 and "NUL" in str(answer.json()["errors"]["group"])
    assert api.get("/api/webhooks/?group=%C2%B2").status_code == 200  # "²" is no ID: a name
