"""The quotas migration on a database made by the previous schema, with data: each user's VM
limits (vms.UserQuota) become their core.Quota row, and back."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

PREVIOUS = [("core", "0006_token_scope"), ("vms", "0014_group")]
CURRENT = [("core", "0007_quotas"), ("vms", "0015_quotas_move_to_core")]


@pytest.mark.django_db(transaction=True)
def test_user_quotas_move_to_core_and_back(back_to_the_latest_schema):
    executor = MigrationExecutor(connection)
    executor.migrate(PREVIOUS)
    old = executor.loader.project_state(PREVIOUS).apps
    User = old.get_model("auth", "User")
    alice = User.objects.create(username="alice")
    User.objects.create(username="bob")  # no row: the defaults, before and after
    old.get_model("vms", "UserQuota").objects.create(user=alice, vms=3, cpu="2.50", memory_mb=512)

    executor = MigrationExecutor(connection)
    executor.migrate(CURRENT)
    new = executor.loader.project_state(CURRENT).apps
    rows = list(new.get_model("core", "Quota").objects.values())
    assert len(rows) == 1
    row = rows[0]
    assert (row["user_id"], row["group_id"]) == (alice.pk, None)
    assert (row["vms"], str(row["cpu"]), row["memory_mb"]) == (3, "2.50", 512)
    assert row["hosts"] is None and row["spend"] is None

    executor = MigrationExecutor(connection)
    executor.migrate(PREVIOUS)
    back = executor.loader.project_state(PREVIOUS).apps
    assert list(back.get_model("vms", "UserQuota").objects.values_list("user_id", "vms")) == [
        (alice.pk, 3)
    ]
