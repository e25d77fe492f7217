from django.db import migrations

from accounts.roles import sync_role_groups


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_api_keys")]

    operations = [migrations.RunPython(sync_role_groups, migrations.RunPython.noop)]
