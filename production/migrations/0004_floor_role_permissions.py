from django.db import migrations

from accounts.roles import sync_role_groups


class Migration(migrations.Migration):
    dependencies = [
        ("production", "0003_work_orders_and_reports"),
        ("orders", "0002_release_permission"),
        ("integrations", "0002_role_permissions"),
    ]

    operations = [migrations.RunPython(sync_role_groups, migrations.RunPython.noop)]
