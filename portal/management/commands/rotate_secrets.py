from django.core.management.base import BaseCommand
from django.db import transaction

from core import crypto
from providers.models import Provider
from provisions.models import Provision

# Every field that holds a secret encrypted with FERNET_KEYS.
ENCRYPTED = [
    (Provider, ("token_encrypted",)),
    (Provision, ("ssh_private_key_encrypted", "host_key_private_encrypted")),
]


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret (provider tokens, provisions' SSH and host keys) with "
        "the first key of FERNET_KEYS (after prepending a new key), so the old key can be removed."
    )

    def handle(self, *args, **options):
        count = 0
        with transaction.atomic():
            for model, fields in ENCRYPTED:
                for row in model.objects.select_for_update().only("pk", *fields):
                    changed = [name for name in fields if getattr(row, name)]
                    for name in changed:
                        setattr(row, name, crypto.rotate(getattr(row, name)))
                    if changed:
                        row.save(update_fields=changed)
                        count += len(changed)
        self.stdout.write(f"Re-encrypted {count} secret(s) with the current key.")
