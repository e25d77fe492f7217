"""Excel of the analytics: one sheet per table (load, OEE, Pareto, KPIs) and the monthly capacity analysis workbook.

Cells are typed (dates as dates, hours and minutes as numbers, rates as percentages) so Excel sorts, filters and
sums them; every sheet has a bold frozen header and set column widths.
"""

import logging
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from accounts.excel import add_sheet, workbook_bytes
from accounts.models import User
from dashboards import analytics
from production.models import Workshop
from production.scheduling import FACTORY_TZ

logger = logging.getLogger(__name__)

DATE = "yyyy-mm-dd"
HOURS = "0.00"
PERCENT = "0.0%"
QTY = "#,##0.###"


def _cell(sheet: WriteOnlyWorksheet, value: Any, number_format: str | None = None) -> WriteOnlyCell:
    if isinstance(value, str):
        # Names come from master data typed by people: no control characters, and "=…" never becomes a formula.
        cell = WriteOnlyCell(sheet, ILLEGAL_CHARACTERS_RE.sub("", value))
        cell.data_type = "s"
        return cell
    cell = WriteOnlyCell(sheet, value)
    if number_format:
        cell.number_format = number_format
    return cell


def _fraction(pct: float | None) -> float | None:
    return pct / 100 if pct is not None else None


def add_load_sheet(workbook: Workbook, load: analytics.MachineLoad) -> None:
    """One row per work centre and day: capacity, planned hours, load and whether it is over capacity."""
    sheet = add_sheet(
        workbook,
        _("Load per work centre per day"),
        [
            (_("Date"), 12),
            (_("Workshop"), 14),
            (_("Work centre"), 12),
            (_("Name"), 22),
            (_("Capacity (h)"), 12),
            (_("Planned (h)"), 12),
            (_("Load"), 10),
            (_("Over capacity"), 14),
            (_("Bottleneck"), 12),
        ],
    )
    for row in load.rows:
        for cell in row.cells:
            sheet.append(
                [
                    _cell(sheet, cell.day, DATE),
                    _cell(sheet, row.workshop_code),
                    _cell(sheet, row.code),
                    _cell(sheet, row.name),
                    _cell(sheet, cell.capacity_hours, HOURS),
                    _cell(sheet, round(cell.planned_hours, 2), HOURS),
                    _cell(sheet, _fraction(cell.load_pct), PERCENT),
                    _cell(sheet, cell.over_capacity),
                    _cell(sheet, row.bottleneck),
                ]
            )


def add_oee_sheet(workbook: Workbook, rows: list[analytics.OeeRow]) -> None:
    """One row per work centre: the minutes and quantities behind each factor, then the factors and OEE."""
    sheet = add_sheet(
        workbook,
        _("OEE"),
        [
            (_("Workshop"), 14),
            (_("Work centre"), 12),
            (_("Name"), 22),
            (_("Planned time (min)"), 16),
            (_("Downtime (min)"), 14),
            (_("Run time (min)"), 14),
            (_("Standard minutes earned"), 18),
            (_("Good"), 10),
            (_("Scrap"), 10),
            (_("Availability"), 12),
            (_("Performance"), 12),
            (_("Quality"), 10),
            (_("OEE"), 10),
        ],
    )
    for row in rows:
        sheet.append(
            [
                _cell(sheet, row.workshop_code),
                _cell(sheet, row.code),
                _cell(sheet, row.name),
                _cell(sheet, row.planned_minutes, HOURS),
                _cell(sheet, row.downtime_minutes, HOURS),
                _cell(sheet, round(row.run_minutes, 2), HOURS),
                _cell(sheet, round(row.earned_minutes, 2), HOURS),
                _cell(sheet, row.good_qty, QTY),
                _cell(sheet, row.scrap_qty, QTY),
                _cell(sheet, row.availability, PERCENT),
                _cell(sheet, row.performance, PERCENT),
                _cell(sheet, row.quality, PERCENT),
                _cell(sheet, row.oee, PERCENT),
            ]
        )


def add_pareto_sheet(workbook: Workbook, rows: list[analytics.ParetoRow]) -> None:
    """One row per downtime reason, largest first, with its share and the cumulative share."""
    sheet = add_sheet(
        workbook,
        _("Downtime Pareto"),
        [(_("Reason"), 24), (_("Minutes"), 12), (_("Stops"), 8), (_("Share"), 10), (_("Cumulative"), 12)],
    )
    for row in rows:
        sheet.append(
            [
                _cell(sheet, row.label),
                _cell(sheet, row.minutes, HOURS),
                _cell(sheet, row.count, "0"),
                _cell(sheet, _fraction(row.share_pct), PERCENT),
                _cell(sheet, _fraction(row.cumulative_pct), PERCENT),
            ]
        )


def add_kpi_sheet(workbook: Workbook, kpis: list[analytics.Kpi]) -> None:
    """One row per KPI and period (weeks, then months) with the value and what it was computed from."""
    sheet = add_sheet(
        workbook,
        _("KPIs"),
        [
            (_("KPI"), 24),
            (_("Unit"), 8),
            (_("Period"), 8),
            (_("Period start"), 12),
            (_("Value"), 10),
            (_("Numerator"), 12),
            (_("Denominator"), 12),
            (_("Definition"), 80),
        ],
    )
    for kpi in kpis:
        for period, label in (("week", _("Week")), ("month", _("Month"))):
            for point in kpi.points(period):
                sheet.append(
                    [
                        _cell(sheet, kpi.name),
                        _cell(sheet, kpi.unit),
                        _cell(sheet, str(label)),
                        _cell(sheet, point.period_start, DATE),
                        _cell(sheet, point.value, "0.00"),
                        _cell(sheet, point.numerator, "0.##"),
                        _cell(sheet, point.denominator, "0.##"),
                        _cell(sheet, kpi.definition),
                    ]
                )


def table_xlsx(add_sheet: Callable[[Workbook, Any], None], data: Any) -> bytes:
    """One table of an analytics page as a workbook of one sheet."""
    workbook = Workbook(write_only=True)
    add_sheet(workbook, data)
    return workbook_bytes(workbook)


def month_range(month: date, workshop_id: int | None) -> analytics.AnalyticsRange:
    """Every day of the month of `month`."""
    first = month.replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return analytics.AnalyticsRange(start=first, end=last, workshop_id=workshop_id)


def _add_summary_sheet(
    workbook: Workbook, period: analytics.AnalyticsRange, workshop: str, result: analytics.LoadAnalysis, now: datetime
) -> None:
    load, oee_rows = result.load, result.oee
    planned = sum(row.planned_hours for row in load.rows)
    capacity = sum(row.capacity_hours for row in load.rows)
    over_days = sum(1 for row in load.rows for cell in row.cells if cell.over_capacity)
    total_planned_min = sum(row.planned_minutes for row in oee_rows)
    total_down = sum(row.downtime_minutes for row in oee_rows)
    factors = [row.oee for row in oee_rows if row.oee is not None]
    availability = (total_planned_min - total_down) / total_planned_min if total_planned_min else None
    bottleneck = load.bottleneck
    top_reason = result.pareto[0] if result.pareto else None
    sheet = add_sheet(workbook, _("Summary"), [(_("Figure"), 36), (_("Value"), 24)])
    lines: list[tuple[str, Any, str | None]] = [
        (_("Month"), period.start, "yyyy-mm"),
        (_("Workshop"), workshop, None),
        (_("Work centres"), len(load.rows), "0"),
        (_("Capacity (h)"), round(capacity, 2), HOURS),
        (_("Planned (h)"), round(planned, 2), HOURS),
        (_("Load"), planned / capacity if capacity else None, PERCENT),
        (_("Work-centre days over capacity"), over_days, "0"),
        (_("Bottleneck"), f"{bottleneck.code} {bottleneck.name}" if bottleneck else "—", None),
        (_("Bottleneck load"), _fraction(bottleneck.load_pct) if bottleneck else None, PERCENT),
        (_("Downtime (min)"), round(sum(row.minutes for row in result.pareto), 2), HOURS),
        (_("Largest downtime reason"), top_reason.label if top_reason else "—", None),
        (_("Availability"), availability, PERCENT),
        (_("Average OEE of the work centres"), sum(factors) / len(factors) if factors else None, PERCENT),
        (_("Generated at"), now.astimezone(FACTORY_TZ).replace(tzinfo=None), "yyyy-mm-dd hh:mm"),
    ]
    for label, value, number_format in lines:
        sheet.append([_cell(sheet, str(label)), _cell(sheet, value, number_format)])


def capacity_workbook(
    *,
    month: date,
    workshop_id: int | None,
    workshop_label: str,
    now: datetime | None = None,
    progress: Callable[[int], None] = lambda percent: None,
) -> bytes:
    """The monthly capacity analysis: summary, load per work centre per day, OEE and the downtime Pareto."""
    now = now or timezone.now()
    period = month_range(month, workshop_id)
    progress(10)
    result = analytics.load_analysis(period=period, now=now)
    progress(60)
    workbook = Workbook(write_only=True)
    _add_summary_sheet(workbook, period, workshop_label, result, now)
    add_load_sheet(workbook, result.load)
    progress(80)
    add_oee_sheet(workbook, result.oee)
    add_pareto_sheet(workbook, result.pareto)
    progress(90)
    return workbook_bytes(workbook)


# --- The monthly workbook as a background job -----------------------------------------------------------------
# A job is a small dict in the cache (status, progress) and, once done, a file under MEDIA_ROOT; nothing in the
# database, so generating a workbook never locks anything the floor writes.

JOB_CACHE_SECONDS = 24 * 3600
JOB_DIR = "analytics/capacity"
# Files older than this are removed when a new workbook is asked for.
JOB_FILE_DAYS = 7


class JobStatus:
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


def _job_key(job_id: str) -> str:
    return f"analytics:capacity-job:{job_id}"


def job_path(job_id: str) -> Path:
    return Path(settings.MEDIA_ROOT) / JOB_DIR / f"{job_id}.xlsx"


def capacity_job_get(job_id: str) -> dict | None:
    """A job's state: status, progress (0–100), month, workshop, who asked, error; None if unknown or expired."""
    try:
        uuid.UUID(job_id)
    except ValueError:
        return None
    return cache.get(_job_key(job_id))


def _job_update(job: dict, **changes: Any) -> dict:
    job = {**job, **changes}
    cache.set(_job_key(job["id"]), job, JOB_CACHE_SECONDS)
    return job


def _remove_old_files(now: datetime) -> None:
    folder = Path(settings.MEDIA_ROOT) / JOB_DIR
    if not folder.is_dir():
        return
    cutoff = (now - timedelta(days=JOB_FILE_DAYS)).timestamp()
    for path in folder.glob("*.xlsx"):
        if path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)


def capacity_job_start(*, month: date, workshop: Workshop | None, by: User) -> dict:
    """Queue the monthly capacity workbook for `month` (and a workshop, or all); returns the job's state."""
    from dashboards.tasks import generate_capacity_workbook

    now = timezone.now()
    _remove_old_files(now)
    job = _job_update(
        {
            "id": str(uuid.uuid4()),
            "user_id": by.pk,
            "month": month.replace(day=1).isoformat(),
            "workshop_id": workshop.pk if workshop else None,
            "workshop_label": f"{workshop.code} {workshop.name}" if workshop else "",
            "status": JobStatus.QUEUED,
            "progress": 0,
            "error": "",
            "language": translation.get_language() or settings.LANGUAGE_CODE,
            "created_at": now.isoformat(),
        }
    )
    transaction.on_commit(lambda: generate_capacity_workbook.delay(job["id"]))
    return job


def capacity_job_run(job_id: str) -> dict | None:
    """Build the workbook of a queued job, reporting progress in the cache; a finished job is left alone."""
    job = capacity_job_get(job_id)
    if job is None or job["status"] == JobStatus.DONE:
        return job
    job = _job_update(job, status=JobStatus.RUNNING, progress=5)

    def progress(percent: int) -> None:
        nonlocal job
        job = _job_update(job, progress=percent)

    try:
        with translation.override(job.get("language") or settings.LANGUAGE_CODE):
            content = capacity_workbook(
                month=date.fromisoformat(job["month"]),
                workshop_id=job["workshop_id"],
                workshop_label=job["workshop_label"] or _("All workshops"),
                progress=progress,
            )
        path = job_path(job_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed: a download never sees half a file.
        partial = path.with_suffix(".part")
        partial.write_bytes(content)
        partial.replace(path)
    except Exception as exc:
        logger.exception("capacity workbook %s failed", job_id)
        return _job_update(job, status=JobStatus.FAILED, error=str(exc)[:500])
    return _job_update(job, status=JobStatus.DONE, progress=100)
