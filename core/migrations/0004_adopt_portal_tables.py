"""Rows of the tables these models had when they lived in the `portal` app (portal_apitoken,
portal_userprofile, portal_metriccounter) are copied into this app's tables, and the old tables
dropped. A new database has no such tables and this does nothing."""

from django.db import migrations

MODELS = ("ApiToken", "UserProfile", "MetricCounter")


def adopt(apps, schema_editor):
    connection = schema_editor.connection
    existing = set(connection.introspection.table_names())
    quote = schema_editor.quote_name
    for name in MODELS:
        model = apps.get_model("core", name)
        old = "portal_" + model._meta.model_name
        if old not in existing:
            continue
        columns = ", ".join(quote(field.column) for field in model._meta.local_concrete_fields)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {quote(model._meta.db_table)} ({columns}) "  # noqa: S608
                f"SELECT {columns} FROM {quote(old)}"
            )
        schema_editor.execute(f"DROP TABLE {quote(old)}")
    if connection.vendor == "postgresql":
        # Rows were copied with their ids: the sequences continue after the largest.
        with connection.cursor() as cursor:
            for name in MODELS:
                table = apps.get_model("core", name)._meta.db_table
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                    f"COALESCE((SELECT MAX(id) FROM {quote(table)}), 0) + 1, false)"
                )
    # The old app's migration rows are history only now.
    schema_editor.execute("DELETE FROM django_migrations WHERE app = 'portal'")


class Migration(migrations.Migration):
    dependencies = [("core", "0003_metriccounter")]

    operations = [migrations.RunPython(adopt, migrations.RunPython.noop)]
