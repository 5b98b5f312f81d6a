from django.core.management.base import BaseCommand
from django.db import transaction

from core import crypto
from providers.models import Provider


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret with the first key of FERNET_KEYS "
        "(after prepending a new key), so the old key can be removed."
    )

    def handle(self, *args, **options):
        count = 0
        with transaction.atomic():
            for provider in Provider.objects.select_for_update().exclude(token_encrypted=""):
                provider.token_encrypted = crypto.rotate(provider.token_encrypted)
                provider.save(update_fields=["token_encrypted"])
                count += 1
        self.stdout.write(f"Re-encrypted {count} secret(s) with the current key.")
