from django.db import models


class BackupState(models.TextChoices):
    # CREATING until restic has written the whole snapshot: a half-written backup is never
    # listed as one to restore.
    CREATING = "CREATING"
    READY = "READY"
    FAILED = "FAILED"
    DELETING = "DELETING"


BACKUP_COLOURS = {
    BackupState.CREATING: "blue",
    BackupState.READY: "green",
    BackupState.FAILED: "red",
    BackupState.DELETING: "grey",
}
