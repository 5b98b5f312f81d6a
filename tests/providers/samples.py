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
