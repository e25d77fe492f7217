from django.db import migrations

from accounts.roles import sync_role_groups


class Migration(migrations.Migration):
    """Permissions to read the analytics pages (machine load, OEE, KPIs), granted to their roles."""

    dependencies = [
        ("production", "0009_dashboard_permissions"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="workcenter",
            options={
                "ordering": ["code"],
                "permissions": [
                    ("view_machine_load", "Can see machine load, downtime Pareto and OEE"),
                    ("view_kpis", "Can see the KPI trends"),
                ],
                "verbose_name": "work centre",
                "verbose_name_plural": "work centres",
            },
        ),
        migrations.RunPython(sync_role_groups, migrations.RunPython.noop),
    ]
