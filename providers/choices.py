"""Provider vocabularies: types and DigitalOcean regions (labels shared by pages, API and CLI)."""

from django.db import models


class ProviderType(models.TextChoices):
    DIGITALOCEAN = "digitalocean", "DigitalOcean"


class ProvisionType(models.TextChoices):
    VIRTUAL = "virtual", "Virtual"


# DigitalOcean datacenter regions (slug -> city). The five with a predefined provider come first.
DIGITALOCEAN_REGIONS = {
    "ams3": "Amsterdam 3",
    "lon1": "London 1",
    "nyc3": "New York 3",
    "sfo3": "San Francisco 3",
    "sgp1": "Singapore 1",
    "nyc1": "New York 1",
    "nyc2": "New York 2",
    "sfo2": "San Francisco 2",
    "ams2": "Amsterdam 2",
    "fra1": "Frankfurt 1",
    "tor1": "Toronto 1",
    "blr1": "Bangalore 1",
    "syd1": "Sydney 1",
    "atl1": "Atlanta 1",
}

# Input types of the provider YAML's `inputs:` (OpenNebula's user input types).
INPUT_TYPES = (
    "text",
    "text64",
    "password",
    "list",
    "list-multiple",
    "boolean",
    "number",
    "number-float",
    "range",
    "range-float",
    "array",
)
