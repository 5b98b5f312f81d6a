"""onehook against a live portal: made with its secret printed once, listed, changed, pinged,
its log read, its secret rotated, deleted; a member refused in one line."""

import pytest

from cli import onehook
from core.groups import Membership, Role, personal_group
from core.models import ApiToken
from tests.cli.helpers import run_cli
from webhooks.models import Webhook

pytestmark = pytest.mark.django_db(transaction=True)

URL = "https://hooks.example/edge"


@pytest.fixture(autouse=True)
def _queue_jobs_only(settings):
    settings.JOBS_SYNC = False  # the ping's delivery stays queued: nothing listens at URL


def test_a_webhook_from_create_to_delete(cli_env, capsys, owner):
    code, out, err = run_cli(capsys, onehook, "create", URL, "--events", "vm.state,host.error")
    assert (code, err) == (0, "")
    hook = Webhook.objects.get()
    secret = hook.get_secret()
    assert f"ID: {hook.pk}" in out and f"SECRET: {secret}" in out
    code, out, _ = run_cli(capsys, onehook, "list")
    assert code == 0 and URL in out and "vm.state,host.error" in out
    code, out, _ = run_cli(capsys, onehook, "show", str(hook.pk))
    assert code == 0 and secret not in out and hook.secret_hint in out
    assert run_cli(capsys, onehook, "update", str(hook.pk), "--inactive")[0] == 0
    assert not Webhook.objects.get().active
    code, out, _ = run_cli(capsys, onehook, "ping", str(hook.pk))
    assert code == 0 and "DELIVERY:" in out
    code, out, _ = run_cli(capsys, onehook, "deliveries", str(hook.pk))
    assert code == 0 and "ping" in out and "PENDING" in out
    code, out, _ = run_cli(capsys, onehook, "rotate", str(hook.pk))
    assert code == 0 and Webhook.objects.get().get_secret() in out and secret not in out
    assert run_cli(capsys, onehook, "delete", str(hook.pk))[0] == 0
    assert not Webhook.objects.exists()


def test_a_member_is_told_only_admins_manage_webhooks(
    cli_env, capsys, owner, monkeypatch, django_user_model
):
    bob = django_user_model.objects.create_user("bob", password="x")
    Membership.objects.create(group=personal_group(owner), user=bob, role=Role.MEMBER)
    monkeypatch.setenv("PORTAL_TOKEN", ApiToken.issue(bob, "cli")[1])
    code, out, err = run_cli(
        capsys, onehook, "create", URL, "--events", "vm.state", "--group", "alice"
    )
    assert code == 1 and "only its admins and the operators" in err
    assert len(err.strip().splitlines()) == 1
