"""Objects and inputs the tests make: providers, provider bodies, provision templates, SSH keys.
Test modules import these from here, never from one another."""

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from providers.models import Provider


def provider_body(token, **overrides):
    data = {
        "name": "edge-ams",
        "description": "my edge",
        "provider": "digitalocean",
        "plain": {"provision_type": "virtual"},
        "connection": {"token": token, "region": "ams3"},
        "inputs": [{"name": "digitalocean_size", "type": "list", "options": ["s-1vcpu-2gb"]}],
    }
    data.update(overrides)
    return data


def make_provider(owner, name="p", token="dop_v1_zzzzzzzzzzzz9999"):
    provider = Provider(name=name, region="nyc3", owner=owner, plain={}, inputs=[])
    provider.set_token(token)
    provider.save()
    return provider


EXAMPLE_TEMPLATE = Path(__file__).resolve().parents[1] / "examples" / "provision.yaml"


SIZED_TEMPLATE = """\
name: edge-${input.site}
provider: do
inputs:
  - {name: site, type: text, default: ams}
  - {name: hosts, type: number, default: 2, min_value: 1, max_value: 4}
  - {name: size, type: list, options: [s-1vcpu-2gb, s-2vcpu-4gb], default: s-1vcpu-2gb}
  - {name: big, type: boolean, default: no}
hosts:
  count: ${input.hosts}
  size: ${input.size}
networks:
  - name: back-${input.site}
    type: private
    address_range: 10.200.1.0/24
"""


def sized_provider(owner) -> Provider:
    """Provider 'do' offering two sizes (checked against its options, not DigitalOcean)."""
    provider = Provider(
        name="do",
        region="nyc3",
        owner=owner,
        plain={},
        inputs=[
            {
                "name": "digitalocean_size",
                "type": "list",
                "options": ["s-1vcpu-2gb", "s-2vcpu-4gb"],
                "default": "s-1vcpu-2gb",
            }
        ],
    )
    provider.set_token("dop_v1_zzzzzzzzzzzz9999")
    provider.save()
    return provider


PROVIDER_INPUTS = [
    {
        "name": "digitalocean_size",
        "type": "list",
        "description": "Droplet size",
        "options": ["s-1vcpu-2gb", "s-2vcpu-4gb", "s-4vcpu-8gb"],
        "default": "s-1vcpu-2gb",
    },
    # No default: the first option, as the provider's image choice always took.
    {
        "name": "digitalocean_image",
        "type": "list",
        "options": ["ubuntu-22-04-x64", "debian-12-x64"],
    },
    {"name": "hosts_per_site", "type": "range", "min_value": 1, "max_value": 4, "default": 1},
    {"name": "unused_note", "type": "text", "default": "x"},
]


# Neither size nor image: the provider's inputs give them; `hosts_per_site` is referred to.
INPUTS_TEMPLATE = """\
name: edge-${input.site}
description: |
  Web edge cluster.
  Back end on a private network.
provider: inputs
inputs:
  - name: site
    type: text
    default: ams
  - name: backend
    type: text
    default: 10.200.1.0/24
hosts:
  count: ${input.hosts_per_site}
networks:
  - name: back-${input.site}
    type: private
    address_range: ${input.backend}
"""


def inputs_provider(owner, name="inputs", inputs=None) -> Provider:
    provider = Provider(
        name=name, region="ams3", owner=owner, plain={}, inputs=inputs or PROVIDER_INPUTS
    )
    provider.set_token("dop_v1_zzzzzzzzzzzz9999")
    provider.save()
    return provider


def new_key() -> tuple[str, str]:
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    return public.decode(), pem.decode()
