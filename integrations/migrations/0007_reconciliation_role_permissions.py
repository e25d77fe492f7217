from django.db import migrations

from accounts.roles import sync_role_groups


class Migration(migrations.Migration):
    dependencies = [("integrations", "0006_reconciliation")]

    operations = [migrations.RunPython(sync_role_groups, migrations.RunPython.noop)]
