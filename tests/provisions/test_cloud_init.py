"""The droplets' user data: the pinned SSH host key and the packages cloud-init installs at
boot, as YAML the lab (and cloud-init) read back exactly."""

import pytest
import yaml

from lab.hosts.manager import _host_keys_from_user_data
from provisions import cloud_init, services
from tests.helpers import run_queued

pytestmark = pytest.mark.django_db(transaction=True)


def test_user_data_pins_the_host_key_and_starts_the_packages(sim_provider, owner):
    provision = services.create_provision(owner, provider=sim_provider, name="edge")
    text = cloud_init.user_data(provision)
    assert text.startswith("#cloud-config\n")
    config = yaml.safe_load(text)
    assert config["ssh_deletekeys"] is True
    assert config["ssh_keys"]["ed25519_private"].strip() == provision.host_key_private().strip()
    assert config["ssh_keys"]["ed25519_public"] == provision.host_key_public.strip()
    assert config["package_update"] is True
    assert {"lxc", "iptables", "frr", "uidmap"} <= set(config["packages"])
    assert ["touch", cloud_init.MARKER] in config["runcmd"]
    # What the lab honours of it: the same key pair.
    private, public = _host_keys_from_user_data(text)["ed25519"]
    assert (private.strip(), public) == (
        provision.host_key_private().strip(),
        provision.host_key_public.strip(),
    )
    assert len(text) < 64 * 1024  # DigitalOcean's limit


def test_every_droplet_is_created_with_it(sim, sim_provider, owner, monkeypatch):
    from providers.drivers.digitalocean import DigitalOceanDriver

    sent = []
    create = DigitalOceanDriver.create_droplets

    def recording(self, names, **kwargs):
        sent.append(kwargs["user_data"])
        return create(self, names, **kwargs)

    monkeypatch.setattr(DigitalOceanDriver, "create_droplets", recording)
    provision = services.create_provision(owner, provider=sim_provider, name="edge", host_count=2)
    run_queued(provision)
    assert sent == [cloud_init.user_data(provision)]
