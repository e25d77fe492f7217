"""`manage.py schedule`: plan every unstarted operation of the open work orders again, from now or a given start."""

from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from production.scheduling import FACTORY_TZ, schedule


def _start(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--start: not an ISO date or date-time: {value!r}") from exc
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=FACTORY_TZ)


class Command(BaseCommand):
    help = "Re-plan every unstarted operation of the open work orders on finite work-centre capacity."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--start", type=_start, default=None, help="plan nothing before this (ISO, Asia/Shanghai); default now"
        )

    def handle(self, *args, start: datetime | None = None, **options) -> None:
        result = schedule(start=start)
        self.stdout.write(
            self.style.SUCCESS(
                f"Planned {result.operations} operations of {result.work_orders} work orders "
                f"({result.changed_operations} changed)."
            )
        )
        for late in result.late:
            end = timezone.localtime(late.planned_end, FACTORY_TZ)
            self.stdout.write(f"late: {late.number} due {late.due_date:%Y-%m-%d}, planned to end {end:%Y-%m-%d %H:%M}")
        for blocked in result.blocked:
            self.stdout.write(self.style.WARNING(f"not planned: {blocked.number}: {blocked.reason}"))
