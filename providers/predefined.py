"""The five providers the document ships, one per region; they need only a token.

Used by a data migration, so it must not import models (the migration passes the historical one).
"""

# Named after the city, so a user's own `digitalocean-nyc3` (the document's example) never clashes.
PREDEFINED_REGIONS = {
    "ams3": ("amsterdam", "Amsterdam 3"),
    "lon1": ("london", "London 1"),
    "nyc3": ("new-york", "New York 3"),
    "sfo3": ("san-francisco", "San Francisco 3"),
    "sgp1": ("singapore", "Singapore 1"),
}

DEFAULT_INPUTS = [
    {
        "name": "digitalocean_image",
        "type": "list",
        "description": "Droplet image for the hosts",
        "options": ["debian-12-x64", "ubuntu-22-04-x64", "ubuntu-24-04-x64"],
        "default": "debian-12-x64",
    },
    {
        "name": "digitalocean_size",
        "type": "list",
        "description": "Droplet size for the hosts",
        "options": ["s-1vcpu-2gb", "s-2vcpu-4gb", "s-4vcpu-8gb", "s-1vcpu-1gb"],
        "default": "s-1vcpu-2gb",
    },
]


def predefined_providers():
    for region, (slug, city) in PREDEFINED_REGIONS.items():
        yield {
            "name": f"digitalocean-{slug}",
            "description": f"Edge cluster on DigitalOcean in {city}",
            "provider_type": "digitalocean",
            "plain": {
                "image": "DIGITALOCEAN",
                "location_key": "region",
                "provision_type": "virtual",
            },
            "region": region,
            "inputs": DEFAULT_INPUTS,
        }
