"""`oneprovision create FILE` and `validate FILE` against a live portal, and the round trip:
create from a file, `show --yaml`, create again from that output (`create -` and `create
FILE`): the same provision, description, inputs and the provider's inputs' values included."""

import io

import pytest
import yaml

from provisions import networks
from provisions.choices import ProvisionState
from provisions.models import Host, Provision
from tests.cli.helpers import run_oneprovision
from tests.factories import EXAMPLE_TEMPLATE, SIZED_TEMPLATE, inputs_provider, sized_provider
from tests.factories import INPUTS_TEMPLATE as INPUTS_TEMPLATE

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("queued_jobs")]


@pytest.fixture
def do(owner):
    return sized_provider(owner)


@pytest.fixture
def template_file(tmp_path):
    path = tmp_path / "provision.yaml"
    path.write_text(SIZED_TEMPLATE)
    return path


def _shape(provision):
    return (
        provision.name,
        provision.description,
        provision.hosts.exclude(state="REMOVED").count(),
        provision.size,
        provision.image,
        provision.provider_id,
        provision.input_values,
        sorted(provision.networks.values_list("name", "kind", "address_range")),
    )


def _show_yaml_then_create_again(capsys, monkeypatch, first, tmp_path):
    """`show --yaml` of `first`, then `create -` (stdin) and `create FILE` from that output
    (the first deleted in between, so its name is free): the provisions made, and the text."""
    code, shown, err = run_oneprovision(capsys, "show", str(first.pk), "--yaml")
    assert (code, err) == (0, "")
    made = []
    for how in ("-", "file"):
        Provision.objects.exclude(state=ProvisionState.DONE).update(state=ProvisionState.DONE)
        if how == "-":
            monkeypatch.setattr("sys.stdin", io.StringIO(shown))
            code, out, err = run_oneprovision(capsys, "create", "-")
        else:
            again = tmp_path / "again.yaml"
            again.write_text(shown)
            code, out, err = run_oneprovision(capsys, "create", str(again))
        assert (code, err) == (0, ""), err
        made.append(Provision.objects.get(pk=int(out.splitlines()[0].removeprefix("ID: "))))
    return made, shown


def test_round_trip_keeps_description_inputs_and_the_providers_inputs(
    cli_env, capsys, monkeypatch, owner, tmp_path
):
    inputs_provider(owner)
    path = tmp_path / "provision.yaml"
    path.write_text(INPUTS_TEMPLATE)
    chosen = "site=lon,digitalocean_size=s-2vcpu-4gb,digitalocean_image=debian-12-x64"
    code, out, err = run_oneprovision(
        capsys, "create", str(path), "--user-inputs", chosen + ",hosts_per_site=3"
    )
    assert (code, err) == (0, "")
    first = Provision.objects.get(pk=int(out.splitlines()[0].removeprefix("ID: ")))
    assert (first.name, first.host_count, first.size, first.image) == (
        "edge-lon",
        3,
        "s-2vcpu-4gb",
        "debian-12-x64",
    )
    made, shown = _show_yaml_then_create_again(capsys, monkeypatch, first, tmp_path)
    dumped = yaml.safe_load(shown)
    assert dumped["description"] == "Web edge cluster.\nBack end on a private network.\n"
    assert [spec["name"] for spec in dumped["inputs"]] == [
        "site",
        "backend",
        "digitalocean_size",
        "digitalocean_image",
        "hosts_per_site",
    ]
    assert dumped["hosts"] == {"count": "${input.hosts_per_site}"}
    for again in made:
        assert _shape(again) == _shape(first)
        # And the same again: what it writes is what it was made from.
        assert run_oneprovision(capsys, "show", str(again.pk), "--yaml")[1] == shown


def test_round_trip_after_the_provision_moved_on(cli_env, capsys, monkeypatch, owner, tmp_path):
    """A host and a network added since the create: written out as they are now."""
    inputs_provider(owner)
    path = tmp_path / "provision.yaml"
    path.write_text(INPUTS_TEMPLATE)
    assert run_oneprovision(capsys, "create", str(path))[0] == 0
    first = Provision.objects.get()
    Host.objects.create(provision=first, name="edge-ams-host-1")
    networks.new_private_network(first, "extra", "10.220.0.0/24")
    made, shown = _show_yaml_then_create_again(capsys, monkeypatch, first, tmp_path)
    assert yaml.safe_load(shown)["hosts"] == {"count": 2}
    for again in made:
        assert _shape(again) == _shape(first)


def test_round_trip_of_a_provision_made_without_a_template(
    cli_env, capsys, monkeypatch, do, tmp_path
):
    code, out, err = run_oneprovision(
        capsys, "create", "--provider", "do", "--name", "plain", "--hosts", "2"
    )
    assert (code, err) == (0, "")
    first = Provision.objects.get(name="plain")
    made, shown = _show_yaml_then_create_again(capsys, monkeypatch, first, tmp_path)
    assert "inputs" not in yaml.safe_load(shown)
    for again in made:
        assert _shape(again) == _shape(first)


def test_validate_checks_and_dumps_without_creating(cli_env, capsys, do, template_file):
    code, out, err = run_oneprovision(capsys, "validate", str(template_file))
    assert (code, out, err) == (0, f"{template_file}: valid (edge-ams, 2 host(s))\n", "")
    code, out, _ = run_oneprovision(
        capsys, "validate", str(template_file), "--dump", "--user-inputs", "site=x"
    )
    dumped = yaml.safe_load(out)
    assert code == 0 and dumped["name"] == "edge-x" and dumped["inputs"]["site"] == "x"
    assert not Provision.objects.exists()


def test_a_bad_template_fails_with_the_field_and_creates_nothing(
    cli_env, capsys, do, template_file
):
    code, out, err = run_oneprovision(
        capsys, "create", str(template_file), "--user-inputs", "size=huge"
    )
    assert (code, out) == (1, "")
    assert "input size: 'huge' is not one of s-1vcpu-2gb, s-2vcpu-4gb" in err
    code, _, err = run_oneprovision(capsys, "validate", str(template_file), "--user-inputs", "oops")
    assert code == 1 and "'oops' is not NAME=VALUE" in err
    assert not Provision.objects.exists()


def test_the_example_file_validates_with_its_provider(cli_env, capsys, do):
    code, out, err = run_oneprovision(capsys, "validate", str(EXAMPLE_TEMPLATE), "--provider", "do")
    assert (code, err) == (0, "") and "valid (edge-ams, 2 host(s))" in out


def test_create_without_file_needs_name_and_provider(cli_env, capsys):
    code, _, err = run_oneprovision(capsys, "create", "--hosts", "2")
    assert code == 1 and "--provider and --name" in err
