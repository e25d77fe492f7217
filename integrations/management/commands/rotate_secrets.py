from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.services import audit_record
from integrations.crypto import rotate
from integrations.models import ChannelAccount, NotifyChannel


class Command(BaseCommand):
    help = "Re-encrypt every stored secret with the first key of LOOPLINE_ENCRYPTION_KEYS (after adding a new key)."

    @transaction.atomic
    def handle(self, *args, **options):
        count = 0
        for account in ChannelAccount.objects.exclude(credentials_encrypted="").select_for_update():
            account.credentials_encrypted = rotate(account.credentials_encrypted)
            account.save(update_fields=["credentials_encrypted"])
            count += 1
        for channel in NotifyChannel.objects.exclude(secret_encrypted="").select_for_update():
            channel.secret_encrypted = rotate(channel.secret_encrypted)
            channel.save(update_fields=["secret_encrypted"])
            count += 1
        audit_record(actor=None, verb="secrets.rotate", changes={"count": count})
        self.stdout.write(f"Re-encrypted {count} secrets with the newest key.")
