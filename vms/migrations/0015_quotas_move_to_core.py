"""A user's VM limits move to core.Quota, which holds every limit of users and groups."""

from django.db import migrations


def to_core(apps, schema_editor):
    UserQuota = apps.get_model("vms", "UserQuota")
    Quota = apps.get_model("core", "Quota")
    Quota.objects.bulk_create(
        [
            Quota(user_id=row.user_id, vms=row.vms, cpu=row.cpu, memory_mb=row.memory_mb)
            for row in UserQuota.objects.all()
        ]
    )


def to_vms(apps, schema_editor):
    UserQuota = apps.get_model("vms", "UserQuota")
    Quota = apps.get_model("core", "Quota")
    # The old table has no empty limit (no row was the default): only complete rows go back.
    rows = Quota.objects.filter(
        user__isnull=False, vms__isnull=False, cpu__isnull=False, memory_mb__isnull=False
    )
    UserQuota.objects.bulk_create(
        [UserQuota(user_id=q.user_id, vms=q.vms, cpu=q.cpu, memory_mb=q.memory_mb) for q in rows]
    )


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0007_quotas"),
        ("vms", "0014_group"),
    ]

    operations = [
        migrations.RunPython(to_core, to_vms),
        migrations.DeleteModel(name="UserQuota"),
    ]
