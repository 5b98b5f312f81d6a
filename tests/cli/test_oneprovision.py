import threading
import time

import pytest

from core.models import ApiToken
from jobs.states import JobState
from provisions import services
from provisions.choices import ProvisionState
from provisions.models import Job, JobLogLine, Provision
from provisions.progress import in_thread
from tests.cli.helpers import run_oneprovision
from tests.factories import make_provider

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def provider(owner):
    return make_provider(owner, name="do")


@pytest.fixture
def provision(owner, provider):
    return services.create_provision(owner, provider=provider, name="digitalocean-cluster")


def test_create_prints_id_and_queues_the_deploy(cli_env, capsys, provider):
    code, out, err = run_oneprovision(
        capsys, "create", "--provider", "do", "--name", "edge", "--hosts", "2"
    )
    provision = Provision.objects.get(name="edge")
    # No DigitalOcean behind this provider: the cost is said to be unknown, not made up.
    assert (code, out, err) == (
        0,
        f"ID: {provision.pk}\ncost: unknown (DigitalOcean gave no price now)\n",
        "",
    )
    assert provision.state == ProvisionState.PENDING
    assert provision.jobs.get().state == JobState.QUEUED


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--provider", "nope", "--name", "edge"], "provider 'nope' not found"),
        (["--provider", "do", "--name", "x;rm -rf /"], "is not a valid provision name"),
        (["--provider", "do", "--name", "edge", "--hosts", "0"], "number of hosts must be"),
    ],
)
def test_create_bad_input_is_one_line_and_creates_nothing(cli_env, capsys, provider, argv, message):
    code, out, err = run_oneprovision(capsys, "create", *argv)
    assert code == 1 and out == "" and message in err and err.count("\n") == 1
    assert not Provision.objects.exists()


def test_list_has_the_documents_columns(cli_env, capsys, provision):
    Provision.objects.filter(pk=provision.pk).update(state="RUNNING")
    code, out, _ = run_oneprovision(capsys, "list")
    header, row = out.splitlines()
    assert header.split() == ["ID", "NAME", "CLUSTERS", "HOSTS", "NETWORKS", "DATASTORES", "STAT"]
    assert row.split() == [str(provision.pk), "digitalocean-cluster", "1", "1", "2", "2", "RUNNING"]
    Provision.objects.filter(pk=provision.pk).update(state="DONE")
    assert run_oneprovision(capsys, "list")[1].splitlines()[1:] == []
    assert "digitalocean-cluster" in run_oneprovision(capsys, "list", "--all")[1]


def test_show_and_log(cli_env, capsys, provision):
    JobLogLine.objects.create(job=provision.jobs.get(), message="step 1/6: ssh_key")
    code, out, _ = run_oneprovision(capsys, "show", "digitalocean-cluster")
    assert code == 0
    for text in (
        "STATE",
        "PENDING",
        "HOSTS",
        "digitalocean-cluster-host-0",
        "NETWORKS",
        "digitalocean-cluster-public",
        "DATASTORES",
        "digitalocean-cluster-image",
        "JOB",
        "deploy",
    ):
        assert text in out, text
    code, out, _ = run_oneprovision(capsys, "log", str(provision.pk))
    assert code == 0 and "[info] step 1/6: ssh_key" in out


@in_thread  # the thread's own DB connection is closed at its end, as in the app's workers
def _play(provision, final_state, error=""):
    job = provision.jobs.get()
    time.sleep(0.3)
    Job.objects.filter(pk=job.pk).update(
        state=JobState.RUNNING, step="droplets", steps_done=2, steps_total=6
    )
    JobLogLine.objects.create(job=job, message="created 1 droplet(s)")
    Provision.objects.filter(pk=provision.pk).update(state="DEPLOYING")
    time.sleep(0.3)
    Provision.objects.filter(pk=provision.pk).update(
        state=final_state, error=error, failed_step="droplets" if error else ""
    )
    Job.objects.filter(pk=job.pk).update(
        state=JobState.FAILED if error else JobState.SUCCESS, steps_done=6
    )


@pytest.mark.parametrize(
    ("final", "error", "code"), [("RUNNING", "", 0), ("ERROR", "quota exceeded", 1)]
)
def test_log_follow_waits_for_the_end(cli_env, capsys, provision, monkeypatch, final, error, code):
    monkeypatch.setenv("ONEPROVISION_POLL", "0.1")
    worker = threading.Thread(target=_play, args=(provision, final, error))
    worker.start()
    result, out, err = run_oneprovision(capsys, "log", str(provision.pk), "--follow")
    worker.join()
    assert result == code
    assert "created 1 droplet(s)" in out
    if error:
        assert f"provision {provision.pk} failed at step droplets: quota exceeded" in err


def test_outsider_gets_not_found(cli_env, capsys, provision, outsider, monkeypatch):
    _, raw = ApiToken.issue(outsider, "cli")
    monkeypatch.setenv("PORTAL_TOKEN", raw)
    for argv in (
        ["show", str(provision.pk)],
        ["delete", str(provision.pk)],
        ["log", str(provision.pk)],
        ["host", "list", str(provision.pk)],
        ["show", "digitalocean-cluster"],
    ):
        code, _, err = run_oneprovision(capsys, *argv)
        assert code == 1 and "not found" in err, argv
    provision.refresh_from_db()
    assert provision.jobs.count() == 1


def test_delete_and_host_commands_reach_the_api(cli_env, capsys, provision):
    Provision.objects.filter(pk=provision.pk).update(state="RUNNING")
    provision.jobs.update(state=JobState.SUCCESS)
    code, out, err = run_oneprovision(capsys, "host", "list", str(provision.pk))
    assert code == 0 and "digitalocean-cluster-host-0" in out
    code, _, err = run_oneprovision(
        capsys, "host", "delete", str(provision.pk), "digitalocean-cluster-host-0"
    )
    assert code == 1 and "cannot remove the last host" in err
    assert run_oneprovision(capsys, "host", "add", str(provision.pk))[0] == 0
    assert provision.hosts.count() == 2
    code, _, err = run_oneprovision(capsys, "delete", str(provision.pk))
    assert code == 1 and "already has a job running" in err
    provision.jobs.update(state=JobState.SUCCESS)
    assert run_oneprovision(capsys, "delete", str(provision.pk))[0] == 0
    assert provision.jobs.first().kind == "delete"
