"""A RUNNING job recorded before jobs had leases has no lease expiry: it is given its start time
plus one lease, so the sweep treats it like any other job whose worker stopped renewing."""

from datetime import timedelta

from django.conf import settings
from django.db import migrations
from django.db.models import F
from django.utils import timezone


def give_expiry(apps, schema_editor):
    Job = apps.get_model("provisions", "Job")
    lease = timedelta(seconds=settings.JOB_LEASE_SECONDS)
    running = Job.objects.filter(state="RUNNING", lease_expires_at__isnull=True)
    running.filter(started_at__isnull=False).update(lease_expires_at=F("started_at") + lease)
    running.update(lease_expires_at=timezone.now())


class Migration(migrations.Migration):
    dependencies = [("provisions", "0005_provision_templates")]

    operations = [migrations.RunPython(give_expiry, migrations.RunPython.noop)]
