"""`oneprovision configure` and `oneprovision host configure` against a live portal: a deploy
job that configures the hosts again, only from ERROR unless forced."""

import pytest

from jobs.states import JobState
from provisions.choices import HostState, JobKind, ProvisionState
from provisions.models import Provision
from tests.cli.helpers import run_oneprovision

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("queued_jobs")]


def _configure_jobs(provision):
    return provision.jobs.filter(kind=JobKind.DEPLOY, options__configure=True)


def test_configure_is_refused_on_a_running_provision_unless_forced(cli_env, capsys, cluster):
    code, out, err = run_oneprovision(capsys, "configure", "dc")
    assert (code, out) == (1, "")
    assert "dc is RUNNING; only a provision in ERROR can be configured (or use force)" in err
    assert not _configure_jobs(cluster).exists()
    assert set(cluster.hosts.values_list("state", flat=True)) == {HostState.RUNNING}
    assert run_oneprovision(capsys, "configure", "dc", "--force") == (0, "", "")
    assert _configure_jobs(cluster).get().state == JobState.QUEUED
    # Every host goes back to INIT so the deploy's reconciler configures it again.
    assert set(cluster.hosts.values_list("state", flat=True)) == {HostState.INIT}


def test_configure_from_error(cli_env, capsys, cluster):
    Provision.objects.filter(pk=cluster.pk).update(state=ProvisionState.ERROR)
    assert run_oneprovision(capsys, "configure", str(cluster.pk)) == (0, "", "")
    assert _configure_jobs(cluster).exists()


def test_configure_while_a_job_runs_changes_nothing(cli_env, capsys, cluster):
    Provision.objects.filter(pk=cluster.pk).update(state=ProvisionState.ERROR)
    cluster.jobs.update(state=JobState.RUNNING)
    code, _, err = run_oneprovision(capsys, "configure", "dc")
    assert code == 1 and "already has a job running" in err
    assert set(cluster.hosts.values_list("state", flat=True)) == {HostState.RUNNING}


def test_host_configure_configures_that_host_only(cli_env, capsys, cluster):
    assert run_oneprovision(capsys, "host", "configure", "dc", "dc-host-1") == (0, "", "")
    job = _configure_jobs(cluster).get()
    host = cluster.hosts.get(name="dc-host-1")
    assert job.options == {"configure": True, "host": host.pk}
    states = dict(cluster.hosts.values_list("name", "state"))
    assert states == {"dc-host-0": HostState.RUNNING, "dc-host-1": HostState.INIT}


def test_host_configure_unknown_host(cli_env, capsys, cluster):
    code, _, err = run_oneprovision(capsys, "host", "configure", "dc", "nope")
    assert code == 1 and "host 'nope' not found in provision dc" in err
