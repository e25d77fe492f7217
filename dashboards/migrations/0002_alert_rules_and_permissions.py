from django.db import migrations

from accounts.roles import sync_role_groups


def create_rules(apps, schema_editor):
    from dashboards.models import RULE_DEFAULTS

    rule_model = apps.get_model("dashboards", "AlertRule")
    for kind, defaults in RULE_DEFAULTS.items():
        rule_model.objects.get_or_create(kind=str(kind), defaults=dict(defaults))


class Migration(migrations.Migration):
    dependencies = [
        ("dashboards", "0001_alerts"),
        ("accounts", "0002_role_groups"),
    ]

    operations = [
        migrations.RunPython(create_rules, migrations.RunPython.noop),
        migrations.RunPython(sync_role_groups, migrations.RunPython.noop),
    ]
