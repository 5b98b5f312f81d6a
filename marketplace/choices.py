from django.db import models


class MarketplaceKind(models.TextChoices):
    CATALOG = "catalog", "Public catalogue (simplestreams)"
    LAB = "lab", "Lab image server"


class AppState(models.TextChoices):
    READY = "READY"
    # Known from the catalogue file but without a verified checksum yet: cannot be exported
    # until a sync from the index fills in its URL and sha256.
    UNSYNCED = "UNSYNCED"
