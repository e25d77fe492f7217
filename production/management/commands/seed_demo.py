"""`manage.py seed_demo`: fill the database with the demo factory and print how to sign in to it."""

from django.core.management.base import BaseCommand

from production.demo import demo_logins_table, seed_demo


class Command(BaseCommand):
    help = "Create the demo hardware factory (items, BOMs, routings, stock, teams, users); safe to run again."

    def handle(self, *args, **options) -> None:
        created = seed_demo()
        if created:
            summary = ", ".join(f"{count} {label}" for label, count in created.items())
            self.stdout.write(self.style.SUCCESS(f"Demo factory seeded: {summary}."))
        else:
            self.stdout.write("Demo factory already seeded; nothing changed.")
        self.stdout.write("\nDemo logins (demo data only: never use these on a production database):\n")
        self.stdout.write(demo_logins_table())
