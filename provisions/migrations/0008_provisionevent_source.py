from django.db import migrations, models


def sources_of_earlier_events(apps, schema_editor):
    """A provision's creation and a forced delete are a person's doing; every other change a
    provision went through was its jobs' (the field's default)."""
    ProvisionEvent = apps.get_model("provisions", "ProvisionEvent")
    ProvisionEvent.objects.filter(reason="created", from_state="").update(source="user")
    ProvisionEvent.objects.filter(reason__startswith="forced delete").update(source="user")


class Migration(migrations.Migration):
    dependencies = [
        ("provisions", "0007_host_boot_id"),
    ]

    operations = [
        migrations.AddField(
            model_name="provisionevent",
            name="source",
            field=models.CharField(
                choices=[("user", "User"), ("job", "Job"), ("monitor", "Monitor")],
                default="job",
                max_length=8,
            ),
            preserve_default=False,
        ),
        migrations.RunPython(sources_of_earlier_events, migrations.RunPython.noop),
    ]
