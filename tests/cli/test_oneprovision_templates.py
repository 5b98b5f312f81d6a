"""`oneprovision create FILE` and `validate FILE` against a live portal, and the round trip:
create from a file, `show --yaml`, create again from that output."""

import pytest
import yaml

from provisions.choices import ProvisionState
from provisions.models import Provision
from tests.cli.test_oneprovision import run
from tests.provisions.test_templates import EXAMPLE, TEMPLATE, sized_provider

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("queued_jobs")]


@pytest.fixture
def do(owner):
    return sized_provider(owner)


@pytest.fixture
def template_file(tmp_path):
    path = tmp_path / "provision.yaml"
    path.write_text(TEMPLATE)
    return path


def _shape(provision):
    return (
        provision.host_count,
        provision.size,
        provision.image,
        provision.provider_id,
        sorted(provision.networks.values_list("name", "kind", "address_range")),
    )


def test_round_trip_create_show_yaml_create_again(cli_env, capsys, do, template_file, tmp_path):
    code, out, err = run(capsys, "create", str(template_file), "--user-inputs", "hosts=3")
    assert (code, err) == (0, "")
    first = Provision.objects.get(name="edge-ams")
    assert out == f"ID: {first.pk}\n"
    code, shown, err = run(capsys, "show", "edge-ams", "--yaml")
    assert (code, err) == (0, "")
    assert yaml.safe_load(shown)["hosts"]["count"] == 3
    # The name is free again once the first is deleted; the second is made from the output.
    Provision.objects.filter(pk=first.pk).update(state=ProvisionState.DONE)
    again = tmp_path / "again.yaml"
    again.write_text(shown)
    code, out, err = run(capsys, "create", str(again))
    assert (code, err) == (0, "")
    second = Provision.objects.exclude(pk=first.pk).get(name="edge-ams")
    assert _shape(second) == _shape(first)
    assert run(capsys, "show", str(second.pk), "--yaml")[1] == shown


def test_validate_checks_and_dumps_without_creating(cli_env, capsys, do, template_file):
    code, out, err = run(capsys, "validate", str(template_file))
    assert (code, out, err) == (0, f"{template_file}: valid (edge-ams, 2 host(s))\n", "")
    code, out, _ = run(capsys, "validate", str(template_file), "--dump", "--user-inputs", "site=x")
    dumped = yaml.safe_load(out)
    assert code == 0 and dumped["name"] == "edge-x" and dumped["inputs"]["site"] == "x"
    assert not Provision.objects.exists()


def test_a_bad_template_fails_with_the_field_and_creates_nothing(
    cli_env, capsys, do, template_file
):
    code, out, err = run(capsys, "create", str(template_file), "--user-inputs", "size=huge")
    assert (code, out) == (1, "")
    assert "input size: 'huge' is not one of s-1vcpu-2gb, s-2vcpu-4gb" in err
    code, _, err = run(capsys, "validate", str(template_file), "--user-inputs", "oops")
    assert code == 1 and "'oops' is not NAME=VALUE" in err
    assert not Provision.objects.exists()


def test_the_example_file_validates_with_its_provider(cli_env, capsys, do):
    code, out, err = run(capsys, "validate", str(EXAMPLE), "--provider", "do")
    assert (code, err) == (0, "") and "valid (edge-ams, 2 host(s))" in out


def test_create_without_file_needs_name_and_provider(cli_env, capsys):
    code, _, err = run(capsys, "create", "--hosts", "2")
    assert code == 1 and "--provider and --name" in err
