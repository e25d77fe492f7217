from django.db import migrations

from accounts.roles import sync_role_groups


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0003_erp_connection"),
        ("orders", "0003_erp_push"),
        ("production", "0005_downtime_end_press"),
    ]

    operations = [migrations.RunPython(sync_role_groups, migrations.RunPython.noop)]
