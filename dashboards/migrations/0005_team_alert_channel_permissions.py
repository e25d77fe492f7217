from django.db import migrations

from accounts.roles import sync_role_groups


class Migration(migrations.Migration):
    dependencies = [
        ("dashboards", "0004_team_alert_channels"),
    ]

    operations = [migrations.RunPython(sync_role_groups, migrations.RunPython.noop)]
