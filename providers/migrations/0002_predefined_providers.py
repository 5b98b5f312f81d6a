from django.db import migrations

from providers.predefined import predefined_providers


def create_predefined(apps, schema_editor):
    Provider = apps.get_model("providers", "Provider")
    for fields in predefined_providers():
        Provider.objects.get_or_create(
            name=fields["name"], owner=None, defaults={**fields, "predefined": True}
        )


def remove_untouched_predefined(apps, schema_editor):
    Provider = apps.get_model("providers", "Provider")
    Provider.objects.filter(predefined=True, token_encrypted="").delete()


class Migration(migrations.Migration):
    dependencies = [("providers", "0001_initial")]
    operations = [migrations.RunPython(create_predefined, remove_untouched_predefined)]
