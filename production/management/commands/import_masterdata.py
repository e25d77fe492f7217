"""`manage.py import_masterdata KIND FILE`: load items, BOMs, work centres or routings from an .xlsx, all or nothing."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import User
from production.excel import KINDS, ExcelFileError, masterdata_import


class Command(BaseCommand):
    help = (
        "Import master data from an .xlsx made from the template or an export. Every row is checked first; "
        "if any is wrong nothing is written, the problems are printed by row and column, and the exit code is 1."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=KINDS)
        parser.add_argument("file", type=Path)
        parser.add_argument("--dry-run", action="store_true", help="check the file and write nothing")
        parser.add_argument("--user", help="username recorded in the audit trail as having imported the file")

    def handle(self, *args, kind: str, file: Path, dry_run: bool, user: str | None, **options) -> None:
        by = None
        if user:
            by = User.objects.filter(username=user, is_active=True).first()
            if by is None:
                raise CommandError(f"No active user {user!r}.")
        try:
            with file.open("rb") as stream:
                report = masterdata_import(kind=kind, file=stream, by=by, filename=file.name, dry_run=dry_run)
        except OSError as exc:
            raise CommandError(f"{file}: {exc.strerror or exc}") from exc
        except ExcelFileError as exc:
            raise CommandError(f"{file}: {exc.message}") from exc
        if not report.ok:
            self.stdout.write("\t".join([_("Row"), _("Column"), _("Value"), _("Reason")]))
            for error in report.errors:
                self.stdout.write(f"{error.row}\t{error.column}\t{error.value}\t{error.reason}")
            count = len(report.errors)
            raise CommandError(
                ngettext(
                    "%(count)s problem found; nothing was imported.",
                    "%(count)s problems found; nothing was imported.",
                    count,
                )
                % {"count": count}
            )
        self.stdout.write(self.style.SUCCESS(f"{report.summary()} ({report.seconds:.1f} s)"))
