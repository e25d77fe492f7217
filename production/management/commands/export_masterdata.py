"""`manage.py export_masterdata KIND FILE`: write items, BOMs, work centres or routings to an .xlsx."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from production.excel import KINDS, masterdata_xlsx


class Command(BaseCommand):
    help = "Export master data to an .xlsx in the upload format (importing it back changes nothing)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=KINDS)
        parser.add_argument("file", type=Path)

    def handle(self, *args, kind: str, file: Path, **options) -> None:
        try:
            file.write_bytes(masterdata_xlsx(kind))
        except OSError as exc:
            raise CommandError(f"{file}: {exc.strerror or exc}") from exc
        self.stdout.write(self.style.SUCCESS(f"Wrote {file}."))
