import pytest

from providers import yaml_format
from providers.yaml_format import ProviderYAMLError

# The document's provider.yaml, verbatim: `type:` and `options:` are indented under the list
# item's `- name:` by two extra spaces, which YAML cannot parse.
DOCUMENT_YAML = """name: 'digitalocean-nyc3'

description: 'cluster on DigitalOcean in Amsterdam 3'
provider: 'digitalocean'

plain:
  image: 'DIGITALOCEAN'
  location_key: 'region'
  provision_type: 'virtual'

connection:
  token: 'DigitalOcean token'
  region: 'ams3'

inputs:
- name: 'digitalocean_droplet'
    type: 'list'
    options:
    - 'centos-8-x64'
"""

CORRECTED_YAML = """name: 'digitalocean-nyc3'

description: 'cluster on DigitalOcean in Amsterdam 3'
provider: 'digitalocean'

plain:
  image: 'DIGITALOCEAN'
  location_key: 'region'
  provision_type: 'virtual'

connection:
  token: '{token}'
  region: 'ams3'

inputs:
- name: 'digitalocean_droplet'
  type: 'list'
  options:
  - 'centos-8-x64'
"""


def assert_change_refused(good: str, change: tuple[str, str], expected: str) -> None:
    """`good` with one replacement made is refused, with `expected` in one of the messages."""
    text = good.replace(*change)
    assert text != good
    with pytest.raises(ProviderYAMLError) as caught:
        yaml_format.parse(text)
    assert any(expected in message for message in caught.value.messages), caught.value.messages
