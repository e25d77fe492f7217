from django.core.management.base import BaseCommand

from integrations.demo import DEFAULT_SIMULATOR_URL, seed_intake_demo


class Command(BaseCommand):
    help = "Create the demo shops (Taobao, JD, Shopify) and notification robots, pointing at `manage.py simulate`."

    def add_arguments(self, parser):
        parser.add_argument("--simulator-url", default=DEFAULT_SIMULATOR_URL)

    def handle(self, *args, **options):
        created = seed_intake_demo(simulator_url=options["simulator_url"])
        if created:
            self.stdout.write("Demo shops and robots: " + ", ".join(created))
        else:
            self.stdout.write("Demo shops and robots already set up; nothing changed.")
