"""What a user's or a group's backups take in their stores, for core.quotas' BACKUPS: the
bytes each backup uploaded (restic stores a chunk once, so this is what the repositories
hold), counted while the backup is kept, even the backups of VMs that have ended."""

from django.db.models import Sum

from backups.choices import BackupState
from backups.models import VMBackup
from core import quotas


def backup_mb(whose) -> int:
    kept = VMBackup.objects.filter(**whose.filter("vm__")).exclude(state=BackupState.FAILED)
    total = kept.aggregate(n=Sum("uploaded_bytes"))["n"] or 0
    return -(-int(total) // 2**20)


def register() -> None:
    quotas.register_counter("backup_mb", backup_mb)
