"""Create an API key for another system and print it once."""

from django.core.management.base import BaseCommand, CommandError

from accounts.errors import ApplicationError
from accounts.models import User
from accounts.roles import Role
from accounts.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key with a role's permissions; the key is printed once and only its hash is stored."

    def add_arguments(self, parser):
        parser.add_argument("name", help="Which system uses the key, e.g. WMS.")
        parser.add_argument("--role", required=True, choices=[role.value for role in Role])
        parser.add_argument("--by", help="Username of the person creating the key, for the audit trail.")

    def handle(self, *args, name: str, role: str, by: str | None, **options):
        creator = None
        if by:
            creator = User.objects.filter(username=by).first()
            if creator is None:
                raise CommandError(f"No user {by!r}.")
        try:
            key, raw_key = api_key_create(name=name, role=role, by=creator)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stderr.write(f"API key {key.name!r} ({key.prefix}…) with role {key.role}; it is not shown again:")
        self.stdout.write(raw_key)
